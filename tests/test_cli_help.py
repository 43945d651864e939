"""``--help``: every command listed with its help, every option's line showing its default."""

from __future__ import annotations

import argparse

import pytest

from harvester.cli import _parser, main

COMMANDS = ("run", "demo", "sandbox", "status", "retry", "forget", "report", "daemon", "plan", "export", "hydrate")


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    [action] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def _help_of(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    return parser._get_formatter()._expand_help(action)


def test_top_level_help_lists_every_command_with_a_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "default: None" not in out
    subs = _subparsers(_parser())
    assert set(subs) == set(COMMANDS)
    [action] = [a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)]
    helps = {c.dest: c.help for c in action._choices_actions}
    for name in COMMANDS:
        assert helps[name], name
        assert f"    {name} " in out and helps[name].split()[0] in out


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_shows_its_default(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    sub = _subparsers(_parser())[command]
    options = [a for a in sub._actions if not isinstance(a, argparse._HelpAction | argparse._VersionAction)
               and a.option_strings]  # positionals (export's JOB) are required: no default to show
    assert options
    for action in options:
        text = _help_of(sub, action)
        assert text.strip(), (command, action.option_strings)
        assert "default" in text.lower(), (command, action.option_strings, text)
        assert "default: None" not in text, (command, action.option_strings, text)
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = capsys.readouterr().out
    assert out.count("default") >= len(options)


def test_defaults_shown_are_the_real_ones() -> None:
    subs = _subparsers(_parser())
    port = next(a for a in subs["sandbox"]._actions if a.dest == "port")
    assert "(default: 8899)" in _help_of(subs["sandbox"], port)
    workers = next(a for a in subs["run"]._actions if a.dest == "workers")
    assert "4" in _help_of(subs["run"], workers)
    json_logs = next(a for a in subs["daemon"]._actions if a.dest == "json_logs")
    assert subs["daemon"].get_default("json_logs") is True and "default: on" in _help_of(subs["daemon"], json_logs)
    json_logs = next(a for a in subs["run"]._actions if a.dest == "json_logs")
    assert subs["run"].get_default("json_logs") is False and "default: off" in _help_of(subs["run"], json_logs)
    switch = next(a for a in subs["plan"]._actions if a.dest == "probe")
    assert _help_of(subs["plan"], switch).endswith("(default: off)")


def test_a_bad_option_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", "--workers", "many"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("harvester: error: argument --workers: invalid int value")
