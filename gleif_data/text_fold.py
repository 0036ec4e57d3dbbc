"""The one case fold of the text filters, the same in Python, SQLite and PostgreSQL.

fold(x) = x with 'İ' (U+0130) as 'i', then lower-cased, then 'ς' (final sigma) as 'σ'.

Python's str.lower turns 'İ' into two characters ('i' + U+0307) and 'Σ' at the end of a
word into 'ς', while PostgreSQL's lower() maps one character to one and 'Σ' always to 'σ'.
Mapping those two letters explicitly on both sides makes every filter match alike.
PostgreSQL gets the same rule as the SQL function gleif_fold (migration 0003); SQLite
gets fold_text itself as a function of that name (gleif_data.db).
"""

from __future__ import annotations

DOTTED_CAPITAL_I = "\u0130"
FINAL_SIGMA = "\u03c2"
SIGMA = "\u03c3"


def fold_text(text: str) -> str:
    """Fold `text` for case-insensitive matching: 'İ' as 'i', lower-case, 'ς' as 'σ'."""
    return text.replace(DOTTED_CAPITAL_I, "i").lower().replace(FINAL_SIGMA, SIGMA)
