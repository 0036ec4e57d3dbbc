"""The candidate card that the Domain and Review pages share: GLEIF facts, flag reasons, buttons."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import streamlit as st
from sqlalchemy import Connection

from dashboard.data import guarded
from dashboard.errors import markdown_text
from gleif_data.domain_detail import CandidateDetail, DomainDetail
from gleif_data.flag_reasons import domains_sharing_lei, flag_reason
from gleif_data.flags import Flag
from gleif_data.qa_state import Action, CandidateState

GLEIF_RECORD_URL = "https://search.gleif.org/#/record/"
MAX_KEYED = 9  # candidates 1-9 have keys; a tenth and later ones have buttons only
NBSP = "\u00a0"
BADGES = {
    CandidateState.ACCEPTED: ":green-badge[:material/check_circle: Accepted]",
    CandidateState.REJECTED: ":red-badge[:material/cancel: Rejected]",
    CandidateState.UNDECIDED: ":gray-badge[Undecided]",
}


def flag_reasons(
    connection: Connection, detail: DomainDetail, candidate: CandidateDetail
) -> list[str]:
    """Each flag of the candidate with its reason in words; shared_lei names the other domains."""
    shared = None
    if Flag.SHARED_LEI in candidate.flags:
        shared = guarded(
            lambda: domains_sharing_lei(
                connection, detail.batch, candidate.lei_code, besides=candidate.domain_id
            )
        )
    return [
        f":orange-badge[{flag}] "
        + markdown_text(flag_reason(flag, detail.domain, candidate, shared) or _described(flag))
        for flag in candidate.flags
    ]


def candidate_card(
    number: int,
    candidate: CandidateDetail,
    verdict: CandidateState,
    *,
    reasons: list[str],
    decide: Callable[[Action, str], None],
    key: str,
    keyboard: bool = False,
    can_decide: bool = True,
    row: int | None = None,
) -> None:
    """One candidate: name and state, LEI and GLEIF facts, flag reasons, Accept and Reject.

    `key` makes the buttons' keys (accept_KEY, reject_KEY); `keyboard` gives candidates 1-9
    the keys 1-9 and Shift+1-9; `row` names the batch row of a domain stored more than once.
    """
    with st.container(border=True, horizontal=True):
        with st.container():
            st.markdown(
                f"**{number}. {markdown_text(candidate.legal_name) or '(no name)'}** "
                f"{BADGES[verdict]}{f' · row {row}' if row is not None else ''}"
            )
            st.markdown("  \n".join([*_facts(candidate), *reasons]))
        keyed = keyboard and number <= MAX_KEYED
        with st.container(width="content"):
            st.button(
                "Accept",
                key=f"accept_{key}",
                icon=":material/check_circle:",
                type="primary",
                shortcut=str(number) if keyed else None,
                disabled=not can_decide or verdict is CandidateState.ACCEPTED,
                on_click=decide,
                args=(Action.ACCEPT, candidate.lei_code),
                width="stretch",
            )
            st.button(
                "Reject",
                key=f"reject_{key}",
                icon=":material/cancel:",
                shortcut=f"Shift+{number}" if keyed else None,
                disabled=not can_decide or verdict is CandidateState.REJECTED,
                on_click=decide,
                args=(Action.REJECT, candidate.lei_code),
                width="stretch",
            )


def _facts(candidate: CandidateDetail) -> list[str]:
    """The LEI line, and the GLEIF record's facts when the reference data has the LEI."""
    link = f"[{candidate.lei_code}]({GLEIF_RECORD_URL}{candidate.lei_code})"
    digits = "" if candidate.check_digits_valid else " · :red[check digits INVALID]"
    method = f" ({markdown_text(candidate.match_method)})" if candidate.match_method else ""
    score = f"{candidate.match_score:.2f}" if candidate.match_score is not None else "—"
    gleif_name = ""
    if candidate.reference_legal_name and candidate.reference_legal_name != candidate.legal_name:
        gleif_name = f" · GLEIF name: {markdown_text(candidate.reference_legal_name)}"
    lines = [
        f"LEI {link}{digits} · name score **{candidate.name_score}** · "
        f"match score {score}{method}{gleif_name}"
    ]
    if candidate.in_reference_data:
        lines.append(
            " · ".join(
                [
                    _fact("Registration", candidate.registration_status),
                    _fact("Entity", candidate.entity_status),
                    _fact("Legal address", candidate.legal_address_country),
                    _fact("Headquarters", candidate.headquarters_country),
                    _fact("Jurisdiction", candidate.legal_jurisdiction),
                    _fact("Last update", _date(candidate.last_update)),
                    _fact("Next renewal", _date(candidate.next_renewal)),
                ]
            )
        )
    return lines


def _fact(label: str, value: str | None) -> str:
    """'Label **value**' that wraps between facts, never inside one."""
    return f"{label} **{markdown_text(value) if value else '—'}**".replace(" ", NBSP)


def _date(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%d") if value is not None else None


def _described(flag: str) -> str:
    """What a flag means, for a flag without a reason of its own."""
    try:
        return Flag(flag).description
    except ValueError:
        return ""
