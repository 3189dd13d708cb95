"""Helpers for the Streamlit pages: the shared model picker, charts, and the Draw page's logic."""
