"""Conversations: each account's chat, kept in the store's documents, bounded and checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from kg import InputError
from knowsync import KnowSync
from knowsync._conversation import MAX_CONVERSATION_CHARS, MAX_MESSAGE_CHARS, MAX_MESSAGES
from knowsync._outcomes import ChatMessage, PermissionDenied
from knowsync._session import Session

EXCHANGE = [
    {"role": "user", "content": "The capital of France is Paris"},
    {"role": "assistant", "content": "<div>Applied · edit #1</div>"},
]


def test_each_account_keeps_its_own(kb: KnowSync) -> None:
    editor, other = Session(kb, "editor"), Session(kb, "editor2")
    assert editor.conversation() == []
    kept = editor.remember(EXCHANGE)
    assert kept == [ChatMessage("user", EXCHANGE[0]["content"]), ChatMessage(**EXCHANGE[1])]
    assert editor.conversation() == kept
    assert other.conversation() == []  # another account sees none of it
    other.remember([{"role": "user", "content": "hello"}])
    assert editor.conversation() == kept  # nor changes it
    assert [m.content for m in other.conversation()] == ["hello"]
    with kb.store.read() as view:
        assert [k for k, _ in view.docs("conversation")] == ["editor", "editor2"]


def test_remember_replaces_and_an_empty_one_clears(kb: KnowSync) -> None:
    editor = Session(kb, "editor")
    editor.remember(EXCHANGE)
    editor.remember([*EXCHANGE, ChatMessage("user", "and Lyon?")])
    assert [m.content for m in editor.conversation()][-1] == "and Lyon?"
    assert editor.remember([]) == []
    with kb.store.read() as view:
        assert view.doc("conversation", "editor") is None
    editor.remember(EXCHANGE)
    assert editor.forget_conversation() is True
    assert editor.conversation() == []
    assert editor.forget_conversation() is False


def test_kept_with_the_store_across_a_restart(tmp_path: Path) -> None:
    ks = KnowSync(str(tmp_path / "kb.db"))
    ks.add_user("alice", "editor")
    Session(ks, "alice").remember(EXCHANGE)
    ks.close()
    again = KnowSync(str(tmp_path / "kb.db"))
    try:
        assert [m.to_dict() for m in Session(again, "alice").conversation()] == EXCHANGE
    finally:
        again.close()


def test_the_latest_messages_are_kept(kb: KnowSync) -> None:
    editor = Session(kb, "editor")
    many = [{"role": "user", "content": f"message {i}"} for i in range(MAX_MESSAGES + 50)]
    kept = editor.remember(many)
    assert len(kept) == MAX_MESSAGES
    assert kept[0].content == "message 50" and kept[-1].content == f"message {MAX_MESSAGES + 49}"
    assert editor.conversation() == kept
    big = "x" * MAX_MESSAGE_CHARS
    count = MAX_CONVERSATION_CHARS // MAX_MESSAGE_CHARS
    kept = editor.remember([*[{"role": "assistant", "content": big}] * (count + 3), EXCHANGE[0]])
    assert len(kept) == count  # the oldest went, the characters fit, the last one stays
    assert sum(len(m.content) for m in kept) <= MAX_CONVERSATION_CHARS
    assert kept[-1].content == EXCHANGE[0]["content"]


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        ("hello", "a list of messages"),
        ({"role": "user", "content": "hi"}, "a list of messages"),
        ([["user", "hi"]], r"messages\[0\]: a message is"),
        ([{"role": "system", "content": "obey"}], r"'user' or 'assistant', not 'system'"),
        ([EXCHANGE[0], {"role": "user", "content": 3}], r"messages\[1\]: the content must be text"),
        ([{"role": "user"}], "the content must be text"),
        ([{"role": "user", "content": "hi", "options": []}], "not options"),
        ([{"role": "user", "content": "x" * (MAX_MESSAGE_CHARS + 1)}], "at most 50,000"),
    ],
)
def test_what_enters_is_checked(kb: KnowSync, messages: object, message: str) -> None:
    editor = Session(kb, "editor")
    editor.remember(EXCHANGE)
    with pytest.raises(InputError, match=message):
        editor.remember(messages)  # type: ignore[arg-type]
    assert [m.to_dict() for m in editor.conversation()] == EXCHANGE  # unchanged


def test_only_active_accounts_keep_one(kb: KnowSync) -> None:
    with pytest.raises(PermissionDenied, match="no account named 'nobody'"):
        Session(kb, "nobody").remember(EXCHANGE)
    Session(kb, "editor").remember(EXCHANGE)
    kb.disable_user("editor", by="admin")
    with pytest.raises(PermissionDenied, match="disabled"):
        Session(kb, "editor").conversation()


def test_open_mode_keeps_the_local_users() -> None:
    ks = KnowSync("memory://")
    try:
        Session(ks, "me").remember(EXCHANGE)
        assert len(Session(ks, "me").conversation()) == 2
        assert Session(ks, "you").conversation() == []
    finally:
        ks.close()


def _pending(edit_id: int) -> dict[str, object]:
    return {
        "decision": "accepted",
        "edit_id": edit_id,
        "report": {"added": [], "model_state": "pending"},
    }


def test_two_tabs_add_and_keep_both(kb: KnowSync) -> None:
    """Two tabs (or browsers) of one account each add their exchange: both are kept, in the
    order they were said, where replacing the whole conversation kept only the last tab's."""
    tab_a, tab_b = Session(kb, "editor"), Session(kb, "editor")
    tab_a.remember_more(EXCHANGE)
    tab_b.remember_more([{"role": "user", "content": "Who is the wife of Barack Obama?"}])
    kept = tab_a.remember_more([{"role": "user", "content": "and Lyon?"}])
    assert [m.content for m in kept] == [
        EXCHANGE[0]["content"],
        EXCHANGE[1]["content"],
        "Who is the wife of Barack Obama?",
        "and Lyon?",
    ]
    assert tab_b.conversation() == kept
    many = [{"role": "user", "content": f"m{i}"} for i in range(MAX_MESSAGES)]
    assert [m.content for m in tab_b.remember_more(many)] == [f"m{i}" for i in range(200)]


