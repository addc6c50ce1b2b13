"""Fixtures of the command-line tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The store the CLI uses by default ($KNOWSYNC_STORE), in a fresh folder, acting as the
    default local user."""
    path = tmp_path / "kb.db"
    monkeypatch.setenv("KNOWSYNC_STORE", str(path))
    monkeypatch.delenv("KNOWSYNC_USER", raising=False)
    return path
