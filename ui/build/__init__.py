"""The Build page's room (pages/build.py)."""
