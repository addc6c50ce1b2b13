"""The agreement checks kept over time: each check's figures are recorded in the knowledge
base (both backends), listed oldest first, bounded, readable by every role, while running a
check or a sync is a curator's action and needs a model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kg import InputError
from knowsync import KnowSync, PermissionDenied
from knowsync import _agreement as agreement
from knowsync._agreement import AgreementReport, record_check
from knowsync._session import Session
from ui.cli import main


def _report(cloze: float, *, relations: dict[str, float] | None = None) -> AgreementReport:
    """What a check measured (the measuring itself needs the model: tests/test_agreement.py)."""
    rel = relations or {"capital": cloze}
    return AgreementReport(
        relations={
            name: {"pairs": 2, "cloze": share, "paraphrase": share / 2, "paraphrase_asked": 4}
            for name, share in rel.items()
        },
        cloze=cloze,
        paraphrase=cloze / 2,
        locality=0.98,
        same_subject=None,
        counts={"cloze": 2 * len(rel), "paraphrase": 8, "locality": 49, "same_subject": 0},
        edits_in_force=[1, 2],
    )


def test_checks_are_recorded_and_listed_oldest_first(kb: KnowSync) -> None:
    first = record_check(kb, _report(0.5), user="curator")
    second = record_check(kb, _report(0.75), user="admin", relation="capital")
    records = Session(kb, "viewer").model_checks()
    assert [r["at"] for r in records] == [first["at"], second["at"]]
    assert first["at"] < second["at"]
    assert records[0]["cloze"] == 0.5 and records[0]["by"] == "curator"
    assert records[0]["partial"] is False and records[1]["partial"] is True
    assert records[1]["relation"] == "capital"
    assert records[0]["relations"] == {"capital": {"pairs": 2, "cloze": 0.5, "paraphrase": 0.25}}
    assert records[0]["counts"]["locality"] == 49
    assert records[0]["edits_in_force"] == 2
    assert records[0]["model"] is None  # no model attached to this knowledge base
    assert [r["cloze"] for r in kb.model_checks(limit=1)] == [0.75]
    with pytest.raises(InputError):
        kb.model_checks(limit=0)


def test_only_the_newest_checks_are_kept(kb: KnowSync, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(agreement, "RECORDS_KEPT", 3)
    for i in range(5):
        record_check(kb, _report(i / 10), user="curator")
    assert [r["cloze"] for r in kb.model_checks()] == [0.2, 0.3, 0.4]


def test_checking_and_syncing_are_for_curators_and_need_a_model(kb: KnowSync) -> None:
    for name in ("viewer", "editor"):
        door = Session(kb, name)
        with pytest.raises(PermissionDenied):
            door.check_model()
        with pytest.raises(PermissionDenied):
            door.sync_model()
    curator = Session(kb, "curator")
    with pytest.raises(InputError, match="no model is attached"):
        curator.check_model()
    with pytest.raises(InputError, match="no model is attached"):
        curator.sync_model()
    assert kb.model_checks() == []  # a check that could not run records nothing


def test_the_command_line_lists_the_recorded_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path / 'kb.db'}"
    ks = KnowSync(store)
    record_check(ks, _report(0.9), user="cli")
    ks.close()
    assert main(["model", "history", "--store", store, "--json"]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["cloze"] == 0.9 and record["by"] == "cli"
    assert main(["model", "history", "--store", store]) == 0
    text = capsys.readouterr().out
    assert "90.0%" in text and "98.0%" in text
