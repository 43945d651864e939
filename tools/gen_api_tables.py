#!/usr/bin/env python3
"""Write ``harvester/core/api_tables.py`` from X's published OpenAPI document.

Why generated: field and expansion names drift between versions of X's document (2.167 renamed
``tweet.fields`` to ``post.fields``), and a hand-copied list drifted with them unnoticed. The
module this writes is checked in so that harvester never parses the document at run time, and
``tests/core/test_api_tables.py`` regenerates it in memory, failing while the two disagree.

What it keeps, for every GET route: the query and path parameters with their ``$ref`` chains
resolved (``components/parameters``, ``components/schemas``), each as a
:class:`~harvester.core.api_schema.Param`. Routes are written in harvester's ``:id`` style and
sorted; query parameters are sorted by name; enums keep the document's order. An enum of a
``components/parameters`` entry (``PostFieldsParameter``...) is written once as a constant
(``POST_FIELDS``) and referred to by name, which keeps the module short and shows which routes
share a list. The output depends only on the document's bytes.

Usage::

    python tools/gen_api_tables.py                      # the vendored document -> api_tables.py
    python tools/gen_api_tables.py --spec openapi.json  # a plain (or gzipped) JSON file
    python tools/gen_api_tables.py --check              # exit 1 if api_tables.py is stale
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: use the tree this file belongs to
    sys.path.insert(0, str(ROOT))

from harvester.core.api_schema import Param, Route

DEFAULT_SPEC = ROOT / "harvester" / "reference" / "openapi-2.167.json.gz"
DEFAULT_OUT = ROOT / "harvester" / "core" / "api_tables.py"
WIDTH = 110  # the repository's line length
_PATH_VAR = re.compile(r"\{([^{}]+)\}")

Json = Mapping[str, Any]


class SpecError(Exception):
    """The document is not an OpenAPI document this tool understands."""


# --------------------------------------------------------------------------- reading


def read_document(path: Path) -> bytes:
    """The document's JSON bytes; a gzip file (by its magic bytes) is decompressed."""
    raw = path.read_bytes()
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


def _deref(doc: Json, node: Any, where: str) -> Any:
    """``node`` with its ``$ref`` chain followed (local JSON pointers only)."""
    seen: list[str] = []
    while isinstance(node, Mapping) and "$ref" in node:
        ref = node["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/") or ref in seen:
            raise SpecError(f"{where}: cannot follow $ref {ref!r}")
        seen.append(ref)
        target: Any = doc
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, Mapping) or part not in target:
                raise SpecError(f"{where}: $ref {ref} points nowhere")
            target = target[part]
        node = target
    return node


def _type(schema: Json) -> str:
    t = schema.get("type", "")
    if isinstance(t, list):  # OpenAPI 3.1: ["string", "null"]
        t = next((x for x in t if x != "null"), "")
    return str(t)


def _int(schema: Json, key: str, where: str) -> int | None:
    value = schema.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise SpecError(f"{where}: {key} is {value!r}, not an integer")
    return int(value)


def _enum(schema: Json) -> tuple[str, ...]:
    # An enum is a set; the document repeats a few values (NewsFieldsParameter lists "contexts"
    # four times), which say nothing, so repeats are dropped and the first place kept.
    values = schema.get("enum") or ()
    return tuple(dict.fromkeys(str(v) for v in values))


