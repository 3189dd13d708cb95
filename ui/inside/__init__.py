"""What looks inside a model on both Draw and Explain: Fool it, and the digit-like flag."""
