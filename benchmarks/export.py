"""Export throughput and memory: a synthetic ~1 GB search output to CSV and to Parquet.

Run by hand (``python benchmarks/export.py --size-mb 1024``); it prints figures, it asserts
nothing. It writes a job's output the way a long search harvest leaves it: pages of 100 posts
with ``includes.users`` and ``includes.media``, entities, metrics and references, the newest
pages re-fetched by a later run (so about 2% of the posts come twice, with newer metrics), and a
fifth of the pages in a second process slot (``bench-1/``), so the slot merge runs too.

Each export runs in a fresh child process, which reports its own peak RSS
(``getrusage(RUSAGE_SELF).ru_maxrss``): the figure is the whole command's, interpreter and
imports included.

Baseline, measured in the same run: the naive approach, ``json.loads`` of every line into a list,
every row built and kept (deduplicated through a dict), then written at once (the export's CSV
writer given every row; ``pyarrow.Table.from_pylist`` + ``pq.write_table``). It needs memory in proportion to the input
(several times its size), so it runs on a slice (``--baseline-mb``, the file's first lines), and the
streaming export runs on the same slice beside it for a like-for-like comparison.

Target: peak RSS under 300 MB for the 1 GB file, whatever its size.
"""

from __future__ import annotations

import sys
from pathlib import Path as _Path

# benchmarks/queue.py would shadow the standard library's ``queue`` for scripts run from here.
sys.path[:] = [p for p in sys.path if _Path(p or ".").resolve() != _Path(__file__).resolve().parent]

import argparse
import json
import logging
import multiprocessing
import random
import resource
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harvester.log import configure
from harvester.output import reader
from harvester.output.columns import POST_COLUMNS
from harvester.output.export import ExportOptions, export_jobs
from harvester.output.rows import dedup_key, kind_of_object, page_context, post_row, text, time_ms
from harvester.output.writers import CsvWriter, arrow_schema, iso_ms

JOB = "bench"
T0 = 1_795_132_800.0  # 2026-11-20T00:00:00Z
WORDS = ("climate", "policy", "heat", "energy", "solar", "wind", "vote", "city", "water", "food", "price", "rain",
         "storm", "coal", "grid", "flood", "school", "health", "science", "data", "model", "ocean", "forest",
         "carbon", "transit", "housing", "été", "café", "naïve", "über")  # fmt: skip
LANGS = ("en", "en", "en", "es", "fr", "de", "pt", "ja")


def peak_rss_mb() -> float:
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return kib / (1024 * 1024) if sys.platform == "darwin" else kib / 1024


# --------------------------------------------------------------------------- the synthetic output


