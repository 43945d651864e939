"""harvester: rate-limit- and budget-aware bulk harvesting from the X API v2.

As a library: ``from harvester import Harvester`` (see :mod:`harvester.embed`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from harvester.embed import Harvester, Page, Plan, RunReport, Status

_LAZY = frozenset({"Harvester", "Page", "Plan", "RunReport", "Status"})

__all__ = ["Harvester", "Page", "Plan", "RunReport", "Status", "__version__"]


def __getattr__(name: str) -> Any:
    # Imported on first use: ``harvester --version`` and the CLI's parsing stay light.
    if name in _LAZY:
        from harvester import embed

        return getattr(embed, name)
    raise AttributeError(f"module 'harvester' has no attribute {name!r}")
