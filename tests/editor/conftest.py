"""Fixtures for the editor tests: tiny randomly initialised models of every supported family,
a word-level tokenizer built in memory, and a small corpus. Nothing is downloaded. The builders
live in ``tests_editor_helpers`` so that test modules import them by a unique name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from tests_editor_helpers import corpus_texts, make_model, make_tokenizer

from editor import LoadedModel, architecture_for


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():  # type: ignore[no-untyped-def]
    """The tiny models' ops are microseconds: with several threads on a shared, busy machine
    the thread pool's hand-offs cost ten times the work. One thread, restored afterwards."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


@pytest.fixture
def tokenizer():  # type: ignore[no-untyped-def]
    return make_tokenizer()


@pytest.fixture
def model_factory(tokenizer) -> Callable[..., torch.nn.Module]:  # type: ignore[no-untyped-def]
    def factory(family: str, **kwargs: object) -> torch.nn.Module:
        return make_model(family, len(tokenizer), **kwargs)  # type: ignore[arg-type]

    return factory


@pytest.fixture
def loaded(tokenizer, model_factory) -> LoadedModel:  # type: ignore[no-untyped-def]
    """The tiny llama as a loaded model (what the router and its gate are installed on)."""
    model = model_factory("llama")
    model.eval()
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        model_key="tiny",
        spec=architecture_for(model),
        source="tiny",
    )


@pytest.fixture
def edit_context_factory(tokenizer, model_factory, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Build an ``EditContext`` (tiny model, in-repo corpus stats cached under tmp_path)."""
    from editor import Corpus, EditContext, SecondMomentStore, architecture_for

    def factory(family: str = "llama", **kwargs: object) -> EditContext:
        model = model_factory(family, **kwargs)
        spec = architecture_for(model)
        store = SecondMomentStore(
            model,
            tokenizer,
            spec,
            f"tiny-{family}",
            Corpus.from_texts(corpus_texts()),
            root=tmp_path / "cache",
            max_tokens=1024,
            seq_len=16,
            batch_size=8,
            progress=False,
        )
        return EditContext(model=model, tokenizer=tokenizer, spec=spec, stats=store)

    return factory
