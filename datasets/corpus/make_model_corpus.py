"""Sample the editor's statistics corpus from the default model itself.

The second moments ``C = E[k k^T]`` should describe the keys the model produces on the text it
is used on. Without network access there is no Wikipedia sample to run it over, so this script
lets SmolLM2-135M-Instruct write the text: it continues short openings (written for knowsync;
encyclopedic, biographical, news, narrative, how-to, dialogue and review registers) by
temperature sampling. The text is the model's own distribution, which is what the statistics
are meant to summarise; its statements are not checked and may be wrong.

Nothing comes from the evaluation data in ``shared/data/`` (it must stay held out).

Deterministic for a given model file and torch build on CPU (fixed seed, fixed batch order):
``python datasets/corpus/make_model_corpus.py [--documents N] [--tokens T]``. It prints the
SHA-256 of what it wrote. About 15 minutes on 2 cores for the shipped 864 documents.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

OPENINGS: tuple[str, ...] = (
    # encyclopedic: places
    "The city of",
    "The village lies on the banks of",
    "The capital of the region is",
    "The island is located",
    "The river rises in the mountains of",
    "The country borders",
    "The town's economy depends mainly on",
    "The climate of the province is",
    "The cathedral, built in the twelfth century,",
    "The national park covers",
    "The official languages of the country are",
    "The population of the district",
    # encyclopedic: people
    "He was born in",
    "She was born in",
    "The composer studied at",
    "The painter spent most of her life in",
    "After graduating from university, he worked as",
    "The actress is best known for her role in",
    "The footballer began his career at",
    "The novelist wrote in",
    "The physicist received the Nobel Prize for",
    "The politician served as",
    "The singer was a member of",
    "The architect designed",
    "The explorer sailed from",
    "The philosopher taught at",
    "Her first album was released by",
    "He died in",
    "The emperor ruled from",
    "The jazz pianist recorded",
    # encyclopedic: organisations, works, things
    "The company was founded in",
    "The car was manufactured by",
    "The aircraft was designed by",
    "The football club plays its home games at",
    "The university was established in",
    "The newspaper is published in",
    "The television series was broadcast on",
    "The film was directed by",
    "The novel was first published in",
    "The band was formed in",
    "The software was developed by",
    "The museum's collection includes",
    "The religion is practised mainly in",
    "The language is spoken by",
    "The species is native to",
    "The mineral is found in",
    "The disease is caused by",
    "The war began when",
    "The treaty was signed in",
    "The election was won by",
    "The bridge connects",
    "The opera premiered in",
    "The record label signed",
    "The smartphone is made by",
    "The video game was developed by",
    # science and explanation
    "Photosynthesis is the process by which",
    "The theory of evolution explains",
    "Water boils at",
    "The human heart has",
    "A black hole forms when",
    "Electricity is",
    "The periodic table arranges",
    "Vaccines work by",
    "The speed of light",
    "Earthquakes happen when",
    "In mathematics, a prime number",
    "Computers store information as",
    # history
    "In 1848,",
    "During the Middle Ages,",
    "In the early twentieth century,",
    "The ancient Romans",
    "After the Second World War,",
    "In the seventeenth century, trade between",
    "The industrial revolution began in",
    "The empire collapsed after",
    # news
    "The government announced on Monday that",
    "The central bank raised interest rates",
    "Police said the suspect",
    "The team won the championship after",
    "Scientists have discovered",
    "The company reported a loss of",
    "Voters went to the polls",
    "The festival attracted",
    # narrative and dialogue
    "Once upon a time,",
    "It was raining when she",
    "The old man looked at the letter and",
    "My grandmother used to tell me that",
    "When we arrived at the station,",
    '"Where are you going?" she asked.',
    '"I don\'t know," he said,',
    "The children ran down to the beach",
    "Last summer I travelled to",
    "I have lived in this town for",
    # how-to, reviews, opinions, forums
    "To make bread at home, you need",
    "Here are five tips for learning a new language:",
    "The best way to prepare for an interview is",
    "I bought this camera last month and",
    "The restaurant serves",
    "In my opinion, the most important skill",
    "Question: How do I fix a slow computer? Answer:",
    "Step 1: Remove the cover.",
    "Dear Sir or Madam, I am writing to",
    "The recipe calls for",
    "This guide explains how",
    "Many students find it hard to",
    # sport, culture, economy
    "The tournament is held every four years in",
    "The symphony is written for",
    "The dish is traditionally served with",
    "Tourism is the main source of income for",
    "The stock market fell sharply",
    "The museum is open",
    "The poem describes",
    "The painting shows",
)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--documents", type=int, default=864, help="documents to write")
    p.add_argument("--tokens", type=int, default=192, help="new tokens per document")
    p.add_argument("--batch", type=int, default=48, help="documents sampled together")
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--top-p", type=float, default=0.95)
    p.add_argument("--seed", type=int, default=20261122)
    p.add_argument(
        "--out", type=Path, default=Path(__file__).with_name("sampled_en.txt"), help="output file"
    )
    return p


def _clean(text: str) -> str:
    """One document per line: collapse whitespace (paragraph breaks become spaces)."""
    return " ".join(text.split())


def main(argv: list[str] | None = None) -> int:
    """Sample the corpus and write it, one document a line; prints its SHA-256."""
    args = _parser().parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    import torch
    from tqdm.auto import tqdm

    import editor

    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    loaded = editor.shared_model()
    model, tok = loaded.model, loaded.tokenizer
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    side = tok.padding_side
    tok.padding_side = "left"
    openings = [OPENINGS[i % len(OPENINGS)] for i in range(args.documents)]
    docs: list[str] = []
    start = time.perf_counter()
    try:
        for begin in tqdm(range(0, len(openings), args.batch), desc="sampling", unit="batch"):
            batch = openings[begin : begin + args.batch]
            enc = tok(batch, return_tensors="pt", padding=True)
            with torch.no_grad():
                out = model.generate(
                    **enc,
                    do_sample=True,
                    temperature=args.temperature,
                    top_p=args.top_p,
                    max_new_tokens=args.tokens,
                    pad_token_id=pad,
                )
            width = enc["input_ids"].shape[1]
            for opening, row in zip(batch, out, strict=True):
                text = _clean(opening + tok.decode(row[width:], skip_special_tokens=True))
                if text:
                    docs.append(text)
    finally:
        tok.padding_side = side
    data = ("\n".join(docs) + "\n").encode("utf-8")
    args.out.write_bytes(data)
    took = time.perf_counter() - start
    print(
        f"wrote {len(docs)} documents, {len(data):,} bytes to {args.out} in {took:.0f} s; "
        f"sha256 {hashlib.sha256(data).hexdigest()}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
