"""Search the GLEIF reference data (lei_records) by legal name or LEI: fuzzy, ranked, indexed.

A query of letters and digits with at least one digit (4 to 20 characters: a pasted LEI or its
prefix) finds LEIs starting with it; when none does, or for any other query, legal names.

Names are found in two steps, so that both databases rank alike:

1. Candidates, at most CANDIDATE_POOL, from the index of migration 0006 over the folded legal
   names (gleif_fold, see text_fold). On PostgreSQL: pg_trgm's word similarity (the `%>`
   operator on a GIN index) or every word as a substring (LIKE on the same index), best word
   similarity first, the substrings alone when they are `limit` names; for a query that
   very many names match, the walks of common_name_query instead. On SQLite: FTS5 trigram queries,
   each ordered by bm25, until `limit` are found: every word as a substring; every word with
   one typo allowed (one of its two halves intact); any word not too common with one typo
   allowed; for a query that very many names match, the walks of common_name_query.

   Known cost: a query that no name has as substrings but whose trigrams the names of a very
   common word mostly share (a typo of it) can make PostgreSQL check each of those names:
   seconds for 400,000 names with "limited" in 3 M.
2. The candidates ranked in Python (RapidFuzz) by `score`: how well each query word matches
   its best word of the name (typos and word order cost little), and, weighing less, how
   close the whole name is to the query (fewer extra words rank higher). Ties go by folded
   name, then LEI.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    Row,
    Select,
    and_,
    func,
    literal_column,
    or_,
    select,
    text,
    union_all,
)

from gleif_data.db import contains_text, is_sqlite
from gleif_data.models import LeiRecord
from gleif_data.sql_dialects import byte_order
from gleif_data.text_fold import fold_text

MIN_QUERY_CHARACTERS = 3
# Trigram search needs a word of three characters; shorter ones only help the ranking.
MIN_WORD_CHARACTERS = 3
CANDIDATE_POOL = 200
MAX_LIMIT = 1_000
# pg_trgm's default, set explicitly so that a server configured otherwise ranks alike.
WORD_SIMILARITY_THRESHOLD = 0.6
# A query the planner (SQLite: FTS5) expects this many names to match is "common": its
# candidates come from bounded walks (common_name_query: WALK_POOL matches among at most
# WALK_SCAN names each), since ranking every match would read them all (250,000 for "bank"
# in 3 M). Fewer than WALK_POOL found: not that common after all; every match is ranked.
COMMON_MATCHES = 20_000
WALK_POOL = 50
WALK_SCAN = 5_000
# How much each query word's best match weighs against the whole name's closeness.
COVERAGE_WEIGHT = 0.8
LEI_LENGTH = 20

_LEI_LIKE = re.compile(r"[0-9A-Za-z]{4,20}")
_SEARCH_TABLE = "lei_records_search"
_COLUMNS = (
    LeiRecord.lei,
    LeiRecord.legal_name,
    LeiRecord.registration_status,
    LeiRecord.entity_status,
    LeiRecord.legal_address_country,
    LeiRecord.headquarters_country,
    LeiRecord.legal_jurisdiction,
)


@dataclass(frozen=True)
class ReferenceMatch:
    """A reference record found by search_reference, with how well it matched (0-100)."""

    lei: str
    legal_name: str | None
    registration_status: str | None
    entity_status: str | None
    legal_address_country: str | None
    headquarters_country: str | None
    legal_jurisdiction: str | None
    score: int  # 0-100


def search_reference(
    connection: Connection, query: str, *, limit: int = 10
) -> list[ReferenceMatch]:
    """The reference records best matching `query` (an LEI, its prefix or a legal name), best first.

    A query of fewer than three characters, or without a word of three, finds nothing.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be from 1 to {MAX_LIMIT:,}, not {limit}")
    query = " ".join(query.split())
    if len(query) < MIN_QUERY_CHARACTERS:
        return []
    if looks_like_lei(query):
        found = _by_lei_prefix(connection, query.upper(), limit)
        if found:
            return found
    words = name_words(query)
    if not any(len(word) >= MIN_WORD_CHARACTERS for word in words):
        return []
    if is_sqlite(connection.engine):
        rows = _sqlite_candidates(connection, words, limit)
    else:
        rows = _postgresql_candidates(connection, words, limit)
    return rank(words, rows)[:limit]


