"""The outcomes every interface hands back: decisions, results, answers, accounts, and the
service's two errors. One definition each, shared by :class:`knowsync.KnowSync`, the HTTP API
and :class:`knowsync.Client`; this module needs nothing beyond ``kg``'s types, so a client-only
install imports it without the server stack.

:class:`Account`, :class:`EditResult`, :class:`ImportReport`, :class:`Notice` and
:class:`Submission` are pydantic dataclasses: the HTTP API answers with them (so its OpenAPI
schema describes them) and the client reads the answers back with their adapters
(:data:`ACCOUNT`, :data:`EDIT_RESULT`, :data:`IMPORT_REPORT`, :data:`NOTICE`,
:data:`SUBMISSION`), which check each field.
:class:`Answer` still has its own JSON reader in the client and its own HTTP model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Literal, cast

from pydantic import (
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    TypeAdapter,
    model_serializer,
    model_validator,
    with_config,
)
from pydantic.dataclasses import dataclass as pydantic_dataclass
from typing_extensions import TypedDict

from kg._errors import KnowsyncError
from kg._types import EditState, Fact

__all__ = [
    "ACCOUNT",
    "EDIT_RESULT",
    "IMPORT_REPORT",
    "NOTICE",
    "SUBMISSION",
    "Account",
    "Answer",
    "AuthError",
    "ChatMessage",
    "ChatRole",
    "Decision",
    "EditResult",
    "HoldKind",
    "ImportReport",
    "ModelState",
    "ModelStatus",
    "ModelWrite",
    "Notice",
    "PermissionDenied",
    "Role",
    "Submission",
]


class Decision(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    NEEDS_REVIEW = "needs_review"
    NEEDS_CLARIFICATION = "needs_clarification"


class HoldKind(StrEnum):
    """Why an edit waits for a curator (a held entry's ``report["held"]["kinds"]``)."""

    #: the toxic-edit filter is unsure
    DOUBTFUL = "doubtful"
    #: only locks refuse it: it may go in once they are removed
    LOCKED = "locked"
    #: it supersedes or removes a fact another user asserted
    SUPERSEDES = "supersedes"


class ModelWrite(StrEnum):
    """Where an applied edit's write into the model stands (its report's ``model_state``):
    ``pending`` once the graph has it, then ``applied``, ``skipped`` (nothing the model can be
    asked about) or ``failed`` (the weights untouched; ``model sync`` tries again)."""

    PENDING = "pending"
    APPLIED = "applied"
    SKIPPED = "skipped"
    FAILED = "failed"


_RESULT_KEYS = ("edit_id", "decision", "dry_run")


@with_config(ConfigDict(extra="allow"))
class EditResultJSON(TypedDict):
    """An :class:`EditResult` as JSON: the report's keys beside these three."""

    edit_id: int | None
    decision: Decision
    dry_run: bool


@pydantic_dataclass
class EditResult:
    """What happened to one edit.

    As JSON (``to_dict``, the HTTP API's answers), the report's keys stand beside ``edit_id``,
    ``decision`` and ``dry_run`` (:class:`EditResultJSON`); read back, they make the report.
    """

    edit_id: int | None
    decision: Decision
    report: dict[str, Any]
    dry_run: bool = False

    @model_validator(mode="before")
    @classmethod
    def _from_json(cls, data: Any) -> Any:
        if isinstance(data, dict) and "report" not in data:
            report = {k: v for k, v in data.items() if k not in _RESULT_KEYS}
            return {**{k: data[k] for k in _RESULT_KEYS if k in data}, "report": report}
        return data

    @property
    def accepted(self) -> bool:
        return self.decision is Decision.ACCEPTED

    @property
    def reasons(self) -> list[str]:
        return list(self.report.get("refusals", []))

    @model_serializer(mode="plain")
    def _json(self) -> EditResultJSON:
        return cast(EditResultJSON, {**self.to_dict(), "decision": self.decision})

    def to_dict(self) -> dict[str, Any]:
        return {
            "edit_id": self.edit_id,
            "decision": self.decision.value,
            "dry_run": self.dry_run,
            **self.report,
        }


#: Reads an edit result from its JSON (``EditResult.to_dict``), checking each field.
EDIT_RESULT: TypeAdapter[EditResult] = TypeAdapter(EditResult)


@pydantic_dataclass
class ImportReport:
    """The outcome of a batch import.

    Attributes:
        derived_rows: rows marked as derived facts (an export's ``inverse`` and ``composed``
            rows): they are not imported, since the rules derive them again from the asserted
            rows. Counted in ``rows``.
    """

    batch: str
    rows: int = 0
    added: int = 0
    derived: int = 0
    duplicates: int = 0
    superseded: int = 0
    skipped: list[dict[str, Any]] = field(default_factory=list)
    bad_rows: list[dict[str, Any]] = field(default_factory=list)
    edits: list[int] = field(default_factory=list)
    failed: str | None = None
    derived_rows: Annotated[
        int,
        Field(
            description="rows marked as derived facts: left to the rules, which derive them again"
        ),
    ] = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "rows": self.rows,
            "added": self.added,
            "derived": self.derived,
            "duplicates": self.duplicates,
            "superseded": self.superseded,
            "skipped": self.skipped,
            "bad_rows": self.bad_rows,
            "edits": self.edits,
            "failed": self.failed,
            "derived_rows": self.derived_rows,
        }


