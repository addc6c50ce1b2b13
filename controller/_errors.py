"""Errors of the controller layer (defined with the whole tree in ``kg._errors``)."""

from __future__ import annotations

from kg._errors import ControllerError, EditRefused, RollbackRefused

__all__ = ["ControllerError", "EditRefused", "RollbackRefused"]
