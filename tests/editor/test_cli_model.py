"""``knowsync eval edits`` and ``knowsync model export`` (ui/_cli_model.py) on a tiny random
model saved as a plain Hugging Face folder; the export is loaded back by plain transformers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tests_editor_helpers import counterfact_records, random_update, save_tiny_llama

import ui.cli as cli

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(cli, "_EXTENSIONS", ("ui._cli_model",))
    monkeypatch.setenv("KNOWSYNC_CACHE", str(tmp_path / "cache"))

    def run(*argv: str) -> int:
        return cli.main(list(argv))

    return run


@pytest.fixture
def tiny_folder(tmp_path: Path) -> Path:
    return save_tiny_llama(tmp_path / "tiny")


def _cf_file(tmp_path: Path) -> Path:
    records = counterfact_records(
        [("Zorland", "Tokyo", "Paris"), ("Quxville", "Rome", "Madrid"), ("Italy", "Berlin", "Rome")]
    )
    path = tmp_path / "cf.json"
    path.write_text(json.dumps(records))
    return path


def test_module_does_not_import_torch() -> None:
    code = "import sys, ui._cli_model; print('torch' in sys.modules, 'editor._eval' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "False"]


def test_eval_edits_json(run_cli, tiny_folder: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code = run_cli(
        "eval",
        "edits",
        str(_cf_file(tmp_path)),
        "--format",
        "counterfact",
        "--model",
        str(tiny_folder),
        "--limit",
        "2",
        "--json",
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    data = json.loads(captured.out)
    assert data["cases"] == 2 and data["edits"] == 2 and data["method"] == "rome"
    assert data["scores"]["efficacy"]["n"] == 2
    assert set(data["scores"]["locality"]) == {"prob", "gen", "n"}
    assert data["seconds_per_edit_median"] > 0 and data["peak_rss_mb"] > 0
    assert "%" in captured.err or "step" in captured.err  # the progress bar goes to stderr


def test_eval_edits_text_sequential_memit(
    run_cli, tiny_folder: Path, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    code = run_cli(
        "eval",
        "edits",
        str(_cf_file(tmp_path)),
        "--format",
        "counterfact",
        "--model",
        str(tiny_folder),
        "--method",
        "memit",
        "--mode",
        "sequential",
        "--offset",
        "1",
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "memit (sequential): 2 cases, 2 edits" in out and "efficacy" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["eval", "edits", "missing.json", "--format", "zsre"], "does not exist"),
        (["eval", "edits", "x.json", "--format", "nope"], "invalid choice"),
        (["eval", "edits", "x.json", "--format", "zsre", "--limit", "0"], "at least 1"),
        (
            ["eval", "edits", "x.json", "--format", "zsre", "--known-on", "efficacy,locality"],
            "give efficacy, generalization or both",
        ),
        (["eval", "edits", "x.json"], "--format"),
        (["model", "export"], "DIR"),
        (["model"], "WHAT"),
    ],
)
def test_bad_input_exits_2(run_cli, argv: list[str], message: str, capsys) -> None:  # type: ignore[no-untyped-def]
    try:
        code = run_cli(*argv)
    except SystemExit as exc:  # argparse errors exit through the parser
        code = int(exc.code or 0)
    assert code == 2
    assert message in capsys.readouterr().err


def test_eval_rejects_a_file_of_the_wrong_format(run_cli, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code = run_cli("eval", "edits", str(_cf_file(tmp_path)), "--format", "mquake")
    assert code == 2
    assert "no field" in capsys.readouterr().err


def test_export_round_trip_with_ledger(run_cli, tiny_folder: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from editor import DeltaLedger, load_model

    loaded = load_model(tiny_folder)
    ledger = DeltaLedger(loaded.model, tmp_path / "ledger", model_key=loaded.model_key)
    ledger.apply(1, random_update(loaded.model, seed=1, layers=(1, 2)))
    ledger.apply(2, random_update(loaded.model, seed=2, layers=(2,), rank=2))
    ledger.rollback(1)
    expected = {k: v.clone() for k, v in loaded.model.state_dict().items()}

    out_dir = tmp_path / "export"
    code = run_cli(
        "model",
        "export",
        str(out_dir),
        "--model",
        str(tiny_folder),
        "--ledger",
        str(tmp_path / "ledger"),
        "--json",
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert json.loads(captured.out)["edits_applied"] == [2]

    plain = AutoModelForCausalLM.from_pretrained(out_dir)
    state = plain.state_dict()
    assert all(torch.equal(state[k], v) for k, v in expected.items())
    assert AutoTokenizer.from_pretrained(out_dir)("The capital")["input_ids"]

    # without --ledger: the base model; an existing folder needs --force
    assert run_cli("model", "export", str(out_dir), "--model", str(tiny_folder)) == 2
    assert "not empty" in capsys.readouterr().err
    assert run_cli("model", "export", str(out_dir), "--model", str(tiny_folder), "--force") == 0
    base = AutoModelForCausalLM.from_pretrained(tiny_folder).state_dict()
    again = AutoModelForCausalLM.from_pretrained(out_dir).state_dict()
    assert all(torch.equal(again[k], base[k]) for k in base)


def test_export_refuses_a_missing_ledger(
    run_cli, tiny_folder: Path, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    code = run_cli(
        "model",
        "export",
        str(tmp_path / "o"),
        "--model",
        str(tiny_folder),
        "--ledger",
        str(tmp_path),
    )
    assert code == 2
    assert "holds no ledger" in capsys.readouterr().err


@pytest.mark.parametrize(
    "known", [["--known-only"], ["--known-on", "generalization"], ["--known-on", "efficacy"]]
)
def test_eval_known_only_says_when_the_model_knows_none(
    run_cli, tiny_folder: Path, tmp_path: Path, capsys, known: list[str]
) -> None:  # type: ignore[no-untyped-def]
    # A random model gives none of these capitals greedily, so nothing is left to edit.
    code = run_cli(
        "eval",
        "edits",
        str(_cf_file(tmp_path)),
        "--format",
        "counterfact",
        "--model",
        str(tiny_folder),
        *known,
    )
    captured = capsys.readouterr()
    assert code == 2
    assert "knows none of the counterfact records" in captured.err


def test_model_sync_dry_run_lists_the_backlog_without_a_model(
    run_cli, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    from knowsync import KnowSync

    url = f"sqlite:///{tmp_path / 'kb.db'}"
    ks = KnowSync(url)
    try:
        edit_id = ks.edit([("France", "capital", "Rome")], user="alice").edit_id
    finally:
        ks.close()
    assert run_cli("model", "sync", "--store", url, "--dry-run", "--json") == 0
    assert json.loads(capsys.readouterr().out) == {"backlog": [edit_id]}
    assert run_cli("model", "sync", "--store", url, "--dry-run") == 0
    assert "1 edits are not in the model yet: 1" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--model", "none"], "--model none cannot be synced"),
        (["--limit", "0"], "at least 1"),
    ],
)
def test_model_sync_bad_input(
    run_cli, tmp_path: Path, extra: list[str], message: str, capsys
) -> None:  # type: ignore[no-untyped-def]
    try:
        code = run_cli("model", "sync", "--store", f"sqlite:///{tmp_path / 'kb.db'}", *extra)
    except SystemExit as exc:  # argparse errors exit through the parser
        code = int(exc.code or 0)
    assert code == 2
    assert message in capsys.readouterr().err


def test_model_sync_of_a_missing_store_says_so(run_cli, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code = run_cli("model", "sync", "--store", f"sqlite:///{tmp_path / 'none.db'}", "--dry-run")
    assert code == 2
    assert "knowsync: error:" in capsys.readouterr().err


def test_hyperparameter_overrides() -> None:
    from editor import AlphaEditHyperParams, ValueOptimization
    from ui._cli_model import override_hyperparameters

    hp = AlphaEditHyperParams(layers=(3, 4), value=ValueOptimization())
    out = override_hyperparameters(
        hp, ["l2=100", "value.clamp_norm_factor=0.5", "layers=[5,6,7]", "nullspace_energy=0.05"]
    )
    assert out.l2 == 100.0 and isinstance(out.l2, float)
    assert out.value.clamp_norm_factor == 0.5 and out.layers == (5, 6, 7)
    assert out.nullspace_energy == 0.05 and hp.l2 == 10.0  # the original is untouched
    for bad, message in [
        ("l2", "KEY=VALUE"),
        ("nope=1", "no hyperparameter 'nope'"),
        ("value=1", "is a group"),
        ("l2=fast", "must be of type float"),
        ("value.num_grad_steps=2.5", "must be of type int"),
        ("l2.x=1", "has no fields"),
    ]:
        with pytest.raises(ValueError, match=message):
            override_hyperparameters(hp, [bad])


def test_eval_edits_with_an_override(run_cli, tiny_folder: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    args = ["eval", "edits", str(_cf_file(tmp_path)), "--format", "counterfact"]
    args += ["--model", str(tiny_folder), "--limit", "1", "--json"]
    assert run_cli(*args, "--set", "value.num_grad_steps=3") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["hyperparameters"]["value"]["num_grad_steps"] == 3
    assert run_cli(*args, "--set", "bogus=1") == 2
    assert "no hyperparameter 'bogus'" in capsys.readouterr().err
