"""Domain names as analysts paste them: trimmed, lower-cased, URLs reduced to their host.

An internationalised domain is kept in its Unicode form: 'xn--bcher-kva.de' (the ASCII form
DNS uses) and 'BÜCHER.de' are both 'bücher.de', decoded with the rules of IDNA 2008 and UTS 46.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import idna

# A label is letters or digits (any script) with inner hyphens; see RFC 1035 and IDNA.
_LABEL = re.compile(r"[^\W_](?:[\w-]*[^\W_])?")
_MAX_DOMAIN_LENGTH = 253
_MAX_LABEL_LENGTH = 63
# Already in normal form: lower-case ASCII labels of letters, digits and inner hyphens.
_PLAIN_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_PLAIN_DOMAIN = re.compile(rf"(?:{_PLAIN_LABEL}\.)+{_PLAIN_LABEL}")
# Labels starting so are the ASCII form of an internationalised label (RFC 5890).
_ACE_PREFIX = "xn--"


def normalise_domain(raw: str) -> str:
    """Return the host of a domain or pasted URL, lower-cased; ValueError if it is no domain."""
    # Most rows of an import are plain domains already: a regex settles them.
    if (
        len(raw) <= _MAX_DOMAIN_LENGTH
        and _PLAIN_DOMAIN.fullmatch(raw)
        and _ACE_PREFIX not in raw
        and not raw[raw.rfind(".") + 1 :].isdigit()
    ):
        return raw
    return _normalise_fully(raw)


def _normalise_fully(raw: str) -> str:
    text = raw.strip()
    if not text:
        raise ValueError("the domain is empty")
    host = unicode_domain(_host_of(text).lower().rstrip("."))
    if not _is_domain(host):
        raise ValueError(f"{raw.strip()!r} is not a domain name")
    return host


def unicode_domain(text: str) -> str:
    """`text` with each internationalised label in its Unicode form; other labels as they are."""
    return ".".join(_unicode_label(label) for label in text.split("."))


def decode_ace_labels(text: str) -> str:
    """`text` with only its xn-- labels in Unicode form: for a domain filter's typed text."""
    return ".".join(
        _unicode_label(label) if label.lower().startswith(_ACE_PREFIX) else label
        for label in text.split(".")
    )


def lookup_domain(text: str) -> str:
    """The stored spelling of a domain typed or pasted for a lookup (Domain page, links)."""
    try:
        return normalise_domain(text)
    except ValueError:
        return text.strip().lower()


def _unicode_label(label: str) -> str:
    if label.isascii() and not label.lower().startswith(_ACE_PREFIX):
        return label
    try:
        return idna.decode(label, uts46=True)
    except (idna.IDNAError, UnicodeError, ValueError):
        # Not valid under IDNA 2008 (an emoji, a broken xn-- label): kept as written, still
        # one domain per spelling as before.
        return label


def _host_of(text: str) -> str:
    if "://" not in text:
        # urlsplit only finds a host after '//': 'acme.com/about' has none without it.
        text = "//" + text
    try:
        host = urlsplit(text).hostname
    except ValueError:
        return ""
    return host or ""


def _is_domain(host: str) -> bool:
    if len(host) > _MAX_DOMAIN_LENGTH:
        return False
    labels = host.split(".")
    if len(labels) < 2 or labels[-1].isdigit():
        return False  # a single label or an IP address is no web domain
    return all(len(label) <= _MAX_LABEL_LENGTH and _LABEL.fullmatch(label) for label in labels)
