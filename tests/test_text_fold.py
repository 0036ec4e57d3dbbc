"""The text fold of the filters: one rule in Python, in SQLite and in PostgreSQL."""

import pytest
from sqlalchemy import Text, func, literal, select, text

from gleif_data.text_fold import fold_text
from tests.support import sample_records

FOLDS = [
    ("ΑΝΩΝΥΜΟΣ", "ανωνυμοσ"),
    ("ανωνυμοσ", "ανωνυμοσ"),
    ("ανωνυμος", "ανωνυμοσ"),
    ("ΟΣ ΟΣΑ ος", "οσ οσα οσ"),
    ("TİCARET", "ticaret"),
    ("İ", "i"),
    ("ACME GmbH 100%", "acme gmbh 100%"),
    ("", ""),
]


def sql_fold(engine, value):
    with engine.connect() as connection:
        return connection.execute(select(func.gleif_fold(literal(value, Text)))).scalar_one()


@pytest.mark.parametrize(("value", "folded"), FOLDS)
def test_python_folds_case_final_sigma_and_dotted_capital_i(value, folded):
    assert fold_text(value) == folded


@pytest.mark.parametrize(("value", "folded"), FOLDS)
def test_sql_folds_like_python_on_both_databases(engine, value, folded):
    assert sql_fold(engine, value) == folded


def test_greek_with_and_without_final_sigma_folds_equal_everywhere(engine):
    spellings = ["ΑΝΩΝΥΜΟΣ", "ανωνυμοσ", "ανωνυμος"]
    assert len({fold_text(s) for s in spellings} | {sql_fold(engine, s) for s in spellings}) == 1


def test_sql_fold_keeps_null(engine):
    assert sql_fold(engine, None) is None


def test_sql_fold_equals_python_fold_for_every_sample_name(engine):
    names = sorted({r["Entity.LegalName"] for r in sample_records()})
    with engine.connect() as connection:
        folded = [
            connection.execute(select(func.gleif_fold(literal(n, Text)))).scalar_one()
            for n in names
        ]
    assert folded == [fold_text(n) for n in names]


def test_postgresql_inlines_the_fold_into_the_query(postgres_engine):
    # An inlined fold is a plain expression the planner sees through; a function call is not.
    with postgres_engine.connect() as connection:
        plan = connection.execute(
            text("EXPLAIN VERBOSE SELECT 1 FROM domains WHERE strpos(gleif_fold(domain), 'x') > 0")
        ).scalars()
        filter_line = next(line for line in plan if "Filter:" in line)
    assert "gleif_fold" not in filter_line
    assert "lower(" in filter_line
