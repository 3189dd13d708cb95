"""The Class page's room (pages/class.py)."""
