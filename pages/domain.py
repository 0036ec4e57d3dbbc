"""Domain: one domain's candidates with every GLEIF fact the database has about them."""

import pandas as pd
import streamlit as st

from gleif_data.decisions import domain_history, domain_state, record_decision
from gleif_data.domain_detail import find_domain
from gleif_data.errors import GleifDataError
from gleif_data.qa_state import Action
from pages.ui import analyst, choose_batch, database_or_stop, guarded

GLEIF_RECORD_URL = "https://search.gleif.org/#/record/"

engine = database_or_stop()
st.title("Domain")
summary = choose_batch()
name = st.text_input(
    "Domain", key="domain", bind="query-params", placeholder="acme.com", icon=":material/search:"
)
if not name:
    st.info(
        "Type a domain of the batch, or select a row on the Explore page.", icon=":material/search:"
    )
    st.stop()

detail = guarded(lambda: find_domain(engine, summary.batch, name))
if detail is None:
    st.warning(
        f"The batch {summary.batch!r} has no domain {name.strip()!r}.", icon=":material/search_off:"
    )
    st.page_link(
        "pages/explore.py", label="Find it on the Explore page", icon=":material/table_view:"
    )
    st.stop()

st.subheader(detail.domain)
count = len(detail.candidates)
if count == 0:
    st.info(
        "The matching found no GLEIF candidate for this domain.", icon=":material/person_search:"
    )
    st.stop()
st.caption(f"{count} candidate{'s' if count != 1 else ''}, in the order the matching listed them.")


def date(value: object) -> str:
    return value.strftime("%Y-%m-%d") if value is not None else ""  # type: ignore[attr-defined]


table = pd.DataFrame(
    [
        {
            "lei": GLEIF_RECORD_URL + c.lei_code,
            "legal_name": c.legal_name,
            "flags": ", ".join(c.flags),
            "name_score": c.name_score,
            "check_digits": "valid" if c.check_digits_valid else "INVALID",
            "registration_status": c.registration_status
            or ("" if c.in_reference_data else "not in reference data"),
            "entity_status": c.entity_status or "",
            "legal_address_country": c.legal_address_country or "",
            "headquarters_country": c.headquarters_country or "",
            "legal_jurisdiction": c.legal_jurisdiction or "",
            "last_update": date(c.last_update),
            "next_renewal": date(c.next_renewal),
            "match_score": c.match_score,
            "match_method": c.match_method or "",
            "reference_legal_name": c.reference_legal_name or "",
        }
        for c in detail.candidates
    ]
)
if count:
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "lei": st.column_config.LinkColumn(
                "LEI", display_text=r"https://search\.gleif\.org/#/record/(.*)", width="medium"
            ),
            "legal_name": st.column_config.TextColumn("Legal name (as matched)", width="large"),
            "flags": st.column_config.TextColumn(
                "Flags", help="See the Overview page for what each flag means."
            ),
            "name_score": st.column_config.ProgressColumn(
                "Name score", min_value=0, max_value=100, format="%d"
            ),
            "check_digits": st.column_config.TextColumn("Check digits", help="ISO 7064 MOD 97-10"),
            "registration_status": "Registration",
            "entity_status": "Entity status",
            "legal_address_country": "Legal address",
            "headquarters_country": "Headquarters",
            "legal_jurisdiction": "Jurisdiction",
            "last_update": "Last update",
            "next_renewal": "Next renewal",
            "match_score": st.column_config.NumberColumn("Score", format="%.2f"),
            "match_method": "Method",
            "reference_legal_name": st.column_config.TextColumn(
                "Legal name (GLEIF)", width="large"
            ),
        },
    )

st.subheader("QA decision")
history = guarded(lambda: domain_history(engine, summary.batch, detail.domain))
state = domain_state(history, [c.lei_code for c in detail.candidates])
status, deciding = state.status, state.latest
if deciding is None:
    st.markdown(f"**{status.value.capitalize()}**")
else:
    accepted = state.accepted_lei
    chosen = f": {accepted} ({state.accepted_legal_name})" if accepted else ""
    when = deciding.decided_at.strftime("%Y-%m-%d %H:%M UTC")
    st.markdown(f"**{status.value.capitalize()}**{chosen}, by {deciding.decided_by} on {when}")

who = analyst()
if not who:
    st.text_input(
        "Your name, recorded with your decisions",
        key="analyst",
        placeholder="e.g. Ana Silva",
        persist_state="session",
    )
    st.caption("Asked once per session; with sign-in configured, your account is used.")


def decide(action: Action, lei_code: str | None) -> None:
    """Record a decision (a button callback)."""
    try:
        record_decision(
            engine,
            batch=summary.batch,
            domain=detail.domain,
            action=action,
            decided_by=analyst(),
            lei_code=lei_code,
            note=st.session_state.get("decision_note"),
        )
    except GleifDataError as exc:
        st.session_state["decision_error"] = str(exc)
        return
    st.session_state["decision_note"] = ""
    st.toast(f"Recorded: {action.value.replace('_', ' ')}", icon=":material/check:")


with st.container(border=True):
    options = {c.lei_code: f"{c.lei_code} - {c.legal_name}" for c in detail.candidates}
    candidate = None
    if options:
        candidate = st.selectbox(
            "Candidate", list(options), format_func=options.get, key="decision_candidate"
        )
    st.text_input("Note (optional)", key="decision_note")
    disabled = not analyst()
    with st.container(horizontal=True):
        for label, icon, action in (
            ("Accept", ":material/check_circle:", Action.ACCEPT),
            ("Reject", ":material/cancel:", Action.REJECT),
            ("No match", ":material/block:", Action.NO_MATCH),
            ("Reset", ":material/undo:", Action.RESET),
        ):
            names_candidate = action in (Action.ACCEPT, Action.REJECT)
            st.button(
                label,
                icon=icon,
                type="primary" if action is Action.ACCEPT else "secondary",
                disabled=disabled or (names_candidate and not candidate),
                on_click=decide,
                args=(action, candidate if names_candidate else None),
            )
    if error := st.session_state.pop("decision_error", None):
        st.error(error, icon=":material/error:")

if history:
    st.markdown("**History**")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "when": h.decided_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
                    "who": h.decided_by,
                    "decision": h.action.value.replace("_", " "),
                    "lei": h.lei_code or "",
                    "legal_name": h.legal_name or "",
                    "note": h.note or "",
                }
                for h in reversed(history)
            ]
        ),
        hide_index=True,
    )