#: Reads an import report from its JSON (``ImportReport.to_dict``), checking each field.
IMPORT_REPORT: TypeAdapter[ImportReport] = TypeAdapter(ImportReport)


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


@pydantic_dataclass(frozen=True)
class Account:
    """An account: its name, role, and who made it when; the one definition that the
    service, the HTTP API's answers (and so its OpenAPI schema) and the client's parsing
    (:data:`ACCOUNT`) share."""

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


#: Reads an account from its JSON (``Account.to_dict``), checking each field.
ACCOUNT: TypeAdapter[Account] = TypeAdapter(Account)


@dataclass
class Answer:
    """An answer to a question, from the graph and from the (edited) model.

    Attributes:
        question: the text asked.
        subject, relation: what the interpreter understood it asks about (None when unsure):
            for a question about a description ("the wife of the president of America"), the
            entity named and the last relation walked.
        graph: the objects the graph holds for (subject, relation), possibly several; for a
            walk, the entities it ends at.
        facts: the facts the graph answer used (for "what do you know about X?", X's facts
            in force, as subject and as object).
        model: the model's own greedy answer (None without a model); for a walk, the model's
            answers hop by hop, each the next hop's subject.
        agree: whether the model's answer names one of the graph's objects (None when either
            side has no answer).
        unclear: when the question could not be read: what is missing, with suggestions.
        path: the relations walked from ``subject``, in order (one for a plain question).
        chain: the facts walked, hop by hop: ``{"hop", "subject", "relation", "object"}``.
        missing: the hop the graph has no fact for (``{"hop", "subject", "relation",
            "message"}``, the message as "the graph has no `spouse` for Joe_Biden"), or None.
        model_in_context: for a walk, the model's answer to the last hop with the graph's
            facts of the earlier hops stated before it (None without a model).
    """

    question: str
    subject: str | None = None
    relation: str | None = None
    graph: list[str] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)
    model: str | None = None
    agree: bool | None = None
    unclear: dict[str, Any] | None = None
    path: list[str] = field(default_factory=list)
    chain: list[dict[str, Any]] = field(default_factory=list)
    missing: dict[str, Any] | None = None
    model_in_context: str | None = None

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
            "path": self.path,
            "chain": self.chain,
            "missing": self.missing,
            "model_in_context": self.model_in_context,
        }


def _an_answer(value: object) -> Answer | None:
    if value is None or isinstance(value, Answer):
        return value
    raise ValueError("an Answer (read one from its JSON with knowsync.client.answer_from_dict)")


def _answer_json(answer: Answer | None) -> dict[str, Any] | None:
    return None if answer is None else answer.to_dict()


#: A submission's answer: an :class:`Answer`, as JSON its ``to_dict``.
AnswerField = Annotated[
    Answer | None,
    PlainValidator(_an_answer),
    PlainSerializer(_answer_json, return_type=dict[str, Any] | None),
]


