"""The one case fold of the text filters, the same in Python, SQLite and PostgreSQL.

fold(x) = x with 'İ' (U+0130) as 'i', then lower-cased, then 'ς' (final sigma) as 'σ'.

Python's str.lower turns 'İ' into two characters ('i' + U+0307) and 'Σ' at the end of a
word into 'ς', while PostgreSQL's lower() maps one character to one and 'Σ' always to 'σ'.
Mapping those two letters explicitly on both sides makes every filter match alike.
PostgreSQL gets the same rule as the SQL function gleif_fold (migrations 0003 and 0007, which
names the collation of lower() so the database's locale does not matter); SQLite
gets fold_text itself as a function of that name (gleif_data.db).
"""

from __future__ import annotations

import sqlalchemy as sa

DOTTED_CAPITAL_I = "\u0130"
FINAL_SIGMA = "\u03c2"
SIGMA = "\u03c3"


def fold_text(text: str) -> str:
    """Fold `text` for case-insensitive matching: 'İ' as 'i', lower-case, 'ς' as 'σ'."""
    return text.replace(DOTTED_CAPITAL_I, "i").lower().replace(FINAL_SIGMA, SIGMA)


# lower() follows the collation of its argument, by default the database's LC_CTYPE: under
# 'C' or 'POSIX' it folds ASCII only, so 'OÜ' never meets 'oü'. Naming a collation makes the
# fold the same on every database of the server. ICU's root locale first (it does not move
# with the operating system's C library), then glibc's C.UTF-8, which folds every script.
FOLD_COLLATIONS = ("und-x-icu", "C.utf8", "C.UTF-8")
# Upper-case Latin, Greek and Cyrillic letters and what a real fold makes of them.
_PROBE = ("ÜΣО", "üσо")
NO_FOLD_MESSAGE = (
    "this PostgreSQL database cannot fold non-ASCII letters: its LC_CTYPE is {ctype!r}, "
    "under which lower() changes only A-Z, and the server has no collation that folds "
    "every script ({names}), so text filters would miss names like 'OÜ' or 'ΑΝΩΝΥΜΟΣ'. "
    "Create the database with a UTF-8 locale (CREATE DATABASE ... ENCODING 'UTF8' "
    "LC_CTYPE 'C.UTF-8' TEMPLATE template0) or use a server built with ICU, then migrate again"
)


def folding_collation(bind: sa.Connection) -> str | None:
    """The first of FOLD_COLLATIONS that exists for this database and folds every script."""
    for name in FOLD_COLLATIONS:
        usable = bind.execute(
            sa.text(
                "SELECT 1 FROM pg_collation WHERE collname = :name"
                " AND collencoding IN (-1, pg_char_to_encoding(getdatabaseencoding()))"
            ),
            {"name": name},
        ).first()
        if usable is None:
            continue
        quoted = bind.dialect.identifier_preparer.quote_identifier(name)
        probe = sa.text(f"SELECT lower(CAST(:probe AS text) COLLATE {quoted})")
        try:
            # A savepoint: a collation the encoding cannot use fails without ending the migration.
            with bind.begin_nested():
                folded = bind.execute(probe, {"probe": _PROBE[0]}).scalar_one()
        except sa.exc.DBAPIError:
            continue
        if folded == _PROBE[1]:
            return name
    return None
