"""pyproject.toml: the license as a plain SPDX string, and a build backend that understands it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_license_is_a_plain_spdx_string_and_setuptools_can_read_it() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert data["project"]["license"] == "MIT"  # the table form is deprecated by setuptools (PEP 639)
    [req] = [r for r in data["build-system"]["requires"] if r.startswith("setuptools")]
    m = re.fullmatch(r"setuptools>=(\d+)", req)
    assert m and int(m[1]) >= 77, "setuptools reads project.license as a string from 77 on"
