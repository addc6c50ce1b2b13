"""Architecture adapters: one reviewable table from model family to module paths.

An editing method never spells a module path. It asks the :class:`ArchitectureSpec` of the model
for the abstract sites it needs (the MLP output projection of layer ``i``, the residual stream
after layer ``i``, the embedding, the final norm, the language-model head), in the manner of
pyvene's per-architecture mappings. Adding a family means adding one row to
:data:`ARCHITECTURES`, nothing else.

The edited matrix ``W`` of every method is the MLP output projection, written in *math
orientation*: ``W`` maps a key ``k`` (the MLP's hidden activation, ``d_ff`` wide) to a value
``v = W k`` (``d_model`` wide). ``nn.Linear`` stores exactly that (``out x in``); GPT-2's
``Conv1D`` stores the transpose (``in x out``), which the spec records in ``mlp_out_transposed``
so that deltas are converted in one place (:meth:`ArchitectureSpec.to_parameter`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import nn

from editor._errors import UnsupportedArchitectureError

__all__ = [
    "ARCHITECTURES",
    "ArchitectureSpec",
    "architecture_for",
    "get_module",
]


@dataclass(frozen=True)
class ArchitectureSpec:
    """Where the editable sites of one model family live.

    Attributes:
        family: a short name for the family ("llama", "gpt2", "gpt_neox").
        model_types: the ``config.model_type`` values this row covers.
        model_classes: HF model class names this row covers (looked up first).
        layer: path template of decoder block ``i``; its output's first element is the residual
            stream after the block.
        mlp_out: path template of the MLP output projection of block ``i`` (the edited matrix).
        mlp_out_transposed: True when the parameter is stored ``in x out`` (GPT-2 ``Conv1D``).
        embedding: path of the token embedding.
        final_norm: path of the final normalisation before the head.
        lm_head: path of the language-model head.
    """

    family: str
    model_types: tuple[str, ...]
    model_classes: tuple[str, ...]
    layer: str
    mlp_out: str
    mlp_out_transposed: bool
    embedding: str
    final_norm: str
    lm_head: str

    def mlp_out_name(self, layer: int) -> str:
        """Module path of the MLP output projection at ``layer``."""
        return self.mlp_out.format(layer)

    def mlp_out_weight_name(self, layer: int) -> str:
        """Parameter name (as in ``named_parameters``) of the edited matrix at ``layer``."""
        return f"{self.mlp_out.format(layer)}.weight"

    def layer_name(self, layer: int) -> str:
        """Module path of decoder block ``layer``."""
        return self.layer.format(layer)

    def num_layers(self, model: nn.Module) -> int:
        """Number of decoder blocks, from the config."""
        return int(cast(Any, model).config.num_hidden_layers)

    def hidden_size(self, model: nn.Module) -> int:
        """Width of the residual stream (``d_model``), from the config."""
        return int(cast(Any, model).config.hidden_size)

    def key_size(self, model: nn.Module) -> int:
        """Width of the MLP hidden activation (``d_ff``), read from the edited matrix itself."""
        weight = self.mlp_out_weight(model, 0)
        return int(weight.shape[0] if self.mlp_out_transposed else weight.shape[1])

    def mlp_out_weight(self, model: nn.Module, layer: int) -> torch.Tensor:
        """The stored parameter of the edited matrix at ``layer`` (in storage orientation)."""
        module = get_module(model, self.mlp_out_name(layer))
        weight = module.weight
        assert isinstance(weight, torch.Tensor)
        return weight

    def output_head(self, model: nn.Module) -> nn.Module:
        """The language-model head: the table's path, else HF's ``get_output_embeddings()``
        (for checkpoints whose head has an older name).

        Raises:
            UnsupportedArchitectureError: when neither finds a head.
        """
        try:
            return model.get_submodule(self.lm_head)
        except AttributeError:
            getter = getattr(model, "get_output_embeddings", None)
            head = getter() if callable(getter) else None
            if not isinstance(head, nn.Module):
                raise UnsupportedArchitectureError(
                    f"no language-model head at {self.lm_head!r} in {type(model).__name__}"
                ) from None
            return head

    def to_parameter(self, math_delta: torch.Tensor) -> torch.Tensor:
        """Convert a ``d_model x d_ff`` delta in math orientation into storage orientation."""
        return math_delta.T if self.mlp_out_transposed else math_delta

    def to_math(self, parameter: torch.Tensor) -> torch.Tensor:
        """View a stored edited matrix in math orientation (``d_model x d_ff``)."""
        return parameter.T if self.mlp_out_transposed else parameter


_LLAMA_PATHS = {
    "layer": "model.layers.{}",
    "mlp_out": "model.layers.{}.mlp.down_proj",
    "mlp_out_transposed": False,
    "embedding": "model.embed_tokens",
    "final_norm": "model.norm",
    "lm_head": "lm_head",
}

#: The table. Llama-family models share one layout (SmolLM2 is a Llama).
ARCHITECTURES: tuple[ArchitectureSpec, ...] = (
    ArchitectureSpec(
        family="llama",
        model_types=("llama", "qwen2", "mistral"),
        model_classes=("LlamaForCausalLM", "Qwen2ForCausalLM", "MistralForCausalLM"),
        **_LLAMA_PATHS,  # type: ignore[arg-type]
    ),
    ArchitectureSpec(
        family="gpt2",
        model_types=("gpt2",),
        model_classes=("GPT2LMHeadModel",),
        layer="transformer.h.{}",
        mlp_out="transformer.h.{}.mlp.c_proj",
        mlp_out_transposed=True,  # transformers.pytorch_utils.Conv1D stores (in, out)
        embedding="transformer.wte",
        final_norm="transformer.ln_f",
        lm_head="lm_head",
    ),
    ArchitectureSpec(
        family="gpt_neox",
        model_types=("gpt_neox",),
        model_classes=("GPTNeoXForCausalLM",),
        layer="gpt_neox.layers.{}",
        mlp_out="gpt_neox.layers.{}.mlp.dense_4h_to_h",
        mlp_out_transposed=False,
        embedding="gpt_neox.embed_in",
        final_norm="gpt_neox.final_layer_norm",
        lm_head="lm_head",  # "embed_out" before transformers 5; see output_head()
    ),
)


def architecture_for(model: nn.Module) -> ArchitectureSpec:
    """Find the architecture row for a model: by class name first, then by ``model_type``.

    Args:
        model: a Hugging Face causal language model.

    Returns:
        The matching :class:`ArchitectureSpec`.

    Raises:
        UnsupportedArchitectureError: when neither the class nor the model type is in the table.
    """
    class_name = type(model).__name__
    for spec in ARCHITECTURES:
        if class_name in spec.model_classes:
            return spec
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    for spec in ARCHITECTURES:
        if model_type in spec.model_types:
            return spec
    known = sorted({t for spec in ARCHITECTURES for t in spec.model_types})
    raise UnsupportedArchitectureError(
        f"no architecture adapter for {class_name} (model_type={model_type!r}); "
        f"known model types: {', '.join(known)}"
    )


def get_module(model: nn.Module, name: str) -> nn.Module:
    """Return the submodule at dotted path ``name``.

    Raises:
        UnsupportedArchitectureError: when the path does not exist in this model.
    """
    try:
        return model.get_submodule(name)
    except AttributeError as exc:
        raise UnsupportedArchitectureError(
            f"module {name!r} not found in {type(model).__name__}"
        ) from exc
