"""LeNet Lab: the Streamlit entry point. The router (menu, model picker, pages) is ui/router.py."""
from ui import router

router.run()
