"""The Train page's room (pages/train.py)."""
