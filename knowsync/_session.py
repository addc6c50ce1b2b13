"""The one door: a knowledge base as one account may use it.

A :class:`Session` binds :class:`knowsync.KnowSync` to the acting account (in open mode, a store
without accounts, the local user acting as an admin). Each method authorizes the account for
what it does and goes through the service's rules (the toxic filter, the hold rules, review),
never the unguarded engine's writes (``KnowSync.edit``, ``KnowSync.import_file`` with a bare
user name). The HTTP API, the web app (each request or action through the session of its
signed-in account, :meth:`Session.signed_in`) and the command line on a local store use it;
``tests/ui/test_one_door.py`` checks that no interface calls a governed method on the
knowledge base itself (the command line's owner commands, pinned there, excepted).

:class:`knowsync.Client` offers the same methods with the same results and errors against a
server, so code written against one works against the other (:class:`KnowledgeBase`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from kg import ConflictPolicy, EditRecord, Fact, InputError, Lock, Schema
from knowsync._outcomes import (
    Account,
    Answer,
    ChatMessage,
    EditResult,
    ImportReport,
    Notice,
    Role,
    Submission,
)

if TYPE_CHECKING:
    from knowsync._agreement import AgreementReport
    from knowsync._api import KnowSync
    from knowsync.client import Client

__all__ = ["KnowledgeBase", "Session"]

RawTriple = Sequence[str]


class KnowledgeBase(Protocol):
    """What a local :class:`Session` and a remote :class:`knowsync.Client` both offer."""

    def whoami(self) -> Account: ...

    def submit(self, text: str, *, new_names: bool = False) -> Submission: ...

    def edit(
        self,
        assert_: Sequence[RawTriple] = (),
        retract: Sequence[RawTriple] = (),
        *,
        dry_run: bool = False,
        idempotency_key: str | None = None,
    ) -> EditResult: ...

    def ask(self, question: str) -> Answer: ...

    def rollback(self, edit_id: int, *, cascade: bool = False) -> list[EditResult]: ...

    def rollback_batch(self, batch: str) -> list[EditResult]: ...

    def show(self, edit_id: int) -> tuple[EditRecord, list[Fact], list[Fact]]: ...

    def export(
        self,
        target: str | Path | TextIO,
        *,
        format: str | None = None,
        as_of: int | None = None,
        with_provenance: bool = False,
    ) -> int: ...

    def facts(
        self,
        entity: str,
        *,
        as_of: int | None = None,
        derived: bool = True,
        incoming: bool = False,
    ) -> list[Fact]: ...

    def history(
        self,
        entity: str | None = None,
        *,
        user: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int | None = 50,
    ) -> list[EditRecord]: ...

    def get_edit(self, edit_id: int) -> EditRecord: ...

    def wait_for_model(self, edit_id: int, timeout: float = 600.0) -> EditRecord: ...

    def edit_changes(self, edit_id: int) -> tuple[list[Fact], list[Fact]]: ...

    def neighbourhood(
        self, entity: str, *, hops: int | None = None, fanout: int | None = None
    ) -> list[Fact]: ...

    def path(self, source: str, target: str, *, max_hops: int = 4) -> list[Fact]: ...

    def stats(self) -> dict[str, int]: ...

    def schema(self) -> Schema: ...

    def locks(self, entity: str | None = None) -> list[Lock]: ...

    def lock(
        self,
        entity: str,
        relation: str | None = None,
        object: str | None = None,
        *,
        reason: str = "",
    ) -> Lock: ...

    def unlock(self, lock_id: int) -> Lock: ...

    def review_queue(self) -> list[EditRecord]: ...

    def approve(self, edit_id: int, *, reason: str = "") -> Submission: ...

    def reject(self, edit_id: int, *, reason: str) -> Submission: ...

    def notices(self, *, include_seen: bool = False, limit: int = 50) -> list[Notice]: ...

    def mark_notices_seen(self, up_to: str | None = None) -> str: ...

    def users(self) -> list[Account]: ...

    def get_user(self, name: str) -> Account: ...

    def add_user(self, name: str, role: Role | str = Role.VIEWER) -> tuple[Account, str]: ...

    def set_role(self, name: str, role: Role | str) -> Account: ...

    def disable_user(self, name: str) -> Account: ...

    def enable_user(self, name: str) -> Account: ...

    def new_token(self, name: str, *, label: str = "") -> str: ...

    def revoke_tokens(self, name: str) -> int: ...


class Session:
    """The knowledge base as ``account`` may use it (see the module docstring).

    Args:
        ks: the knowledge base.
        user: the acting account's name; in open mode (no accounts), any name acts as an admin.

    Raises:
        AuthError, PermissionDenied: from each method, when the account may not do it (a
            disabled account may do nothing).
    """

    def __init__(self, ks: KnowSync, user: str) -> None:
        self._ks = ks
        self.user = user

    @classmethod
    def signed_in(cls, ks: KnowSync, token: str) -> Session:
        """The session of the account an API token belongs to.

        Raises:
            AuthError: no token, an unknown or revoked one, or a disabled account.
        """
        return cls(ks, ks.authenticate(token).name)

    @staticmethod
    def open_mode(ks: KnowSync) -> bool:
        """Whether ``ks`` has no accounts yet, so that any name acts as an admin."""
        return not ks.users()

    def whoami(self) -> Account:
        """The acting account, as stored now."""
        return self._ks.authorize(self.user, "ask")

    def authorize(self, action: str, *, edit_id: int | None = None) -> Account:
        """Check that the account may do ``action`` (one of ``knowsync._accounts.ACTIONS``;
        on edit ``edit_id`` for a rollback), before an interface offers it.

        Returns the account as stored now.

        Raises:
            PermissionDenied: the role does not allow it, or the account is disabled or gone.
            InputError: an unknown action.
            NotFoundError: ``edit_id`` names no edit.
        """
        return self._ks.authorize(self.user, action, edit_id=edit_id)

    # ------------------------------------------------------------------ edits

    def submit(self, text: str, *, new_names: bool = False) -> Submission:
        """Act on a sentence: an edit, a retraction, a question or an undo. An edit that
        names entities new to the graph (unquoted) asks to confirm them, unless
        ``new_names`` confirms them (see :meth:`knowsync._submissions.Submissions.submit`)."""
        return self._ks.submit(text, user=self.user, new_names=new_names)

    def submit_triples(
        self,
        assert_: Sequence[RawTriple] = (),
        retract: Sequence[RawTriple] = (),
        *,
        idempotency_key: str | None = None,
        dry_run: bool = False,
    ) -> Submission:
        """Assert and retract triples as one edit, through the service's rules."""
        return self._ks.submit_triples(
            assert_, retract, user=self.user, idempotency_key=idempotency_key, dry_run=dry_run
        )

    def edit(
        self,
        assert_: Sequence[RawTriple] = (),
        retract: Sequence[RawTriple] = (),
        *,
        dry_run: bool = False,
        idempotency_key: str | None = None,
    ) -> EditResult:
        """Assert and retract triples as one edit, answered as an :class:`EditResult` (the
        decision may be ``needs_review``); a dry run takes the same decision, writing nothing.

        Raises:
            InputError: nothing to edit, or a malformed triple.
            UnknownRelationError: a relation the schema does not know.
            PermissionDenied: the account may not submit.
        """
        if not assert_ and not retract:
            raise InputError("nothing to edit: give at least one triple to assert or retract")
        sub = self.submit_triples(
            assert_, retract, idempotency_key=idempotency_key, dry_run=dry_run
        )
        return sub.as_edit_result(dry_run=dry_run)

    def ask(self, question: str) -> Answer:
        """Answer a question from the graph and the model."""
        return self._ks.ask(question, user=self.user)

    def rollback(self, edit_id: int, *, cascade: bool = False) -> list[EditResult]:
        """Undo an edit exactly; with ``cascade``, the later edits that depend on it first.
        The account must be allowed to undo every edit the rollback undoes.

        Raises:
            PermissionDenied: the account may not undo one of those edits.
            RollbackRefused, EditRefused, NotFoundError, InputError: as for
                ``KnowSync.rollback``.
        """
        return self._ks.rollback(edit_id, user=self.user, cascade=cascade, check_roles=True)

    def rollback_batch(self, batch: str) -> list[EditResult]:
        """Undo every edit of an import batch (and the later edits that depend on them).

        Raises:
            PermissionDenied: the account may not undo one of those edits.
            NotFoundError: no edit belongs to that batch.
        """
        self._ks.authorize(self.user, "rollback")
        return self._ks.rollback_batch(batch, user=self.user, check_roles=True)

    # ------------------------------------------------------------------ reads

    def facts(
        self,
        entity: str,
        *,
        as_of: int | None = None,
        derived: bool = True,
        incoming: bool = False,
    ) -> list[Fact]:
        """The facts about an entity (in force, or as of an edit)."""
        self._ks.authorize(self.user, "read")
        return self._ks.facts(entity, as_of=as_of, derived=derived, incoming=incoming)

    def history(
        self,
        entity: str | None = None,
        *,
        user: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int | None = 50,
    ) -> list[EditRecord]:
        """Journal entries, newest first."""
        self._ks.authorize(self.user, "read")
        return self._ks.history(entity, user=user, since=since, until=until, limit=limit)

    def get_edit(self, edit_id: int) -> EditRecord:
        """One journal entry."""
        self._ks.authorize(self.user, "read")
        return self._ks.get_edit(edit_id)

    def wait_for_model(self, edit_id: int, timeout: float = 600.0) -> EditRecord:
        """The journal entry once the model's background sync has covered it (its report's
        ``model_state`` no longer ``pending``), or as it stands after ``timeout`` seconds."""
        self._ks.authorize(self.user, "read")
        deadline = time.monotonic() + timeout
        record = self._ks.get_edit(edit_id)
        while record.report.get("model_state") == "pending" and time.monotonic() < deadline:
            self._ks.wait_for_model(min(1.0, max(0.0, deadline - time.monotonic())))
            record = self._ks.get_edit(edit_id)
        return record

    def edit_changes(self, edit_id: int) -> tuple[list[Fact], list[Fact]]:
        """The facts an edit added and retired."""
        self._ks.authorize(self.user, "read")
        return self._ks.edit_changes(edit_id)

    def show(self, edit_id: int) -> tuple[EditRecord, list[Fact], list[Fact]]:
        """One journal entry with the facts it put in force and retired."""
        self._ks.authorize(self.user, "read")
        added, retired = self._ks.edit_changes(edit_id)
        return self._ks.get_edit(edit_id), added, retired

    def export(
        self,
        target: str | Path | TextIO,
        *,
        format: str | None = None,
        as_of: int | None = None,
        with_provenance: bool = False,
    ) -> int:
        """Write the facts in force (or as of an edit) as CSV or JSONL; the rows written."""
        self._ks.authorize(self.user, "read")
        return self._ks.export(target, format=format, as_of=as_of, with_provenance=with_provenance)

    def export_lines(
        self, *, format: str = "csv", as_of: int | None = None, with_provenance: bool = False
    ) -> Generator[str, None, None]:
        """The text of an :meth:`export`, a line at a time (see ``KnowSync.export_lines``)."""
        self._ks.authorize(self.user, "read")
        return self._ks.export_lines(format=format, as_of=as_of, with_provenance=with_provenance)

    def import_file(
        self,
        path: str | Path,
        *,
        policy: ConflictPolicy | str = ConflictPolicy.SKIP,
        chunk_size: int = 5000,
        fmt: str | None = None,
        allow_new_relations: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> ImportReport:
        """Import a CSV or JSONL file under the rules an edit by this account meets (see
        ``KnowSync.import_as``)."""
        return self._ks.import_as(
            self.user,
            path,
            policy=policy,
            chunk_size=chunk_size,
            fmt=fmt,
            allow_new_relations=allow_new_relations,
            progress=progress,
        )

    def neighbourhood(
        self, entity: str, *, hops: int | None = None, fanout: int | None = None
    ) -> list[Fact]:
        """The facts around an entity."""
        self._ks.authorize(self.user, "read")
        return self._ks.neighbourhood(entity, hops=hops, fanout=fanout)

    def path(self, source: str, target: str, *, max_hops: int = 4) -> list[Fact]:
        """A shortest chain of facts between two entities."""
        self._ks.authorize(self.user, "read")
        return self._ks.path(source, target, max_hops=max_hops)

    def entity_name(self, spelling: str) -> str:
        """The canonical name of the entity ``spelling`` names."""
        self._ks.authorize(self.user, "read")
        return self._ks.entity_name(spelling)

    def search_entities(self, text: str = "", *, limit: int = 20) -> list[str]:
        """Entity names whose key contains ``text``, shortest first."""
        self._ks.authorize(self.user, "read")
        return self._ks.search_entities(text, limit=limit)

    def stats(self) -> dict[str, int]:
        """Counts of entities, facts and edits."""
        self._ks.authorize(self.user, "read")
        return self._ks.stats()

    def schema(self) -> Schema:
        """The relation schema in use."""
        self._ks.authorize(self.user, "read")
        return self._ks.schema

    # ------------------------------------------------------------------ the model

    def model_checks(self, limit: int = 100) -> list[dict[str, Any]]:
        """The recorded agreement checks, oldest first (see ``KnowSync.model_checks``)."""
        self._ks.authorize(self.user, "read")
        return self._ks.model_checks(limit)

    def check_model(
        self,
        *,
        relation: str | None = None,
        limit: int | None = None,
        tick: Callable[[int, int], None] | None = None,
    ) -> AgreementReport:
        """Measure and record the model's agreement with the graph (a curator's action: it
        holds the model for minutes; see ``KnowSync.check_model``)."""
        self._ks.authorize(self.user, "review")
        return self._ks.check_model(relation=relation, limit=limit, tick=tick, user=self.user)

    def sync_model(
        self, *, limit: int | None = None, tick: Callable[[int, int], None] | None = None
    ) -> dict[str, Any]:
        """Bring the model up to date with every fact in force (a curator's action; see
        ``KnowSync.sync_model``)."""
        self._ks.authorize(self.user, "review")
        return self._ks.sync_model(limit=limit, tick=tick)

    # ------------------------------------------------------------------ locks

    def locks(self, entity: str | None = None) -> list[Lock]:
        """The locks in force (about one entity)."""
        self._ks.authorize(self.user, "read")
        return self._ks.locks(entity)

    def lock(
        self,
        entity: str,
        relation: str | None = None,
        object: str | None = None,
        *,
        reason: str = "",
    ) -> Lock:
        """Protect an entity, or one fact: edits touching it wait for a curator."""
        self._ks.authorize(self.user, "lock")
        return self._ks.lock(entity, relation, object, reason=reason, user=self.user)

    def unlock(self, lock_id: int) -> Lock:
        """Remove a lock."""
        self._ks.authorize(self.user, "lock")
        return self._ks.unlock(lock_id, user=self.user)

    # ----------------------------------------------------------------- review

    def review_queue(self) -> list[EditRecord]:
        """Edits waiting for a curator, oldest first.

        Raises:
            PermissionDenied: the account is not a curator.
        """
        self._ks.authorize(self.user, "review")
        return self._ks.review_queue()

    def approve(self, edit_id: int, *, reason: str = "") -> Submission:
        """Release a held edit (see ``KnowSync.approve``)."""
        return self._ks.approve(edit_id, user=self.user, reason=reason)

    def reject(self, edit_id: int, *, reason: str) -> Submission:
        """Refuse a held edit, with a reason the submitter can read."""
        return self._ks.reject(edit_id, user=self.user, reason=reason)

    # ---------------------------------------------------- the account's own

    def conversation(self) -> list[ChatMessage]:
        """The account's conversation with the knowledge base as kept, oldest message first
        (see :mod:`knowsync._conversation`); only its own."""
        return self._ks.conversation(user=self.user)

    def remember(self, messages: Sequence[ChatMessage | Mapping[str, object]]) -> list[ChatMessage]:
        """Keep ``messages`` as the account's conversation, in place of the one kept; returns
        what is kept (the latest messages, within the bounds).

        Raises:
            InputError: a message is not ``{"role": "user" | "assistant", "content": str}``,
                or is too long.
        """
        return self._ks.remember(messages, user=self.user)

    def remember_more(
        self, messages: Sequence[ChatMessage | Mapping[str, object]]
    ) -> list[ChatMessage]:
        """Add ``messages`` at the end of the account's conversation (what its other tabs
        or browsers added stays); returns what is kept.

        Raises:
            InputError: a message is not as :func:`knowsync._conversation.check_messages`
                says; nothing is added then.
        """
        return self._ks.remember_more(messages, user=self.user)

    def settle_message(self, edit_id: int, content: str) -> bool:
        """Put ``content`` in place of the kept answer that waits on edit ``edit_id``'s model
        write (a message kept with ``pending``); whether one waited."""
        return self._ks.settle_message(edit_id, content, user=self.user)

    def forget_conversation(self) -> bool:
        """Forget the account's conversation; whether one was kept."""
        return self._ks.forget_conversation(user=self.user)

    def notices(self, *, include_seen: bool = False, limit: int = 50) -> list[Notice]:
        """The curators' decisions on the account's held edits, newest first: those not yet
        marked seen, or with ``include_seen`` the latest ones (see :mod:`knowsync._inbox`).

        Raises:
            InputError: a bad ``limit``.
        """
        return self._ks.notices(user=self.user, include_seen=include_seen, limit=limit)

    def mark_notices_seen(self, up_to: str | None = None) -> str:
        """Mark the decisions made until ``up_to`` (an ISO time, the ``at`` of the newest
        notice shown; None: now) as seen; returns the mark in force.

        Raises:
            InputError: ``up_to`` is not an ISO time.
        """
        return self._ks.mark_notices_seen(up_to, user=self.user)

    # --------------------------------------------------------------- accounts

    def users(self) -> list[Account]:
        """Every account, by name (for an admin)."""
        self._ks.authorize(self.user, "admin")
        return self._ks.users()

    def account_names(self) -> list[str]:
        """The names of the accounts, by name (for anyone who may read the journal, whose
        entries carry them)."""
        self._ks.authorize(self.user, "read")
        return [a.name for a in self._ks.users()]

    def get_user(self, name: str) -> Account:
        """One account (for an admin).

        Raises:
            NotFoundError: no account has that name.
        """
        self._ks.authorize(self.user, "admin")
        return self._ks.get_user(name)

    def add_user(self, name: str, role: Role | str = Role.VIEWER) -> tuple[Account, str]:
        """Create an account; returns it and its first token, shown only now."""
        return self._ks.add_user(name, role, by=self.user)

    def set_role(self, name: str, role: Role | str) -> Account:
        """Give an account another role."""
        return self._ks.set_role(name, role, by=self.user)

    def disable_user(self, name: str) -> Account:
        """Disable an account and revoke its tokens."""
        return self._ks.disable_user(name, by=self.user)

    def enable_user(self, name: str) -> Account:
        """Enable a disabled account again (it needs a new token)."""
        return self._ks.enable_user(name, by=self.user)

    def new_token(self, name: str, *, label: str = "") -> str:
        """Another API token for an account (its own, or any for an admin), shown only now."""
        return self._ks.new_token(name, label=label, by=self.user)

    def revoke_tokens(self, name: str) -> int:
        """Revoke every token of an account (its own, or any for an admin); how many."""
        return self._ks.revoke_tokens(name, by=self.user)


def _conforms(local: Session, remote: Client) -> tuple[KnowledgeBase, KnowledgeBase]:
    """Checked by mypy: the local and the remote side offer the same interface."""
    return local, remote
