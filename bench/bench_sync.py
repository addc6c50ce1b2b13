"""How well the knowledge base's model agrees with its graph, and what keeping it so costs.

End to end through the product (``KnowSync`` with its model; a fresh store and a fresh entry
cache in a temporary folder unless ``--cache`` names one), in one run:

1. a knowledge base of the demo KG's facts (``--subjects N``: the facts of its first N
   subjects) plus ``--fictional N`` generated facts the base model cannot know (made-up
   people, lands, towns, schools and clubs over the schema's relations; inverse and derived
   facts follow, so ``--fictional 620`` gives about 1,000 facts in force), imported, then
   ``model sync``: seconds per 100 facts, peak memory;
2. agreement by greedy generation on the cloze and on every paraphrase template (demo and
   fictional facts apart), unrelated locality on the shipped probes, same-subject locality
   (``knowsync model check``'s definition); then the same for the same entries without the
   router's gate (``without_gate``: every shift wherever its subject is named), the design
   the gate replaced (``--gate-margin none`` runs the whole bench so, with one entry per
   subject; ``--split subject`` keeps the gate with one entry per subject);
3. one more edit on the synced knowledge base: seconds, and whether the model follows;
4. a rollback of it: seconds, and whether the weights equal the synced ones bit for bit;
5. retractions (``--retract N`` facts the synced model gives): the share whose object the
   model no longer gives on the cloze and its paraphrases;
6. ``--edits N`` chat-style edits through ``submit`` (supersessions, retractions, rollbacks in
   turn), then the agreement again.

Run alone (it uses both cores):  python bench/bench_sync.py --subjects 40 --fictional 20
At 1,000 facts:  python bench/bench_sync.py --fictional 620 --no-gate-comparison
(``--no-agreement`` skips the checks of steps 2 and 6: the costs alone, in minutes once the
entries are cached.)
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SYLLABLES = (
    "zor", "kel", "am", "ru", "tob", "ril", "ven", "quen", "mar", "des", "oth", "yar", "vant",
    "rosk", "hel", "quist", "odu", "vane", "par", "row", "skel", "lig", "mor", "tul", "bran",
    "fen", "gal", "dris", "ob", "sey", "thal", "urm", "pex", "nor", "wil", "cas",
)  # fmt: skip
PROFESSIONS = ("cartographer", "glassblower", "botanist", "violinist", "stonemason", "archivist")
#: what a made-up person, land and town are said to have (the schema's relations)
PERSON = ("born_in", "citizen_of", "father", "educated_at", "profession", "plays_for", "mother")


def fictional_rows(n: int, seed: int = 7) -> list[tuple[str, str, str]]:
    """``n`` facts about made-up people, lands, towns, schools and clubs (names the base model
    cannot know) over the schema's relations: a person's birthplace, citizenship, parents,
    school, profession and club; a land's capital and president; a town's land. At most one
    object for each subject and relation, and a capital or a president is no one else's."""
    rng = random.Random(seed)
    taken: set[str] = set()

    def name(parts: int, suffix: str = "") -> str:
        while True:
            word = "".join(rng.choice(SYLLABLES) for _ in range(parts)).capitalize() + suffix
            if len(word) >= 5 and word not in taken:
                taken.add(word)
                return word

    scale = max(1, n // 40)
    lands = [name(3) for _ in range(scale + 2)]
    towns = [name(2, suffix) for suffix in ("mere", "ford", "gate", "holm") for _ in range(scale)]
    schools = [f"{name(2)}_Academy" for _ in range(scale + 1)]
    clubs = [f"{name(2)}_Rovers" for _ in range(scale + 1)]
    rows: list[tuple[str, str, str]] = []
    free_towns = list(towns)
    rng.shuffle(free_towns)
    for town in towns:
        rows.append((town, "located_in", rng.choice(lands)))
    people: list[str] = []
    for land in lands:
        if free_towns:
            rows.append((land, "capital", free_towns.pop()))
        people.append(f"{name(2)}_{name(3)}")
        rows.append((land, "president", people[-1]))
        if len(rows) >= n:
            break
    turn = 0
    while len(rows) < n:
        person = f"{name(2)}_{name(3)}"
        for _ in range(3):  # three facts per person, the relations in turn
            relation = PERSON[turn % len(PERSON)]
            turn += 1
            obj = {
                "born_in": lambda: rng.choice(towns),
                "citizen_of": lambda: rng.choice(lands),
                "father": lambda: rng.choice(people),
                "mother": lambda: rng.choice(people),
                "educated_at": lambda: rng.choice(schools),
                "profession": lambda: rng.choice(PROFESSIONS),
                "plays_for": lambda: rng.choice(clubs),
            }[relation]()
            rows.append((person, relation, obj))
        people.append(person)
    return rows[:n]


def demo_rows(subjects: int | None) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    for name in ("kg.csv", "kg2.csv"):
        with (ROOT / "datasets" / "oneedit" / name).open(encoding="utf-8") as fh:
            rows += [(r["head"], r["relation"], r["tail"]) for r in csv.DictReader(fh)]
    if subjects is None:
        return rows
    keep = sorted({s for s, _, _ in rows})[:subjects]
    return [r for r in rows if r[0] in set(keep)]


def agreement(ks, facts, says, scorer) -> dict[str, float | int | None]:  # type: ignore[no-untyped-def]
    """Share of (subject, relation) pairs whose cloze (and each paraphrase) the model answers
    with one of the graph's objects."""
    from knowsync._model_side import display_name

    graph: dict[tuple[str, str], list[str]] = defaultdict(list)
    for f in facts:
        graph[(f.subject, f.relation)].append(display_name(f.object))
    schema = ks.schema
    cloze = para = n_cloze = n_para = 0
    for (subject, relation), objects in sorted(graph.items()):
        rel = schema.find(relation)
        if rel is None:
            continue
        for i, template in enumerate(rel.cloze_templates()):
            ok, _ = says(scorer, template.replace("{subject}", display_name(subject)), objects)
            if i == 0:
                cloze, n_cloze = cloze + ok, n_cloze + 1
            else:
                para, n_para = para + ok, n_para + 1
    return {
        "cloze": cloze / n_cloze if n_cloze else None,
        "paraphrase": para / n_para if n_para else None,
        "pairs": n_cloze,
        "paraphrase_prompts": n_para,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--subjects", type=int, default=None, help="demo KG subjects (all)")
    ap.add_argument("--fictional", type=int, default=0, help="generated facts to add")
    ap.add_argument("--retract", type=int, default=5, help="facts to retract")
    ap.add_argument("--edits", type=int, default=0, help="chat-style edits in sequence")
    ap.add_argument("--cache", type=Path, default=None, help="entry cache (default: fresh)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--view",
        choices=("router", "solve"),
        default="router",
        help="how the entries reach the model: the subject router, or the closed-form solve",
    )
    ap.add_argument(
        "--gate-margin",
        default="default",
        help="the router gate's margin (a number, 'none' for no gate, or 'default')",
    )
    ap.add_argument(
        "--split",
        choices=("subject", "fact", "default"),
        default="default",
        help="one entry per subject, or per subject and relation (default: the model's)",
    )
    ap.add_argument(
        "--no-gate-comparison",
        action="store_true",
        help="skip the same view's figures without its gate (a second full check)",
    )
    ap.add_argument(
        "--no-agreement",
        action="store_true",
        help="skip the agreement and locality checks (the costs alone: sync, edit, rollback)",
    )
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from dataclasses import replace

    import torch

    from editor import FactMemoryParams, ProbeScorer, says, shared_model
    from knowsync import KnowSync
    from knowsync._agreement import check_agreement
    from knowsync._model_side import ModelSide, display_name

    torch.set_num_threads(args.threads)
    figures: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cache = args.cache or folder / "cache"
        rows = demo_rows(args.subjects)
        made_up = fictional_rows(args.fictional)
        data = folder / "facts.csv"
        with data.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["subject", "relation", "object"])
            w.writerows(rows + made_up)
        loaded = shared_model()
        params = FactMemoryParams.for_model(loaded.spec, loaded.spec.num_layers(loaded.model))
        split = params.split if args.split == "default" else args.split
        margin = params.gate_margin
        if args.gate_margin != "default":
            margin = None if args.gate_margin == "none" else float(args.gate_margin)
            if margin is None and args.split == "default":
                split = "subject"  # one entry per fact needs the gate to pick among them
        params = replace(params, gate_margin=margin, split=split)
        side = ModelSide(
            loaded=loaded,
            ledger_dir=folder / "ledger",
            cache_root=cache,
            view=args.view,
            params=params,
        )
        figures["view"] = side.label
        ks = KnowSync(f"sqlite:///{folder / 'kb.db'}", model=side)
        try:
            ks.import_file(data, user="bench")
            facts = ks.state()
            start = time.perf_counter()
            synced = ks.sync_model(progress=not args.json)
            seconds = time.perf_counter() - start
            figures["facts_in_force"] = len(facts)
            figures["synced"] = {k: synced[k] for k in ("subjects", "facts", "computed", "left")}
            figures["sync_seconds"] = round(seconds, 1)
            figures["seconds_per_100_facts"] = round(100 * seconds / max(1, synced["facts"]), 1)
            scorer = ProbeScorer(side.loaded.model, side.loaded.tokenizer)
            invented = {display_name(s) for s, _, _ in made_up}
            demo = [f for f in facts if display_name(f.subject) not in invented]
            fict = [f for f in facts if display_name(f.subject) in invented]
            if not args.no_agreement:
                figures["demo"] = agreement(ks, demo, says, scorer)
                if fict:
                    figures["fictional"] = agreement(ks, fict, says, scorer)
                report = check_agreement(ks)
                figures["locality"] = report.locality
                figures["same_subject"] = report.same_subject
            router = side.router
            if (
                router is not None
                and router.gate is not None
                and not args.no_gate_comparison
                and not args.no_agreement
            ):
                # the same view without its gate: every shift wherever its subject is named
                gate = router.gate
                router.set(router.subjects, router.shifts)
                try:
                    plain = check_agreement(ks)
                    figures["without_gate"] = {
                        "demo": agreement(ks, demo, says, scorer),
                        "locality": plain.locality,
                        "same_subject": plain.same_subject,
                    }
                finally:
                    router.set(router.subjects, router.shifts, gate)
            synced_state = side.served_state()

            start = time.perf_counter()
            # a capital never asked before (a name new each run): its entry is computed now,
            # even over a cache kept from an earlier run
            fresh = random.Random(time.time_ns())
            capital = "".join(fresh.choice(SYLLABLES) for _ in range(3)).capitalize()
            figures["edit"] = f"Atlantis capital {capital}"
            one = ks.edit([("Atlantis", "capital", capital)], user="bench")
            figures["edit_seconds"] = round(time.perf_counter() - start, 1)
            figures["edit_follows"] = [r.get("follows") for r in one.report.get("model", [])]
            start = time.perf_counter()
            assert one.edit_id is not None
            ks.rollback(one.edit_id, user="bench")
            figures["rollback_seconds"] = round(time.perf_counter() - start, 1)
            after = side.served_state()
            figures["rollback_equals_synced"] = after.keys() == synced_state.keys() and all(
                torch.equal(synced_state[n], t) for n, t in after.items()
            )

            known = [f for f in demo if says(scorer, _cloze(ks, f), [display_name(f.object)])[0]][
                : args.retract
            ]
            gone = 0
            asked = 0
            for fact in known:
                ks.edit(retract=[(fact.subject, fact.relation, fact.object)], user="bench")
            for fact in known:
                rel = ks.schema.find(fact.relation)
                assert rel is not None
                for template in rel.cloze_templates():
                    prompt = template.replace("{subject}", display_name(fact.subject))
                    ok, _ = says(scorer, prompt, [display_name(fact.object)])
                    gone += not ok
                    asked += 1
            figures["retraction"] = gone / asked if asked else None
            figures["retraction_prompts"] = asked

            if args.edits:
                figures["sequence"] = _sequence(
                    ks, demo, args.edits, says, scorer, agreement, progress=not args.json
                )
        finally:
            ks.close()
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    if args.json:
        print(json.dumps(figures, indent=1))
    else:
        for key, value in figures.items():
            print(f"{key:<32} {value}")
    return 0


def _cloze(ks, fact) -> str:  # type: ignore[no-untyped-def]
    from knowsync._model_side import display_name

    rel = ks.schema.find(fact.relation)
    return str(rel.cloze_templates()[0]).replace("{subject}", display_name(fact.subject))


def _sequence(ks, demo, n, says, scorer, agreement, progress=False) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """``n`` chat-style edits in turn: a supersession of a fact's object by another fact's
    object of the same relation, a retraction, a rollback of the previous edit."""
    from knowsync._agreement import check_agreement
    from knowsync._model_side import display_name

    rng = random.Random(11)
    by_relation: dict[str, list[str]] = defaultdict(list)
    for f in demo:
        by_relation[f.relation].append(f.object)
    subjects = {f.subject for f in demo}

    def in_force() -> list:  # type: ignore[type-arg]
        """The demo subjects' asserted facts in force now (an earlier turn may have
        superseded or retracted what the first state held)."""
        return [
            f
            for f in ks.state()
            if f.subject in subjects
            and f.kind.value == "asserted"
            and len(set(by_relation[f.relation])) > 1
        ]

    last: int | None = None
    why: dict[str, int] = defaultdict(int)
    done = {"supersede": 0, "retract": 0, "rollback": 0, "refused": 0}
    start = time.perf_counter()
    took: list[float] = []
    for i in range(n):
        began = time.perf_counter()
        fact = rng.choice(sorted(in_force(), key=lambda f: (f.subject, f.relation, f.object)))
        what = ("supersede", "retract", "rollback")[i % 3]
        if what == "rollback" and last is None:
            what = "supersede"  # nothing of ours to roll back (the last edit was refused)
        if what == "rollback" and last is not None:
            ks.rollback(last, user="bench")
            last = None
        elif what == "retract":
            # said as the relation's own cloze says it ("Remove that David Aganzo is
            # affiliated to Rayo Vallecano."), not built from its name ("the is affiliated
            # to of ...", which the reader rightly refuses)
            rel = ks.schema.find(fact.relation)
            said = str(rel.cloze_templates()[0]) if rel is not None else "The {subject} is"
            said = said.replace("{subject}", display_name(fact.subject))
            sub = ks.submit(
                f"Remove that {said[:1].lower()}{said[1:]} {display_name(fact.object)}.",
                user="bench",
            )
            last = sub.edit_id if sub.decision == "accepted" else None
            done["refused"] += sub.decision != "accepted"
            if sub.decision != "accepted":
                why[f"{sub.decision}: {(sub.reason or '')[:80]}"] += 1
        else:
            other = rng.choice([o for o in by_relation[fact.relation] if o != fact.object])
            res = ks.edit([(fact.subject, fact.relation, other)], user="bench")
            last = res.edit_id if res.accepted else None
            done["refused"] += not res.accepted
            if not res.accepted:
                why[f"edit refused: {'; '.join(res.reasons)[:80]}"] += 1
        done[what] += 1
        took.append(time.perf_counter() - began)
        if progress:
            print(f"  edit {i + 1}/{n} {what}: {took[-1]:.1f} s", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - start
    after = agreement(ks, ks.state(), says, scorer)
    report = check_agreement(ks)
    took.sort()
    return {
        "edits": done,
        "refusals": dict(why),
        "seconds": round(seconds, 1),
        "seconds_per_edit_median": round(took[len(took) // 2], 1),
        "seconds_per_edit_max": round(took[-1], 1),
        "agreement_after": after,
        "locality_after": report.locality,
        "same_subject_after": report.same_subject,
    }


if __name__ == "__main__":
    raise SystemExit(main())
