"""The daemon's status page at ``/``: the ``/status`` document as HTML (see :mod:`.page`)."""

from __future__ import annotations

from harvester.runtime.statuspage.page import REFRESH_SECONDS, render_page

__all__ = ["REFRESH_SECONDS", "render_page"]
