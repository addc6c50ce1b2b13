"""Finding the data the project ships in ``datasets/``, the cache, and who acts locally."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from kg import Schema, StoreError

__all__ = ["cache_root", "datasets_dir", "default_schema", "demo_kg_files", "local_user"]

ENV_DATASETS = "KNOWSYNC_DATASETS"


def datasets_dir() -> Path:
    """The ``datasets/`` folder: ``$KNOWSYNC_DATASETS``, the source checkout, or the copy
    installed under ``<prefix>/share/knowsync/datasets``.

    Raises:
        StoreError: no datasets folder can be found.
    """
    candidates = []
    env = os.environ.get(ENV_DATASETS)
    if env:
        candidates.append(Path(env))
    candidates.append(Path(__file__).resolve().parent.parent / "datasets")
    candidates.append(Path(sys.prefix) / "share" / "knowsync" / "datasets")
    for path in candidates:
        if (path / "oneedit" / "schema.json").is_file():
            return path
    raise StoreError(
        "cannot find the datasets folder; set KNOWSYNC_DATASETS to the project's datasets/"
    )


def default_schema() -> Schema:
    """The bundled relation library (the cleaned OneEdit library)."""
    return Schema.load(datasets_dir() / "oneedit" / "schema.json")


def demo_kg_files() -> list[Path]:
    """OneEdit's demo knowledge graph files."""
    folder = datasets_dir() / "oneedit"
    return [folder / "kg.csv", folder / "kg2.csv"]


def cache_root() -> Path:
    """The per-user cache (``$KNOWSYNC_CACHE`` when set): models, statistics, server ledgers.
    The same folder as :func:`editor.cache_dir`, without importing the editor."""
    env = os.environ.get("KNOWSYNC_CACHE")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("knowsync"))


def local_user() -> str:
    """Who acts when nobody signs in (the command line on a local store, the web app of a
    knowledge base without accounts): ``$KNOWSYNC_USER``, else ``cli``."""
    return os.environ.get("KNOWSYNC_USER") or "cli"
