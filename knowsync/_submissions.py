"""Submissions: sentences and triples in, decisions out, for one account at a time.

:class:`Submissions` is a part of :class:`knowsync.KnowSync`, composed with what it needs given
to its constructor: the store, the accounts, the service's lock, the toxic-edit filter, the
interpreter factory (:class:`Readers`), the model side as attached now, and the few operations
of the unguarded engine it decides and applies an edit with. The interfaces reach it through
:class:`knowsync._session.Session` (``KnowSync.submit`` and the others hand on to it): no
interface has logic of its own.

What it does: reading sentences (a name new to the graph enters it only when confirmed:
quoted, or ``new_names``), the one decision on an edit (the toxic filter, the rules, the
hold rules of :func:`knowsync._review.hold_reasons`) with idempotency, imports under the
account's rules (:class:`ImportRules`), rollback requests, and questions (``ask``).

State kept in the store's documents (``GraphTxn.put_doc``), in the same transactions as the
journal:
- kind ``"idempotency"``, key = the user name and the client-chosen key (``_key_doc``: each
  user's keys are their own): ``{"user", "fingerprint", "edit_ids": [...], "result": {...}}``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from controller import (
    Controller,
    EditRefused,
    Plan,
    Refusal,
    RefusalKind,
    RollbackRefused,
    ToxicFilter,
    ToxicVerdict,
    Verdict,
    refusal_report,
)
from interpreter import (
    ChatBackend,
    EditIntent,
    EntityRef,
    Intent,
    Interpreter,
    LocalModelBackend,
    QueryIntent,
    RetractIntent,
    RollbackIntent,
    Unclear,
    is_quoted_name,
    is_value,
)
from kg import (
    ConflictPolicy,
    EditKind,
    EditRecord,
    EditState,
    Fact,
    FactKind,
    GraphStore,
    GraphView,
    InputError,
    Relation,
    Schema,
    now_iso,
)
from knowsync._accounts import Accounts, check_text, includes
from knowsync._model_side import ModelSide
from knowsync._outcomes import (
    Account,
    Answer,
    Decision,
    EditResult,
    ImportReport,
    PermissionDenied,
    Role,
    Submission,
)
from knowsync._questions import graph_answer, with_model_answer
from knowsync._review import hold_reasons

if TYPE_CHECKING:
    from pathlib import Path

    from controller import RawTriple
    from knowsync._api import Screen, Stop

__all__ = ["ImportRules", "Readers", "Submissions"]


@dataclass(frozen=True)
class ImportRules:
    """The service's rules over a batch import by one account (see :meth:`Submissions.import_as`).

    Attributes:
        row: a row's verdict before planning: None to import it, or (``"bad"`` or
            ``"skip"``, the reason) to keep it out.
        keep: an asserted fact in force that the import may not supersede: the reason its
            row is skipped instead, or None.
    """

    row: Callable[[RawTriple], tuple[str, str] | None]
    keep: Callable[[Fact], str | None]

    def screen(
        self, rows: list[tuple[int, RawTriple]], report: ImportReport
    ) -> list[tuple[int, RawTriple]]:
        """The rows that may go on to planning; the others go to the report."""
        out: list[tuple[int, RawTriple]] = []
        for line, raw in rows:
            verdict = self.row(raw)
            if verdict is None:
                out.append((line, raw))
            elif verdict[0] == "bad":
                report.bad_rows.append({"line": line, "reason": verdict[1]})
            else:
                report.skipped.append({"line": line, "triple": list(raw), "reason": verdict[1]})
        return out


# --------------------------------------------------------------------------- helpers

_MAX_KEY = 200


def _triples(items: Sequence[Sequence[str]], what: str) -> list[tuple[str, str, str]]:
    if isinstance(items, (str, bytes)):
        raise InputError(f"{what}: give a list of (subject, relation, object)", field=what)
    out: list[tuple[str, str, str]] = []
    for item in items:
        if (
            isinstance(item, (str, bytes))
            or len(item) != 3
            or not all(isinstance(p, str) for p in item)
        ):
            raise InputError(
                f"{what}: each triple needs exactly a subject, a relation and an object, as "
                f"text (got {item!r})",
                field=what,
            )
        out.append((item[0], item[1], item[2]))
    return out


def _unconfirmed(intent: EditIntent) -> list[EntityRef]:
    """The names an edit would create that the user has not confirmed: subjects and objects
    new to the graph (``EntityRef.new_entity``, as the linker found them: an exact, case-,
    spacing- or punctuation-folded match of a name or alias is not new), in text order, less
    names written in double quotes (a quoted name is meant as written) and values (numbers,
    years, dates), which are not names."""
    out: list[EntityRef] = []
    for triple in intent.triples:
        for ref in (triple.subject, triple.object):
            if ref.new_entity and not is_quoted_name(ref.mention) and not is_value(ref.name):
                out.append(ref)
    return out


def _said(ref: EntityRef) -> str:
    """A new name as the user wrote it (the mention), else as it would be created."""
    return ref.mention.strip() or ref.name.replace("_", " ")


def _and(names: list[str]) -> str:
    quoted = [f"'{n}'" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _quotings(text: str, mentions: list[str], most: int = 8) -> Iterator[str]:
    """``text`` with each of ``mentions`` in double quotes, at most ``most`` ways: a mention
    may stand in the text more than once ("The nickname of Joe Biden is Joe"), so each way
    quotes another choice of places, leftmost first; none when a mention is not in the text
    as written."""
    names = list(dict.fromkeys(m for m in mentions if m))
    if not names:
        return
    places: list[list[tuple[int, int]]] = []
    for name in names:
        pattern = rf'(?<![\w"“]){re.escape(name)}(?![\w"”])'
        found = [(m.start(), m.end()) for m in re.finditer(pattern, text)]
        if not found:
            return
        places.append(found)
    for choice in itertools.islice(itertools.product(*places), most):
        spans = sorted(choice)
        if any(a[1] > b[0] for a, b in itertools.pairwise(spans)):
            continue  # two names over the same words
        out = text
        for start, end in reversed(spans):
            out = f'{out[:start]}"{out[start:end]}"{out[end:]}'
        yield out


def _key_doc(user: str, key: str) -> str:
    """The document key of an idempotency key: the user's name and the key, so that one
    user's keys never meet another's (a user name holds no control character)."""
    return f"{user}\x1f{key}"


def _fingerprint(user: str, assert_: list[tuple[str, str, str]], retract: list[Any]) -> str:
    body = json.dumps([user, assert_, retract], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _submission(record: EditRecord, intent: dict[str, Any]) -> Submission:
    """A submission rebuilt from its journal entry (an idempotent retry after a crash)."""
    decision = {
        EditState.APPLIED: Decision.ACCEPTED,
        EditState.HELD: Decision.NEEDS_REVIEW,
        EditState.PENDING: Decision.NEEDS_REVIEW,
    }.get(record.state, Decision.REJECTED)
    refusals = record.report.get("refusals") or []
    return Submission(
        decision=decision,
        intent=intent,
        edit_id=record.id,
        report=record.report,
        reason="; ".join(refusals) if decision is Decision.REJECTED and refusals else None,
        model=list(record.report.get("model", [])),
        toxicity=record.report.get("toxicity"),
    )


def _decided(
    intent: dict[str, Any],
    edit_id: int | None,
    decision: Decision,
    report: dict[str, Any],
    toxicity: dict[str, Any] | None,
) -> Submission:
    """The submission of an edit the service decided (applied, held, refused, or a dry run)."""
    if decision is Decision.NEEDS_REVIEW:
        reason: str | None = "; ".join(report.get("held", {}).get("reasons", []))
    else:
        reason = "; ".join(report.get("refusals", [])) or None
    return Submission(
        decision,
        intent=intent,
        edit_id=edit_id,
        report=report,
        reason=reason,
        model=list(report.get("model", [])),
        toxicity=toxicity,
    )


def _from_dict(data: dict[str, Any]) -> Submission:
    """A stored submission (as ``Submission.to_dict`` wrote it; a stored answer is dropped:
    questions are never stored)."""
    return Submission(
        decision=Decision(data["decision"]),
        intent=dict(data.get("intent") or {}),
        edit_id=data.get("edit_id"),
        report=dict(data.get("report") or {}),
        reason=data.get("reason"),
        question=data.get("question"),
        suggestions=list(data.get("suggestions") or []),
        model=list(data.get("model") or []),
        toxicity=data.get("toxicity"),
    )


# --------------------------------------------------------------------------- the engine's part


class ApplyEdit(Protocol):
    """Journal an edit and apply it (``KnowSync._apply_edit``): the engine's one write of an
    edit, with the service's ``screen`` judged on the plan it applies."""

    def __call__(
        self,
        assert_: Sequence[RawTriple],
        retract: Sequence[RawTriple],
        user: str,
        allow: bool,
        *,
        extra: dict[str, Any] | None = None,
        screen: Screen | None = None,
    ) -> EditResult: ...


