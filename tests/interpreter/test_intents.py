"""The intent models are strict, and the public surface is pinned."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

import interpreter
from interpreter import (
    EditIntent,
    IntentEnvelope,
    RollbackIntent,
    Unclear,
    intent_adapter,
)
from kg import KnowsyncError


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        EditIntent.model_validate(
            {
                "triples": [
                    {
                        "subject": {"name": "A"},
                        "relation": "capital",
                        "object": {"name": "B"},
                        "confidence": 0.9,
                    }
                ]
            }
        )
    with pytest.raises(ValidationError):
        Unclear(missing="relation", message="?", shell="rm -rf /")  # type: ignore[call-arg]


def test_an_edit_needs_a_triple() -> None:
    with pytest.raises(ValidationError):
        EditIntent(triples=())


def test_rollback_needs_an_id_exactly_when_targeting_one() -> None:
    assert RollbackIntent(target="id", edit_id=4).edit_id == 4
    with pytest.raises(ValidationError):
        RollbackIntent(target="id")
    with pytest.raises(ValidationError):
        RollbackIntent(target="last", edit_id=4)
    with pytest.raises(ValidationError):
        RollbackIntent(target="id", edit_id=0)


def test_the_union_dispatches_on_kind_and_round_trips() -> None:
    data = {
        "kind": "edit",
        "triples": [
            {
                "subject": {"name": "Australia"},
                "relation": "capital",
                "object": {"name": "Canberra", "new_entity": True},
                "old_object": {"name": "Sydney"},
            }
        ],
    }
    intent = intent_adapter().validate_python(data)
    assert isinstance(intent, EditIntent)
    assert intent.triples[0].as_tuple() == ("Australia", "capital", "Canberra")
    again = intent_adapter().validate_json(intent.model_dump_json())
    assert again == intent
    env = IntentEnvelope.model_validate({"intent": {"kind": "rollback", "target": "last"}})
    assert isinstance(env.intent, RollbackIntent)


def test_exported_members() -> None:
    assert set(interpreter.__all__) == {
        "FEW_SHOT",
        "KINDS",
        "LocalModelBackend",
        "LocalReading",
        "entity_question",
        "is_quoted_name",
        "is_value",
        "MAX_TEXT_LENGTH",
        "MAX_NAME_CHARS",
        "MAX_NAME_WORDS",
        "PHRASES",
        "SYSTEM_PROMPT",
        "BackendError",
        "ChatBackend",
        "ChatRequest",
        "EditIntent",
        "EditTriple",
        "EntityLink",
        "EntityRef",
        "Intent",
        "IntentEnvelope",
        "Interpreter",
        "InterpreterError",
        "LangChainBackend",
        "Linker",
        "QueryIntent",
        "RelationPhrase",
        "RetractIntent",
        "RollbackIntent",
        "ScriptedChatBackend",
        "Triple",
        "Unclear",
        "check_text",
        "intent_adapter",
        "span_problem",
    }
    for name in interpreter.__all__:
        assert hasattr(interpreter, name)
    assert issubclass(interpreter.InterpreterError, KnowsyncError)
    assert issubclass(interpreter.BackendError, interpreter.InterpreterError)
