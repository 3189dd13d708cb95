"""LeNet Lab: the Streamlit entry point. The router (menu, model picker, pages) is ui/common/router.py.

Streamlit runs this file as __main__. Each training process runs it again as __mp_main__
(multiprocessing re-runs the parent's main script in a child, and while Streamlit serves a page
this file is that script), and needs none of the app: without the guard every Start waited
~2 s for the child to import Streamlit and draw the router into nowhere.
"""
if __name__ == "__main__":
    from ui.common import router

    router.run()
