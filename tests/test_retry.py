"""Transient store errors (a lock held by another writer, a deadlock, a leader switch) are
retried; other errors are not; a failed attempt leaves at most an aborted journal entry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from knowsync import EditState, KnowSync, StoreError


class Flaky:
    """Wraps a store; the Nth write transaction after ``arm()`` fails when it ends, before
    committing."""

    def __init__(self, store, fail_at: set[int], transient: bool = True) -> None:  # type: ignore[no-untyped-def]
        self._store = store
        self.fail_at = fail_at
        self.transient = transient
        self.writes = 0
        self.armed = False
        self.url = store.url

    def arm(self) -> None:
        self.armed, self.writes = True, 0

    def read(self):  # type: ignore[no-untyped-def]
        return self._store.read()

    def write(self):  # type: ignore[no-untyped-def]
        import contextlib

        @contextlib.contextmanager
        def cm() -> Iterator[object]:
            self.writes += 1
            with self._store.write() as tx:
                yield tx
                if self.armed and self.writes in self.fail_at:
                    raise StoreError("deadlock detected", transient=self.transient)

        return cm()

    def close(self) -> None:
        self._store.close()


def test_transient_failure_is_retried(tmp_path: Path) -> None:
    base = KnowSync(str(tmp_path / "kb.db")).store
    flaky = Flaky(base, fail_at={2})  # 1: the journal entry; 2: deciding and applying
    ks = KnowSync(flaky, schema=None)
    ks.retries = 2
    flaky.arm()
    res = ks.edit([("America", "capital", "Washington")], user="alice")
    assert res.accepted
    states = [e.state for e in ks.history()]
    assert states == [EditState.APPLIED, EditState.ABORTED]
    assert [f.object for f in ks.facts("America")] == ["Washington"]


def test_permanent_failure_is_not_retried(tmp_path: Path) -> None:
    base = KnowSync(str(tmp_path / "kb.db")).store
    flaky = Flaky(base, fail_at={2}, transient=False)
    ks = KnowSync(flaky)
    flaky.arm()
    with pytest.raises(StoreError, match="deadlock"):
        ks.edit([("America", "capital", "Washington")])
    assert [e.state for e in ks.history()] == [EditState.ABORTED]
    assert ks.state() == []
