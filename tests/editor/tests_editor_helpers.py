"""Helpers shared by the editor tests (imported by name; tests/editor is on sys.path)."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

from editor import LoadedModel, LowRankDelta, WeightUpdate, architecture_for


def random_update(
    model: nn.Module, *, seed: int, layers: tuple[int, ...], rank: int = 1
) -> WeightUpdate:
    """A random low-rank update of the edited matrices at ``layers``."""
    spec = architecture_for(model)
    g = torch.Generator().manual_seed(seed)
    deltas = {}
    for layer in sorted(layers):
        left = torch.randn(spec.hidden_size(model), rank, generator=g) * 0.1
        right = torch.randn(rank, spec.key_size(model), generator=g) * 0.1
        deltas[spec.mlp_out_weight_name(layer)] = LowRankDelta.from_math(spec, left, right)
    return WeightUpdate(deltas=deltas, method="random", info={"seed": seed})


def states_equal(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor]) -> bool:
    """True when two state dicts hold the same names and bit-identical tensors."""
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


WORDS = [
    "the",
    "a",
    "of",
    "is",
    "in",
    "and",
    "to",
    "was",
    "capital",
    "city",
    "country",
    "language",
    "river",
    "mountain",
    "born",
    "lives",
    "speaks",
    "plays",
    "works",
    "for",
    "team",
    "company",
    "president",
    "wife",
    "husband",
    "mother",
    "tongue",
    "official",
    "religion",
    "located",
    "near",
    "known",
    "as",
    "famous",
    "red",
    "blue",
    "green",
    "old",
    "new",
    "small",
    "large",
    "people",
    "France",
    "Paris",
    "Rome",
    "Italy",
    "Berlin",
    "Germany",
    "Spain",
    "Madrid",
    "Tokyo",
    "Japan",
    "English",
    "French",
    "German",
    "Italian",
    "Spanish",
    "Japanese",
    "Zorland",
    "Quxville",
    "Alice",
    "Bob",
    "Carol",
    "Dave",
    "football",
    "piano",
    "violin",
    "Google",
    "Apple",
    "Microsoft",
    "Islam",
    "Christianity",
    "chess",
    "he",
    "she",
    "it",
    "they",
    ".",
    ",",
    "?",
    "The",
    "A",
    "In",
    "He",
    "She",
]

FAMILIES = ("llama", "qwen2", "mistral", "gpt2", "gpt_neox")


def make_tokenizer():  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(["[PAD]", "[UNK]", "[EOS]", *dict.fromkeys(WORDS)])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    core.decoder = decoders.WordPiece()
    return PreTrainedTokenizerFast(
        tokenizer_object=core, unk_token="[UNK]", pad_token="[PAD]", eos_token="[EOS]"
    )


def make_model(family: str, vocab_size: int, *, layers: int = 4, seed: int = 0) -> torch.nn.Module:
    import transformers as tf

    torch.manual_seed(seed)
    common_llama = {
        "vocab_size": vocab_size,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": layers,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 128,
        "pad_token_id": 0,
        "eos_token_id": 2,
        "bos_token_id": 2,
    }
    if family == "llama":
        model = tf.LlamaForCausalLM(tf.LlamaConfig(**common_llama))
    elif family == "qwen2":
        model = tf.Qwen2ForCausalLM(tf.Qwen2Config(**common_llama))
    elif family == "mistral":
        model = tf.MistralForCausalLM(tf.MistralConfig(**common_llama))
    elif family == "gpt2":
        model = tf.GPT2LMHeadModel(
            tf.GPT2Config(
                vocab_size=vocab_size,
                n_embd=32,
                n_layer=layers,
                n_head=4,
                n_positions=128,
                pad_token_id=0,
                eos_token_id=2,
                bos_token_id=2,
            )
        )
    elif family == "gpt_neox":
        model = tf.GPTNeoXForCausalLM(
            tf.GPTNeoXConfig(
                vocab_size=vocab_size,
                hidden_size=32,
                intermediate_size=64,
                num_hidden_layers=layers,
                num_attention_heads=4,
                max_position_embeddings=128,
                pad_token_id=0,
                eos_token_id=2,
                bos_token_id=2,
            )
        )
    else:  # pragma: no cover
        raise ValueError(family)
    # HF's default init (std 0.02) gives near-uniform predictions that no hidden-state change
    # can move; a wider init makes a random model's outputs depend on its hidden states enough
    # for an edit to be measurable.
    with torch.no_grad():
        for param in model.parameters():
            if param.ndim == 2:
                param.normal_(0.0, 0.3)
    model.eval()
    return model


def save_tiny_llama(folder: Path) -> Path:
    """A tiny random llama with the word-level tokenizer, saved as a plain Hugging Face folder
    (what ``load_model`` and the CLI's ``--model`` read)."""
    tok = make_tokenizer()
    model = make_model("llama", len(tok), layers=4)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def corpus_texts(n: int = 60, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    words = [w for w in WORDS if w not in {".", ",", "?"}]
    return [" ".join(rng.choice(words) for _ in range(rng.randint(8, 20))) + " ." for _ in range(n)]


def counterfact_records(cases: Sequence[tuple[str, str, str]]) -> list[dict[str, object]]:
    """CounterFact records (EasyEdit's flat format) of the capital-city relation, one per
    ``(subject, new target, old target)``, numbered from 0."""
    return [
        {
            "case_id": i,
            "prompt": f"The capital city of {s}",
            "target_new": new,
            "subject": s,
            "ground_truth": old,
            "rephrase_prompt": f"In {s} the capital city",
            "locality_prompt": "The capital city of France",
            "locality_ground_truth": "Paris",
        }
        for i, (s, new, old) in enumerate(cases)
    ]


def token_ids(loaded: LoadedModel, text: str) -> torch.Tensor:
    """``text`` as a batch of one row of token ids (no special tokens)."""
    return torch.tensor([loaded.tokenizer(text, add_special_tokens=False)["input_ids"]])


def logits_of(loaded: LoadedModel, text: str) -> torch.Tensor:
    """The model's logits over ``text`` (one row per token)."""
    with torch.no_grad():
        return loaded.model(input_ids=token_ids(loaded, text)).logits[0]  # type: ignore[no-any-return]
