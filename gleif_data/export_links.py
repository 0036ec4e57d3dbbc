"""Signed, expiring export links: an export URL that works for one user, one export, a while."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_LIFETIME_SECONDS = 15 * 60


class LinkError(Exception):
    """The link's token is missing, forged, altered or expired."""


class SigningUnavailable(Exception):
    """Sign-in is (or may be) on, but export links cannot be checked: every link is refused."""


@dataclass(frozen=True)
class LinkSigner:
    """Signs and checks export tokens with a secret shared by every server of the deployment."""

    secret: bytes

    def sign(
        self,
        batch: str,
        params: Mapping[str, str],
        user: str,
        *,
        lifetime: int = DEFAULT_LIFETIME_SECONDS,
        now: float | None = None,
    ) -> str:
        """A token for exactly this batch and these export parameters."""
        expires = int((time.time() if now is None else now) + lifetime)
        payload = _encode({"u": user, "e": expires})
        return f"{payload}.{self._mac(payload, batch, params)}"

    def verify(
        self, token: str, batch: str, params: Mapping[str, str], *, now: float | None = None
    ) -> str:
        """The user the token was made for; LinkError unless it matches and has not expired."""
        payload, _, mac = token.partition(".")
        if not payload or not hmac.compare_digest(mac, self._mac(payload, batch, params)):
            raise LinkError("the export link is not valid for this export")
        claims = _decode(payload)
        if claims["e"] < (time.time() if now is None else now):
            raise LinkError("the export link has expired; create a new one on the Export page")
        return str(claims["u"])

    def _mac(self, payload: str, batch: str, params: Mapping[str, str]) -> str:
        message = json.dumps([payload, batch, sorted(params.items())], ensure_ascii=False)
        digest = hmac.new(self.secret, message.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _encode(claims: dict[str, object]) -> str:
    raw = json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(payload: str) -> dict[str, object]:
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        raise LinkError("the export link is not valid for this export") from None
    if not isinstance(claims, dict) or not isinstance(claims.get("e"), int):
        raise LinkError("the export link is not valid for this export")
    return claims
