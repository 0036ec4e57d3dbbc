"""The README's tables of filters and export options say what the code does (sqlite-utils' way)."""

import re

import pytest

from gleif_data.cli import build_parser
from gleif_data.config import PROJECT_DIR
from gleif_data.export import EXPORT_FIELDS
from gleif_data.filters import FILTER_FIELDS
from gleif_data.view import reference_table

README = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
# Options of `export` that are not a filter or an export option.
# How the command runs, not which view it exports: listed in the command table's row.
COMMAND_OPTIONS = {"-h", "--help", "--batch", "--out", "--workers"}


def readme_table(name: str) -> str:
    found = re.search(rf"<!-- table: {name} -->\n(.*?)\n<!-- /table -->", README, re.DOTALL)
    assert found, f"README.md has no <!-- table: {name} --> block"
    return found.group(1)


@pytest.mark.parametrize(
    ("name", "fields"), [("filters", FILTER_FIELDS), ("export options", EXPORT_FIELDS)]
)
def test_the_readme_table_is_the_one_the_code_makes(name, fields):
    # To fix: paste `python -c "from gleif_data.view import reference_table; from
    # gleif_data.filters import FILTER_FIELDS; print(reference_table(FILTER_FIELDS))"`.
    assert readme_table(name) == reference_table(fields)


def test_every_option_of_the_export_command_is_in_the_readme():
    commands = build_parser()._subparsers._group_actions[0].choices
    options = {option for action in commands["export"]._actions for option in action.option_strings}
    tables = readme_table("filters") + readme_table("export options")
    missing = {option for option in options - COMMAND_OPTIONS if f"`{option}" not in tables}
    assert not missing
    row = next(line for line in README.splitlines() if line.startswith("| `export "))
    assert all(option in row for option in COMMAND_OPTIONS - {"-h", "--help"})


def test_every_route_parameter_is_in_the_readme():
    tables = readme_table("filters") + readme_table("export options")
    for field in (*FILTER_FIELDS, *EXPORT_FIELDS):
        assert f"| `{field.parameter}` |" in tables
