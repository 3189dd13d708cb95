"""LeNet Lab core: MNIST data, models, training, preprocessing, checkpoints. No Streamlit here."""
__version__ = "0.1.0"
