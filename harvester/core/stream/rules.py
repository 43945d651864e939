"""Stream rules as a diff, and which jobs a streamed Post goes to.

The app has one rule set on the server, shared by every stream job (and by whatever else uses
the app). Harvester changes only what it must: it adds the rules no server rule has yet (same
value and tag), and deletes only rules it added itself that no job wants any more, so a rule
someone else added is never touched (unless ``prune``: every rule no job wants goes).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harvester.core.model import JobSpec


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamRule:
    """A rule a job wants: ``value`` (X's rule syntax) and ``tag`` (names the job's Posts)."""

    value: str
    tag: str
    job: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerRule:
    id: str
    value: str
    tag: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleDiff:
    """What to send: rules to add, server rule ids to delete, and what stays as it is."""

    add: tuple[StreamRule, ...]
    delete: tuple[str, ...]
    keep: tuple[ServerRule, ...]

    @property
    def empty(self) -> bool:
        return not self.add and not self.delete


def wanted_rules(specs: Sequence[JobSpec]) -> list[StreamRule]:
    """Every rule of the stream jobs among ``specs``, in job order (``JobSpec.extra["rules"]``)."""
    out: list[StreamRule] = []
    for spec in specs:
        if spec.kind != "stream":
            continue
        for r in spec.extra.get("rules", ()):
            out.append(StreamRule(value=str(r["value"]), tag=str(r["tag"]), job=spec.name))
    return out


def diff_rules(wanted: Sequence[StreamRule], server: Sequence[ServerRule], ours: Collection[str], *,
               prune: bool = False) -> RuleDiff:  # fmt: skip
    """The smallest change from ``server`` to ``wanted``.

    ``ours``: ids of server rules harvester added (kept in the store). A server rule with the
    same value and tag as a wanted one serves it; a wanted rule with none is added; a server
    rule no job wants is deleted if it is ours (or with ``prune``), else left alone.
    """
    want = {(r.value, r.tag): r for r in wanted}
    have = {(r.value, r.tag): r for r in server}
    add = tuple(r for key, r in want.items() if key not in have)
    delete: list[str] = []
    keep: list[ServerRule] = []
    for key, r in have.items():
        if key in want:
            keep.append(r)
        elif prune or r.id in ours:
            delete.append(r.id)
        else:
            keep.append(r)
    return RuleDiff(add=add, delete=tuple(delete), keep=tuple(keep))


class Router:
    """Which jobs a streamed Post belongs to, by its ``matching_rules`` tags."""

    def __init__(self, wanted: Sequence[StreamRule]) -> None:
        self._by_tag: dict[str, list[str]] = {}
        for r in wanted:
            jobs = self._by_tag.setdefault(r.tag, [])
            if r.job not in jobs:
                jobs.append(r.job)

    @property
    def tags(self) -> frozenset[str]:
        return frozenset(self._by_tag)

    def jobs(self, matching_rules: object) -> tuple[str, ...]:
        """The jobs of the Post's matching rules (a tag no job has, or a rule without a tag,
        belongs to nobody: another user of the app)."""
        out: list[str] = []
        if not isinstance(matching_rules, list):
            return ()
        for m in matching_rules:
            tag = m.get("tag") if isinstance(m, Mapping) else None
            for job in self._by_tag.get(str(tag), ()) if tag is not None else ():
                if job not in out:
                    out.append(job)
        return tuple(out)


def refusal_message(body: Mapping[str, Any], wanted: Sequence[StreamRule]) -> str:
    """One line naming the job and rule the server refused, from a rules POST's error body."""
    by_value = {r.value: r for r in wanted}
    for err in body.get("errors", ()) if isinstance(body.get("errors"), list) else ():
        if not isinstance(err, Mapping):
            continue
        value = err.get("value")
        details = err.get("details") or [err.get("title") or err.get("message") or "refused"]
        why = "; ".join(str(d) for d in details) if isinstance(details, list) else str(details)
        rule = by_value.get(str(value)) if value is not None else None
        if rule is not None:
            return f"job {rule.job}: stream rule {rule.value!r} was refused by the server: {why}"
        if err.get("title") != "DuplicateRule":
            return f"stream rules were refused by the server: {why}"
    return "stream rules were refused by the server: " + str(body.get("title") or body.get("detail") or body)[:200]
