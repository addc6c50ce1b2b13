"""Conversations: each account's chat with the knowledge base, kept with the knowledge base.

:class:`Conversations` keeps them in the store's documents, beside the accounts and the journal
(so they live wherever the store lives, embedded or on a server): kind ``"conversation"``, key
= the account's name, ``{"messages": [{"role", "content"[, "pending"]}], "updated_at"}``. An
account reads and changes only its own (the session passes its own name).

The chat adds to it (:meth:`Conversations.append`), so two tabs or browsers of one account
both keep what they said, in the order it was said; an answer kept while its edit's model
write was pending carries the submission it was rendered from, and is replaced in place once
the write settles (:meth:`Conversations.settle`), whichever tab or sign-in sees it settle.

A conversation is bounded: the latest :data:`MAX_MESSAGES` messages, at most
:data:`MAX_CONVERSATION_CHARS` characters in all (the oldest messages go first), each message
at most :data:`MAX_MESSAGE_CHARS` characters. What enters is checked strictly
(:func:`check_messages`): a message is ``{"role": "user" | "assistant", "content": str}``
and, for an answer, optionally ``"pending"`` (a submission with its ``edit_id``), nothing
else.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from kg import GraphStore, GraphTxn, InputError, now_iso
from knowsync._accounts import Accounts
from knowsync._outcomes import SUBMISSION, ChatMessage

__all__ = [
    "MAX_CONVERSATION_CHARS",
    "MAX_MESSAGES",
    "MAX_MESSAGE_CHARS",
    "Conversations",
    "check_messages",
]

#: the most messages a conversation keeps (the latest)
MAX_MESSAGES = 200
#: the longest message, in characters (an answer with its tables stays well below)
MAX_MESSAGE_CHARS = 50_000
#: the most characters a conversation keeps in all (the oldest messages go first)
MAX_CONVERSATION_CHARS = 1_000_000

_KIND = "conversation"
_ROLES = ("user", "assistant")


def check_messages(messages: object) -> list[ChatMessage]:
    """The messages of a conversation, checked.

    Args:
        messages: a sequence of :class:`ChatMessage`, or of mappings with the keys ``role``
            (``user`` or ``assistant``) and ``content`` (a string of at most
            :data:`MAX_MESSAGE_CHARS` characters), and for an answer optionally ``pending``
            (a submission as ``Submission.to_dict`` gives it, with its ``edit_id``, at most
            :data:`MAX_MESSAGE_CHARS` characters as JSON).

    Raises:
        InputError: not a sequence, or a message that is not of that shape (the error names
            the message by its index).
    """
    if isinstance(messages, (str, bytes, Mapping)) or not isinstance(messages, Sequence):
        raise InputError("a conversation is a list of messages", field="messages")
    out: list[ChatMessage] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if isinstance(message, ChatMessage):
            role: object = message.role
            content: object = message.content
            pending: object = message.pending
        elif isinstance(message, Mapping):
            extra = sorted(str(k) for k in message if k not in ("role", "content", "pending"))
            if extra:
                raise InputError(
                    f"{where}: a message has a role, a content and maybe a pending submission, "
                    f"not {', '.join(extra)}",
                    field=where,
                )
            role, content = message.get("role"), message.get("content")
            pending = message.get("pending")
        else:
            raise InputError(f"{where}: a message is {{'role', 'content'}}", field=where)
        if role not in _ROLES:
            raise InputError(
                f"{where}: the role is 'user' or 'assistant', not {role!r}", field=f"{where}.role"
            )
        if not isinstance(content, str):
            raise InputError(f"{where}: the content must be text", field=f"{where}.content")
        if len(content) > MAX_MESSAGE_CHARS:
            raise InputError(
                f"{where}: a message holds at most {MAX_MESSAGE_CHARS:,} characters, this one "
                f"{len(content):,}",
                field=f"{where}.content",
            )
        if pending is not None and role != "assistant":
            raise InputError(
                f"{where}: only an answer carries a pending submission", field=f"{where}.pending"
            )
        out.append(
            ChatMessage(
                "user" if role == "user" else "assistant",
                content,
                None if pending is None else _checked_pending(pending, where),
            )
        )
    return out


def _checked_pending(pending: object, where: str) -> dict[str, Any]:
    """A message's pending submission, read as a submission is read and written back in its
    canonical JSON form."""
    field = f"{where}.pending"
    if not isinstance(pending, Mapping):
        raise InputError(f"{where}: the pending submission must be an object", field=field)
    try:
        sub = SUBMISSION.validate_python(dict(pending))
    except ValueError as exc:
        first = str(exc).splitlines()
        raise InputError(
            f"{where}: the pending submission is not a submission"
            + (f" ({first[1].strip()}: {first[2].strip()})" if len(first) > 2 else ""),
            field=field,
        ) from None
    if sub.edit_id is None:
        raise InputError(f"{where}: the pending submission names no edit_id", field=field)
    out = sub.to_dict()
    size = len(json.dumps(out))
    if size > MAX_MESSAGE_CHARS:
        raise InputError(
            f"{where}: a pending submission holds at most {MAX_MESSAGE_CHARS:,} characters as "
            f"JSON, this one {size:,}",
            field=field,
        )
    return out


def _size(message: ChatMessage) -> int:
    return len(message.content) + (len(json.dumps(message.pending)) if message.pending else 0)


def _bounded(messages: list[ChatMessage]) -> list[ChatMessage]:
    """The latest messages within :data:`MAX_MESSAGES` and :data:`MAX_CONVERSATION_CHARS`."""
    kept = messages[-MAX_MESSAGES:]
    total = sum(_size(m) for m in kept)
    start = 0
    while total > MAX_CONVERSATION_CHARS:
        total -= _size(kept[start])
        start += 1
    return kept[start:]


def _read(doc: Mapping[str, Any] | None) -> list[ChatMessage]:
    if doc is None:
        return []
    return [ChatMessage(m["role"], m["content"], m.get("pending")) for m in doc.get("messages", [])]


class Conversations:
    """The accounts' conversations (see the module docstring).

    Args:
        store: where the documents live.
        accounts: who may keep one (any active account; in open mode, any name).
        guard: the lock the service's writes hold.
    """

    def __init__(self, store: GraphStore, accounts: Accounts, guard: threading.RLock) -> None:
        self._store = store
        self._accounts = accounts
        self._guard = guard

    def get(self, user: str) -> list[ChatMessage]:
        """The conversation of ``user``, oldest message first (empty when none is kept).

        Raises:
            PermissionDenied: no such account (while accounts exist), or it is disabled.
        """
        with self._store.read() as view:
            name = self._accounts.authorize_in(view, user, "ask").name
            doc = view.doc(_KIND, name)
        return _read(doc)

    def put(
        self, user: str, messages: Sequence[ChatMessage | Mapping[str, object]]
    ) -> list[ChatMessage]:
        """Replace the conversation of ``user`` with ``messages``; returns what is kept (the
        latest, within the bounds of the module docstring). An empty list clears it.

        Raises:
            InputError: a message that is not ``{"role", "content"}`` as
                :func:`check_messages` says.
            PermissionDenied: no such account (while accounts exist), or it is disabled.
        """
        kept = _bounded(check_messages(messages))
        with self._guard, self._store.write() as tx:
            name = self._accounts.authorize_in(tx, user, "ask").name
            _write(tx, name, kept)
        return kept

    def append(
        self, user: str, messages: Sequence[ChatMessage | Mapping[str, object]]
    ) -> list[ChatMessage]:
        """Add ``messages`` at the end of the conversation of ``user`` (what another tab or
        browser of the account added meanwhile stays, before them); returns what is kept.

        Raises:
            InputError: a message that is not as :func:`check_messages` says (nothing is
                added then).
            PermissionDenied: no such account (while accounts exist), or it is disabled.
        """
        more = check_messages(messages)
        with self._guard, self._store.write() as tx:
            name = self._accounts.authorize_in(tx, user, "ask").name
            kept = _bounded([*_read(tx.doc(_KIND, name)), *more])
            _write(tx, name, kept)
        return kept

    def settle(self, user: str, edit_id: int, content: str) -> bool:
        """Replace the content of the answer of ``user``'s conversation that waits on edit
        ``edit_id``'s model write (its ``pending`` submission names the edit) with
        ``content``, the answer as it reads now the write has settled; the answer no longer
        waits. Returns whether such an answer was kept (False once settled, or cleared).

        Raises:
            InputError: ``content`` is not text, or too long.
            PermissionDenied: no such account (while accounts exist), or it is disabled.
        """
        settled = check_messages([{"role": "assistant", "content": content}])[0]
        with self._guard, self._store.write() as tx:
            name = self._accounts.authorize_in(tx, user, "ask").name
            kept = _read(tx.doc(_KIND, name))
            for index in range(len(kept) - 1, -1, -1):
                pending = kept[index].pending
                if pending is not None and pending.get("edit_id") == edit_id:
                    kept[index] = settled
                    _write(tx, name, kept)
                    return True
        return False

    def clear(self, user: str) -> bool:
        """Forget the conversation of ``user``; returns whether one was kept.

        Raises:
            PermissionDenied: no such account (while accounts exist), or it is disabled.
        """
        with self._guard, self._store.write() as tx:
            name = self._accounts.authorize_in(tx, user, "ask").name
            return tx.delete_doc(_KIND, name)


def _write(tx: GraphTxn, name: str, kept: list[ChatMessage]) -> None:
    if kept:
        tx.put_doc(_KIND, name, {"messages": [m.to_dict() for m in kept], "updated_at": now_iso()})
    else:
        tx.delete_doc(_KIND, name)
