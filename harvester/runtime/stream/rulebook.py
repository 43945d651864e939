"""The server's rules brought to what the stream jobs want, as a diff (``core/stream/rules``).

New rules are validated with ``dry_run`` first, so a refused rule changes nothing; then only
the missing ones are added and only the rules harvester added that no job has any more are
deleted. The ids harvester added are kept in the store (``stream:rules``), so a rule someone
else added to the app is never touched (unless ``prune``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog

from harvester.core.model import JobSpec
from harvester.core.stream.rules import RuleDiff, diff_rules, refusal_message, wanted_rules
from harvester.errors import UserError
from harvester.runtime.stream.api import StreamApi
from harvester.store.base import Store

log = structlog.get_logger(__name__)

OURS_KEY = "stream:rules"


class RulesRefused(UserError):
    """The server refused a rule (or the rules could not be read): one line naming the job."""


class RuleBook:
    def __init__(self, api: StreamApi, store: Store, *, prune: bool = False) -> None:
        self.api = api
        self.store = store
        self.prune = prune

    async def apply(self, specs: Sequence[JobSpec]) -> RuleDiff:
        """Send the diff; RulesRefused (nothing changed) if the server refuses a new rule."""
        wanted = wanted_rules(specs)
        server = await self.api.rules()
        ours = set(await self.store.get_state(OURS_KEY) or [])
        diff = diff_rules(wanted, server, ours, prune=self.prune)
        if diff.add:
            body = {"add": [{"value": r.value, "tag": r.tag} for r in diff.add]}
            status, answer = await self.api.change(body, dry_run=True)
            if status != 200 or _invalid(answer):
                raise RulesRefused(refusal_message(answer, wanted))
            status, answer = await self.api.change(body, dry_run=False)
            if status != 200 or _invalid(answer):
                raise RulesRefused(refusal_message(answer, wanted))
            added = [str(r["id"]) for r in answer.get("data", []) or []]
            ours |= set(added)
            await self.store.put_state(OURS_KEY, sorted(ours))
            log.info("stream_rules_added", rules=len(added))
        if diff.delete:
            status, answer = await self.api.change({"delete": {"ids": list(diff.delete)}}, dry_run=False)
            if status != 200:
                raise RulesRefused(f"stream rules could not be deleted: HTTP {status} {answer.get('title', '')}")
            ours -= set(diff.delete)
            await self.store.put_state(OURS_KEY, sorted(ours))
            log.info("stream_rules_deleted", rules=len(diff.delete))
        return diff


def _invalid(answer: dict[str, Any]) -> bool:
    meta = answer.get("meta")
    summary = meta.get("summary") if isinstance(meta, dict) else None
    return bool(isinstance(summary, dict) and summary.get("invalid"))
