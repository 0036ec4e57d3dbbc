"""LEI rules: the ISO 17442 format and its ISO 7064 MOD 97-10 check digits."""

from __future__ import annotations

import re
import string

LEI_FORMAT = re.compile(r"[0-9A-Z]{20}")
# ISO 7064 MOD 97-10 reads letters as 10..35; digits stand for themselves.
_AS_DIGITS = str.maketrans({letter: str(int(letter, 36)) for letter in string.ascii_uppercase})


def normalise_lei(raw: str) -> str:
    """Trim and upper-case an LEI as typed; raise ValueError unless it is 20 letters and digits."""
    text = raw.strip()
    # Checked before upper-casing: 'ß'.upper() is 'SS' and 'ı'.upper() is 'I'.
    if not text.isascii():
        raise ValueError(f"LEI {text!r} is not 20 letters and digits")
    code = text.upper()
    if not LEI_FORMAT.fullmatch(code):
        raise ValueError(f"LEI {text!r} is not 20 letters and digits")
    return code


def has_valid_check_digits(code: str) -> bool:
    """Whether a well-formed LEI passes ISO 7064 MOD 97-10 (letters count as 10..35)."""
    if not LEI_FORMAT.fullmatch(code):
        return False
    # translate rather than a call per character: imports check millions of codes.
    return int(code.translate(_AS_DIGITS)) % 97 == 1
