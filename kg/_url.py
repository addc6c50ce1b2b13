"""Opening a store from a URL: ``sqlite:///relative.db``, ``sqlite:////absolute.db``, a plain
path, ``memory://`` (or ``sqlite://``) for a throwaway in-memory store, or
``neo4j://user:password@host:7687/database`` (also ``bolt://``, ``neo4j+s://``, ``bolt+s://``)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

import platformdirs

from kg._errors import InputError
from kg._sqlite import SQLiteStore
from kg._store import GraphStore

__all__ = ["default_store_url", "open_store"]

ENV_STORE = "KNOWSYNC_STORE"


def default_store_url() -> str:
    """``$KNOWSYNC_STORE``, else ``kb.db`` in the per-user data folder."""
    env = os.environ.get(ENV_STORE)
    if env:
        return env
    folder = Path(platformdirs.user_data_dir("knowsync", appauthor=False))
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'kb.db'}"


def open_store(url: str | None = None, *, create: bool = True) -> GraphStore:
    """Open the store a URL names.

    Args:
        url: the store URL; None means :func:`default_store_url`.
        create: whether a missing embedded database may be created.

    Raises:
        InputError: the URL's scheme is unknown or the URL is malformed.
        StoreError: the store cannot be opened.
    """
    url = url or default_store_url()
    if "://" not in url:
        return SQLiteStore(Path(url).expanduser(), create=create)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("memory", "mem") or url in ("sqlite://", "sqlite:///:memory:"):
        return SQLiteStore(":memory:")
    if scheme == "sqlite":
        if parts.netloc:
            raise InputError(
                f"store URL {url!r}: write sqlite:///relative/path.db or "
                "sqlite:////absolute/path.db (three or four slashes)",
                field="store",
            )
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        if not path:
            raise InputError(f"store URL {url!r} names no file", field="store")
        return SQLiteStore(Path(path).expanduser(), create=create)
    if scheme in ("neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc"):
        from kg._neo4j import Neo4jStore  # the driver is imported only when asked for

        return Neo4jStore(url)
    raise InputError(
        f"store URL {url!r}: unknown scheme {parts.scheme!r}; use sqlite:///PATH, memory:// "
        "or neo4j://USER:PASSWORD@HOST:7687/DATABASE",
        field="store",
    )
