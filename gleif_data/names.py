"""name_score: how well a domain's name matches an entity's legal name, from 0 to 100.

The score is deterministic:

1. The domain's registrable label: the label left of the public suffix, so `www.acme.com`,
   `shop.acme.co.uk` and `acme.com.br` all give `acme` (second-level labels such as `co`,
   `com`, `org` under a two-letter country code count as part of the suffix). Hyphens go.
2. The legal name, lower-cased, accents removed (NFKD), dots removed (`S.p.A.` -> `spa`),
   runs of single letters joined (`s r o` -> `sro`), and legal-form words dropped (GmbH,
   AG, Inc, Ltd, LLC, PLC, SA, SE, SpA, BV, Oy, AB, KK, ...; see LEGAL_FORMS). What is left is
   joined without spaces, and its initials form an acronym.
3. The score is the best RapidFuzz `fuzz.ratio` (the normalised Indel similarity,
   100 * (1 - insertions and deletions / total length)) of the label against the name's
   leading words joined (the first word, the first two, ..., the whole name) and against
   the acronym (when the name has two words or more), rounded to a whole number.

An empty label or name scores 0. Names in other scripts keep their letters, so an IDN label
in the same script still compares.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import cache, lru_cache

from rapidfuzz import fuzz

LEGAL_FORMS = frozenset(
    """
    ab ag as asa bhd bv co company cong corp corporation cv eg ehf gmbh gbr inc incorporated
    jsc kft kg kgaa kk limited llc llp lp ltd ltda mbh nv oao ooo oy oyj pjsc plc pllc pte
    phan pty sa sab sae sal sarl sas sca se sl spa spol sro srl ty zrt the
    """.split()
)
# Second-level labels that belong to a country's public suffix (acme.co.uk, acme.com.br).
_SECOND_LEVEL = frozenset("ac co com edu gob gov govt ltd net nom or org plc".split())


def registrable_label(domain: str) -> str:
    """The label an organisation registered: `shop.acme.co.uk` -> `acme`."""
    labels = [label for label in domain.lower().strip(".").split(".") if label]
    if len(labels) < 2:
        return labels[0] if labels else ""
    labels.pop()  # the top-level domain
    if len(labels) >= 2 and len(domain.rsplit(".", 1)[-1]) == 2 and labels[-1] in _SECOND_LEVEL:
        labels.pop()
    return _fold(labels[-1]).replace("-", "")


@lru_cache(maxsize=65_536)
def name_texts(legal_name: str) -> tuple[str, ...]:
    """What a label is compared with: the name's leading words joined, and its acronym."""
    words = name_words(legal_name)
    texts = ["".join(words[:end]) for end in range(1, len(words) + 1)]
    if len(words) >= 2:
        texts.append("".join(word[0] for word in words))
    return tuple(texts)


def name_words(legal_name: str) -> list[str]:
    """The distinctive words of a legal name: folded, legal forms dropped."""
    words: list[str] = []
    letters = ""
    for word in re.findall(r"[^\W_]+", _fold(legal_name).replace(".", "")):
        # "s r o" and "a s" are legal forms spelled with spaces: join runs of single letters.
        if len(word) == 1:
            letters += word
            continue
        if letters:
            words.append(letters)
            letters = ""
        words.append(word)
    if letters:
        words.append(letters)
    return [word for word in words if word not in LEGAL_FORMS]


def name_score(domain: str, legal_name: str) -> int:
    """0-100 similarity between the domain's registrable label and the legal name."""
    return label_score(registrable_label(domain), legal_name)


def label_score(label: str, legal_name: str) -> int:
    """name_score for a label already taken from its domain (an import scores many rows)."""
    texts = name_texts(legal_name)
    if not label or not texts:
        return 0
    return round(max(fuzz.ratio(label, text) for text in texts))


def _fold(text: str) -> str:
    if text.isascii():
        # NFKD leaves ASCII as it is, and ASCII has no combining marks: the common case
        # of an import, where this runs for every row, skips both.
        return text.lower()
    return unicodedata.normalize("NFKD", text.lower()).translate(_combining_marks())


@cache
def _combining_marks() -> dict[int, None]:
    """A str.translate table that deletes every combining mark (built once, ~0.1 s)."""
    return {cp: None for cp in range(sys.maxunicode + 1) if unicodedata.combining(chr(cp))}
