"""A class led from the projector: the teacher's controls, each page's step, and the class's answers."""