def looks_like_lei(query: str) -> bool:
    """Whether the query reads as an LEI or its prefix: 4-20 letters and digits, with a digit."""
    return bool(_LEI_LIKE.fullmatch(query)) and any(c.isdigit() for c in query)


def name_words(value: str) -> list[str]:
    """The folded words of a name or query: runs of letters, digits and combining marks."""
    words: list[str] = []
    word: list[str] = []
    for character in fold_text(value):
        if unicodedata.category(character)[0] in "LNM":
            word.append(character)
        elif word:
            words.append("".join(word))
            word = []
    if word:
        words.append("".join(word))
    return words


def match_score(query_words: Sequence[str], legal_name: str | None) -> float:
    """How well a legal name matches the query's words, 0-100 (unrounded, for ordering)."""
    words = name_words(legal_name or "")
    if not words or not query_words:
        return 0.0
    total = sum(len(word) for word in query_words)
    coverage = (
        sum(len(q) * max(_word_score(q, word) for word in words) for q in query_words) / total
    )
    closeness = fuzz.ratio(" ".join(sorted(query_words)), " ".join(sorted(words)))
    return COVERAGE_WEIGHT * coverage + (1 - COVERAGE_WEIGHT) * closeness


def rank(
    query_words: Sequence[str], rows: Sequence[Row[tuple[object, ...]]]
) -> list[ReferenceMatch]:
    """Candidate rows (the _COLUMNS) as matches, each LEI once, best first; ties by name, LEI."""
    unique = {row.lei: row for row in rows}.values()
    scored = [(match_score(query_words, row.legal_name), row) for row in unique]
    scored.sort(key=lambda pair: (-pair[0], fold_text(pair[1].legal_name or ""), pair[1].lei))
    return [_match(row, round(score)) for score, row in scored]


def _word_score(query_word: str, name_word: str) -> float:
    score = fuzz.ratio(query_word, name_word)
    if len(query_word) <= len(name_word):
        # A query word inside a longer word (a prefix typed, a word of a CJK name without
        # spaces) matches well, though not as well as the word itself.
        score = max(score, 0.9 * fuzz.partial_ratio(query_word, name_word))
    return score


def _match(row: Row[tuple[object, ...]], score: int) -> ReferenceMatch:
    return ReferenceMatch(
        lei=row.lei,
        legal_name=row.legal_name,
        registration_status=row.registration_status,
        entity_status=row.entity_status,
        legal_address_country=row.legal_address_country,
        headquarters_country=row.headquarters_country,
        legal_jurisdiction=row.legal_jurisdiction,
        score=min(100, max(0, score)),
    )


def lei_prefix_query(prefix: str, limit: int) -> Select[Any]:
    """The records whose LEI starts with `prefix` (letters and digits, upper case), by LEI."""
    # A range in byte order, which LEIs (letters and digits) sort alike in every collation:
    # SQLite's binary one, PostgreSQL's "C" (the index of migration 0006). LIKE would ignore
    # case on SQLite, and on PostgreSQL not give the order a LIMIT needs from the index.
    lei = byte_order(LeiRecord.lei)
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return select(*_COLUMNS).where(lei >= prefix, lei < upper).order_by(lei).limit(limit)


def postgresql_name_query(
    words: Sequence[str], pool: int, *, substrings_only: bool = False
) -> Select[Any]:
    """The `pool` names most like the words, of those the GIN index finds.

    With `substrings_only`, only names that have every word as a substring (SQLite's first
    query), which the index finds exactly: tried first, see _postgresql_candidates.
    """
    folded = func.gleif_fold(LeiRecord.legal_name)
    query = " ".join(words)
    matches = (_substrings if substrings_only else _postgresql_name_matches)(words)
    return (
        select(*_COLUMNS)
        .where(matches)
        .order_by(
            func.word_similarity(query, folded).desc(),
            # Shorter first: closer to the query in full, and cheaper than similarity().
            func.length(LeiRecord.legal_name),
            LeiRecord.lei,
        )
        .limit(pool)
    )


