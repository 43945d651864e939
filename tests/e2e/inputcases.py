"""Bad inputs as data: files to lay out, a command line, and the one line it must answer with.

Shared by ``test_input_checks.py`` (each case: exit code, one line, nothing queued, nothing on
disk changed) and ``test_secrets.py`` (each case again with secrets planted, grepped for).

A case runs in-process through ``harvester.cli.main`` unless it needs the file system's
permissions to bite: as root (CI is root) every permission check passes, so those cases run
``python -m harvester`` in a child that has dropped CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH
from its bounding set, which makes root obey file modes like any user.
"""

from __future__ import annotations

import ctypes
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

GOOD_JOB = '[[job]]\nname = "s"\nkind = "search"\nquery = "cats"\n'
CLOSED_URL = "http://127.0.0.1:9"  # nothing listens: a request would fail, never succeed

Setup = Callable[[Path], None]


@dataclass(frozen=True)
class Case:
    """One bad input.

    Attributes:
        files: relative path -> text (or bytes) written before the run.
        argv: the command line (after ``harvester``).
        needles: strings the one error line must contain.
        code: the exit code (2: bad input; 1: a state file that is not ours).
        setup: more layout (links, folders, modes), run after ``files`` are written.
        unprivileged: run in a child process without root's permission override.
    """

    files: Mapping[str, str | bytes] = field(default_factory=dict)
    argv: tuple[str, ...] = ()
    needles: tuple[str, ...] = ()
    code: int = 2
    setup: Setup | None = None
    unprivileged: bool = False


def lay_out(tmp: Path, case: Case) -> None:
    for rel, content in case.files.items():
        path = tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    if case.setup is not None:
        case.setup(tmp)


# -- what is on disk ------------------------------------------------------------------------------

Snapshot = dict[str, tuple[str, int, int, bytes]]


def snapshot(root: Path) -> Snapshot:
    """Every entry under ``root`` (and root itself): kind, mode, mtime and, for files, the bytes."""
    out: Snapshot = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [".", *dirnames, *filenames]:
            path = Path(dirpath) / name
            st = os.lstat(path)
            if os.path.islink(path):
                out[str(path)] = ("link", st.st_mode, st.st_mtime_ns, os.readlink(path).encode())
            elif path.is_dir():
                out[str(path)] = ("dir", st.st_mode, st.st_mtime_ns, b"")
            else:
                try:
                    data = path.read_bytes()
                except OSError:
                    data = b"<unreadable>"
                out[str(path)] = ("file", st.st_mode, st.st_mtime_ns, data)
    return out


def changed(before: Snapshot, after: Snapshot) -> list[str]:
    """Paths added, removed or changed between two snapshots."""
    return sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))


# -- running --------------------------------------------------------------------------------------


def _drop_dac_override() -> None:  # pragma: no cover - runs in the child before exec
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str


def run(tmp: Path, case: Case, env: Mapping[str, str], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> Outcome:
    """Run ``case`` with the working directory ``tmp`` and the environment ``env`` added."""
    if case.unprivileged:
        child_env = {**os.environ, **env}
        child_env.pop("HARVESTER_CONFIG", None)
        child_env.pop("HARVESTER_JOBS", None)
        proc = subprocess.run(
            [sys.executable, "-m", "harvester", *case.argv], cwd=tmp, env=child_env, capture_output=True,
            text=True, timeout=60, preexec_fn=_drop_dac_override if os.geteuid() == 0 else None,
            check=False,
        )
        return Outcome(proc.returncode, proc.stdout, proc.stderr)
    from harvester.cli import main

    monkeypatch.chdir(tmp)
    monkeypatch.delenv("HARVESTER_CONFIG", raising=False)
    monkeypatch.delenv("HARVESTER_JOBS", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    capsys.readouterr()
    try:
        code = main(list(case.argv))
    except SystemExit as exc:  # argparse's own refusals exit
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err)


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("harvester: error:")]


# -- layouts --------------------------------------------------------------------------------------


def symlink(name: str, target: str) -> Setup:
    def setup(tmp: Path) -> None:
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, tmp / name)

    return setup


