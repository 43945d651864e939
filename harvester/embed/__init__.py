"""harvester as a library: :class:`Harvester` and the frozen values it returns.

``from harvester import Harvester`` is the same class (imported on first use, so the CLI's
start-up does not pay for it).
"""

from __future__ import annotations

from harvester.embed.harvester import ConfigSource, Harvester, JobSource
from harvester.embed.values import EXIT_CODES, Outcome, Page, Plan, RunReport, Status

__all__ = ["EXIT_CODES", "ConfigSource", "Harvester", "JobSource", "Outcome", "Page", "Plan", "RunReport", "Status"]
