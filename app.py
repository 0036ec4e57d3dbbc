"""GLEIF match dashboard: `streamlit run app.py` serves the pages and the export route."""

import functools

import streamlit as st
from sqlalchemy import Engine
from streamlit.errors import FragmentHandledException
from streamlit.runtime.pages_manager import PagesManager

from dashboard.errors import on_script_error, show_unexpected_error
from dashboard.sign_in import link_signer, require_sign_in, sign_out_control
from dashboard.view_state import carry_view_to
from gleif_data.db import make_read_engine
from gleif_data.http_export import export_routes, route_pool_options


@functools.cache
def _route_engine() -> Engine:
    """The route's own connection pool on the read URL (or the primary), made on first use.

    Its statement time limit is the pages' (gleif_data.transactions applies it).
    """
    return make_read_engine(**route_pool_options())


# `streamlit run app.py` finds this ASGI app and serves the route beside the pages.
app = st.App(
    __file__, routes=export_routes(_route_engine, link_signer), on_script_error=on_script_error
)

# pages/ holds st.navigation pages, not Streamlit's older folder-based pages. Streamlit only
# learns that when app.py first calls st.navigation, so until then a fresh server would open
# a deep link such as /explore without running app.py. Streamlit 1.67 has no setting for it:
# PagesManager takes its class flag from whether pages/ exists; upstream found this mix and
# left it (https://github.com/streamlit/streamlit/pull/10276, review of 2025-02-21), advising
# another folder name (https://github.com/streamlit/streamlit/pull/16658); users want pages/.
# Pinned Streamlit 1.67; tests/test_browser_explore.py opens /explore first on a fresh server.
PagesManager.uses_pages_directory = False

if __name__ == "__main__":  # Streamlit runs this file as the page script of every session
    st.set_page_config(page_title="GLEIF matches", page_icon=":material/domain:", layout="wide")
    pages = [
        st.Page("pages/overview.py", title="Overview", icon=":material/insights:", default=True),
        st.Page("pages/explore.py", title="Explore", icon=":material/table_view:"),
        st.Page("pages/review.py", title="Review", icon=":material/fact_check:", url_path="review"),
        st.Page("pages/domain.py", title="Domain", icon=":material/language:"),
        st.Page("pages/export.py", title="Export", icon=":material/download:"),
    ]
    current = st.navigation(pages, position="top")
    require_sign_in()
    sign_out_control()
    carry_view_to(current.url_path)
    try:
        current.run()
    except FragmentHandledException:
        raise  # a fragment's error, shown already
    except Exception as exc:  # st.stop, st.rerun and st.switch_page raise BaseExceptions
        show_unexpected_error(exc, f"the {current.title} page")
