"""The app's own panel for errors no page expected, and Markdown-safe text for panels."""

from __future__ import annotations

import logging
import re
import secrets
from typing import TypeVar

import streamlit as st

from gleif_data.errors import DatabaseError

T = TypeVar("T")

_MARKDOWN_PUNCTUATION = re.compile(r"[!-/:-@\[-`{-~]")


_log = logging.getLogger(__name__)


def markdown_text(text: str) -> str:
    """Text shown literally inside Markdown: every ASCII punctuation character escaped."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\g<0>", text)


def show_unexpected_error(exc: BaseException, where: str) -> None:
    """The app's own panel for an error no page expected: what failed, what to do, a reference.

    No traceback and no exception text (it may hold data); both go to the server log under
    the reference, which the analyst can quote.
    """
    reference = secrets.token_hex(4)
    _log.error("unexpected error in %s (reference %s)", where, reference, exc_info=exc)
    if isinstance(exc, DatabaseError):
        # The database's first line names a table or column, never the connection's secrets.
        what = f"the database refused a query: {markdown_text(exc.reason)}"
        todo = (
            "If the database was changed by hand or by another program, its schema may no "
            "longer be what the dashboard expects: whoever runs it can check with "
            "`python -m gleif_data migrate`."
        )
    else:
        what = f"an unexpected error ({type(exc).__name__})"  # its text may hold data
        todo = "Reload the page to try again."
    st.error(
        f"**{where[:1].upper()}{where[1:]} failed**: {what}.  \n{todo} "
        "If it happens again, tell whoever runs the dashboard and quote the reference "
        f"**{reference}**: the server log has the details under it.",
        icon=":material/error:",
    )


def on_script_error(exc: Exception) -> bool:
    """st.App's handler for what a callback or fragment raises: our panel, not Streamlit's."""
    show_unexpected_error(exc, "the last action")
    return True
