"""``harvester report`` after a harvest: the cycle's credit purchases and the free xAI credits tier."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from harvester.commands.report import report_command
from harvester.config import AutoRecharge, Budget
from harvester.core.model import JobSpec
from harvester.testing import EPOCH, harvest_sandbox, make_config, run_virtual

SEARCH = JobSpec(name="search", kind="search", query="bumife", start_time="2026-11-15T00:00:00Z",
                 end_time="2026-11-18T00:00:00Z", max_results=100)


def test_report_counts_the_balance_and_the_modelled_recharge(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    # $150 bought, and a $60 auto-recharge once the balance falls below $160: the first charge
    # triggers it, so the cycle holds $210 of purchases: the 10 % tier, $21 of free credits.
    budget = Budget(balance_usd=150.0, auto_recharge=AutoRecharge(threshold_usd=160.0, amount_usd=60.0))
    config = make_config(tmp_path)
    config = replace(config, budget=budget)
    run_virtual(lambda: harvest_sandbox(config, [SEARCH]))
    later = EPOCH + 86_400  # the same billing cycle (November 2026), a day on: the recharge has landed
    capsys.readouterr()

    assert report_command(config, "json", now=later) == 0
    rewards = json.loads(capsys.readouterr().out)["rewards"]
    assert [(p["source"], p["usd"]) for p in rewards["purchases"]] == [("balance_usd (config)", 150.0),
                                                                       ("auto-recharge", 60.0)]
    assert rewards["total_usd"] == 210.0 and rewards["percent"] == 10 and rewards["credited_usd"] == 21.0
    assert [p["received_usd"] for p in rewards["purchases"]] == [0.0, 21.0]
    assert rewards["next_tier"] == {"from_usd": 500.0, "percent": 15, "to_go_usd": 290.0, "earns_usd": 54.0}

    assert report_command(config, "table", now=later) == 0
    text = capsys.readouterr().out
    assert "bought this cycle: $210.00, tier 10 %: $21.00 of free xAI credits" in text
    assert "next tier: 15 % from $500" in text and "would earn $54" in text
    decimals = {len(d) for d in re.findall(r"\$[\d,]+(?:\.(\d+))?", text)}
    assert len(decimals) == 1, decimals  # one precision throughout, rewards included

    assert report_command(config, "csv", now=later) == 0
    assert "free xAI" not in capsys.readouterr().out  # CSV stays the usage rows alone

    # The next cycle starts from $0: neither the balance (spent from in November) nor the recharge counts.
    december = EPOCH + 12 * 86_400
    assert report_command(config, "json", now=december) == 0
    rewards = json.loads(capsys.readouterr().out)["rewards"]
    assert rewards["total_usd"] == 0.0 and rewards["purchases"] == [] and rewards["next_tier"]["to_go_usd"] == 200.0
