"""The view contract: every filter and option read from a URL or argv gives what wrote it."""

import argparse
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gleif_data.export import EXPORT_FIELDS, ExportFormat, ExportLayout, ExportOptions
from gleif_data.fields import ViewError
from gleif_data.filters import FILTER_FIELDS, MAX_COUNT, MAX_SCORE, DomainFilter
from gleif_data.flags import Flag
from gleif_data.qa_state import QaStatus
from gleif_data.view import (
    add_export_arguments,
    export_arguments,
    export_options_from_args,
    export_options_from_query,
    filters_from_query,
)

ROUND_TRIPS = settings(max_examples=200, deadline=None, derandomize=True)


def bounds(top: int) -> st.SearchStrategy[tuple[int | None, int | None]]:
    """A lower and an upper bound that do not cross, either one unset."""
    value = st.none() | st.integers(0, top)
    return st.tuples(value, value).map(
        lambda pair: pair if None in pair else (min(pair), max(pair))
    )


@st.composite
def filters(draw: st.DrawFn) -> DomainFilter:
    text = st.none() | st.text(max_size=30)
    min_candidates, max_candidates = draw(bounds(MAX_COUNT))
    min_name_score, max_name_score = draw(bounds(MAX_SCORE))
    return DomainFilter(
        domain_contains=draw(text),
        lei_contains=draw(text),
        name_contains=draw(text),
        min_candidates=min_candidates,
        max_candidates=max_candidates,
        flags=draw(st.frozensets(st.sampled_from(Flag))),
        qa_status=draw(st.none() | st.sampled_from(QaStatus)),
        min_name_score=min_name_score,
        max_name_score=max_name_score,
    )


options = st.builds(
    ExportOptions,
    format=st.sampled_from(ExportFormat),
    layout=st.sampled_from(ExportLayout),
    filters=filters(),
    formula_guard=st.booleans(),
    with_qa=st.booleans(),
)


def through_a_url(params: dict[str, str]) -> dict[str, str]:
    """The parameters as a browser sends them back: encoded in a query string and decoded."""
    return dict(parse_qsl(urlencode(params), keep_blank_values=True))


@ROUND_TRIPS
@given(filters())
def test_every_filter_round_trips_url_to_view_to_url(view):
    params = through_a_url(view.to_query())
    assert filters_from_query(params) == view
    assert filters_from_query(params).to_query() == view.to_query()


@ROUND_TRIPS
@given(options)
def test_every_export_option_round_trips_url_to_view_to_url(view):
    params = through_a_url(view.to_query())
    assert export_options_from_query(params) == view
    assert export_options_from_query(params).to_query() == view.to_query()


@ROUND_TRIPS
@given(options)
def test_every_export_option_and_filter_round_trips_argv_to_view(view):
    parser = argparse.ArgumentParser()
    add_export_arguments(parser)
    assert export_options_from_args(parser.parse_args(export_arguments(view))) == view


def test_every_field_has_a_url_parameter_and_a_cli_option_of_its_own():
    fields = (*FILTER_FIELDS, *EXPORT_FIELDS)
    assert len({f.parameter for f in fields}) == len(fields)
    assert len({f.option for f in fields}) == len(fields)
    assert {f.name for f in FILTER_FIELDS} == set(DomainFilter.__dataclass_fields__)
    assert {f.name for f in EXPORT_FIELDS} | {"filters"} == set(ExportOptions.__dataclass_fields__)


def test_a_repeated_flags_parameter_counts_like_a_comma_separated_one():
    repeated = filters_from_query({"flags": ["shared_lei", "invalid_lei"]})
    assert repeated == filters_from_query({"flags": "invalid_lei,shared_lei"})
    assert repeated.flags == {Flag.SHARED_LEI, Flag.INVALID_LEI}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"min_candidates": "abc"}, 'Candidates at least: "abc" is not a whole number'),
        ({"min_candidates": "1.5"}, 'Candidates at least: "1.5" is not a whole number'),
        ({"max_name_score": "-3"}, "Name score at most: -3 is less than 0"),
        ({"min_name_score": "101"}, "Name score at least: 101 is more than 100"),
        (
            {"min_candidates": "5", "max_candidates": "2"},
            "Candidates at least (5) is more than Candidates at most (2)",
        ),
        (
            {"min_name_score": "90", "max_name_score": "10"},
            "Name score at least (90) is more than Name score at most (10)",
        ),
        ({"qa_status": "done"}, 'QA status: "done" is not one of'),
        ({"flags": "shared_lei,nope"}, 'Flags (all of): "nope" is not one of'),
    ],
)
def test_a_bad_value_is_refused_naming_its_label(params, message):
    with pytest.raises(ViewError) as refused:
        filters_from_query(params)
    assert str(refused.value).startswith(message)
    assert refused.value.field == next(iter(params))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"format": "pdf"}, 'Format: "pdf" is not one of csv, xlsx, parquet, json'),
        ({"qa": "yes"}, 'Add QA columns: "yes" is not true or false'),
        ({"domain": "x"}, "unknown parameter 'domain'"),
    ],
)
def test_a_bad_export_option_is_refused_naming_it(params, message):
    with pytest.raises(ViewError, match=f"^{message}"):
        export_options_from_query(params)


def test_text_filters_are_trimmed_wherever_they_come_from():
    parser = argparse.ArgumentParser()
    add_export_arguments(parser)
    from_argv = export_options_from_args(parser.parse_args(["--name-contains=   bank   "]))
    assert from_argv.filters == filters_from_query({"name_contains": "   bank   "})
    assert from_argv.filters == DomainFilter(name_contains="bank")


def test_a_filter_describes_itself_with_its_labels():
    view = DomainFilter(
        name_contains="acme 1", min_candidates=2, flags={Flag.SHARED_LEI}, qa_status="accepted"
    )
    assert view.describe() == (
        'Legal name contains "acme 1", Candidates at least 2, Flags (all of) shared_lei, '
        "QA status accepted"
    )


def test_a_long_filter_is_described_shortened():
    described = DomainFilter(domain_contains="x" * 10_000).describe()
    assert len(described) < 70
    assert described.endswith('x\u2026"')
    with pytest.raises(ViewError) as refused:
        filters_from_query({"min_candidates": "9" * 10_000 + "z"})
    assert len(str(refused.value)) < 100
