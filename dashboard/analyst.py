"""Who records a decision: the signed-in user, or a name kept in a browser cookie."""

from __future__ import annotations

from typing import TypeVar
from urllib.parse import quote, unquote

import streamlit as st

from dashboard.errors import markdown_text

T = TypeVar("T")

ANALYST_COOKIE = "gleif_analyst"


ANALYST_COOKIE_DAYS = 400  # the longest lifetime browsers grant a cookie


ANALYST_MAX_CHARS = 100


_EDITING_NAME, _TO_REMEMBER = "_analyst_editing", "_analyst_to_remember"
_COOKIE_WRITER = "analyst_cookie"


def analyst() -> str:
    """Who is deciding: the signed-in user, else the name given in this browser (a cookie)."""
    if st.user.get("is_logged_in"):
        return str(st.user.get("email") or st.user.get("name") or "")
    if "analyst" not in st.session_state:
        return _remembered_analyst()
    return str(st.session_state.get("analyst") or "").strip()


def analyst_input() -> None:
    """Who decides: the signed-in user, or a name asked once per browser and kept in a cookie."""
    if st.user.get("is_logged_in"):
        st.caption(f"Deciding as {analyst()} (signed in).")
        return
    if "analyst" not in st.session_state and (remembered := _remembered_analyst()):
        st.session_state["analyst"] = remembered
    if analyst() and not st.session_state.get(_EDITING_NAME):
        with st.container(horizontal=True, vertical_alignment="center", gap="small"):
            st.caption(f"Deciding as **{markdown_text(analyst())}**")
            st.button(
                "Change name",
                icon=":material/edit:",
                type="tertiary",
                on_click=st.session_state.__setitem__,
                args=(_EDITING_NAME, True),
            )
    else:
        st.text_input(
            "Your name, recorded with your decisions",
            key="analyst",
            # No help tooltip: its button would share the label (and its accessible name).
            placeholder="e.g. Ana Silva (remembered in this browser)",
            max_chars=ANALYST_MAX_CHARS,
            persist_state="session",
            on_change=_analyst_typed,
        )
    # On every run until a new connection brings the cookie back: a run that a quick rerun
    # replaces never reaches the browser, and its script with it.
    wanted = st.session_state.get(_TO_REMEMBER)
    if wanted is not None and wanted != _remembered_analyst():
        _write_analyst_cookie(wanted)


def _analyst_typed() -> None:
    st.session_state[_EDITING_NAME] = False
    st.session_state[_TO_REMEMBER] = str(st.session_state.get("analyst") or "").strip()


def _remembered_analyst() -> str:
    value = st.context.cookies.get(ANALYST_COOKIE)
    if not isinstance(value, str):  # no cookie (or no browser: AppTest)
        return ""
    return unquote(value).strip()[:ANALYST_MAX_CHARS]


def _write_analyst_cookie(name: str) -> None:
    """Set (or, for an empty name, delete) the cookie from the page: Streamlit cannot."""
    # Percent-encoded, the value holds only letters, digits and %-._~: safe in JS and HTML.
    # Lax, not Strict: Chromium leaves Strict cookies out of the WebSocket handshake, which
    # is where st.context.cookies comes from.
    value = quote(name, safe="")
    lifetime = ANALYST_COOKIE_DAYS * 86_400 if name else 0
    # Streamlit 1.67 can read cookies (st.context.cookies) but not set them, and an element
    # with a script takes a row of the layout (in st.sidebar it opened an empty sidebar). So
    # the script sits in a container that a style-only st.html (which Streamlit puts outside
    # the layout) hides: the browser still runs it, and no gap or sidebar shows.
    st.html(
        f"<style>.st-key-{_COOKIE_WRITER}, "
        f"[data-testid='stLayoutWrapper']:has(> .st-key-{_COOKIE_WRITER}) "
        "{ display: none; }</style>"
    )
    with st.container(key=_COOKIE_WRITER):
        st.html(
            f"<script>document.cookie = '{ANALYST_COOKIE}={value}; path=/; "
            f"max-age={lifetime}; SameSite=Lax';</script>",
            unsafe_allow_javascript=True,
        )