class World:
    """Deterministic posts and users (ids as X's: 19-digit posts, 8-19 digit users)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.users = [self._user(i) for i in range(20_000)]
        self.next_id = 2_120_000_000_000_000_000

    def _user(self, i: int) -> dict[str, Any]:
        rng = self.rng
        uid = str(rng.randrange(10**7, 10**18))
        name = rng.choice(WORDS).capitalize() + " " + rng.choice(WORDS)
        return {
            "id": uid, "name": name, "username": f"{rng.choice(WORDS)}_{i}",
            "created_at": iso_ms(rng.randrange(1_200_000_000_000, 1_790_000_000_000)),
            "description": " ".join(rng.choice(WORDS) for _ in range(rng.randrange(3, 20))),
            "verified": rng.random() < 0.05,
            "public_metrics": {"followers_count": rng.randrange(10**5), "following_count": rng.randrange(5000),
                               "tweet_count": rng.randrange(10**5), "listed_count": rng.randrange(100),
                               "like_count": rng.randrange(10**4)},
        }  # fmt: skip

    def post(self, created_ms: int) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
        """A post, its author and its media objects."""
        rng = self.rng
        self.next_id += rng.randrange(1, 10**9)
        pid = str(self.next_id)
        author = rng.choice(self.users)
        mentioned = rng.sample(self.users, rng.choice((0, 0, 1, 2)))
        tags = rng.sample(WORDS, rng.choice((0, 0, 1, 2)))
        words = [rng.choice(WORDS) for _ in range(rng.randrange(8, 45))]
        body = " ".join(["@" + u["username"] for u in mentioned] + words + ["#" + t for t in tags])
        likes = int(rng.paretovariate(1.2)) - 1
        p: dict[str, Any] = {
            "id": pid, "text": body, "edit_history_tweet_ids": [pid], "author_id": author["id"],
            "created_at": iso_ms(created_ms), "lang": rng.choice(LANGS), "conversation_id": pid,
            "possibly_sensitive": False, "reply_settings": "everyone",
            "public_metrics": {"retweet_count": likes // 7, "reply_count": likes // 11, "like_count": likes,
                               "quote_count": likes // 29, "bookmark_count": likes // 13,
                               "impression_count": likes * 40 + rng.randrange(100)},
        }  # fmt: skip
        entities: dict[str, Any] = {}
        if mentioned:
            entities["mentions"] = [{"start": 0, "end": len(u["username"]) + 1, "username": u["username"],
                                     "id": u["id"]} for u in mentioned]  # fmt: skip
        if tags:
            entities["hashtags"] = [{"start": 0, "end": len(t) + 1, "tag": t} for t in tags]
        if rng.random() < 0.3:
            entities["urls"] = [{"start": 0, "end": 23, "url": f"https://t.co/{rng.randrange(10**9):x}",
                                 "expanded_url": f"https://example.org/{rng.choice(WORDS)}/{rng.randrange(10**6)}",
                                 "display_url": "example.org/…"}]  # fmt: skip
        if entities:
            p["entities"] = entities
        r = rng.random()
        if r < 0.2:
            ref = str(self.next_id - rng.randrange(10**12))
            p["referenced_tweets"] = [{"type": "replied_to", "id": ref}]
            p["in_reply_to_user_id"] = rng.choice(self.users)["id"]
            p["conversation_id"] = ref
        elif r < 0.3:
            p["referenced_tweets"] = [{"type": "quoted", "id": str(self.next_id - rng.randrange(10**12))}]
        media: list[dict[str, Any]] = []
        if rng.random() < 0.15:
            key = f"3_{self.next_id + 1}"
            media.append({"media_key": key, "type": "photo", "url": f"https://pbs.twimg.com/media/{key}.jpg"})
            p["attachments"] = {"media_keys": [key]}
        return p, author, media


def page_line(posts: list[tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]], n: int,
              retrieved_at: float) -> bytes:  # fmt: skip
    authors = {a["id"]: a for _, a, _ in posts}
    media = [m for _, _, ms in posts for m in ms]
    body: dict[str, Any] = {
        "data": [p for p, _, _ in posts],
        "includes": {"users": list(authors.values()), **({"media": media} if media else {})},
        "meta": {"newest_id": posts[0][0]["id"], "oldest_id": posts[-1][0]["id"], "result_count": len(posts),
                 "next_token": f"b26v89c19zqg8o3fo{n:08d}"},
        "__harvester": {"job": JOB, "task": "search", "page": n, "path": "/2/tweets/search/recent",
                        "retrieved_at": retrieved_at},
    }  # fmt: skip
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def generate(out: Path, size_mb: float, seed: int = 7) -> tuple[int, int]:
    """Write ``out/bench.jsonl`` and ``out/bench-1/bench.jsonl``; returns (posts written, unique)."""
    world = World(seed)
    (out / "bench-1").mkdir(parents=True)
    files = [(out / f"{JOB}.jsonl").open("wb"), (out / "bench-1" / f"{JOB}.jsonl").open("wb")]
    limit = size_mb * 2**20
    written = posts = 0
    recent: list[list[tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]]] = []
    n = 0
    created = 1_795_000_000_000
    while written < limit:
        n += 1
        batch = []
        for _ in range(100):
            created -= world.rng.randrange(50, 2000)
            batch.append(world.post(created))
        recent = [*recent, batch][-5:]
        if n % 50 == 0:  # an overlapping later run fetches a recent page again: same posts, newer metrics
            again = [({**p, "public_metrics": {**p["public_metrics"], "like_count": p["public_metrics"]["like_count"]
                                               + 1}}, a, m) for p, a, m in recent[0]]  # fmt: skip
            line = page_line(again, n, T0 + n * 0.5)
            files[n % 5 == 0].write(line)
            written += len(line)
            posts += len(again)
        line = page_line(batch, n, T0 + n * 0.5)
        files[n % 5 == 0].write(line)  # a fifth of the pages in the second slot
        written += len(line)
        posts += len(batch)
    for f in files:
        f.close()
    return posts, posts - (n // 50) * 100


def slice_of(src: Path, dst: Path, size_mb: float) -> None:
    """The first lines of each of ``src``'s files (about ``size_mb`` in all) into ``dst``."""
    for path in reader.job_files(src, JOB):
        target = dst / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        share = size_mb * 2**20 * path.stat().st_size / sum(p.stat().st_size for p in reader.job_files(src, JOB))
        with path.open("rb") as f, target.open("wb") as g:
            taken = 0
            for line in f:
                if taken >= share:
                    break
                g.write(line)
                taken += len(line)


