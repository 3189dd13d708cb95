"""The Streamlit app around lenet: common/ (what every page uses), inside/ (what looks inside a
model on both Draw and Explain), and one room per page: draw/, train/, explain/, build/ and
classroom/ (the Class page). A page's room serves that page alone (tests/test_layout.py)."""
