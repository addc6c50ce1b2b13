"""Chat backends: the scripted fake and LangChain (with langchain_core's fake chat models, never
the network). Whatever a model answers is checked against the schema and the graph."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import (
    FakeListChatModel,
    GenericFakeChatModel,
)
from langchain_core.messages import AIMessage

from interpreter import (
    BackendError,
    ChatBackend,
    EditIntent,
    Interpreter,
    LangChainBackend,
    QueryIntent,
    RetractIntent,
    RollbackIntent,
    ScriptedChatBackend,
    Unclear,
)
from kg import GraphView, Schema

UNREADABLE = "Jill and Joe tied the knot, y'know, way back"


def edit(subject: str, relation: str, obj: str, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "edit",
        "triples": [
            {"subject": {"name": subject}, "relation": relation, "object": {"name": obj}, **extra}
        ],
    }


class ToolCallingFake(GenericFakeChatModel):
    """A fake model that supports tool calling, so ``with_structured_output`` takes the
    function-calling path."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return self


@pytest.mark.parametrize(
    "backend_factory",
    [
        lambda answer: ScriptedChatBackend([answer]),
        lambda answer: LangChainBackend(
            GenericFakeChatModel(messages=iter([AIMessage(content=json.dumps(answer))]))
        ),
        lambda answer: LangChainBackend(
            FakeListChatModel(
                responses=["Sure! Here it is:\n```json\n" + json.dumps(answer) + "\n```"]
            )
        ),
        lambda answer: LangChainBackend(
            ToolCallingFake(
                messages=iter(
                    [
                        AIMessage(
                            content="",
                            tool_calls=[
                                {
                                    "name": "IntentEnvelope",
                                    "args": {"intent": answer},
                                    "id": "call1",
                                }
                            ],
                        )
                    ]
                )
            )
        ),
    ],
    ids=["scripted", "langchain-json", "langchain-prose", "langchain-tools"],
)
def test_every_backend_answer_is_relinked_and_checked(
    schema: Schema, view: GraphView, backend_factory: Any
) -> None:
    """One contract for every ChatBackend: the model says 'married_to' (an alias) and names
    entities loosely; the intent comes back canonical, linked, marked as read by the model."""
    answer = edit("jill biden", "married_to", "Joe Biden", new_entity=True)
    answer["triples"][0].pop("new_entity")
    answer["triples"][0]["subject"]["new_entity"] = True  # the model's flag is not trusted
    backend = backend_factory(answer)
    assert isinstance(backend, ChatBackend)
    intent = Interpreter(schema, backend=backend).read(UNREADABLE, view)
    assert isinstance(intent, EditIntent) and intent.reader == "model"
    t = intent.triples[0]
    assert t.as_tuple() == ("Jill_Biden", "spouse", "Joe_Biden")
    assert not t.subject.new_entity and not t.object.new_entity


def test_rules_come_first(schema: Schema, view: GraphView) -> None:
    backend = ScriptedChatBackend([])
    intent = Interpreter(schema, backend=backend).read("Joe Biden's wife is Jill Biden", view)
    assert isinstance(intent, EditIntent) and intent.reader == "rules"
    assert backend.requests == []


def test_the_request_carries_relations_and_candidates(schema: Schema, view: GraphView) -> None:
    backend = ScriptedChatBackend([{"kind": "rollback", "target": "last"}])
    intent = Interpreter(schema, backend=backend).read("scrap what Joe Biden got last", view)
    assert isinstance(intent, RollbackIntent) and intent.reader == "model"
    request = backend.requests[0]
    assert "spouse" in request.relations and "capital" in request.relations
    assert "Joe_Biden" in request.entities


def test_a_relation_outside_the_schema_is_unclear(schema: Schema, view: GraphView) -> None:
    backend = ScriptedChatBackend([edit("Joe Biden", "favourite_dish", "Pasta")])
    intent = Interpreter(schema, backend=backend).read(UNREADABLE, view)
    assert isinstance(intent, Unclear) and intent.missing == "relation"
    assert "favourite_dish" in intent.message


def test_rules_unclear_is_kept_when_the_model_cannot_help(schema: Schema, view: GraphView) -> None:
    backend = ScriptedChatBackend([edit("Joe Biden", "favourite_dish", "Pasta")])
    intent = Interpreter(schema, backend=backend).read("Joe Biden's favourite dish is pasta", view)
    assert isinstance(intent, Unclear) and intent.reader == "rules"
    assert "favourite dish" in intent.message
    assert "favourite dish" in backend.requests[0].hint


def test_the_model_can_map_an_unknown_phrase_to_a_relation(schema: Schema, view: GraphView) -> None:
    backend = ScriptedChatBackend([edit("Joe Biden", "spouse", "Jill Biden")])
    intent = Interpreter(schema, backend=backend).read(
        "Joe Biden's better half is Jill Biden", view
    )
    assert isinstance(intent, EditIntent) and intent.triples[0].relation == "spouse"


def test_queries_and_retractions_from_the_model(schema: Schema, view: GraphView) -> None:
    backend = ScriptedChatBackend(
        [
            {
                "kind": "query",
                "question": "q",
                "subject": {"name": "Tanzania"},
                "relation": "capital city",
            },
            {
                "kind": "retract",
                "triples": [
                    {
                        "subject": {"name": "Tanzania"},
                        "relation": "capital",
                        "object": {"name": "dodoma"},
                    }
                ],
            },
        ]
    )
    interp = Interpreter(schema, backend=backend)
    q = interp.read(UNREADABLE, view)
    assert isinstance(q, QueryIntent) and q.relation == "capital" and q.subject is not None
    assert q.subject.name == "Tanzania"
    r = interp.read(UNREADABLE, view)
    assert isinstance(r, RetractIntent) and r.triples[0].as_tuple() == (
        "Tanzania",
        "capital",
        "Dodoma",
    )


@pytest.mark.parametrize(
    "answer",
    [
        "not json at all",
        {"kind": "edit", "triples": []},
        {"kind": "launch_missiles"},
        {"kind": "rollback", "target": "id"},
    ],
)
def test_invalid_model_answers_raise_backend_error(
    schema: Schema, view: GraphView, answer: Any
) -> None:
    text = answer if isinstance(answer, str) else json.dumps(answer)
    backend = LangChainBackend(GenericFakeChatModel(messages=iter([AIMessage(content=text)])))
    with pytest.raises(BackendError):
        Interpreter(schema, backend=backend).read(UNREADABLE, view)


def test_a_failing_model_raises_backend_error(schema: Schema, view: GraphView) -> None:
    backend = LangChainBackend(GenericFakeChatModel(messages=iter([])))
    with pytest.raises(BackendError, match="chat model failed"):
        Interpreter(schema, backend=backend).read(UNREADABLE, view)
    scripted = ScriptedChatBackend([RuntimeError("boom")])
    with pytest.raises(BackendError, match="boom"):
        Interpreter(schema, backend=scripted).read(UNREADABLE, view)
    with pytest.raises(BackendError, match="no answers left"):
        Interpreter(schema, backend=scripted).read(UNREADABLE, view)


def test_a_model_by_name_that_cannot_be_built(schema: Schema) -> None:
    with pytest.raises(BackendError, match="cannot build chat model"):
        LangChainBackend("no-such-provider:some-model")