# --------------------------------------------------------------------------- the measurements (children)


def run_streaming(out: str, fmt: str, dest: str) -> dict[str, float]:
    started = time.perf_counter()
    [result] = export_jobs(Path(out), [JOB], ExportOptions(format=fmt), out=dest)  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    return {"rows": result.rows, "duplicates": result.duplicates, "seconds": seconds, "rss": peak_rss_mb()}


def run_naive(out: str, fmt: str, dest: str) -> dict[str, float]:
    """Everything in memory: pages parsed into a list, rows into a dict by id, then one write."""
    started = time.perf_counter()
    pages = []
    for path in reader.job_files(Path(out), JOB):
        with path.open("rb") as f:
            pages += [json.loads(line) for line in f]
    pages.sort(key=lambda p: p["__harvester"]["retrieved_at"])
    rows: dict[int | str, list[Any]] = {}
    for page in pages:
        ctx = page_context(page, JOB, page["__harvester"]["retrieved_at"], includes=True)
        for obj in page["data"]:
            if kind_of_object(obj) == "post" and (oid := text(obj.get("id"))) is not None:
                rows[dedup_key(oid, ctx.relation_of)] = post_row(obj, ctx, time_ms(obj.get("created_at")))
    if fmt == "csv":  # the export's own writer, so both write the same bytes; all rows at once
        writer = CsvWriter(Path(dest), POST_COLUMNS)
        writer.write(list(rows.values()))
        writer.close()
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        names = [c.name for c in POST_COLUMNS]
        table = pa.Table.from_pylist([dict(zip(names, r, strict=True)) for r in rows.values()],
                                     schema=arrow_schema(POST_COLUMNS))  # fmt: skip
        pq.write_table(table, dest, compression="zstd")
    seconds = time.perf_counter() - started
    return {"rows": len(rows), "duplicates": 0, "seconds": seconds, "rss": peak_rss_mb()}


def _quiet() -> None:
    configure(level=logging.WARNING)


def in_child(fn: Any, *args: str) -> dict[str, float]:
    """Run ``fn`` in a fresh process, so its peak RSS is its own."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=_quiet) as pool:
        result: dict[str, float] = pool.submit(fn, *args).result()
        return result


def report(label: str, input_mb: float, m: dict[str, float], dest: Path) -> None:
    print(f"{label:<34} {input_mb:>7,.0f} MB in  {m['rows']:>10,.0f} rows  {m['seconds']:>7.1f} s  "
          f"{m['rows'] / m['seconds']:>9,.0f} rows/s  {input_mb / m['seconds']:>5.1f} MB/s  "
          f"peak RSS {m['rss']:>6,.0f} MB  out {dest.stat().st_size / 2**20:,.0f} MB")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=float, default=1024, help="size of the synthetic output (default 1024)")
    parser.add_argument("--baseline-mb", type=float, default=200,
                        help="slice the naive baseline (and streaming beside it) runs on (default 200)")
    parser.add_argument("--dir", default=None, help="where to put the files (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the files")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="harvester-export-bench-", dir=args.dir))
    try:
        full, part = base / "full", base / "slice"
        started = time.perf_counter()
        posts, unique = generate(full, args.size_mb)
        size = sum(p.stat().st_size for p in reader.job_files(full, JOB)) / 2**20
        print(f"generated {size:,.0f} MB ({posts:,} posts, {unique:,} unique, 2 files) in "
              f"{time.perf_counter() - started:.0f} s under {base}")  # fmt: skip
        slice_of(full, part, args.baseline_mb)
        part_mb = sum(p.stat().st_size for p in reader.job_files(part, JOB)) / 2**20
        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
        print(f"{when} UTC, python {sys.version.split()[0]}, one child process per line")
        for fmt in ("csv", "parquet"):
            dest = base / f"full.{fmt}"
            m = in_child(run_streaming, str(full), fmt, str(dest))
            report(f"streaming {fmt}", size, m, dest)
            if m["rows"] != unique:
                print(f"  !! {m['rows']:,.0f} rows written, {unique:,} unique posts generated")
        for fmt in ("csv", "parquet"):
            dest = base / f"slice.{fmt}"
            report(f"streaming {fmt} (slice)", part_mb, in_child(run_streaming, str(part), fmt, str(dest)), dest)
            dest = base / f"naive.{fmt}"
            report(f"naive {fmt} (slice; baseline)", part_mb, in_child(run_naive, str(part), fmt, str(dest)), dest)
    finally:
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