@pydantic_dataclass
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

    decision: Decision
    intent: dict[str, Any] = field(default_factory=dict)
    edit_id: int | None = None
    report: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    question: str | None = None
    suggestions: list[str] = field(default_factory=list)
    answer: AnswerField = None
    model: list[dict[str, Any]] = field(default_factory=list)
    toxicity: dict[str, Any] | None = None

    def as_edit_result(self, *, dry_run: bool = False) -> EditResult:
        """The submission of an edit given as triples, answered as ``KnowSync.edit`` answers
        (the reason a held or refused edit gives is kept in the report as ``reason``)."""
        report = dict(self.report)
        if self.reason:
            report.setdefault("reason", self.reason)
        return EditResult(self.edit_id, self.decision, report, dry_run=dry_run)

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision.value,
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


#: Reads a submission from its JSON (``Submission.to_dict``), checking each field; its answer
#: is read by whoever reads an :class:`Answer` (``knowsync.client.answer_from_dict``).
SUBMISSION: TypeAdapter[Submission] = TypeAdapter(Submission)


ChatRole = Literal["user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    """One message of an account's conversation with the knowledge base, as its chat shows it
    (``content`` is what the chat renders: the web app's messages are HTML it escaped itself).
    Checked where it enters (``knowsync._conversation.check_messages``).

    Attributes:
        role: ``user`` or ``assistant``.
        content: what the chat shows.
        pending: for an answer whose edit's model write was still pending when it was kept:
            the submission it was rendered from (``Submission.to_dict``, its ``edit_id``
            set), so that whoever shows it again can re-render it once the write settles and
            keep the settled answer in its place (``Conversations.settle``). None otherwise.
    """

    role: ChatRole
    content: str
    pending: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.pending is not None:
            out["pending"] = self.pending
        return out


@pydantic_dataclass(frozen=True)
class Notice:
    """A curator's decision on one of the account's held edits, as the journal records it
    (the entry's ``report["review"]``).

    Attributes:
        edit_id: the held edit.
        decision: ``approved`` or ``rejected``.
        by: the curator who decided.
        at: when (ISO time, UTC).
        reason: why, as the curator wrote it (may be empty for an approval).
        state: the edit's state now: an approved edit is ``applied``, or ``refused`` when the
            rules refused it once planned again; a rejected one is ``refused``.
        summary: what the edit asked, on one line (``+ S R O; − S R O``).
        seen: whether the account has marked it seen (``mark_notices_seen``).
    """

    edit_id: int
    decision: Literal["approved", "rejected"]
    by: str
    at: str
    reason: str
    state: EditState
    summary: str
    seen: bool = False

    def describe(self) -> str:
        """``Edit #12 rejected by carol: not in the source``."""
        why = f": {self.reason}" if self.reason else ""
        return f"Edit #{self.edit_id} {self.decision} by {self.by}{why}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "edit_id": self.edit_id,
            "decision": self.decision,
            "by": self.by,
            "at": self.at,
            "reason": self.reason,
            "state": self.state.value,
            "summary": self.summary,
            "seen": self.seen,
        }


#: Reads a notice from its JSON (``Notice.to_dict``), checking each field.
NOTICE: TypeAdapter[Notice] = TypeAdapter(Notice)


ModelState = Literal["none", "loading", "ready", "failed"]


@dataclass(frozen=True)
class ModelStatus:
    """Where the knowledge base's model stands: what the web app's header and the server's
    start-up show while a model loads.

    Attributes:
        state: ``none`` (graph only), ``loading``, ``ready`` or ``failed``.
        label: the model and method (``SmolLM2-135M-Instruct · ROME``), once known.
        detail: what loading is doing now, or why it failed.
        started: when loading began (``time.time()``), or None.
        seconds: how long loading took, once ready.
    """

    state: ModelState = "none"
    label: str = ""
    detail: str = ""
    started: float | None = None
    seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "label": self.label,
            "detail": self.detail,
            "started": self.started,
            "seconds": self.seconds,
        }