class ImportFile(Protocol):
    """Import a file under the given rules (``KnowSync.import_file``)."""

    def __call__(
        self,
        path: str | Path,
        *,
        user: str = "importer",
        policy: ConflictPolicy | str = ConflictPolicy.SKIP,
        chunk_size: int = 5000,
        fmt: str | None = None,
        allow_new_relations: bool | None = None,
        progress: Callable[[int], None] | None = None,
        rules: ImportRules | None = None,
    ) -> ImportReport: ...


#: Plan an edit on a view and judge the plan (``KnowSync._decide``): the controller, the plan,
#: new relations, the report, and why it stops short of being applied (None: it is applied).
Decide = Callable[
    [GraphView, Sequence["RawTriple"], Sequence["RawTriple"], bool, "Screen | None"],
    tuple[Controller, Plan, list[Relation], dict[str, Any], "Stop | None"],
]
#: Check an edit's names and relations before anything is journaled (``KnowSync._validate``).
Validate = Callable[[GraphView, Sequence["RawTriple"], Sequence["RawTriple"], bool], None]


# --------------------------------------------------------------------------- reading


class Readers:
    """The interpreter factory: the interpreter for a schema, built again when the schema or
    what reads beyond the rules changes.

    What the rules cannot read goes to ``backend`` when one is given; else to the knowledge
    base's own (edited) model when it has one (``model()``, asked each time, since a model
    may be attached after the knowledge base opened), read with that very model's weights
    (:class:`interpreter.LocalModelBackend` over the model side's loaded model); a graph-only
    knowledge base reads with the rules alone.

    Args:
        backend: a chat backend for what the rules cannot read, or None.
        model: the knowledge base's model side as attached now (None: graph only).
    """

    def __init__(self, backend: ChatBackend | None, model: Callable[[], object]) -> None:
        self._backend = backend
        self._model = model
        self._lock = threading.Lock()
        self._local: tuple[ModelSide, LocalModelBackend] | None = None
        self._built: tuple[Schema, ChatBackend | None, Interpreter] | None = None

    def backend(self) -> ChatBackend | None:
        """What reads beyond the rules now (see the class docstring)."""
        if self._backend is not None:
            return self._backend
        side = self._model()
        if not isinstance(side, ModelSide):
            return None
        with self._lock:
            if self._local is None or self._local[0] is not side:
                self._local = (side, LocalModelBackend(loaded=side.loaded))
            return self._local[1]

    def __call__(self, schema: Schema) -> Interpreter:
        backend = self.backend()
        with self._lock:
            built = self._built
            if built is not None and built[0] is schema and built[1] is backend:
                return built[2]
            interp = Interpreter(schema, backend=backend)
            self._built = (schema, backend, interp)
            return interp


