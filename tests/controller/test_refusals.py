"""Refusals are values: each carries the kind of rule behind it (and a lock's id), recorded in
the journal beside the sentences people read; an entry journaled before kinds existed still
loads."""

from __future__ import annotations

import pytest

from controller import Refusal, RefusalKind, refusal_report, refusals_of
from knowsync import KnowSync


def _kinds(report: dict[str, object]) -> list[tuple[RefusalKind, int | None]]:
    return [(r.kind, r.lock) for r in refusals_of(report)]  # type: ignore[arg-type]


def test_a_lock_refuses_with_its_id(ks: KnowSync) -> None:
    ks.edit([("France", "capital", "Paris")])
    lock = ks.lock("France", user="cur", reason="settled")
    res = ks.edit([("France", "capital", "Lyon")], user="mallory")
    assert {(k, n) for k, n in _kinds(res.report)} == {(RefusalKind.PROTECTED, lock.id)}
    stored = ks.get_edit(res.edit_id or 0).report
    assert refusals_of(stored) == refusals_of(res.report)
    assert stored["refusals"] == [r.message for r in refusals_of(stored)]


@pytest.mark.parametrize(
    ("assert_", "retract", "kind"),
    [
        ([("France", "capital", "Lyon"), ("France", "capital", "Nice")], [], "contradiction"),
        (
            [("France", "capital", "Paris")],
            [("France", "capital", "Paris")],
            "asserted_and_retracted",
        ),
        ([], [("France", "capital", "Nowhere")], "not_a_fact"),
    ],
)
def test_each_rule_names_its_kind(
    ks: KnowSync,
    assert_: list[tuple[str, str, str]],
    retract: list[tuple[str, str, str]],
    kind: str,
) -> None:
    ks.edit([("France", "capital", "Paris")])
    res = ks.edit(assert_, retract, dry_run=True)
    assert not res.accepted
    assert {k for k, _ in _kinds(res.report)} == {RefusalKind(kind)}


def test_an_older_journal_entry_reads_as_refusals_of_kind_other() -> None:
    old = {"refusals": ["France|capital|Lyon is protected: lock #3 on France"]}
    assert refusals_of(old) == [Refusal(RefusalKind.OTHER, old["refusals"][0])]
    assert refusals_of({}) == []


def test_a_refusal_round_trips_through_its_record() -> None:
    refusal = Refusal(RefusalKind.PROTECTED, "A|r|B is protected: lock #7 on A", lock=7)
    report = refusal_report([refusal])
    assert report["refusals"] == [refusal.message]
    assert refusals_of(report) == [refusal]
    assert str(refusal) == refusal.message
    with pytest.raises(ValueError):
        Refusal.from_dict({"kind": "no such kind", "message": "?"})
