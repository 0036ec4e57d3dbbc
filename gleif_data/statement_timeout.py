"""The one time limit on statements, so that a slow query ends with a message, not a hang.

The pages, the CLI and the export route share it: gleif_data.transactions applies it to every
read snapshot and write transaction it opens (bulk work, such as an import, lifts it).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

from gleif_data.config import ConfigError

ENVIRONMENT_VARIABLE = "GLEIF_STATEMENT_TIMEOUT"
DEFAULT_SECONDS = 30.0


def statement_timeout_seconds(environ: Mapping[str, str] | None = None) -> float | None:
    """GLEIF_STATEMENT_TIMEOUT in seconds (default 30); 0 means no limit."""
    environ = os.environ if environ is None else environ
    raw = environ.get(ENVIRONMENT_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        raise ConfigError(
            f"{ENVIRONMENT_VARIABLE} must be a number of seconds, not {raw!r}"
        ) from None
    if not math.isfinite(seconds) or seconds < 0:
        raise ConfigError(f"{ENVIRONMENT_VARIABLE} must be 0 (no limit) or more, not {raw!r}")
    return seconds or None


def timeout_message(seconds: float | None) -> str:
    """What the analyst reads when a query ran out of time."""
    limit = f"{seconds:g} s" if seconds else "its time limit"
    return (
        f"The database took longer than {limit} to answer, so the query was stopped. "
        "Narrow the filters, or try again when the database is less busy."
    )
