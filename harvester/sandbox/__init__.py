"""A local fake X API v2 with real semantics, for tests, benchmarks and demos.

See :mod:`harvester.sandbox.server` for the request pipeline, :mod:`.world` for the simulated
world and :mod:`.truth` for ground truth. The sandbox keeps its own tables (:mod:`.tables`)
and imports nothing from the harvester but :mod:`harvester.clock`.
"""

from harvester.sandbox.auth import UserCredentials
from harvester.sandbox.billing import Charge, Ledger
from harvester.sandbox.config import SandboxConfig
from harvester.sandbox.limits import Stats
from harvester.sandbox.server import Sandbox, serve
from harvester.sandbox.truth import SampleQueries, Truth, UserInfo

__all__ = ["Charge", "Ledger", "SampleQueries", "Sandbox", "SandboxConfig", "Stats", "Truth", "UserCredentials",
           "UserInfo", "serve"]  # fmt: skip
