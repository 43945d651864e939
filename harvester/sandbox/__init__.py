"""A local fake X API v2 with real semantics, for tests, benchmarks and demos.

See :mod:`harvester.sandbox.server` for the request pipeline, :mod:`.world` for the simulated
world, :mod:`.truth` for ground truth, :mod:`.openapi` for the validation tables it reads from
X's OpenAPI document and :mod:`.quirks` for the behaviours of other X-like servers it can put
on (``SandboxConfig(quirks=frozenset({...}))``). The sandbox keeps its own rate-limit and price
tables (:mod:`.tables`) and imports nothing from the harvester but :mod:`harvester.clock`.
"""

from harvester.sandbox.auth import UserCredentials
from harvester.sandbox.billing import Charge, Ledger
from harvester.sandbox.config import SandboxConfig, WindowChange
from harvester.sandbox.limits import Stats
from harvester.sandbox.quirks import QUIRKS
from harvester.sandbox.server import Sandbox, serve
from harvester.sandbox.truth import SampleQueries, Truth, UserInfo

__all__ = ["QUIRKS", "Charge", "Ledger", "SampleQueries", "Sandbox", "SandboxConfig", "Stats", "Truth",
           "UserCredentials", "UserInfo", "WindowChange", "serve"]  # fmt: skip
