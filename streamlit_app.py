"""The facial-emotion lab: `streamlit run streamlit_app.py`.

Navigation over the pages in ``app_pages/``; each page only arranges widgets and calls ``fer``.
The folder is not called ``pages/``: Streamlit runs a ``pages/`` folder beside the entry script
as old-style pages when the first request after a start is a page's URL, skipping this router.
"""

import os

import streamlit as st

from fer import ui

# FFmpeg's own log, read once when OpenCV first uses FFmpeg: a damaged video would fill the server's
# log with a line per damaged block, where the page reports what it could read.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
st.set_page_config(page_title="FER2013 emotion lab", page_icon=":material/mood:", layout="wide")

navigation = st.navigation(
    [
        st.Page("app_pages/overview.py", title="Overview", icon=":material/home:", default=True),
        st.Page("app_pages/dataset.py", title="Dataset", icon=":material/photo_library:"),
        st.Page("app_pages/models.py", title="Models", icon=":material/account_tree:"),
        st.Page("app_pages/train.py", title="Train", icon=":material/model_training:"),
        st.Page("app_pages/compare.py", title="Compare", icon=":material/compare:"),
        st.Page("app_pages/classify.py", title="Classify", icon=":material/face:"),
    ]
)
ui.sidebar_facts()
with ui.user_errors():  # what a page leaves uncaught, e.g. an import cache damaged on disk, is said, not a traceback
    navigation.run()
