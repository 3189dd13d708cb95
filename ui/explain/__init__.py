"""The Explain page's room (pages/explain.py)."""