def build_param(doc: Json, raw: Any, where: str) -> tuple[str, Param]:
    """``(location, Param)`` for one parameter object of the document."""
    p = _deref(doc, raw, where)
    if not isinstance(p, Mapping) or not isinstance(p.get("name"), str):
        raise SpecError(f"{where}: parameter without a name")
    name, location = p["name"], p.get("in", "")
    where = f"{where} {name}"
    schema = _deref(doc, p.get("schema", {}), where)
    typ = _type(schema)
    kw: dict[str, Any] = {
        "name": name,
        "type": typ,
        "required": bool(p.get("required")) or location == "path",
    }
    if typ == "array":
        items = _deref(doc, schema.get("items", {}), where)
        kw |= {
            "item_type": _type(items) or None,
            "pattern": items.get("pattern"),
            "min_items": _int(schema, "minItems", where),
            "max_items": _int(schema, "maxItems", where),
            "enum": _enum(items),
        }
    else:
        kw |= {
            "format": schema.get("format") if typ == "string" else None,
            "minimum": _int(schema, "minimum", where),
            "maximum": _int(schema, "maximum", where),
            "pattern": schema.get("pattern"),
            "min_length": _int(schema, "minLength", where),
            "max_length": _int(schema, "maxLength", where),
            "enum": _enum(schema),
        }
        default = schema.get("default")
        if isinstance(default, bool | int | str):
            kw["default"] = default
    return str(location), Param(**kw)


def harvester_path(template: str) -> str:
    """``/2/users/{id}/tweets`` -> ``/2/users/:id/tweets``."""
    return _PATH_VAR.sub(lambda m: ":" + m.group(1), template)


def build_routes(doc: Json) -> list[Route]:
    """Every GET route of ``doc``, sorted by (harvester's) path."""
    paths = doc.get("paths")
    if not isinstance(paths, Mapping):
        raise SpecError("the document has no paths")
    routes: list[Route] = []
    for template in sorted(paths, key=harvester_path):
        item = paths[template]
        op = item.get("get") if isinstance(item, Mapping) else None
        if not isinstance(op, Mapping):
            continue
        where = f"GET {template}"
        merged: dict[tuple[str, str], Param] = {}
        # Path-level parameters apply to every operation; the operation's own override them.
        for raw in [*item.get("parameters", ()), *op.get("parameters", ())]:
            location, param = build_param(doc, raw, where)
            merged[(location, param.name)] = param
        order = _PATH_VAR.findall(template)
        path_params = []
        for var in order:
            if ("path", var) not in merged:
                raise SpecError(f"{where}: path parameter {var} is not described")
            path_params.append(merged[("path", var)])
        query = sorted((p for (loc, _), p in merged.items() if loc == "query"), key=lambda p: p.name)
        routes.append(
            Route(path=harvester_path(template), path_params=tuple(path_params), query=tuple(query))
        )
    return routes


def shared_enums(doc: Json, routes: Sequence[Route]) -> dict[tuple[str, ...], str]:
    """Constant names for the enums of ``components/parameters`` that GET routes use."""
    components = doc.get("components", {}).get("parameters", {})
    used = {p.enum for r in routes for p in r.query if p.enum}
    names: dict[tuple[str, ...], str] = {}
    for key in sorted(components):
        if "$ref" in components[key]:
            continue  # an alias: the enum is named after the entry that defines it
        _, param = build_param(doc, components[key], f"components/parameters/{key}")
        if param.enum and param.enum in used and param.enum not in names:
            base = key.removesuffix("Parameter")
            names[param.enum] = re.sub(r"(?<!^)(?=[A-Z])", "_", base).upper()
    if len(set(names.values())) != len(names):
        raise SpecError("two components/parameters enums would get the same constant name")
    return names


# --------------------------------------------------------------------------- writing