def common_name_query(
    dialect_name: str, words: Sequence[str], pool: int, scan: int
) -> CompoundSelect:
    """Up to `pool` matches in each of three walks of at most `scan` names; bounded work.

    For a query that many names match ("bank"), where ranking every match costs seconds:
    the names nearest the query's length, longer then shorter (the name-length index of
    migration 0006), so that the names most like the query in full come first; and the
    names in LEI order, where matches are as frequent as anywhere ("limited" is rare among
    the shortest names). A match is what the dialect's first search takes.
    """
    length = func.length(LeiRecord.legal_name)
    size = len(" ".join(words))
    walks = [
        select(*_COLUMNS).where(length >= size).order_by(length, LeiRecord.lei),
        select(*_COLUMNS).where(length < size).order_by(length.desc(), LeiRecord.lei),
        select(*_COLUMNS).order_by(LeiRecord.lei),
    ]
    parts = []
    for walk in walks:
        # The LIMIT inside keeps the filter outside: at most `scan` rows are read.
        nearest = walk.limit(scan).subquery()
        if dialect_name == "sqlite":
            matches = and_(*(contains_text(nearest.c.legal_name, w) for w in _long(words)))
        else:
            matches = _postgresql_name_matches(words, nearest.c.legal_name)
        # Each part as a subquery: SQLite allows no LIMIT on a bare part of a UNION.
        part = select(nearest).where(matches).limit(pool).subquery()
        parts.append(select(part))
    return union_all(*parts)


def _postgresql_name_matches(
    words: Sequence[str], legal_name: ColumnElement[str] = LeiRecord.legal_name
) -> ColumnElement[bool]:
    """Every word a substring of the name, or word similarity at least the threshold.

    The substrings are SQLite's first query ("deutsche" in "deutscher"), which word
    similarity alone can miss; both read the GIN index.
    """
    folded = func.gleif_fold(legal_name)
    # Substrings first: cheaper, and OR stops at the first true one.
    return or_(_substrings(words, legal_name), folded.op("%>", is_comparison=True)(" ".join(words)))


def _substrings(
    words: Sequence[str], legal_name: ColumnElement[str] = LeiRecord.legal_name
) -> ColumnElement[bool]:
    folded = func.gleif_fold(legal_name)
    return and_(*(folded.like(f"%{_escape_like(word)}%", escape="\\") for word in _long(words)))


def _by_lei_prefix(connection: Connection, prefix: str, limit: int) -> list[ReferenceMatch]:
    rows = connection.execute(lei_prefix_query(prefix, limit))
    return [_match(row, round(100 * len(prefix) / LEI_LENGTH)) for row in rows]


def _postgresql_candidates(
    connection: Connection, words: Sequence[str], limit: int
) -> list[Row[tuple[object, ...]]]:
    threshold = str(WORD_SIMILARITY_THRESHOLD)
    connection.execute(
        select(func.set_config("pg_trgm.word_similarity_threshold", threshold, True))
    )
    if _estimated_matches(connection, words) >= COMMON_MATCHES:
        walked = _walk(connection, words, limit)
        if len(walked) >= max(WALK_POOL, limit):
            return walked
    pool = max(CANDIDATE_POOL, limit)
    # As on SQLite, names with every word are enough when there are `limit` of them. Word
    # similarity is costly where the index finds many names it then rejects: "limted"
    # shares most trigrams with the 400,000 names with "limited" in 3 M.
    exact = list(connection.execute(postgresql_name_query(words, pool, substrings_only=True)))
    if len(exact) >= limit:
        return exact
    return list(connection.execute(postgresql_name_query(words, pool)))


