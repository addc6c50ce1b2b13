"""Why an edit is refused, as a value: the kind of rule that refused it, the sentence a person
reads, and (for a lock) the lock's id.

The journal keeps both forms in an entry's report: ``"refusals"``, the sentences (what every
reader showed before kinds were recorded), and ``"refused"``, the records
(:meth:`Refusal.to_dict`). :func:`refusals_of` reads either, so an entry journaled before the
records existed still loads (its refusals are of kind ``other``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["Refusal", "RefusalKind", "refusal_report", "refusals_of"]


class RefusalKind(StrEnum):
    """The rule behind a refusal."""

    #: a curator's lock protects the fact or the entity (``Refusal.lock`` names it)
    PROTECTED = "protected"
    #: it contradicts another triple of the same request, or (an import under policy
    #: ``fail``) a fact in force
    CONTRADICTION = "contradiction"
    #: the same request asserts and retracts it
    ASSERTED_AND_RETRACTED = "asserted_and_retracted"
    #: a retraction of something the graph does not hold
    NOT_A_FACT = "not_a_fact"
    #: a retraction of a derived fact (its premises are what to change)
    DERIVED = "derived"
    #: the toxic-edit filter refused it
    TOXIC = "toxic"
    #: a curator rejected it in review
    REJECTED = "rejected"
    #: journaled before refusals had kinds
    OTHER = "other"


@dataclass(frozen=True)
class Refusal:
    """One reason an edit is refused.

    Attributes:
        kind: the rule behind it.
        message: the sentence a person reads.
        lock: the id of the lock behind a ``protected`` refusal, else None.
    """

    kind: RefusalKind
    message: str
    lock: int | None = None

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "message": self.message, "lock": self.lock}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | str) -> Refusal:
        """A refusal as :meth:`to_dict` wrote it, or a bare sentence (an older journal's).

        Raises:
            ValueError: a record of an unknown kind, or with no message.
        """
        if isinstance(data, str):
            return cls(RefusalKind.OTHER, data)
        lock = data.get("lock")
        return cls(
            RefusalKind(data["kind"]), str(data["message"]), None if lock is None else int(lock)
        )


def refusal_report(refusals: list[Refusal]) -> dict[str, Any]:
    """The refusals as a journal report keeps them: the sentences and the records."""
    return {"refusals": [r.message for r in refusals], "refused": [r.to_dict() for r in refusals]}


def refusals_of(report: Mapping[str, Any]) -> list[Refusal]:
    """The refusals in a journal report: its records, else its sentences (of kind ``other``)."""
    records = report.get("refused")
    if records is not None:
        return [Refusal.from_dict(r) for r in records]
    return [Refusal.from_dict(str(r)) for r in report.get("refusals", [])]
