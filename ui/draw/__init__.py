"""The Draw page's room (pages/draw.py)."""
