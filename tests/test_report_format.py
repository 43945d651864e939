"""``harvester report`` for people: each heading once, money at one precision throughout."""

from __future__ import annotations

import re

import pytest

from harvester.commands.report import UsageRow, render
from harvester.core.pricing import format_usd_at, usd_digits


@pytest.mark.parametrize(
    ("micros", "digits", "text"),
    [(20_000, 3, "$0.020"), (3_065_000, 3, "$3.065"), (19_550_000, 2, "$19.55"), (1_234_567_891, 6, "$1,234.567891"),
     (2_500, 2, "$0.00"), (7_500, 2, "$0.01"), (15_000, 2, "$0.02"), (-1_250_000, 2, "-$1.25"), (0, 0, "$0")],
)
def test_format_usd_at(micros: int, digits: int, text: str) -> None:
    assert format_usd_at(micros, digits) == text


def test_usd_digits_is_the_finest_needed() -> None:
    assert usd_digits([]) == 2 and usd_digits([1_000_000, 500_000]) == 2
    assert usd_digits([20_000, 3_065_000]) == 3 and usd_digits([1]) == 6


def test_table_has_one_precision_and_each_heading_once() -> None:
    rows = [
        UsageRow(day="2026-11-20", endpoint="/2/tweets", job="a", requests=1, resources=4, micros=20_000),
        UsageRow(day="2026-11-20", endpoint="/2/users/:id/tweets", job="b", requests=29, resources=2827,
                 micros=14_135_000),
        UsageRow(day="2026-11-21", endpoint="/2/users/:id/followers", job="c", requests=1, resources=225,
                 micros=2_250_000),
        UsageRow(day="2026-11-21", endpoint="/2/tweets", job="a", requests=1, resources=4, micros=20_000),
    ]
    text = render(rows, "table")
    assert text.count("usage by UTC day, endpoint and job") == 1
    assert text.count("top endpoints by spend:") == 1
    amounts = re.findall(r"\$[\d,]+\.(\d+)", text)
    assert {len(d) for d in amounts} == {3}, amounts
    assert "$14.135" in text and "$2.250" in text and "$16.425" in text  # total
    top = text.split("top endpoints by spend:")[1].split()
    assert top[:2] == ["/2/users/:id/tweets", "$14.135"] and "/2/tweets" in top and "$0.040" in top
