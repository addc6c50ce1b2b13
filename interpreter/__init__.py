"""interpreter: plain language in, typed intents out.

    from interpreter import Interpreter
    with ks.store.read() as view:
        intent = Interpreter(ks.schema).read("Canberra is the capital of Australia", view)

Rules read the common sentence shapes with schema-aware linking; a ``ChatBackend`` reads the
rest, constrained to the schema: by default ``LocalModelBackend`` (the process's local model,
scoring the schema's relations), or any LangChain chat model, or the scripted fake.
"""

from interpreter._backend import (
    SYSTEM_PROMPT,
    ChatBackend,
    ChatRequest,
    LangChainBackend,
    ScriptedChatBackend,
)
from interpreter._errors import BackendError, InterpreterError
from interpreter._guard import MAX_TEXT_LENGTH, check_text
from interpreter._intents import (
    EditIntent,
    EditTriple,
    EntityRef,
    Intent,
    IntentEnvelope,
    QueryIntent,
    RetractIntent,
    RollbackIntent,
    Triple,
    Unclear,
    intent_adapter,
)
from interpreter._interpreter import Interpreter
from interpreter._linker import PHRASES, EntityLink, Linker, RelationPhrase, entity_question
from interpreter._local import FEW_SHOT, KINDS, LocalModelBackend, LocalReading
from interpreter._reader import is_value
from interpreter._spans import MAX_NAME_CHARS, MAX_NAME_WORDS, is_quoted_name, span_problem

__all__ = [
    "FEW_SHOT",
    "KINDS",
    "MAX_NAME_CHARS",
    "MAX_NAME_WORDS",
    "MAX_TEXT_LENGTH",
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
    "LocalModelBackend",
    "LocalReading",
    "QueryIntent",
    "RelationPhrase",
    "RetractIntent",
    "RollbackIntent",
    "ScriptedChatBackend",
    "Triple",
    "Unclear",
    "check_text",
    "entity_question",
    "intent_adapter",
    "is_quoted_name",
    "is_value",
    "span_problem",
]
