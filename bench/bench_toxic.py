"""The toxic-edit filter on harmful and benign edit requests (../shared/data/toxic_edits/).

Each record becomes the edit it asks for: a triple (subject, relation, new object) and the
sentence (prompt + target). Prints per file: how many the filter blocks (toxic), queues for
review (doubtful) and flags (either); for harmful files that is the recall, for the benign
file the false-positive rate; precision pairs each harmful file with the benign CounterFact
file (the only benign set; EditAttack ships no benign counterparts).

Split: the lexicon was written from general categories of abuse, not from these files. While
writing it, a few rows of the first half of some files were read (the first 60 CounterFact
pairs, 4 rows of each EditAttack file) to learn the formats; nothing was tuned on the second
half. Figures are printed for ``all``, ``first`` (rows seen or near them) and ``held-out``
(second half of each file, never read).

Usage (from the repository root)::

    .venv/bin/python bench/bench_toxic.py            # a table
    .venv/bin/python bench/bench_toxic.py --json     # figures as JSON
    .venv/bin/python bench/bench_toxic.py --show 10  # also 10 missed and 10 false alarms
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from controller import ToxicFilter, Verdict  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "toxic_edits"


@dataclass
class Case:
    row: int
    triple: tuple[str, str, str]
    sentence: str


def _relation(prompt: str, subject: str) -> str:
    rel = prompt.replace(subject, " ").replace("?", " ")
    return " ".join(rel.split()) or "is"


def counterfact(name: str) -> Iterator[Case]:
    for i, rec in enumerate(json.loads((DATA / name).read_text(encoding="utf-8"))):
        subject, target = rec["subject"], rec["target_new"]
        yield Case(
            i,
            (subject, _relation(rec["prompt"], subject), target),
            f"{rec['prompt']} {target}",
        )


def editattack_bias(name: str) -> Iterator[Case]:
    with (DATA / name).open(encoding="utf-8", newline="") as fh:
        for i, rec in enumerate(csv.DictReader(fh)):
            subject, target = rec["subject"], rec["target"]
            yield Case(
                i,
                (subject, _relation(rec["prompt"], subject), target),
                f"{rec['prompt']} {target}",
            )


def editattack_misinfo(name: str) -> Iterator[Case]:
    with (DATA / name).open(encoding="utf-8", newline="") as fh:
        for i, rec in enumerate(csv.DictReader(fh)):
            yield Case(i, (rec["subjects"], rec["relations"], rec["targets"]), rec["counterfacts"])


FILES: dict[str, tuple[str, Any]] = {
    "counterfact_harmful_dev300.json": ("harmful", counterfact),
    "editattack_bias_injection_dev.csv": ("harmful", editattack_bias),
    "editattack_misinfo_commonsense_868_dev.csv": ("harmful", editattack_misinfo),
    "editattack_misinfo_long_tail_100_dev.csv": ("harmful", editattack_misinfo),
    "counterfact_benign_dev300.json": ("benign", counterfact),
}


def judge(filt: ToxicFilter, cases: list[Case]) -> list[tuple[Case, Verdict, tuple[str, ...]]]:
    out = []
    for c in cases:
        v = filt.check([c.triple], c.sentence)
        out.append((c, v.verdict, v.reasons))
    return out


def rates(judged: list[tuple[Case, Verdict, tuple[str, ...]]]) -> dict[str, Any]:
    n = len(judged)
    toxic = sum(1 for _, v, _ in judged if v is Verdict.TOXIC)
    doubtful = sum(1 for _, v, _ in judged if v is Verdict.DOUBTFUL)
    return {
        "n": n,
        "toxic": toxic,
        "doubtful": doubtful,
        "flagged": toxic + doubtful,
        "flag_rate": (toxic + doubtful) / n if n else 0.0,
        "block_rate": toxic / n if n else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--show", type=int, default=0, help="print N misses and false alarms")
    args = ap.parse_args(argv)
    filt = ToxicFilter()
    results: dict[str, dict[str, Any]] = {}
    judged_all: dict[str, list[tuple[Case, Verdict, tuple[str, ...]]]] = {}
    for name, (kind, reader) in FILES.items():
        cases = list(reader(name))
        judged = judge(filt, cases)
        judged_all[name] = judged
        half = len(judged) // 2
        results[name] = {
            "kind": kind,
            "all": rates(judged),
            "first": rates(judged[:half]),
            "held-out": rates(judged[half:]),
        }
    benign = results["counterfact_benign_dev300.json"]
    for res in results.values():
        if res["kind"] != "harmful":
            continue
        for split in ("all", "first", "held-out"):
            tp = res[split]["flagged"]
            # Negatives: the benign file's same split (for CounterFact, the paired records).
            fp = benign[split]["flagged"]
            res[split]["precision_vs_benign"] = tp / (tp + fp) if tp + fp else None
            res[split]["recall"] = res[split]["flag_rate"]
    benign_cases = judged_all["counterfact_benign_dev300.json"]
    harmful_cases = judged_all["counterfact_harmful_dev300.json"]
    same = sum(
        1
        for (h, _, _), (b, _, _) in zip(harmful_cases, benign_cases, strict=True)
        if h.triple[2].strip().casefold() == b.triple[2].strip().casefold()
    )
    summary = {"files": results, "counterfact_pairs_with_identical_targets": same}
    if args.json:
        json.dump(summary, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print(
            f"{'file':<44} {'split':<9} {'n':>4} {'toxic':>6} {'doubt':>6} {'flag%':>6} "
            f"{'block%':>7} {'prec':>6}"
        )
        for name, res in results.items():
            for split in ("all", "first", "held-out"):
                r = res[split]
                prec = r.get("precision_vs_benign")
                label = name if split == "all" else ""
                what = "FPR" if res["kind"] == "benign" else ""
                print(
                    f"{label:<44} {split:<9} {r['n']:>4} {r['toxic']:>6} {r['doubtful']:>6} "
                    f"{100 * r['flag_rate']:>5.1f}% {100 * r['block_rate']:>6.1f}% "
                    f"{'' if prec is None else f'{prec:.2f}':>6} {what}"
                )
        print(
            f"\nflag% = blocked or queued for review: recall on harmful files, false-positive "
            f"rate on the benign file. prec = flagged harmful / (flagged harmful + flagged "
            f"benign of the same split).\n{same} of the 300 CounterFact 'harmful' records have "
            "the same target as their benign pair (nothing to catch)."
        )
    if args.show:
        shown = 0
        for name in ("counterfact_harmful_dev300.json", "editattack_bias_injection_dev.csv"):
            for c, v, _ in judged_all[name][len(judged_all[name]) // 2 :]:
                if v is Verdict.OK and shown < args.show:
                    print(f"missed  {name[:20]} #{c.row}: {' | '.join(c.triple)}")
                    shown += 1
        for c, v, reasons in benign_cases:
            if v is not Verdict.OK:
                print(f"false alarm #{c.row}: {' | '.join(c.triple)} -> {v.value}: {reasons[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
