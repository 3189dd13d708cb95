"""LeNet Lab core: MNIST data, models, training, preprocessing, checkpoints. No Streamlit here.

Importing it changes nothing about the process; tuning.py holds what the launcher and the CLI
apply on purpose.
"""

__version__ = "0.2.0"
