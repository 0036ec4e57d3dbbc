"""A view's filters and export options read from URL parameters and CLI arguments, and back.

The fields themselves are defined once, beside what they configure: `FILTER_FIELDS` in
filters.py and `EXPORT_FIELDS` in export.py. Everything here is derived from those lists,
so the CLI, the HTTP route, the dashboard and the README cannot disagree.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from gleif_data.export import EXPORT_FIELDS, ExportOptions
from gleif_data.fields import Field, ViewError
from gleif_data.filters import FILTER_FIELDS, DomainFilter

QueryParams = Mapping[str, str | Sequence[str]]
FILTER_PARAMETERS = tuple(f.parameter for f in FILTER_FIELDS)
EXPORT_PARAMETERS = tuple(f.parameter for f in EXPORT_FIELDS)


def filters_from_query(params: QueryParams) -> DomainFilter:
    """The filters named by URL query parameters (others are ignored); ViewError if bad."""
    return DomainFilter(**{f.name: f.parse(params.get(f.parameter)) for f in FILTER_FIELDS})


def export_options_from_query(params: QueryParams, *, also: Iterable[str] = ()) -> ExportOptions:
    """Export options and filters from URL query parameters; ViewError on an unknown one.

    `also` names parameters that the caller handles itself (a link's token).
    """
    known = {*FILTER_PARAMETERS, *EXPORT_PARAMETERS, *also}
    unknown = sorted(name for name in params if name not in known)
    if unknown:
        raise ViewError(unknown[0], f"unknown parameter {unknown[0]!r}")
    return ExportOptions(
        **{f.name: f.parse(params.get(f.parameter)) for f in EXPORT_FIELDS},
        filters=filters_from_query(params),
    )


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    """Add an option per filter (--domain-contains TEXT, --min-candidates N, ...)."""
    group = parser.add_argument_group("filters (a domain must pass all of them)")
    for f in FILTER_FIELDS:
        _add_argument(group, f)


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    """Add an option per export option (--format, --layout, ...) and per filter."""
    for f in EXPORT_FIELDS:
        _add_argument(parser, f)
    add_filter_arguments(parser)


def filters_from_args(args: argparse.Namespace) -> DomainFilter:
    """The filters of parsed arguments (made by add_filter_arguments); ViewError if bad."""
    return DomainFilter(**{f.name: _from_arg(f, getattr(args, f.name)) for f in FILTER_FIELDS})


def export_options_from_args(args: argparse.Namespace) -> ExportOptions:
    """The export options of parsed arguments (made by add_export_arguments)."""
    return ExportOptions(
        **{f.name: _from_arg(f, getattr(args, f.name)) for f in EXPORT_FIELDS},
        filters=filters_from_args(args),
    )


def reference_table(fields: Sequence[Field]) -> str:
    """The README's table of these fields: label, URL parameter, CLI option, values, meaning."""
    lines = [
        "| field | URL parameter | CLI option | values | meaning |",
        "|---|---|---|---|---|",
    ]
    for f in fields:
        lines.append(
            f"| {f.label} | `{f.parameter}` | `{_cli_synopsis(f)}` | {_default_noted(f)} "
            f"| {f.help} |"
        )
    return "\n".join(lines)


def _default_noted(f: Field) -> str:
    values = f.values_in_words()
    if f.kind == "switch":
        return f"{values} (default {'true' if f.default else 'false'})"
    if f.kind == "choice" and f.default is not None:
        return f"{values} (default {f.default.value})"
    return values


def _cli_synopsis(f: Field) -> str:
    if f.kind == "switch":
        return f.option
    metavar = {"flags": "FLAG", "choice": "VALUE", "number": "N"}.get(f.kind, "TEXT")
    return f"{f.option} {metavar}" + (" ..." if f.kind == "flags" else "")


def _add_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup, f: Field) -> None:
    help_text = f.cli_help or f.help
    if f.kind == "switch":
        action = "store_false" if f.default else "store_true"
        parser.add_argument(f.option, dest=f.name, action=action, help=help_text)
    elif f.kind == "flags":
        assert f.choices is not None
        parser.add_argument(
            f.option,
            dest=f.name,
            action="append",
            default=[],
            choices=[member.value for member in f.choices],
            help=help_text,
        )
    elif f.kind == "choice":
        assert f.choices is not None
        default = None if f.default is None else f.default.value
        parser.add_argument(
            f.option,
            dest=f.name,
            choices=[member.value for member in f.choices],
            default=default,
            help=help_text,
        )
    else:
        metavar = "N" if f.kind == "number" else "TEXT"
        parser.add_argument(
            f.option, dest=f.name, metavar=metavar, type=_argument_type(f), help=help_text
        )


def _argument_type(f: Field) -> Any:
    """An argparse type: a bad value is a usage error (exit 2) worded with the field's label."""

    def parse(text: str) -> Any:
        try:
            return f.parse(text)
        except ViewError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = f.label  # argparse names the type in some messages
    return parse


def _from_arg(f: Field, value: Any) -> Any:
    if f.kind == "flags":
        return f.parse(value or [])
    return f.check(value)


def export_arguments(options: ExportOptions) -> list[str]:
    """The CLI arguments that ask `export` for these options (the inverse of the parser)."""
    argv: list[str] = []
    for f, value in [
        *((f, getattr(options, f.name)) for f in EXPORT_FIELDS),
        *((f, getattr(options.filters, f.name)) for f in FILTER_FIELDS),
    ]:
        text = f.to_text(value)
        if text is None:
            continue
        if f.kind == "switch":
            argv.append(f.option)
        elif f.kind == "flags":
            argv.extend(f"{f.option}={name}" for name in text.split(","))
        else:
            argv.append(f"{f.option}={text}")  # `=`: a value may start with a dash
    return argv