def test_a_pending_answer_is_kept_with_its_submission_and_settled_in_place(
    kb: KnowSync,
) -> None:
    editor = Session(kb, "editor")
    editor.remember_more(
        [
            {"role": "user", "content": "The capital of France is Lyon"},
            {
                "role": "assistant",
                "content": "Applied · edit #7 · Model: pending",
                "pending": _pending(7),
            },
            {"role": "user", "content": "later"},
        ]
    )
    kept = editor.conversation()
    assert kept[1].pending is not None and kept[1].pending["edit_id"] == 7
    assert kept[1].pending["report"]["model_state"] == "pending"
    assert kept[1].to_dict()["pending"] == kept[1].pending  # round trip through the store
    assert editor.settle_message(8, "not this one") is False
    assert editor.settle_message(7, "Applied · edit #7 · Model: follows") is True
    kept = editor.conversation()
    assert [m.content for m in kept] == [
        "The capital of France is Lyon",
        "Applied · edit #7 · Model: follows",
        "later",
    ]
    assert all(m.pending is None for m in kept)
    assert editor.settle_message(7, "again") is False  # settled once, by whichever tab
    assert kept == editor.conversation()


@pytest.mark.parametrize(
    ("pending", "message"),
    [
        ("pending", "must be an object"),
        ({"decision": "maybe", "edit_id": 1}, "is not a submission"),
        ({"decision": "accepted"}, "names no edit_id"),
        ({**_pending(1), "reason": "x" * MAX_MESSAGE_CHARS}, "at most 50,000 characters as JSON"),
    ],
)
def test_a_pending_submission_is_checked(kb: KnowSync, pending: object, message: str) -> None:
    editor = Session(kb, "editor")
    editor.remember(EXCHANGE)
    with pytest.raises(InputError, match=message):
        editor.remember_more([{"role": "assistant", "content": "x", "pending": pending}])
    with pytest.raises(InputError, match="only an answer carries"):
        editor.remember_more([{"role": "user", "content": "x", "pending": _pending(1)}])
    assert [m.to_dict() for m in editor.conversation()] == EXCHANGE  # nothing added
