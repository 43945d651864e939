"""harvester: rate-limit- and budget-aware bulk harvesting from the X API v2."""

__version__ = "0.1.0"
