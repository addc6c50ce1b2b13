"""Conversations: each account's chat with the knowledge base, kept with the knowledge base.

:class:`Conversations` keeps them in the store's documents, beside the accounts and the journal
(so they live wherever the store lives, embedded or on a server): kind ``"conversation"``, key
= the account's name, ``{"messages": [{"role", "content"}], "updated_at"}``. An account reads
and replaces only its own (the session passes its own name).

A conversation is bounded: the latest :data:`MAX_MESSAGES` messages, at most
:data:`MAX_CONVERSATION_CHARS` characters in all (the oldest messages go first), each message
at most :data:`MAX_MESSAGE_CHARS` characters. What enters is checked strictly
(:func:`check_messages`): a message is ``{"role": "user" | "assistant", "content": str}``
and nothing else.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from kg import GraphStore, InputError, now_iso
from knowsync._accounts import Accounts
from knowsync._outcomes import ChatMessage

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
        messages: a sequence of :class:`ChatMessage`, or of mappings with exactly the keys
            ``role`` (``user`` or ``assistant``) and ``content`` (a string of at most
            :data:`MAX_MESSAGE_CHARS` characters).

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
        elif isinstance(message, Mapping):
            extra = sorted(str(k) for k in message if k not in ("role", "content"))
            if extra:
                raise InputError(
                    f"{where}: a message has only a role and a content, not {', '.join(extra)}",
                    field=where,
                )
            role, content = message.get("role"), message.get("content")
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
        out.append(ChatMessage("user" if role == "user" else "assistant", content))
    return out


def _bounded(messages: list[ChatMessage]) -> list[ChatMessage]:
    """The latest messages within :data:`MAX_MESSAGES` and :data:`MAX_CONVERSATION_CHARS`."""
    kept = messages[-MAX_MESSAGES:]
    total = sum(len(m.content) for m in kept)
    start = 0
    while total > MAX_CONVERSATION_CHARS:
        total -= len(kept[start].content)
        start += 1
    return kept[start:]


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
        if doc is None:
            return []
        return [ChatMessage(m["role"], m["content"]) for m in doc.get("messages", [])]

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
            if kept:
                tx.put_doc(
                    _KIND,
                    name,
                    {"messages": [m.to_dict() for m in kept], "updated_at": now_iso()},
                )
            else:
                tx.delete_doc(_KIND, name)
        return kept

    def clear(self, user: str) -> bool:
        """Forget the conversation of ``user``; returns whether one was kept.

        Raises:
            PermissionDenied: no such account (while accounts exist), or it is disabled.
        """
        with self._guard, self._store.write() as tx:
            name = self._accounts.authorize_in(tx, user, "ask").name
            return tx.delete_doc(_KIND, name)
