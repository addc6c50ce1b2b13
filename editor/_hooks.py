"""Forward hooks, only through context managers that always unregister.

Modelled on ROME's ``util/nethook.py``: :class:`Trace` watches one module, :class:`TraceDict`
several. Each can retain the module's input and/or output, and can replace the output through an
``edit_output(output, module_name) -> output`` callable. Leaving the ``with`` block removes every
hook, also when the block raises.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import torch
from torch import nn

from editor._arch import get_module

__all__ = [
    "StopForward",
    "Trace",
    "TraceDict",
    "frozen_parameters",
    "primary_tensor",
    "replace_primary",
]

OutputEditor = Callable[[Any, str], Any]


class StopForward(Exception):
    """Raised by a trace with ``stop=True`` to end a forward pass once it has what it needs."""


def primary_tensor(value: Any) -> torch.Tensor:
    """The hidden-state tensor of a module output (HF blocks may return a tuple)."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, tuple | list) and value and isinstance(value[0], torch.Tensor):
        return value[0]
    raise TypeError(f"cannot find a tensor in a module output of type {type(value).__name__}")


def replace_primary(value: Any, tensor: torch.Tensor) -> Any:
    """Return ``value`` with its hidden-state tensor replaced by ``tensor``."""
    if isinstance(value, torch.Tensor):
        return tensor
    return type(value)((tensor, *value[1:]))


class Trace(AbstractContextManager["Trace"]):
    """Retain (and optionally edit) one module's input and output during forward passes.

    Attributes:
        input: the first positional input of the last call, when ``retain_input``.
        output: the (possibly edited) output of the last call, when ``retain_output``.
    """

    def __init__(
        self,
        model: nn.Module,
        name: str,
        *,
        retain_input: bool = False,
        retain_output: bool = True,
        detach: bool = True,
        edit_output: OutputEditor | None = None,
        stop: bool = False,
    ) -> None:
        self.name = name
        self.input: torch.Tensor | None = None
        self.output: Any = None
        module = get_module(model, name)

        def hook(_module: nn.Module, args: tuple[Any, ...], output: Any) -> Any:
            if retain_input:
                self.input = args[0].detach() if detach else args[0]
            if edit_output is not None:
                output = edit_output(output, name)
            if retain_output:
                if detach:
                    self.output = (
                        output.detach()
                        if isinstance(output, torch.Tensor)
                        else primary_tensor(output).detach()
                    )
                else:
                    self.output = output
            if stop:
                raise StopForward
            return output

        self._handle = module.register_forward_hook(hook)

    def close(self) -> None:
        """Remove the hook (idempotent)."""
        self._handle.remove()

    def __enter__(self) -> Trace:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class TraceDict(AbstractContextManager["TraceDict"]):
    """A :class:`Trace` on each of several modules, indexed by module name."""

    def __init__(
        self,
        model: nn.Module,
        names: Iterable[str],
        *,
        retain_input: bool = False,
        retain_output: bool = True,
        detach: bool = True,
        edit_output: OutputEditor | None = None,
        stop: bool = False,
    ) -> None:
        """Hook every module in ``names``; with ``stop``, the last one ends the forward pass."""
        self._traces: dict[str, Trace] = {}
        ordered = list(dict.fromkeys(names))
        try:
            for i, name in enumerate(ordered):
                self._traces[name] = Trace(
                    model,
                    name,
                    retain_input=retain_input,
                    retain_output=retain_output,
                    detach=detach,
                    edit_output=edit_output,
                    stop=stop and i == len(ordered) - 1,
                )
        except BaseException:
            self.close()
            raise

    def __getitem__(self, name: str) -> Trace:
        return self._traces[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._traces)

    def __len__(self) -> int:
        return len(self._traces)

    def close(self) -> None:
        """Remove every hook (idempotent)."""
        for trace in self._traces.values():
            trace.close()

    def __enter__(self) -> TraceDict:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@contextmanager
def frozen_parameters(model: nn.Module) -> Iterator[None]:
    """Turn off ``requires_grad`` on every parameter for the block; restore it afterwards."""
    saved = [(p, p.requires_grad) for p in model.parameters()]
    try:
        for p, _ in saved:
            p.requires_grad_(False)
        yield
    finally:
        for p, flag in saved:
            p.requires_grad_(flag)