# --------------------------------------------------------------------------- the part


class Submissions:
    """Submit, ask and import for an account; see the module docstring for the stored state.

    Who acts: ``user`` names an account. A store without any account is in *open mode* (a
    single person using the library or the CLI on their own store): every name acts as an
    admin. Once one account exists, only accounts act, with their roles.

    Decisions for an edit (``submit``/``submit_triples``):

    - a sentence naming an entity new to the graph, unquoted and unconfirmed (no
      ``new_names``) -> needs_clarification naming every new name, nothing journaled (triples
      and imports are data: their names need no confirmation);
    - toxic (the filter) -> rejected, journaled as refused with the verdict;
    - refused by the controller (a contradiction, an unknown fact to retract) -> rejected,
      journaled as refused with the controller's reasons;
    - doubtful, touching a locked fact, or superseding (or retracting) a fact another user
      asserted -> needs_review, journaled as held with the reasons (a curator's or an admin's
      own edits are not held for the last reason: they could approve them anyway);
    - otherwise -> applied (graph, then model).

    The decision is taken once, on the plan the edit is applied with (inside the transaction
    that applies it); a dry run takes the same decision on a read view and writes nothing.

    Concurrency: the write paths here run under the service's lock (``guard``, shared with
    accounts and review), so a submission's decision and application are not interleaved with
    another submission's: of two users racing for the same functional fact, the first applies
    and the second supersedes the first one's fact, so it is held for review. Reads take no
    lock.

    Args:
        store: the graph and its journal; idempotency keys are kept in its documents.
        accounts: who may do what.
        guard: the service's lock.
        toxic: the toxic-edit filter.
        reader: the interpreter for a schema (the interpreter factory, :class:`Readers`).
        model: the knowledge base's model side as attached now (None: graph only), which
            answers questions beside the graph.
        schema: the schema a view holds (``KnowSync._schema``).
        allow_new_relations: whether unknown relations are accepted as new ones, now.
        validate, decide, apply_edit: the engine's checks, decision and write of an edit
            (:data:`Validate`, :data:`Decide`, :class:`ApplyEdit`).
        write_lock: the one writer's lock, held while an edit is journaled and applied.
        retrying: run a write again after a transient store error (``KnowSync._retrying``).
        import_file: the engine's import (:class:`ImportFile`).
        rollback: undo an edit as a user (``KnowSync.rollback``, no cascade).
    """

    def __init__(
        self,
        store: GraphStore,
        accounts: Accounts,
        guard: threading.RLock,
        *,
        toxic: ToxicFilter,
        reader: Callable[[Schema], Interpreter],
        model: Callable[[], ModelSide | None],
        schema: Callable[[GraphView], Schema],
        allow_new_relations: Callable[[], bool],
        validate: Validate,
        decide: Decide,
        apply_edit: ApplyEdit,
        write_lock: threading.RLock,
        retrying: Callable[[Callable[[], EditResult]], EditResult],
        import_file: ImportFile,
        rollback: Callable[[int, str], list[EditResult]],
    ) -> None:
        self.store = store
        self._accounts = accounts
        self._guard = guard
        self._toxic = toxic
        self._reader = reader
        self._model = model
        self._schema = schema
        self._allow_new_relations = allow_new_relations
        self._validate = validate
        self._decide = decide
        self._apply_edit = apply_edit
        self._write_lock = write_lock
        self._retrying = retrying
        self._import_file = import_file
        self._rollback = rollback

    @property
    def model(self) -> ModelSide | None:
        """The knowledge base's model side as attached now (None: graph only)."""
        return self._model()

    def authorize(self, user: str | Account, action: str, *, edit_id: int | None = None) -> Account:
        """See :meth:`knowsync._accounts.Accounts.authorize`."""
        return self._accounts.authorize(user, action, edit_id=edit_id)

    def _read(self, text: str) -> Intent:
        with self.store.read() as view:
            return self._reader(self._schema(view)).read(text, view)

    def parse(self, text: str) -> Intent:
        """What the interpreter reads in ``text`` against the graph as it is now: an edit, a
        retraction, a question, a rollback, or ``Unclear`` with what is missing. Nothing is
        decided or changed.

        Raises:
            InputError: text that cannot be read at all (empty, too long, control characters).
        """
        return self._read(text)

    # ------------------------------------------------------------------ submit

    def submit(self, text: str, *, user: str, new_names: bool = False) -> Submission:
        """Read a sentence and act on it: an edit or removal goes through the filter, the
        conflict rules and review (see the class docstring); a question is answered; an undo
        rolls back (the user's last edit still in force, or one by id); an unclear request
        asks back.

        A name new to the graph enters it only when the user confirms it: an edit naming an
        entity the graph does not have, written without double quotes, is not applied unless
        ``new_names`` is set; the answer is needs_clarification naming every new name, with
        the sentence with those names quoted as the one-click confirmation (see
        :meth:`_confirm_new_names`). Removals, questions and undos create no names.

        Args:
            text: the sentence.
            user: the acting account.
            new_names: the user confirms the names of this edit that are new to the graph.

        Raises:
            InputError: the text is empty, too long, or has control characters; a triple the
                interpreter produced is malformed.
            PermissionDenied: the user's role does not allow what the sentence asks.
            NotFoundError: an undo names an edit that does not exist.
            BackendError: a configured chat backend failed.
        """
        intent = self._read(text)
        data = {"type": intent.kind, **intent.model_dump(mode="json")}
        if isinstance(intent, EditIntent):
            asked = None if new_names else self._confirm_new_names(text, intent, data, user)
            if asked is not None:
                return asked
            return self._submit_edit(intent.as_triples(), [], user=user, sentence=text, intent=data)
        if isinstance(intent, RetractIntent):
            return self._submit_edit([], intent.as_triples(), user=user, sentence=text, intent=data)
        if isinstance(intent, QueryIntent):
            self.authorize(user, "ask")
            return Submission(Decision.ACCEPTED, intent=data, answer=self._answer(intent))
        if isinstance(intent, RollbackIntent):
            return self._submit_rollback(intent, user=user, intent_data=data)
        self.authorize(user, "ask")
        return Submission(
            Decision.NEEDS_CLARIFICATION,
            intent=data,
            question=intent.message,
            suggestions=self._rewrites(text, intent),
            reason=f"missing: {intent.missing}",
        )

    def _confirm_new_names(
        self, text: str, intent: EditIntent, data: dict[str, Any], user: str
    ) -> Submission | None:
        """The question an edit asks before it creates names the user has not confirmed, or
        None when it creates none (see :func:`_unconfirmed`).

        Beside the fuzzy link's "did you mean ...?" (an :class:`interpreter.Unclear` the
        interpreter answers, turned into a question by ``submit``), this is the other half of
        one rule: no name enters the graph by a guess. The one-click answer is the sentence
        with the new names in double quotes, offered when the rules read it as the same edit
        with every new name confirmed (or when a model read the sentence, whose reading the
        rules cannot check).

        Raises:
            PermissionDenied: the user may not submit edits (they are not asked to confirm).
        """
        new = _unconfirmed(intent)
        if not new:
            return None
        self.authorize(user, "submit")
        names = list(dict.fromkeys(ref.name for ref in new))
        said = [_said(ref) for ref in new]
        listed = _and(list(dict.fromkeys(said)))
        if len(names) == 1:
            question = (
                f"{listed} is not in the graph yet. Create it as a new entity? Say it again with "
                f'the name in double quotes ("{said[0]}") to confirm, or check the spelling.'
            )
        else:
            question = (
                f"{listed} are not in the graph yet. Create them as new entities? Say it again "
                "with the names in double quotes to confirm, or check the spelling."
            )
        suggestions: list[str] = []
        with self.store.read() as view:
            rules = Interpreter(self._schema(view), backend=None)
            for quoted in _quotings(text, [ref.mention.strip() for ref in new]):
                again = rules.read(quoted, view)
                if intent.reader == "model" or (
                    isinstance(again, EditIntent)
                    and again.as_triples() == intent.as_triples()
                    and not _unconfirmed(again)
                ):
                    suggestions.append(quoted)
                    break
        return Submission(
            Decision.NEEDS_CLARIFICATION,
            intent=data,
            report={"new_entities": names},
            question=question,
            suggestions=suggestions,
            reason="new names to confirm: " + ", ".join(names),
        )

    def _rewrites(self, text: str, intent: Unclear) -> list[str]:
        """Clickable answers to a clarifying question: the request rewritten with each
        suggestion in place of the words not understood, kept only when the rules then read
        it (for a name, last, the name as written in quotes: a new entity); the bare
        suggestions when the words are not known."""
        span = intent.span
        if not span or span not in text:
            return list(intent.suggestions)
        with self.store.read() as view:
            rules = Interpreter(self._schema(view), backend=None)
            out: list[str] = []
            for suggestion in intent.suggestions:
                said = suggestion.replace("_", " ") if intent.missing == "relation" else suggestion
                shapes = [text.replace(span, said, 1)]
                if intent.missing == "relation":  # "X frobnicates Y" -> "X's nickname is Y"
                    shapes.append(text.replace(f" {span} ", f"'s {said} is ", 1))
                for shape in shapes:
                    if shape not in out and not isinstance(rules.read(shape, view), Unclear):
                        out.append(shape)
                        break
            if intent.missing == "entity" and intent.suggestions and '"' not in span:
                # none of them: the name as written, quoted, is a new entity
                quoted = text.replace(span, f'"{span}"', 1)
                if not isinstance(rules.read(quoted, view), Unclear):
                    out.append(quoted)
        return out or list(intent.suggestions)

    def submit_triples(
        self,
        assert_: Sequence[Sequence[str]] = (),
        retract: Sequence[Sequence[str]] = (),
        *,
        user: str,
        idempotency_key: str | None = None,
        dry_run: bool = False,
    ) -> Submission:
        """Like ``submit`` for an edit given as triples (no interpreter). With ``dry_run``,
        the same decision (toxic filter, rules, hold rules) is returned and nothing written.

        With ``idempotency_key``, a key already seen for the same user and triples returns
        the stored outcome and applies nothing. Outcomes that journal an entry held or
        refused by this module store the key in the same transaction; an applied edit
        reserves the key first and records the outcome after ``KnowSync.edit`` returns; if
        the process dies in between, the retry finds the entry by the reservation (the first
        journal entry after it, by that user, with those triples) instead of applying again.
        Keys are kept until the store is wiped.

        Raises:
            InputError: no triples, a malformed one, an unknown relation, a bad key, or a key
                already used for another request.
            PermissionDenied: the user may not submit edits.
        """
        a = _triples(assert_, "assert")
        r = _triples(retract, "retract")
        if not a and not r:
            raise InputError("nothing to edit: give at least one triple to assert or retract")
        intent: dict[str, Any] = {
            "type": "triples",
            "assert": [list(t) for t in a],
            "retract": [list(t) for t in r],
        }
        return self._submit_edit(
            a,
            r,
            user=user,
            sentence=None,
            intent=intent,
            idempotency_key=idempotency_key,
            dry_run=dry_run,
        )

    def _submit_edit(
        self,
        assert_: list[tuple[str, str, str]],
        retract: list[tuple[str, str, str]],
        *,
        user: str,
        sentence: str | None,
        intent: dict[str, Any],
        idempotency_key: str | None = None,
        dry_run: bool = False,
    ) -> Submission:
        """The one decision on an edit (the toxic filter, the rules, the hold rules), applied,
        or with ``dry_run`` only shown: a dry run cannot disagree with the real call."""
        key = (
            None
            if idempotency_key is None
            else check_text(idempotency_key, "idempotency_key", required=True, limit=_MAX_KEY)
        )
        with self._guard:
            account = self.authorize(user, "submit")
            name = account.name
            fingerprint = _fingerprint(name, assert_, retract)
            if key is not None and not dry_run:
                seen = self._seen_key(key, name, fingerprint, intent)
                if seen is not None:
                    return seen
            verdict = self._toxic.check(assert_, sentence) if assert_ else None
            toxicity = None if verdict is None else verdict.to_dict()
            screen = self._screen(account, verdict)
            allow = self._allow_new_relations()
            if dry_run:
                with self.store.read() as view:
                    *_, report, stop = self._decide(view, assert_, retract, allow, screen)
                decision = Decision.ACCEPTED if stop is None else stop[1]
                if stop is not None:
                    report.update(stop[2])
                return _decided(intent, None, decision, report, toxicity)
            with self.store.read() as view:  # bad input is refused before it is journaled
                self._validate(view, assert_, retract, allow)
            extra: dict[str, Any] = {}
            if sentence is not None:
                extra["sentence"] = sentence
            if key is not None:
                extra["idempotency_key"] = key
                with self.store.write() as tx:  # the retry of a lost answer finds the entry
                    tx.put_doc(
                        "idempotency",
                        _key_doc(name, key),
                        {
                            "user": name,
                            "fingerprint": fingerprint,
                            "after": tx.last_edit_id(),
                            "edit_ids": [],
                        },
                    )
            with self._write_lock:
                result = self._retrying(
                    lambda: self._apply_edit(
                        assert_, retract, name, allow, extra=extra, screen=screen
                    )
                )
            out = _decided(intent, result.edit_id, result.decision, result.report, toxicity)
            if key is not None:
                self._remember(key, name, fingerprint, out)
            return out

    def import_as(
        self,
        user: str,
        path: str | Path,
        *,
        policy: ConflictPolicy | str = ConflictPolicy.SKIP,
        chunk_size: int = 5000,
        fmt: str | None = None,
        allow_new_relations: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> ImportReport:
        """Import a file as ``user``, under the rules an edit by that account meets: rows the
        toxic filter calls toxic are bad rows; rows it is unsure of, and (for non-curators)
        rows that would supersede a fact another user asserted, are skipped with the reason
        (a curator reviews them when they are stated as edits).

        Raises:
            PermissionDenied: the account may not submit (or, for new relations, change the
                schema).
            InputError: as for ``KnowSync.import_file``.
        """
        account = self.authorize(user, "submit")
        if allow_new_relations:
            self.authorize(user, "schema")
        return self._import_file(
            path,
            user=account.name,
            policy=policy,
            chunk_size=chunk_size,
            fmt=fmt,
            allow_new_relations=allow_new_relations or None,
            progress=progress,
            rules=self._import_rules(account),
        )

    def _import_rules(self, account: Account) -> ImportRules:
        toxic = self._toxic
        curator = includes(account.role, Role.CURATOR)

        def row(raw: RawTriple) -> tuple[str, str] | None:
            verdict = toxic.check([raw])
            if verdict.verdict is Verdict.TOXIC:
                return "bad", "refused by the toxic-edit filter: " + "; ".join(verdict.reasons)
            if verdict.verdict is Verdict.DOUBTFUL:
                return "skip", (
                    "held back: the toxic-edit filter is unsure ("
                    + "; ".join(verdict.reasons)
                    + "); state it as an edit so that a curator reviews it"
                )
            return None

        def keep(fact: Fact) -> str | None:
            if curator or fact.kind is not FactKind.ASSERTED or fact.user == account.name:
                return None
            return (
                f"it would supersede {'|'.join(fact.triple)}, asserted by "
                f"{fact.user or 'someone else'}: only a curator may (state it as an edit to "
                "have it reviewed)"
            )

        return ImportRules(row, keep)

    def _screen(self, account: Account, verdict: ToxicVerdict | None) -> Screen:
        """The service's rules over a planned edit by ``account``: refused when the toxic
        filter says toxic; held for a curator when it is unsure, when only locks refuse it,
        or when it supersedes or removes what another user asserted (for non-curators)."""
        toxicity = None if verdict is None else verdict.to_dict()

        def screen(view: GraphView, report: dict[str, Any]) -> Stop | None:
            if verdict is not None and verdict.verdict is Verdict.TOXIC:
                reason = "refused by the toxic-edit filter: " + "; ".join(verdict.reasons)
                return (
                    EditState.REFUSED,
                    Decision.REJECTED,
                    {**refusal_report([Refusal(RefusalKind.TOXIC, reason)]), "toxicity": toxicity},
                )
            held = hold_reasons(account, report, verdict)
            if held is None:
                return None
            reasons, kinds = held
            return (
                EditState.HELD,
                Decision.NEEDS_REVIEW,
                {
                    "held": {"reasons": reasons, "kinds": kinds, "at": now_iso()},
                    "toxicity": toxicity,
                },
            )

        return screen

    def _seen_key(
        self, key: str, user: str, fingerprint: str, intent: dict[str, Any]
    ) -> Submission | None:
        """The stored outcome of an idempotency key, or None when it is new (or its first
        attempt never reached the journal)."""
        with self.store.read() as view:
            doc = view.doc("idempotency", _key_doc(user, key))
            if doc is None:  # a key stored before keys were kept per user
                legacy = view.doc("idempotency", key)
                doc = legacy if legacy is not None and legacy.get("user") == user else None
            if doc is None:
                return None
            if doc.get("user") != user or doc.get("fingerprint") != fingerprint:
                raise InputError(
                    f"the idempotency key {key!r} was used for another request; use a new key",
                    field="idempotency_key",
                )
            if "result" in doc:
                return _from_dict(doc["result"])
            # Reserved, but the outcome was never recorded: the process died mid-way. The
            # first journal entry after the reservation by this user with these triples is
            # the attempt.
            for record in view.edits(
                user=user,
                kinds=[EditKind.EDIT],
                after=int(doc["after"]),
                limit=None,
                newest_first=False,
            ):
                if (
                    _fingerprint(
                        user,
                        [tuple(t) for t in record.request.get("assert", [])],
                        [tuple(t) for t in record.request.get("retract", [])],
                    )
                    == fingerprint
                    and record.state is not EditState.ABORTED
                ):
                    found = _submission(record, intent)
                    break
            else:
                return None
        self._remember(key, user, fingerprint, found)
        return found

    def _remember(self, key: str, user: str, fingerprint: str, out: Submission) -> None:
        with self.store.write() as tx:
            tx.put_doc(
                "idempotency",
                _key_doc(user, key),
                {
                    "user": user,
                    "fingerprint": fingerprint,
                    "edit_ids": [] if out.edit_id is None else [out.edit_id],
                    "result": out.to_dict(),
                },
            )

    def _submit_rollback(
        self, intent: RollbackIntent, *, user: str, intent_data: dict[str, Any]
    ) -> Submission:
        with self._guard:
            account = self.authorize(user, "rollback")
            if intent.target == "last":
                with self.store.read() as view:
                    mine = [
                        r
                        for r in view.edits(
                            user=account.name,
                            kinds=[EditKind.EDIT],
                            states=[EditState.APPLIED],
                            limit=None,
                        )
                        if r.rolled_back_by is None
                    ]
                if not mine:
                    return Submission(
                        Decision.REJECTED,
                        intent=intent_data,
                        reason=f"{account.name} has no edit in force to undo",
                    )
                target = mine[0].id
            else:
                assert intent.edit_id is not None  # the intent's validator guarantees it
                target = intent.edit_id
            self.authorize(account, "rollback", edit_id=target)
            try:
                results = self._rollback(target, account.name)
            except RollbackRefused as exc:
                return Submission(
                    Decision.REJECTED,
                    intent=intent_data,
                    reason=str(exc),
                    report={"rollback_of": target, "dependants": exc.dependants},
                )
            except EditRefused as exc:
                return Submission(
                    Decision.REJECTED,
                    intent=intent_data,
                    reason=str(exc),
                    report={"rollback_of": target, "refusals": exc.reasons},
                )
            except InputError as exc:  # not applied, already rolled back
                return Submission(
                    Decision.REJECTED,
                    intent=intent_data,
                    reason=str(exc),
                    report={"rollback_of": target},
                )
        last = results[-1]
        return Submission(
            Decision.ACCEPTED,
            intent=intent_data,
            edit_id=last.edit_id,
            report=last.report,
            model=list(last.report.get("model", [])),
        )

    # ------------------------------------------------------------------ ask

    def ask(self, question: str, *, user: str | None = None) -> Answer:
        """Answer a question from the graph (with the facts used) and from the edited model.

        Raises:
            InputError: the question is empty, too long, or has control characters.
            PermissionDenied: ``user`` is given and may not ask.
            BackendError: a configured chat backend failed.
        """
        if user is not None:
            self.authorize(user, "ask")
        intent = self._read(question)
        if isinstance(intent, QueryIntent):
            return self._answer(intent)
        if isinstance(intent, Unclear):
            return Answer(
                question,
                unclear={
                    "missing": intent.missing,
                    "message": intent.message,
                    "suggestions": list(intent.suggestions),
                },
            )
        try:
            if user is not None:
                self.authorize(user, "submit")
            advice = "submit it as an edit, or ask"
        except PermissionDenied:  # a viewer cannot submit: do not tell them to
            advice = "your role can ask and read, not change the graph; ask"
        return Answer(
            question,
            unclear={
                "missing": "intent",
                "message": f"This reads as a request ({intent.kind}), not a question; {advice} "
                'something like "Who is the president of America?"',
                "suggestions": [],
            },
        )

    def _answer(self, intent: QueryIntent) -> Answer:
        with self.store.read() as view:
            schema = self._schema(view)
            answer = graph_answer(intent, view)
        return with_model_answer(answer, self.model, schema)
