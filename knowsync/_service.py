"""The service half of ``KnowSync``: sentences in, decisions out; accounts, roles and review.

``ServiceMixin`` is mixed into :class:`knowsync.KnowSync`; it uses the graph half (``edit``,
``rollback``, ``facts``, the store) and the optional model half (``self.model``, a
:class:`knowsync.ModelSide` or None). Everything here is also what the HTTP API and the web app
call: no interface has logic of its own.

State kept in the store's documents (``GraphTxn.put_doc``), in the same transactions as the
journal:
- kind ``"account"``, key = user name: ``{"role", "created_at", "created_by", "disabled"}``;
- kind ``"token"``, key = SHA-256 hex of the token: ``{"user", "created_at", "label"}``
  (tokens are never stored in clear);
- kind ``"idempotency"``, key = client-chosen key: ``{"edit_ids": [...], "result": {...}}``.

Review: an edit that needs a curator is journaled with state ``held`` (``EditState.HELD``) and
its request; it changes nothing until approved (held -> pending -> applied, through the same
path as any edit, re-planned against the graph as it is then) or rejected (held -> refused).
Who decided and why is kept in the entry's report (``"review": {"by", "at", "decision",
"reason"}``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from kg import Fact, KnowsyncError

__all__ = [
    "Account",
    "Answer",
    "AuthError",
    "PermissionDenied",
    "Role",
    "ServiceMixin",
    "Submission",
]


class AuthError(KnowsyncError):
    """A token is missing, unknown or belongs to a disabled account (HTTP 401)."""


class PermissionDenied(KnowsyncError):
    """The account's role does not allow the operation (HTTP 403)."""


class Role(StrEnum):
    """Roles, each allowed what the ones before it are.

    viewer: ask, read facts/history/graph. editor: submit edits, roll back their own edits.
    curator: approve/reject held edits, lock/unlock, roll back anyone's edit. admin: accounts
    and the schema.
    """

    VIEWER = "viewer"
    EDITOR = "editor"
    CURATOR = "curator"
    ADMIN = "admin"


@dataclass(frozen=True)
class Account:
    name: str
    role: Role
    created_at: str
    created_by: str | None = None
    disabled: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role.value,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "disabled": self.disabled,
        }


@dataclass
class Answer:
    """An answer to a question, from the graph and from the (edited) model.

    Attributes:
        question: the text asked.
        subject, relation: what the interpreter understood it asks about (None when unsure).
        graph: the objects the graph holds for (subject, relation), possibly several.
        facts: the facts the graph answer used.
        model: the model's own greedy answer (None without a model).
        agree: whether the model's answer names one of the graph's objects (None when either
            side has no answer).
        unclear: when the question could not be read: what is missing, with suggestions.
    """

    question: str
    subject: str | None = None
    relation: str | None = None
    graph: list[str] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)
    model: str | None = None
    agree: bool | None = None
    unclear: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "subject": self.subject,
            "relation": self.relation,
            "graph": self.graph,
            "facts": [f.to_dict() for f in self.facts],
            "model": self.model,
            "agree": self.agree,
            "unclear": self.unclear,
        }


@dataclass
class Submission:
    """What became of one submitted sentence or batch of triples.

    Attributes:
        decision: accepted | needs_review | rejected | needs_clarification (and, for a
            question, accepted with ``answer`` set).
        intent: the interpreter's reading, as JSON (``{"type": "edit", "triples": ...}``).
        edit_id: the journal entry (applied, held or refused), None when nothing was journaled.
        report: the controller's report (added, superseded, derived, duplicates, conflicts,
            refusals), as in :class:`knowsync.EditResult`.
        reason: why it was rejected or held, in one sentence a person can act on.
        question, suggestions: for needs_clarification, what to ask and clickable answers.
        answer: for a question, the answer.
        model: for an applied edit with a model: per edited triple, the model's greedy answer
            to its cloze before and after (``[{"prompt", "before", "after", "target"}]``).
        toxicity: the toxic filter's verdict (``{"verdict": ok|doubtful|toxic, "reasons"}``).
    """

    decision: str
    intent: dict[str, Any] = field(default_factory=dict)
    edit_id: int | None = None
    report: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    question: str | None = None
    suggestions: list[str] = field(default_factory=list)
    answer: Answer | None = None
    model: list[dict[str, Any]] = field(default_factory=list)
    toxicity: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "intent": self.intent,
            "edit_id": self.edit_id,
            "report": self.report,
            "reason": self.reason,
            "question": self.question,
            "suggestions": self.suggestions,
            "answer": None if self.answer is None else self.answer.to_dict(),
            "model": self.model,
            "toxicity": self.toxicity,
        }


class ServiceMixin:
    """Submit, ask, review and accounts; see the module docstring for the stored state.

    Methods (implemented by the service work; signatures are the contract the HTTP API and
    the web app code against):

    - ``submit(text, *, user) -> Submission``
    - ``submit_triples(assert_=(), retract=(), *, user, idempotency_key=None) -> Submission``
    - ``ask(question, *, user=None) -> Answer``
    - ``review_queue() -> list[EditRecord]`` (held entries, oldest first)
    - ``approve(edit_id, *, user, reason="") -> Submission``
    - ``reject(edit_id, *, user, reason) -> Submission``
    - ``add_user(name, role, *, by=None) -> tuple[Account, str]`` (the token, shown once)
    - ``users() -> list[Account]``, ``get_user(name) -> Account``
    - ``set_role(name, role, *, by)``, ``disable_user(name, *, by)``
    - ``new_token(name, *, label="") -> str``, ``revoke_tokens(name) -> int``
    - ``authenticate(token) -> Account`` (raises AuthError)
    - ``authorize(user, action, *, edit_id=None) -> Account`` (raises PermissionDenied);
      actions: "ask", "read", "submit", "rollback", "review", "lock", "admin", "schema".
    """
