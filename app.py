"""GLEIF match dashboard: `streamlit run app.py`."""

import streamlit as st

st.set_page_config(page_title="GLEIF matches", page_icon=":material/domain:", layout="wide")

navigation = st.navigation(
    [st.Page("pages/batch.py", title="Batch", icon=":material/table_view:", default=True)]
)
navigation.run()
