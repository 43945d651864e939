"""Auth contexts: the app's bearer token and OAuth 1.0a user contexts.

Each context is one rate-limit identity (spec §3.1: per app for Bearer, per user access token for
user context). Secrets come from environment variables named in the config and live only in
these objects, whose ``repr`` never shows them. OAuth 1.0a signing is oauthlib's, not ours.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol
from urllib.parse import urlencode

from oauthlib.oauth1 import Client as OAuth1Client

AuthKind = Literal["app", "user"]


class AuthContext(Protocol):
    """Something that can authorize a GET request."""

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> AuthKind: ...

    @property
    def user_id(self) -> str | None: ...

    def authorization(self, url: str, params: Mapping[str, str]) -> str:
        """The ``Authorization`` header value for a GET of ``url`` with ``params``."""
        ...


@dataclass(frozen=True, slots=True)
class BearerAuth:
    """App-only auth: ``Authorization: Bearer <token>``."""

    token: str = field(repr=False)
    name: str = "app"
    kind: AuthKind = "app"
    user_id: str | None = None

    def authorization(self, url: str, params: Mapping[str, str]) -> str:
        return f"Bearer {self.token}"


@dataclass(frozen=True, slots=True)
class OAuth1UserAuth:
    """OAuth 1.0a user context, signed per request (fresh nonce and timestamp) by oauthlib.

    ``timestamp`` overrides the signing time (the shell passes its clock, so a fast-forwarded
    sandbox sees fresh timestamps); None uses oauthlib's own.
    """

    name: str
    consumer_key: str = field(repr=False)
    consumer_secret: str = field(repr=False)
    token: str = field(repr=False)
    token_secret: str = field(repr=False)
    user_id: str | None = None
    kind: AuthKind = "user"

    def authorization(self, url: str, params: Mapping[str, str], timestamp: int | None = None) -> str:
        client = OAuth1Client(
            self.consumer_key,
            client_secret=self.consumer_secret,
            resource_owner_key=self.token,
            resource_owner_secret=self.token_secret,
            timestamp=None if timestamp is None else str(timestamp),
        )
        full = f"{url}?{urlencode(params)}" if params else url
        _, headers, _ = client.sign(full, http_method="GET")
        return str(headers["Authorization"])


def redact(text: str, secrets: list[str]) -> str:
    """Remove any secret value from ``text`` (belt and braces for error messages)."""
    for s in secrets:
        if s:
            text = text.replace(s, "***")
    return text
