"""The kinds of field a view is made of (text, whole number, flag set, choice, switch).

A field knows its name (the attribute, the URL parameter), the label the analyst reads,
its help text and its CLI option; it reads a value from URL or CLI text, checks a value
however it was made, writes it back as URL text and describes it in words. `DomainFilter`
(filters.py) and `ExportOptions` (export.py) list their fields; view.py builds the URL,
CLI and README surfaces from those lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from gleif_data.errors import GleifDataError

Kind = Literal["text", "number", "flags", "choice", "switch"]
# Values longer than this are cut in messages: a pasted page of text must not fill the screen.
SHOWN_CHARACTERS = 40
_TRUE, _FALSE = "true", "false"


class ViewError(GleifDataError, ValueError):
    """A filter or option that cannot be used; the message names it by its label."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class Field:
    """One filter or option: how it is named, read, checked, written and described."""

    name: str
    label: str
    kind: Kind
    help: str
    maximum: int | None = None  # number: the largest value (the smallest is 0)
    choices: type[StrEnum] | None = None  # flags and choice: the values allowed
    default: Any = None
    url: str | None = None  # the URL parameter when it differs from `name`
    cli: str | None = None  # the CLI option when it differs from --name-with-dashes
    cli_help: str | None = None  # the CLI option's help when it differs from `help`

    @property
    def parameter(self) -> str:
        """The URL query parameter."""
        return self.url or self.name

    @property
    def option(self) -> str:
        """The command-line option."""
        return self.cli or "--" + self.name.replace("_", "-")

    def parse(self, raw: str | Sequence[str] | None) -> Any:
        """The value of URL or CLI text (a repeated parameter: its values); None is unset."""
        if raw is None:
            return self.default
        if self.kind == "flags":
            parts = [raw] if isinstance(raw, str) else list(raw)
            names = [name.strip() for part in parts for name in part.split(",") if name.strip()]
            return self.check(frozenset(names))
        text = raw if isinstance(raw, str) else (raw[-1] if raw else "")
        if self.kind == "text":
            return self.check(text)
        if self.kind == "switch":
            if text.strip().lower() not in (_TRUE, _FALSE):
                raise ViewError(
                    self.parameter, f"{self.label}: {shorten(text)} is not true or false"
                )
            return text.strip().lower() == _TRUE
        text = text.strip()
        if not text:
            return self.default
        if self.kind == "number":
            digits = text[1:] if text[0] in "+-" else text
            if not (digits.isascii() and digits.isdigit()):
                raise ViewError(
                    self.parameter, f"{self.label}: {shorten(text)} is not a whole number"
                )
            return self.check(int(text))
        return self.check(text)

    def check(self, value: Any) -> Any:
        """The value in its usual form (text trimmed, names as enum members), or ViewError."""
        if value is None:
            return self.default
        if self.kind == "text":
            if not isinstance(value, str):
                raise ViewError(self.parameter, f"{self.label} must be text")
            return trimmed_needle(value)
        if self.kind == "number":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ViewError(self.parameter, f"{self.label}: {value!r} is not a whole number")
            if value < 0:
                raise ViewError(self.parameter, f"{self.label}: {value} is less than 0")
            if self.maximum is not None and value > self.maximum:
                raise ViewError(
                    self.parameter, f"{self.label}: {value:,} is more than {self.maximum:,}"
                )
            return value
        if self.kind == "switch":
            if not isinstance(value, bool):
                raise ViewError(self.parameter, f"{self.label} must be true or false")
            return value
        assert self.choices is not None
        if self.kind == "flags":
            if isinstance(value, str):
                raise ViewError(self.parameter, f"{self.label} must be a set of names")
            return frozenset(self._member(item) for item in value)
        return self._member(value)

    def _member(self, value: Any) -> StrEnum:
        assert self.choices is not None
        try:
            return self.choices(value)
        except ValueError:
            allowed = ", ".join(member.value for member in self.choices)
            raise ViewError(
                self.parameter, f"{self.label}: {shorten(str(value))} is not one of {allowed}"
            ) from None

    def to_text(self, value: Any) -> str | None:
        """The URL text of a value; None for the default, which the URL leaves out."""
        if value == self.default or (self.kind == "flags" and not value):
            return None
        if self.kind == "switch":
            return _TRUE if value else _FALSE
        if self.kind == "flags":
            assert self.choices is not None
            return ",".join(member.value for member in self.choices if member in value)
        return str(value.value if isinstance(value, StrEnum) else value)

    def describe(self, value: Any) -> str:
        """`Domain contains "bank"`: the field and its value in words, long text shortened."""
        if self.kind == "text":
            return f"{self.label} {shorten(value)}"
        if self.kind == "flags":
            return f"{self.label} {', '.join(sorted(str(flag) for flag in value))}"
        if self.kind == "switch":
            return f"{self.label}: {'yes' if value else 'no'}"
        return f"{self.label} {value.value if isinstance(value, StrEnum) else value}"

    def values_in_words(self) -> str:
        """What the field accepts, for the README and the CLI's help."""
        if self.kind == "text":
            return "text"
        if self.kind == "number":
            top = f"{self.maximum:,}" if self.maximum is not None else "any"
            return f"whole number, 0 to {top}"
        if self.kind == "switch":
            return "true, false"
        assert self.choices is not None
        names = ", ".join(member.value for member in self.choices)
        return f"any of {names} (comma-separated)" if self.kind == "flags" else names


def shorten(text: str, limit: int = SHOWN_CHARACTERS) -> str:
    """Text quoted for a message, cut with an ellipsis beyond `limit` characters."""
    shown = text if len(text) <= limit else text[: limit - 1] + "\u2026"
    return '"' + shown.replace("\n", " ") + '"'


def trimmed_needle(value: str) -> str | None:
    """A text filter as typed, without surrounding blanks; only spaces mean one space."""
    # '  bank ' is meant as 'bank' (pasted text brings spaces along). A box of nothing but
    # spaces has no other meaning than "holds a space"; an empty box filters nothing.
    trimmed = value.strip()
    if trimmed:
        return trimmed
    return " " if " " in value else None


def check_range(fields: Sequence[Field], values: dict[str, Any], low: str, high: str) -> None:
    """Refuse a lower bound above its upper bound, naming both by their labels."""
    by_name = {field.name: field for field in fields}
    if values[low] is not None and values[high] is not None and values[low] > values[high]:
        raise ViewError(
            low,
            f"{by_name[low].label} ({values[low]}) is more than "
            f"{by_name[high].label} ({values[high]})",
        )
