"""Sign-in: on exactly when Streamlit's own secrets have an [auth] section, wherever they are.

Streamlit merges the secrets of `~/.streamlit/secrets.toml`, the working directory's and the
app folder's `.streamlit/secrets.toml` (or the files its `secrets.files` option names), and
`st.login` and `st.user` read that merge. The pages and the export route ask the same
`st.secrets`, so there is no file that Streamlit reads and the app overlooks. Whatever cannot
be decided (secrets that exist but cannot be read, no key for export links) fails closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st
from streamlit.errors import StreamlitAPIException, StreamlitSecretNotFoundError

from gleif_data.config import export_link_secret
from gleif_data.export_links import LinkSigner, SigningUnavailable

_NO_SECRETS = "no-secrets-found"  # Streamlit's error_id when no secrets file exists at all
_SIGN_IN_ERROR = "_sign_in_error"


def auth_settings() -> Mapping[str, Any] | None:
    """The [auth] section of Streamlit's secrets; None without one.

    Raises SigningUnavailable when a secrets file exists but Streamlit cannot read it: then
    nobody can tell whether sign-in was meant to be on.
    """
    try:
        section = st.secrets.get("auth")
    except StreamlitSecretNotFoundError as exc:
        if getattr(exc, "error_id", None) == _NO_SECRETS:
            return None
        raise SigningUnavailable(f"Streamlit's secrets cannot be read ({exc})") from None
    if section is None:
        return None
    # An [auth] that is not a table is a broken sign-in, not an absent one.
    return section if isinstance(section, Mapping) else {}


def sign_in_on() -> bool:
    """Whether sign-in is on: Streamlit's secrets have [auth], complete or not."""
    return auth_settings() is not None


def link_signer() -> LinkSigner | None:
    """The signer of export links with sign-in on, else None; SigningUnavailable without a key."""
    auth = auth_settings()
    if auth is None:
        return None
    secret = export_link_secret(auth)
    if secret is None:
        raise SigningUnavailable("sign-in is on but [auth] has no cookie_secret")
    return LinkSigner(secret)


def require_sign_in() -> None:
    """With sign-in on, stop every page for a visitor who has not signed in."""
    try:
        on = sign_in_on()
    except SigningUnavailable as exc:
        st.error(f"Sign-in cannot be checked, so nothing is shown: {exc}.", icon=":material/lock:")
        st.stop()
        raise
    if not on or st.user.get("is_logged_in"):
        return
    st.title("GLEIF matches")
    st.info("Sign in to see the batches and their matches.", icon=":material/lock:")
    st.button("Sign in", icon=":material/login:", on_click=_sign_in, type="primary")
    if reason := st.session_state.pop(_SIGN_IN_ERROR, None):
        st.error(f"Sign-in is configured but cannot start: {reason}", icon=":material/error:")
    st.stop()


def sign_out_control() -> None:
    """In the sidebar, who is signed in and a Sign out button (nothing when signed out)."""
    if not st.user.get("is_logged_in"):
        return
    with st.sidebar:
        who = st.user.get("email") or st.user.get("name") or "signed in"
        st.caption(f"Signed in as {who}")
        st.button("Sign out", icon=":material/logout:", on_click=st.logout, key="sign_out")


def _sign_in() -> None:
    # An incomplete [auth] (or a missing Authlib) makes st.login raise: say why on the wall.
    try:
        st.login()
    except StreamlitAPIException as exc:
        st.session_state[_SIGN_IN_ERROR] = str(exc)
