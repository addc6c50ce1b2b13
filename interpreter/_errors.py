"""Errors of the interpreter layer.

::

    KnowsyncError
    ├── InputError                  text that cannot be read at all (empty, too long, control chars)
    └── InterpreterError            the interpreter itself failed
        └── BackendError            a chat backend failed or answered outside the schema

Bad input reuses ``kg.InputError``; an unreadable but well-formed sentence is not an error, it
gives an ``Unclear`` intent.
"""

from __future__ import annotations

from kg._errors import KnowsyncError

__all__ = ["BackendError", "InterpreterError"]


class InterpreterError(KnowsyncError):
    """The interpreter could not do its work (not: the sentence was unclear)."""


class BackendError(InterpreterError):
    """A chat backend failed, ran out of scripted answers, or answered with something that does
    not validate as an intent."""
