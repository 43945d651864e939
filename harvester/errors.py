"""The error tree: every error says whose fault it is.

- ``UserError`` and its children are the user's to fix (bad config, bad job file, bad
  command line). The CLI prints them as one line naming the file, job or key, and exits 2.
- ``ApiError`` and its children come from the X API or the network; the worker decides
  whether to retry, wait or stop from the *classification* in ``harvester.core.classify``,
  not from the exception type alone.
- ``StoreError`` is the state store's (corrupt or unreadable state): exit 1, nothing lost.
- ``StopHarvest`` is an expected end (budget reached, credits depleted): exit 0.

The default message of an error is its class docstring, as in procrastinate.
"""

from __future__ import annotations


class HarvesterError(Exception):
    """harvester failed."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class UserError(HarvesterError):
    """The input is invalid."""


class ConfigError(UserError):
    """A config file is invalid. The message names the file and the key path."""

    def __init__(self, file: str, key: str | None, problem: str) -> None:
        where = f"{file}: {key}" if key else file
        super().__init__(f"{where}: {problem}")
        self.file = file
        self.key = key
        self.problem = problem


class JobSpecError(UserError):
    """A job file is invalid. The message names the file, the job and the key."""

    def __init__(self, file: str, job: str | None, key: str | None, problem: str) -> None:
        parts = [file]
        if job:
            parts.append(f"job {job!r}")
        if key:
            parts.append(key)
        super().__init__(": ".join(parts) + f": {problem}")
        self.file = file
        self.job = job
        self.key = key
        self.problem = problem


class FlagError(UserError):
    """A command-line option is invalid. The message names the flag (``--workers: ...``).

    A flag that overrides a config key is checked with that key's own rules, so the same value
    gets the same answer whichever way it was given; only the name in the message differs.
    """

    def __init__(self, flag: str, problem: str) -> None:
        super().__init__(f"{flag}: {problem}")
        self.flag = flag
        self.problem = problem


class StoreError(HarvesterError):
    """The state store is unreadable or corrupt."""


class OutputError(HarvesterError):
    """An output file could not be written (disk full, permissions, I/O error)."""


class ApiError(HarvesterError):
    """The X API answered with an error, or could not be reached."""


class TransportError(ApiError):
    """The connection failed, timed out or was dropped mid-body."""


class BadResponse(ApiError):
    """The API's answer could not be parsed (malformed JSON or an unexpected shape)."""


class StopHarvest(HarvesterError):
    """The harvest stopped on purpose (budget reached, credits depleted, cap reached)."""
