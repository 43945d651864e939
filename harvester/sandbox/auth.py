"""Credentials: a registry of app Bearer tokens, OAuth 2.0 user tokens and OAuth 1.0a keys.

A server cannot tell an app-only Bearer token from an OAuth 2.0 user token by the header
(§7), so the sandbox keeps a registry. OAuth 1.0a requests are verified with oauthlib
(HMAC-SHA1 over the request as received), with nonce replay and stale timestamps rejected
against the *simulated* clock, which is what a harvester signing with its own clock sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from oauthlib.common import Request as OAuthRequest
from oauthlib.oauth1.rfc5849 import signature, utils


@dataclass(frozen=True)
class UserCredentials:
    """OAuth 1.0a keys of one user of the app; ``user_id`` is a world user id."""

    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str
    user_id: str


@dataclass(frozen=True)
class Principal:
    """Who is calling. ``bucket_token`` is None for the app bucket, else the user's token."""

    kind: str  # "app", "oauth1", "oauth2-user"
    user_id: str | None
    bucket_token: str | None


class AuthRegistry:
    """Registered tokens, and verification of ``Authorization`` headers."""

    def __init__(self, timestamp_skew: float | None) -> None:
        # True: any Bearer token that is not a registered user token is the app (the CLI's
        # default, so `harvester sandbox` needs no token in its environment).
        self.any_bearer = False
        self.app_tokens: set[str] = set()
        self.bearer_users: dict[str, str] = {}
        self.oauth1: dict[str, UserCredentials] = {}
        self.timestamp_skew = timestamp_skew
        self._nonces: set[tuple[str, str, str]] = set()

    def add_app_token(self, token: str) -> None:
        self.app_tokens.add(token)

    def add_user(self, creds: UserCredentials) -> None:
        self.oauth1[creds.access_token] = creds

    def add_bearer_user(self, token: str, user_id: str) -> None:
        self.bearer_users[token] = user_id

    def authenticate(self, header: str | None, method: str, url: str, now: float) -> Principal | None:
        """The caller, or None for a missing or bad credential (→ 401)."""
        if not header:
            return None
        if header.startswith("Bearer "):
            token = header[7:].strip()
            if token in self.app_tokens:
                return Principal("app", None, None)
            if token in self.bearer_users:
                return Principal("oauth2-user", self.bearer_users[token], token)
            return Principal("app", None, None) if self.any_bearer and token else None
        if header[:6].lower() == "oauth ":
            return self._oauth1(header, method, url, now)
        return None

    def _oauth1(self, header: str, method: str, url: str, now: float) -> Principal | None:
        try:
            params = {k: utils.unescape(v) for k, v in utils.parse_authorization_header(header)}
        except ValueError:
            return None
        creds = self.oauth1.get(params.get("oauth_token", ""))
        if (
            creds is None
            or params.get("oauth_consumer_key") != creds.consumer_key
            or params.get("oauth_signature_method") != "HMAC-SHA1"
            or "oauth_signature" not in params
            or "oauth_nonce" not in params
        ):
            return None
        try:
            ts = int(params.get("oauth_timestamp", ""))
        except ValueError:
            return None
        if self.timestamp_skew is not None and abs(ts - now) > self.timestamp_skew:
            return None
        req = OAuthRequest(url, http_method=method, headers={"Authorization": header})
        req.params = signature.collect_parameters(
            uri_query=urlsplit(url).query, headers={"Authorization": header}, exclude_oauth_signature=True
        )
        req.signature = params["oauth_signature"]
        if not signature.verify_hmac_sha1(req, creds.consumer_secret, creds.access_token_secret):
            return None
        nonce_key = (creds.access_token, params["oauth_nonce"], str(ts))
        if nonce_key in self._nonces:
            return None
        self._nonces.add(nonce_key)
        return Principal("oauth1", creds.user_id, creds.access_token)