def _walk(
    connection: Connection, words: Sequence[str], limit: int
) -> list[Row[tuple[object, ...]]]:
    """A common query's candidates (a name found by two walks is ranked once)."""
    pool = max(WALK_POOL, limit)
    statement = common_name_query(connection.dialect.name, words, pool, max(WALK_SCAN, pool))
    return list(connection.execute(statement))


def _estimated_matches(connection: Connection, words: Sequence[str]) -> float:
    """The planner's estimate of the names matching (from the column's statistics)."""
    statement = select(literal_column("1")).where(_postgresql_name_matches(words))
    compiled = statement.compile(dialect=connection.dialect)
    explained = connection.exec_driver_sql(
        f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params
    ).scalar_one()
    return float(explained[0]["Plan"]["Plan Rows"])


def _sqlite_candidates(
    connection: Connection, words: Sequence[str], limit: int
) -> list[Row[tuple[object, ...]]]:
    every_word, every_word_one_typo = _fts_queries(words)
    if _sqlite_matches_at_least(connection, every_word, COMMON_MATCHES):
        walked = _walk(connection, words, limit)
        if len(walked) >= max(WALK_POOL, limit):
            return walked
    pool = max(CANDIDATE_POOL, limit)
    found: dict[int, None] = {}
    for expression in dict.fromkeys([every_word, every_word_one_typo]):
        found.update(dict.fromkeys(_fts_ranked(connection, expression, pool)))
        if len(found) >= limit:
            break
    else:
        # Any word, one typo allowed; not the words very many names have, which would bring
        # every one of those names to be ranked.
        rare = [
            _halves(word)
            for word in _long(words)
            if not _sqlite_matches_at_least(connection, _halves(word), COMMON_MATCHES)
        ]
        if rare:
            found.update(dict.fromkeys(_fts_ranked(connection, " OR ".join(rare), pool)))
    chosen = list(found)[:pool]
    if not chosen:
        return []
    rowid = literal_column("lei_records.rowid")
    return list(connection.execute(select(*_COLUMNS).where(rowid.in_(chosen))))


def _fts_ranked(connection: Connection, expression: str, pool: int) -> list[int]:
    """The rowids of the best `pool` names (bm25) matching an FTS5 query."""
    return list(
        connection.execute(
            text(
                f"SELECT rowid FROM {_SEARCH_TABLE} WHERE {_SEARCH_TABLE} MATCH :expression"
                " ORDER BY rank LIMIT :pool"
            ),
            {"expression": expression, "pool": pool},
        ).scalars()
    )


def _sqlite_matches_at_least(connection: Connection, expression: str, count: int) -> bool:
    """Whether the FTS5 query matches `count` names (counted without ranking, so quickly)."""
    matches = connection.execute(
        text(
            f"SELECT count(*) FROM (SELECT rowid FROM {_SEARCH_TABLE}"
            f" WHERE {_SEARCH_TABLE} MATCH :expression LIMIT :count)"
        ),
        {"expression": expression, "count": count},
    ).scalar_one()
    return matches >= count


def _long(words: Sequence[str]) -> list[str]:
    return [word for word in words if len(word) >= MIN_WORD_CHARACTERS]


def _fts_queries(words: Sequence[str]) -> tuple[str, str]:
    """FTS5 queries: every word as a substring; every word with one typo allowed."""
    long_words = _long(words)
    every_word = " AND ".join(_phrase(word) for word in long_words)
    every_word_one_typo = " AND ".join(_halves(word) for word in long_words)
    return every_word, every_word_one_typo


def _halves(word: str) -> str:
    """A word with one typo still has one of its halves intact: either half, as an FTS5 query."""
    if len(word) < 2 * MIN_WORD_CHARACTERS:
        return _phrase(word)
    middle = len(word) // 2
    return f"({_phrase(word[:middle])} OR {_phrase(word[middle:])})"


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _phrase(value: str) -> str:
    """An FTS5 string: its characters literal (a double quote doubled)."""
    return '"' + value.replace('"', '""') + '"'