def _lit(value: object) -> str:
    if isinstance(value, str):
        return json.dumps(value)  # a valid Python literal, double-quoted
    if isinstance(value, tuple):
        return "(" + ", ".join(_lit(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return repr(value)


def _packed(items: Sequence[str], indent: int) -> Iterator[str]:
    """Comma-separated ``items`` packed into lines of at most WIDTH."""
    line = ""
    for item in items:
        piece = item + ","
        if line and indent + len(line) + 1 + len(piece) > WIDTH:
            yield " " * indent + line
            line = piece
        else:
            line = f"{line} {piece}" if line else piece
    if line:
        yield " " * indent + line


def _param_lines(param: Param, indent: int, shared: Mapping[tuple[str, ...], str]) -> list[str]:
    args: list[tuple[str, str]] = []
    for f in fields(Param):
        value = getattr(param, f.name)
        if f.name in ("name", "type") or value != f.default:
            args.append(
                (f.name, shared.get(value, "") if f.name == "enum" and value in shared else _lit(value))
            )
    pad = " " * indent
    one = pad + "Param(" + ", ".join(f"{k}={v}" for k, v in args) + "),"
    if len(one) <= WIDTH:
        return [one]
    lines = [pad + "Param("]
    for k, v in args:
        if k == "enum" and v.startswith("(") and len(pad) + 4 + len(k) + 1 + len(v) + 1 > WIDTH:
            lines.append(f"{pad}    enum=(")
            lines.extend(_packed([_lit(x) for x in param.enum], indent + 8))
            lines.append(f"{pad}    ),")
        else:
            lines.append(f"{pad}    {k}={v},")
    lines.append(pad + "),")
    return lines


def _route_lines(route: Route, shared: Mapping[tuple[str, ...], str]) -> list[str]:
    lines = ["    Route(", f"        path={_lit(route.path)},"]
    for attr in ("path_params", "query"):
        params: tuple[Param, ...] = getattr(route, attr)
        if params:
            lines.append(f"        {attr}=(")
            for p in params:
                lines.extend(_param_lines(p, 12, shared))
            lines.append("        ),")
    lines.append("    ),")
    return lines


def render(text: bytes) -> str:
    """The module for the document ``text`` (its JSON bytes)."""
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise SpecError(f"not JSON: {e}") from None
    if not isinstance(doc, Mapping) or not isinstance(doc.get("info", {}).get("version"), str):
        raise SpecError("no info.version: not an OpenAPI document")
    version = doc["info"]["version"]
    digest = hashlib.sha256(text).hexdigest()
    routes = build_routes(doc)
    shared = shared_enums(doc, routes)
    out = [
        f'"""X API v2 GET routes and their parameters, from X\'s OpenAPI document {version}.',
        "",
        "GENERATED by tools/gen_api_tables.py: do not edit. After replacing the document, run",
        "``python tools/gen_api_tables.py``; tests/core/test_api_tables.py fails while this module and the",
        "document disagree. Types: :mod:`harvester.core.api_schema`.",
        '"""',
        "",
        "# fmt: off",
        "from __future__ import annotations",
        "",
        "from harvester.core.api_schema import Param, Route, index",
        "",
        f"DOCUMENT_VERSION = {_lit(version)}",
        f"DOCUMENT_SHA256 = {_lit(digest)}  # of the document's JSON bytes",
        "",
        "# Enums of components/parameters, shared by the routes below.",
    ]
    for enum, name in sorted(shared.items(), key=lambda kv: kv[1]):
        out.append(f"{name}: tuple[str, ...] = (")
        out.extend(_packed([_lit(v) for v in enum], 4))
        out.append(")")
    out += ["", f"# {len(routes)} GET routes, by path.", "ROUTES: dict[str, Route] = index("]
    for route in routes:
        out.extend(_route_lines(route, shared))
    out.append(")")
    return "\n".join(out) + "\n"


def generate(spec: Path = DEFAULT_SPEC) -> str:
    """The module text for the document at ``spec`` (plain or gzipped JSON)."""
    return render(read_document(spec))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--spec", type=Path, default=DEFAULT_SPEC, help="OpenAPI JSON file (.json or .json.gz)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the module to write")
    parser.add_argument("--check", action="store_true", help="only say whether --out is up to date")
    args = parser.parse_args(argv)
    try:
        text = generate(args.spec)
    except (OSError, SpecError, gzip.BadGzipFile) as e:
        print(f"gen_api_tables: error: {args.spec}: {e}", file=sys.stderr)
        return 2
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"gen_api_tables: {args.out} is stale; run python tools/gen_api_tables.py", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"gen_api_tables: wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
