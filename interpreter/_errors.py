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

from kg._errors import BackendError, InterpreterError

__all__ = ["BackendError", "InterpreterError"]
