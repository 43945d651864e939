"""Secrets out of every text harvester prints: error lines, log events, ``status``.

Two kinds of secret, two ways to find them:

- *Registered values* (:func:`register_secret`): tokens read from the environment (the bearer
  token, OAuth 1.0a keys and secrets). Wherever the exact value appears it becomes ``***``.
- *Passwords in URLs*, which nobody registered: ``scheme://user:PASSWORD@host`` in any scheme
  and any spelling (``postgresql://``, ``POSTGRESQL://``, ``postgres://``,
  ``postgresql+asyncpg://``, ``https://``), and ``password=...`` parameters (URL queries and
  libpq ``key=value`` strings). They are found by pattern, so a URL quoted inside a driver's
  exception text is caught as well as one given whole.

:func:`redact` does both and is what the CLI's error line, the log processor and ``status``
call. It errs towards hiding: anything between ``://user:`` and the last ``@`` of the
authority is taken for a password.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

MASK = "***"
MIN_SECRET_LENGTH = 8  # real tokens are 40-120 characters; scrubbing "t" would garble every line

_SECRETS: list[str] = []

# scheme://user:password@  — the password runs to the last "@" before the path, so a password
# holding "@" or ":" is hidden whole. No whitespace, "/" or "?" inside the authority.
_URL_PASSWORD = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@:]*:)(?P<secret>[^\s/?#]*)(?P<tail>@)"
)
# password=... in a query string or a libpq keyword string (quoted or bare), any case; a value
# already masked (``***``, or ``%2A%2A%2A`` as urlencode writes it) is left as it is.
_PARAM_PASSWORD = re.compile(
    r"(?P<head>\b(?:password|passwd|pwd)\s*=\s*)(?!%2A%2A%2A(?:[\s&#;,)]|$))(?P<secret>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^\s&#;,)]+)",
    re.IGNORECASE,
)


def register_secret(value: str) -> None:
    """Never print ``value`` (values too short to be a real credential are not scrubbed)."""
    value = value.strip()
    if len(value) >= MIN_SECRET_LENGTH and value not in _SECRETS:
        _SECRETS.append(value)
        _SECRETS.sort(key=len, reverse=True)  # a longer secret that contains a shorter one first


def registered() -> tuple[str, ...]:
    """The registered secrets (for tests)."""
    return tuple(_SECRETS)


def redact(text: str) -> str:
    """``text`` with registered secrets and URL passwords replaced by ``***``."""
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, MASK)
    if "://" in text:
        text = _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}{m['tail']}", text)
    if "=" in text:
        text = _PARAM_PASSWORD.sub(lambda m: f"{m['head']}{MASK}", text)
    return text


def redact_tree(value: object) -> object:
    """:func:`redact` applied to every string inside dicts, lists and tuples (JSON-like data)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {redact_tree(k) if isinstance(k, str) else k: redact_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_tree(v) for v in value]
    if isinstance(value, tuple):
        return tuple(redact_tree(v) for v in value)
    return value


def has_url_password(text: str) -> bool:
    """Whether ``text`` holds a URL password or ``password=`` parameter (registered secrets aside)."""
    return bool(_URL_PASSWORD.search(text) or _PARAM_PASSWORD.search(text))