def mkdir(name: str) -> Setup:
    def setup(tmp: Path) -> None:
        (tmp / name).mkdir(parents=True)

    return setup


def chmod(name: str, mode: int) -> Setup:
    def setup(tmp: Path) -> None:
        os.chmod(tmp / name, mode)

    return setup


def steps(*setups: Setup) -> Setup:
    def setup(tmp: Path) -> None:
        for s in setups:
            s(tmp)

    return setup


def foreign_db(name: str) -> Setup:
    """An SQLite database of someone else's, in rollback-journal mode (WAL would change its header)."""
    def setup(tmp: Path) -> None:
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        conn.execute("INSERT INTO invoices (total) VALUES (9.5)")
        conn.commit()
        conn.close()

    return setup


def newer_state(name: str) -> Setup:
    """A harvester state written by a newer harvester (schema version 99), closed cleanly."""
    def setup(tmp: Path) -> None:
        import asyncio

        from harvester.store.sqlite import SqliteStore

        path = tmp / name

        async def make() -> None:
            store = SqliteStore(path)
            await store.open()
            await store.close()

        asyncio.run(make())
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA user_version = 99")
        conn.close()

    return setup


def nested(levels: int) -> str:
    return "deep = " + "[" * levels + "1" + "]" * levels + "\n"


# -- the cases ------------------------------------------------------------------------------------

RUN = ("run", "--config", "config.toml", "--jobs", "jobs.toml")
CONFIG_OK = f'[api]\nbase_url = "{CLOSED_URL}"\n'

