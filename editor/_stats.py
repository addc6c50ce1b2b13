"""Second-moment statistics of the edited matrix's inputs, from an offline corpus.

For layer ``l`` the key ``k`` is the input of the MLP output projection (``d_ff`` wide) at one
token. ROME, MEMIT and AlphaEdit all need the uncentred second moment

    C_l = E[k k^T]   (estimated as  K K^T / n  over n corpus tokens),

which stands in for "the keys the model already uses" when an update must disturb them as little
as possible. Computing it takes a forward pass over the corpus (stopped after the deepest layer
asked for), so the result is cached on disk keyed by the model key, the corpus hash, the sampling
settings and the layer.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from editor._arch import ArchitectureSpec
from editor._errors import EditorError
from editor._hooks import StopForward, TraceDict

__all__ = [
    "Corpus",
    "SecondMomentStore",
    "default_corpus_path",
    "load_corpus",
]


@dataclass(frozen=True)
class Corpus:
    """A text corpus: one document per entry, with the hash of its bytes."""

    texts: tuple[str, ...]
    sha256: str
    name: str

    @classmethod
    def from_texts(cls, texts: Sequence[str], name: str = "in-memory") -> Corpus:
        """Build a corpus from strings (hashing their joined UTF-8 bytes)."""
        joined = "\n".join(texts)
        return cls(tuple(texts), hashlib.sha256(joined.encode("utf-8")).hexdigest(), name)


def default_corpus_path() -> Path:
    """The corpus shipped with the project: ``datasets/corpus/templates_en.txt``."""
    return Path(__file__).resolve().parents[1] / "datasets" / "corpus" / "templates_en.txt"


def load_corpus(path: Path | None = None) -> Corpus:
    """Read a corpus file, one document per non-empty line.

    Raises:
        EditorError: when the file does not exist.
    """
    path = path if path is not None else default_corpus_path()
    if not path.is_file():
        raise EditorError(
            f"corpus {path} not found; generate it with `python datasets/corpus/make_corpus.py`"
        )
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return Corpus.from_texts(lines, name=path.name)


class SecondMomentStore:
    """Computes and caches ``C_l = E[k k^T]`` per layer for one model and one corpus.

    The store is an object bound to a model (no module-global cache); it keeps the matrices it
    has loaded in memory and on disk under
    ``root/stats/<model_key>/<corpus sha>-<max_tokens>x<seq_len>/layer<l>.safetensors``.

    Args:
        model: the causal LM (base weights: statistics are taken before any edit).
        tokenizer: its tokenizer.
        spec: the architecture adapter.
        model_key: identifier of the base weights (``LoadedModel.model_key``).
        corpus: the text to run through the model.
        root: cache root, or None to keep the statistics in memory only.
        max_tokens: number of corpus tokens to use (the corpus is cut into ``seq_len`` chunks).
        seq_len: chunk length in tokens.
        batch_size: chunks per forward pass.
        progress: show a tqdm progress bar.
    """

    def __init__(
        self,
        model: nn.Module,
        tokenizer: Any,
        spec: ArchitectureSpec,
        model_key: str,
        corpus: Corpus,
        *,
        root: Path | None,
        max_tokens: int = 65536,
        seq_len: int = 128,
        batch_size: int = 16,
        progress: bool = True,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.spec = spec
        self.model_key = model_key
        self.corpus = corpus
        self.root = root
        self.max_tokens = max_tokens
        self.seq_len = seq_len
        self.batch_size = batch_size
        self.progress = progress
        self._memory: dict[int, torch.Tensor] = {}
        self.last_compute_seconds: float | None = None

    @property
    def directory(self) -> Path | None:
        """Where this store's files live (None when in-memory only)."""
        if self.root is None:
            return None
        settings = f"{self.corpus.sha256[:16]}-{self.max_tokens}x{self.seq_len}"
        return self.root / "stats" / self.model_key[:32] / settings

    def _path(self, layer: int) -> Path | None:
        d = self.directory
        return None if d is None else d / f"layer{layer:03d}.safetensors"

    def get(self, layer: int) -> torch.Tensor:
        """``C_layer`` as a float32 ``d_ff x d_ff`` tensor on the model's device."""
        return self.get_many([layer])[layer]

    def get_many(self, layers: Sequence[int]) -> dict[int, torch.Tensor]:
        """``C_l`` for several layers, computing the missing ones in a single corpus pass.

        Raises:
            EditorError: when the corpus yields no full chunk of ``seq_len`` tokens.
        """
        from safetensors.torch import load_file

        missing = []
        for layer in layers:
            if layer in self._memory:
                continue
            path = self._path(layer)
            if path is not None and path.is_file():
                self._memory[layer] = load_file(str(path))["mom2"]
            else:
                missing.append(layer)
        if missing:
            self._compute(sorted(set(missing)))
        device = next(self.model.parameters()).device
        return {layer: self._memory[layer].to(device) for layer in layers}

    def _chunks(self) -> torch.Tensor:
        ids: list[int] = []
        budget = self.max_tokens
        for text in self.corpus.texts:
            ids.extend(self.tokenizer(text + "\n", add_special_tokens=False)["input_ids"])
            if len(ids) >= budget:
                break
        n_chunks = min(len(ids), budget) // self.seq_len
        if n_chunks == 0:
            raise EditorError(f"corpus {self.corpus.name!r} has fewer than {self.seq_len} tokens")
        return torch.tensor(ids[: n_chunks * self.seq_len]).view(n_chunks, self.seq_len)

    def _compute(self, layers: list[int]) -> None:
        import time

        from safetensors.torch import save_file
        from tqdm.auto import tqdm

        start = time.perf_counter()
        chunks = self._chunks()
        device = next(self.model.parameters()).device
        names = [self.spec.mlp_out_name(layer) for layer in layers]  # ascending depth
        d_ff = self.spec.key_size(self.model)
        sums = {layer: torch.zeros(d_ff, d_ff, dtype=torch.float64) for layer in layers}
        count = 0
        batches = range(0, chunks.shape[0], self.batch_size)
        bar = tqdm(
            batches,
            desc=f"second moments (layers {layers[0]}..{layers[-1]})",
            disable=not self.progress,
            unit="batch",
        )
        with (
            torch.no_grad(),
            TraceDict(
                self.model, names, retain_input=True, retain_output=False, stop=True
            ) as traces,
        ):
            for begin in bar:
                batch = chunks[begin : begin + self.batch_size].to(device)
                with contextlib.suppress(StopForward):
                    self.model(input_ids=batch, use_cache=False)
                for layer, name in zip(layers, names, strict=True):
                    keys = traces[name].input
                    assert keys is not None
                    keys = keys.reshape(-1, d_ff).float()
                    # float32 product per batch, float64 running sum across batches
                    sums[layer] += (keys.T @ keys).to("cpu", torch.float64)
                count += batch.numel()
        for layer in layers:
            mom2 = (sums[layer] / count).float()
            self._memory[layer] = mom2
            path = self._path(layer)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp")
                save_file({"mom2": mom2.contiguous()}, str(tmp), metadata={"count": str(count)})
                tmp.replace(path)
        self.last_compute_seconds = time.perf_counter() - start
