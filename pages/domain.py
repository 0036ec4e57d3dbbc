"""Domain: one domain's candidates with every GLEIF fact the database has about them."""

import pandas as pd
import streamlit as st

from gleif_data.domain_detail import find_domain
from pages.ui import choose_batch, database_or_stop, guarded

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
st.dataframe(
    table,
    hide_index=True,
    column_config={
        "lei": st.column_config.LinkColumn(
            "LEI", display_text=r"https://search\.gleif\.org/#/record/(.*)", width="medium"
        ),
        "legal_name": st.column_config.TextColumn("Legal name (as matched)", width="large"),
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
        "reference_legal_name": st.column_config.TextColumn("Legal name (GLEIF)", width="large"),
    },
)