CASES: dict[str, Case] = {
    # output_dir
    "output_dir is a file": Case(
        {"config.toml": CONFIG_OK + '[harvest]\noutput_dir = "out"\n', "jobs.toml": GOOD_JOB, "out": "x"},
        RUN, ("config.toml", "harvest.output_dir", "out is a file, not a folder")),
    "output_dir under a file": Case(
        {"config.toml": CONFIG_OK + '[harvest]\noutput_dir = "out/sub"\n', "jobs.toml": GOOD_JOB, "out": "x"},
        RUN, ("harvest.output_dir", "out/sub", "a part of the path is a file")),
    "output_dir read-only": Case(
        {"config.toml": CONFIG_OK + '[harvest]\noutput_dir = "out"\n', "jobs.toml": GOOD_JOB},
        RUN, ("harvest.output_dir", "out is not writable"), setup=steps(mkdir("out"), chmod("out", 0o555)),
        unprivileged=True),
    "output_dir's parent read-only": Case(
        {"config.toml": CONFIG_OK + '[harvest]\noutput_dir = "ro/out"\n', "jobs.toml": GOOD_JOB},
        RUN, ("harvest.output_dir", "cannot be created", "is not writable"),
        setup=steps(mkdir("ro"), chmod("ro", 0o555)), unprivileged=True),
    "daemon: output_dir is a file": Case(
        {"config.toml": CONFIG_OK + '[harvest]\noutput_dir = "out"\n', "jobs.toml": GOOD_JOB, "out": "x"},
        ("daemon", "--config", "config.toml", "--jobs", "jobs.toml"), ("harvest.output_dir", "is a file")),
    "daemon: state is a foreign database": Case(
        {"config.toml": CONFIG_OK + '[harvest]\nstate = "books.db"\n', "jobs.toml": GOOD_JOB},
        ("daemon", "--config", "config.toml", "--jobs", "jobs.toml"), ("books.db", "not a harvester state file"),
        code=1, setup=foreign_db("books.db")),
    "demo: a job named .x": Case(
        {"jobs.toml": '[[job]]\nname = ".x"\nkind = "search"\nquery = "x"\n'},
        ("demo", "--out", "d", "--jobs", "jobs.toml"), ("jobs.toml", "must not start with a dot")),
    "job output file is a folder": Case(
        {"config.toml": CONFIG_OK + '[harvest]\noutput_dir = "out"\n', "jobs.toml": GOOD_JOB},
        RUN, ("harvest.output_dir", "s.jsonl", "job 's'", "is a folder"), setup=mkdir("out/s.jsonl")),
    # the state path
    "state is a folder": Case(
        {"config.toml": CONFIG_OK + '[harvest]\nstate = "st"\n', "jobs.toml": GOOD_JOB},
        RUN, ("harvest.state", "st is a directory, not a state file"), setup=mkdir("st")),
    "state under a file": Case(
        {"config.toml": CONFIG_OK + '[harvest]\nstate = "jobs.toml/state.db"\n', "jobs.toml": GOOD_JOB},
        RUN, ("harvest.state", "a part of the path is a file")),
    "state unreadable": Case(
        {"config.toml": CONFIG_OK + '[harvest]\nstate = "s.db"\n', "jobs.toml": GOOD_JOB, "s.db": b""},
        RUN, ("harvest.state", "s.db cannot be read: permission denied"), setup=chmod("s.db", 0o000),
        unprivileged=True),
    "state folder read-only": Case(
        {"config.toml": CONFIG_OK + '[harvest]\nstate = "ro/state/h.db"\n', "jobs.toml": GOOD_JOB},
        RUN, ("harvest.state", "cannot be created", "ro is not writable"),
        setup=steps(mkdir("ro"), chmod("ro", 0o555)), unprivileged=True),
    "state beside a read-only file": Case(
        {"config.toml": CONFIG_OK + '[harvest]\nstate = "ro/h.db"\n', "jobs.toml": GOOD_JOB, "ro/h.db": b""},
        RUN, ("harvest.state", "is not writable", "-wal"), setup=chmod("ro", 0o555), unprivileged=True),
    "state is a broken symlink": Case(
        {"config.toml": CONFIG_OK + '[harvest]\nstate = "link.db"\n', "jobs.toml": GOOD_JOB},
        RUN, ("harvest.state", "broken symlink"), setup=symlink("link.db", "gone/x.db")),
    "state is a foreign database": Case(
        {"config.toml": CONFIG_OK + '[harvest]\nstate = "books.db"\n', "jobs.toml": GOOD_JOB},
        RUN, ("books.db", "not a harvester state file"), code=1, setup=foreign_db("books.db")),
    "state is from a newer harvester": Case(
        {"config.toml": CONFIG_OK + '[harvest]\nstate = "new.db"\n', "jobs.toml": GOOD_JOB},
        RUN, ("new.db", "schema version 99 is newer"), code=1, setup=newer_state("new.db")),
    "state is not sqlite": Case(
        {"config.toml": CONFIG_OK + '[harvest]\nstate = "junk.db"\n', "jobs.toml": GOOD_JOB,
         "junk.db": b"not a database at all " * 10},
        RUN, ("junk.db", "not an SQLite database"), code=1),
    "report without a state": Case({}, ("report",), ("state/harvester.db", "no state store here yet"), code=1),
    "status on a foreign database": Case(
        {"config.toml": '[harvest]\nstate = "books.db"\n'}, ("status",), ("books.db", "not a harvester state file"),
        code=1, setup=foreign_db("books.db")),
    "report on a newer state": Case(
        {"config.toml": '[harvest]\nstate = "new.db"\n'}, ("report",), ("new.db", "newer"), code=1,
        setup=newer_state("new.db")),
    # base_url
    "base_url with a password": Case(
        {"config.toml": '[api]\nbase_url = "https://me:hunter2secret@api.x.com"\n', "jobs.toml": GOOD_JOB},
        RUN, ("api.base_url", "must not contain a user name or password")),
    "base_url with a user": Case(
        {"config.toml": '[api]\nbase_url = "https://me@api.x.com"\n', "jobs.toml": GOOD_JOB},
        RUN, ("api.base_url", "user name or password")),
    "base_url port not a number": Case(
        {"config.toml": '[api]\nbase_url = "http://127.0.0.1:notaport"\n', "jobs.toml": GOOD_JOB},
        RUN, ("api.base_url", "invalid port 'notaport'")),
    "base_url port too big": Case(
        {"config.toml": '[api]\nbase_url = "http://127.0.0.1:70000"\n', "jobs.toml": GOOD_JOB},
        RUN, ("api.base_url", "invalid port '70000'")),
    "base_url port 0": Case(
        {"config.toml": '[api]\nbase_url = "http://127.0.0.1:0"\n', "jobs.toml": GOOD_JOB},
        RUN, ("api.base_url", "port 0")),
    "base_url without a host": Case(
        {"config.toml": '[api]\nbase_url = "http://:8080"\n', "jobs.toml": GOOD_JOB},
        RUN, ("api.base_url", "no host")),
    # job names
    "job named ..": Case(
        {"config.toml": CONFIG_OK, "jobs.toml": '[[job]]\nname = ".."\nkind = "search"\nquery = "x"\n'},
        RUN, ("jobs.toml", "name", "must not start with a dot")),
    "job named .x": Case(
        {"config.toml": CONFIG_OK, "jobs.toml": '[[job]]\nname = ".x"\nkind = "search"\nquery = "x"\n'},
        RUN, ("jobs.toml", "name", "must not start with a dot")),
    "job named .": Case(
        {"config.toml": CONFIG_OK, "jobs.toml": '[[job]]\nname = "."\nkind = "search"\nquery = "x"\n'},
        RUN, ("jobs.toml", "name", "must not start with a dot")),
    "job names differing in case": Case(
        {"config.toml": CONFIG_OK, "jobs.toml": GOOD_JOB + GOOD_JOB.replace('"s"', '"S"')},
        RUN, ("jobs.toml", "job 'S'", "only in case")),
    # job paths
    "jobs folder holds a broken link": Case(
        {"config.toml": CONFIG_OK, "jobs/a.toml": GOOD_JOB},
        ("run", "--config", "config.toml", "--jobs", "jobs"), ("jobs/b.toml", "broken symlink", "gone.toml"),
        setup=symlink("jobs/b.toml", "gone.toml")),
    "jobs folder holds a symlink loop": Case(
        {"config.toml": CONFIG_OK, "jobs/a.toml": GOOD_JOB},
        ("run", "--config", "config.toml", "--jobs", "jobs"), ("jobs/loop.toml", "symlink loop"),
        setup=symlink("jobs/loop.toml", "loop.toml")),
    "jobs folder holds a folder named .toml": Case(
        {"config.toml": CONFIG_OK, "jobs/a.toml": GOOD_JOB},
        ("run", "--config", "config.toml", "--jobs", "jobs"), ("jobs/sub.toml", "is a directory"),
        setup=mkdir("jobs/sub.toml")),
    "job file is a broken link": Case(
        {"config.toml": CONFIG_OK}, RUN, ("jobs.toml", "broken symlink"), setup=symlink("jobs.toml", "nope.toml")),
    "job file is a symlink loop": Case(
        {"config.toml": CONFIG_OK}, RUN, ("jobs.toml", "symlink loop"), setup=symlink("jobs.toml", "jobs.toml")),
    "job file unreadable": Case(
        {"config.toml": CONFIG_OK, "jobs.toml": GOOD_JOB}, RUN, ("jobs.toml", "permission denied"),
        setup=chmod("jobs.toml", 0o000), unprivileged=True),
    "jobs folder unreadable": Case(
        {"config.toml": CONFIG_OK, "jobs/a.toml": GOOD_JOB}, ("run", "--config", "config.toml", "--jobs", "jobs"),
        ("jobs", "cannot list the directory"), setup=chmod("jobs", 0o000), unprivileged=True),
    "config is a symlink loop": Case(
        {"jobs.toml": GOOD_JOB}, RUN, ("config.toml", "symlink loop"), setup=symlink("config.toml", "config.toml")),
    # TOML
    "config nested 5000 deep": Case(
        {"config.toml": nested(5000), "jobs.toml": GOOD_JOB}, RUN, ("config.toml", "nested deeper than 64")),
    "config nested 100 deep": Case(
        {"config.toml": nested(100), "jobs.toml": GOOD_JOB}, RUN, ("config.toml", "nested deeper than 64")),
    "job file nested 5000 deep": Case(
        {"config.toml": CONFIG_OK, "jobs.toml": GOOD_JOB + nested(5000)}, RUN, ("jobs.toml", "nested deeper")),
    "job file with inline tables 200 deep": Case(
        {"config.toml": CONFIG_OK, "jobs.toml": GOOD_JOB + "x = " + "{a = " * 200 + "1" + "}" * 200 + "\n"},
        RUN, ("jobs.toml", "nested deeper")),
    "config with a UTF-8 BOM": Case(
        {"config.toml": b"\xef\xbb\xbf" + CONFIG_OK.encode(), "jobs.toml": GOOD_JOB},
        RUN, ("config.toml", "UTF-8 byte-order mark (BOM)")),
    "job file with a UTF-8 BOM": Case(
        {"config.toml": CONFIG_OK, "jobs.toml": b"\xef\xbb\xbf" + GOOD_JOB.encode()},
        RUN, ("jobs.toml", "UTF-8 byte-order mark (BOM)")),
    "config in UTF-16": Case(
        {"config.toml": CONFIG_OK.encode("utf-16"), "jobs.toml": GOOD_JOB}, RUN, ("config.toml", "UTF-16")),
    "job file in Latin-1": Case(
        {"config.toml": CONFIG_OK, "jobs.toml": (GOOD_JOB + 'query = "caf\xe9"\n').replace(
            'query = "cats"\n', "").encode("latin-1")},
        RUN, ("jobs.toml", "not UTF-8", "line 4")),
    "config with a 5000-digit number": Case(
        {"config.toml": "[harvest]\nworkers = " + "9" * 5000 + "\n", "jobs.toml": GOOD_JOB},
        RUN, ("config.toml", "number too long")),
    # flags
    "run --workers 0": Case({"jobs.toml": GOOD_JOB}, ("run", "--jobs", "jobs.toml", "--workers", "0"),
                            ("--workers", "between 1 and 256", "[harvest] workers")),
    "run --workers -3": Case({"jobs.toml": GOOD_JOB}, ("run", "--jobs", "jobs.toml", "--workers", "-3"),
                             ("--workers", "got -3")),
    "run --workers 100000": Case({"jobs.toml": GOOD_JOB}, ("run", "--jobs", "jobs.toml", "--workers", "100000"),
                                 ("--workers", "got 100000")),
    "run --workers abc": Case({"jobs.toml": GOOD_JOB}, ("run", "--jobs", "jobs.toml", "--workers", "abc"),
                              ("--workers", "invalid int value")),
    "run --max-usd nan": Case({"jobs.toml": GOOD_JOB}, ("run", "--jobs", "jobs.toml", "--max-usd", "nan"),
                              ("--max-usd", "finite", "[budget] max_usd_per_run")),
    "run --max-usd inf": Case({"jobs.toml": GOOD_JOB}, ("run", "--jobs", "jobs.toml", "--max-usd", "inf"),
                              ("--max-usd", "finite")),
    "run --max-usd -1": Case({"config.toml": CONFIG_OK, "jobs.toml": GOOD_JOB},
                             (*RUN, "--max-usd", "-1"), ("--max-usd", "greater than 0")),
    "run --max-usd 0": Case({"jobs.toml": GOOD_JOB}, ("run", "--jobs", "jobs.toml", "--max-usd", "0"),
                            ("--max-usd", "greater than 0")),
    "demo --max-usd nan": Case({}, ("demo", "--out", "d", "--max-usd", "nan"), ("--max-usd", "finite")),
    "demo --seed -1": Case({}, ("demo", "--out", "d", "--seed", "-1"), ("--seed", "between 0 and 4294967295")),
    "daemon --metrics-port 70000": Case({"jobs.toml": GOOD_JOB}, ("daemon", "--jobs", "jobs.toml",
                                        "--metrics-port", "70000"), ("--metrics-port", "[daemon] metrics_port")),
    "daemon --metrics-port -1": Case({"jobs.toml": GOOD_JOB}, ("daemon", "--jobs", "jobs.toml", "--metrics-port",
                                     "-1"), ("--metrics-port", "got -1")),
    "sandbox --port 70000": Case({}, ("sandbox", "--port", "70000"), ("--port", "between 0 and 65535")),
    "sandbox --speed nan": Case({}, ("sandbox", "--speed", "nan"), ("--speed", "finite")),
    "sandbox --speed 0": Case({}, ("sandbox", "--speed", "0"), ("--speed", "greater than 0")),
    "sandbox --latency -1": Case({}, ("sandbox", "--latency", "-1"), ("--latency", "between 0 and 600")),
    "sandbox --window 0": Case({}, ("sandbox", "--window", "0"), ("--window", "greater than 0")),
    "sandbox --epoch inf": Case({}, ("sandbox", "--epoch", "inf"), ("--epoch", "finite")),
    "unknown flag": Case({}, ("run", "--wrokers", "2"), ("unrecognized arguments: --wrokers",)),
    # demo --out
    "demo --out is a file": Case({"d": "x"}, ("demo", "--out", "d"), ("--out", "is a file")),
    "demo --out holds other files": Case({"d/thesis.tex": "precious"}, ("demo", "--out", "d"),
                                         ("--out", "'thesis.tex'", "did not write")),
    "demo --out is a symlink": Case({"real/keep.txt": "x"}, ("demo", "--out", "d"), ("--out", "symlink"),
                                    setup=symlink("d", "real")),
    # retry and forget
    "retry without a state": Case({}, ("retry", "--all"), ("state/harvester.db", "no state store here yet"), code=1),
    "retry naming no job": Case(
        {"config.toml": '[harvest]\nstate = "new.db"\n'}, ("retry",), ("JOB", "name the jobs", "--all"),
        setup=newer_state("new.db")),
    "retry with jobs and --all": Case(
        {"config.toml": '[harvest]\nstate = "new.db"\n'}, ("retry", "s", "--all"), ("--all", "not both"),
        setup=newer_state("new.db")),
    "retry on a foreign database": Case(
        {"config.toml": '[harvest]\nstate = "books.db"\n'}, ("retry", "--all"), ("books.db", "not a harvester state"),
        code=1, setup=foreign_db("books.db")),
    "forget a job still in the files": Case(
        {"config.toml": '[harvest]\nstate = "new.db"\n', "jobs.toml": GOOD_JOB},
        ("forget", "--jobs", "jobs.toml", "s"), ("jobs.toml", "job 's' is still in the job files"),
        setup=newer_state("new.db")),
    # durations
    "min_interval below 10 ms": Case(
        {"config.toml": CONFIG_OK,
         "jobs.toml": '[[job]]\nname = "p"\nkind = "timeline"\nuser_ids = ["1"]\nmode = "poll"\n'
                      'min_interval = 0.001\n'},
        RUN, ("job 'p'", "min_interval", "at least 0.01s")),
    "max_interval without a unit": Case(
        {"config.toml": CONFIG_OK,
         "jobs.toml": '[[job]]\nname = "p"\nkind = "timeline"\nuser_ids = ["1"]\nmax_interval = "15"\n'},
        RUN, ("job 'p'", "max_interval", "add a unit")),
    "schedule every 5ms": Case(
        {"config.toml": CONFIG_OK,
         "jobs.toml": '[[job]]\nname = "p"\nkind = "timeline"\nuser_ids = ["1"]\nschedule = "every 5ms"\n'},
        ("daemon", "--config", "config.toml", "--jobs", "jobs.toml"), ("job 'p'", "schedule", "at least 0.01s")),
}

# The state URL, with a password, in every spelling: refused, and the password never shown.
STATE_PASSWORD = "Pg-Pa55word-planted"
STATE_URLS = {
    "asyncpg driver suffix": f"postgresql+asyncpg://harv:{STATE_PASSWORD}@db.example:5432/h",
    "upper-case scheme": f"POSTGRESQL://harv:{STATE_PASSWORD}@db.example/h",
    "postgres scheme": f"postgres://harv:{STATE_PASSWORD}@db.example/h",
    "password parameter": f"postgresql://harv@db.example/h?sslmode=require&password={STATE_PASSWORD}",
    "mixed-case parameter": f"Postgresql://db.example/h?PassWord={STATE_PASSWORD}",
    "other scheme": f"mysql://harv:{STATE_PASSWORD}@db.example/h",
    "password with an @": f"postgresql://harv:{STATE_PASSWORD}@x@db.example/h",
}
for _name, _url in STATE_URLS.items():
    CASES[f"state URL: {_name}"] = Case(
        {"config.toml": f'[harvest]\nstate = "{_url}"\n', "jobs.toml": GOOD_JOB}, RUN, ("harvest.state",))
