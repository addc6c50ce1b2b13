"""Build ``locality.jsonl``: facts the unedited default model answers right, unrelated to any
knowledge base, for ``knowsync model check``'s locality score (does the rest of the model's
knowledge survive the facts written into it?).

Source: CounterFact (see ``SOURCE.md``). Each record gives two true facts as cloze prompts,
its edit prompt with the true object (``prompt`` / ``ground_truth``) and its neighbourhood
prompt (``locality_prompt`` / ``locality_ground_truth``). A fact is kept when the unedited
model's greedy continuation starts with the true object (case, whitespace and one leading
article aside), the test ``knowsync model check`` applies later.

    python datasets/probes/make_locality_probes.py \
        ../shared/data/counterfact/counterfact_dev500.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("counterfact", type=Path, help="a CounterFact file (JSON list)")
    parser.add_argument("--out", type=Path, default=HERE / "locality.jsonl")
    args = parser.parse_args()

    import torch
    from tqdm import tqdm

    from editor import ProbeScorer, load_model, says

    torch.set_num_threads(2)
    loaded = load_model(None)
    scorer = ProbeScorer(loaded.model, loaded.tokenizer)
    records = json.loads(args.counterfact.read_text(encoding="utf-8"))
    seen: set[str] = set()
    kept = 0
    with args.out.open("w", encoding="utf-8") as out:
        for record in tqdm(records, desc="probes", unit="record"):
            for kind, prompt, answer in (
                ("prompt", record["prompt"], record["ground_truth"]),
                ("locality", record["locality_prompt"], record["locality_ground_truth"]),
            ):
                if prompt in seen:
                    continue
                seen.add(prompt)
                right, _ = says(scorer, prompt, [answer])
                if right:
                    source = f"counterfact case {record['case_id']} ({kind})"
                    row = {"prompt": prompt, "answer": answer, "source": source}
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
                    kept += 1
    print(f"{kept} probes of {len(seen)} prompts written to {args.out}")


if __name__ == "__main__":
    main()
