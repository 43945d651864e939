"""Small inline SVG charts: daily bars, and a running total against its limit.

Plain SVG text, no script and no library: the page stays one self-contained response. Every
bar and point carries a ``<title>`` with its exact figure (a browser shows it on hover), and
each chart an ``aria-label`` saying what it shows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

W, H = 300.0, 84.0  # viewBox size
PAD_TOP, PAD_BOTTOM = 6.0, 14.0


def _scale(top: float) -> Callable[[float], float]:
    span = H - PAD_TOP - PAD_BOTTOM
    return lambda v: round(H - PAD_BOTTOM - (v / top) * span if top > 0 else H - PAD_BOTTOM, 2)


def _frame(label: str, body: str, first: str, last: str, css: str) -> str:
    axis = f'<line x1="0" y1="{H - PAD_BOTTOM}" x2="{W}" y2="{H - PAD_BOTTOM}" class="axis"/>'
    ticks = (f'<text x="0" y="{H - 2}" class="tick">{escape(first)}</text>'
             f'<text x="{W}" y="{H - 2}" class="tick" text-anchor="end">{escape(last)}</text>')
    return (f'<svg class="chart {css}" viewBox="0 0 {W:g} {H:g}" role="img" aria-label="{escape(label)}" '
            f'preserveAspectRatio="none">{axis}{body}{ticks}</svg>')


def bars(days: Sequence[str], values: Sequence[float], *, label: str, show: Callable[[float], str],
         css: str = "") -> str:
    """One bar per day (``values[i]`` on ``days[i]``), scaled to the largest."""
    if not days:
        return ""
    y = _scale(max(values, default=0.0))
    step = W / len(days)
    body = []
    for i, (day, v) in enumerate(zip(days, values, strict=True)):
        top = y(v)
        body.append(f'<rect x="{i * step + 0.5:.2f}" y="{top}" width="{max(step - 1, 0.5):.2f}" '
                    f'height="{round(H - PAD_BOTTOM - top, 2)}" class="bar" data-day="{escape(day)}" '
                    f'data-value="{v!r}"><title>{escape(day)}: {escape(show(v))}</title></rect>')
    return _frame(label, "".join(body), days[0], days[-1], css)


def running_total(
    days: Sequence[str],
    values: Sequence[float],
    *,
    limit: float | None,
    label: str,
    show: Callable[[float], str],
    points: Sequence[float | None] = (),
    points_label: str = "",
    css: str = "",
) -> str:
    """A line of a running total per day, a dashed line at ``limit`` (when it is within 4x the
    data: a far-off limit would flatten the line to nothing, so it is named instead), and dots
    for ``points`` (another count of the same thing, where one exists)."""
    if not days:
        return ""
    seen = [v for v in (*values, *(p for p in points if p is not None)) if v is not None]
    peak = max(seen, default=0.0)
    on_scale = limit is not None and limit > 0 and (peak == 0 or limit <= 4 * peak)
    top = max(peak, limit if on_scale and limit is not None else 0.0) * 1.05 or 1.0
    y = _scale(top)
    step = W / len(days)
    xs = [round(i * step + step / 2, 2) for i in range(len(days))]
    line = " ".join(f"{x},{y(v)}" for x, v in zip(xs, values, strict=True))
    body = [f'<polyline points="{line}" class="line"/>']
    for x, day, v in zip(xs, days, values, strict=True):
        body.append(f'<circle cx="{x}" cy="{y(v)}" r="1.6" class="dot" data-day="{escape(day)}" data-value="{v!r}">'
                    f"<title>{escape(day)}: {escape(show(v))}</title></circle>")
    for x, day, p in zip(xs, days, points, strict=False):
        if p is not None:
            body.append(f'<rect x="{x - 2}" y="{y(p) - 2}" width="4" height="4" class="point" '
                        f'data-day="{escape(day)}" data-value="{p!r}">'
                        f"<title>{escape(day)}: {escape(points_label)} {escape(show(p))}</title></rect>")
    if on_scale and limit is not None:
        body.append(f'<line x1="0" y1="{y(limit)}" x2="{W}" y2="{y(limit)}" class="limit">'
                    f"<title>limit: {escape(show(limit))}</title></line>")
    return _frame(label, "".join(body), days[0], days[-1], css)
