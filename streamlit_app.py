"""The facial-emotion lab: `streamlit run streamlit_app.py`.

Navigation over the pages in ``pages/``; each page only arranges widgets and calls ``fer``.
"""

import streamlit as st

from fer import ui

st.set_page_config(page_title="FER2013 emotion lab", page_icon=":material/mood:", layout="wide")

navigation = st.navigation(
    [
        st.Page("pages/overview.py", title="Overview", icon=":material/home:", default=True),
        st.Page("pages/dataset.py", title="Dataset", icon=":material/photo_library:"),
        st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
        st.Page("pages/compare.py", title="Compare", icon=":material/compare:"),
        st.Page("pages/classify.py", title="Classify", icon=":material/face:"),
    ]
)
ui.sidebar_facts()
navigation.run()
