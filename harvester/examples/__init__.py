"""The example config and jobs, shipped inside the package so ``harvester demo`` runs anywhere.

``harvester demo`` used to read ``./config.toml`` and ``./jobs/``, so after ``pip install`` it
worked only from a checkout. These files are package data; the demo falls back to them when no
config or jobs are given and none are in the working directory.

The top-level ``config.toml`` and ``jobs/`` of the repository stay, as the copies a user reads
and edits (the README points at them); ``tests/test_examples.py`` keeps the two sets byte-
identical. Copies rather than symlinks: a symlink becomes a text file holding its target in a
Windows checkout, and setuptools would then package that text, not the jobs.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def _here() -> Path:
    # A regular (or editable) install has real files; a zipped one is not supported.
    return Path(str(resources.files(__name__)))


def config_file() -> Path:
    """The example ``config.toml`` (every key at its default)."""
    return _here() / "config.toml"


def jobs_dir() -> Path:
    """The folder of example job files, one per kind."""
    return _here() / "jobs"
