"""What every page uses: the router, the language tables, lesson links, the class, the teacher, the
model picker, Share, and the figures, pictures and tables more than one page draws."""
