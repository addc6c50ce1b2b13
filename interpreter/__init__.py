"""interpreter: plain language in, typed intents out.

    from interpreter import Interpreter
    with ks.store.read() as view:
        intent = Interpreter(ks.schema).read("Canberra is the capital of Australia", view)

Rules read the common sentence shapes with schema-aware linking; a ``ChatBackend`` (any
LangChain chat model, or the scripted fake) reads the rest, constrained to the schema.
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
from interpreter._linker import PHRASES, EntityLink, Linker, RelationPhrase

__all__ = [
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
    "QueryIntent",
    "RelationPhrase",
    "RetractIntent",
    "RollbackIntent",
    "ScriptedChatBackend",
    "Triple",
    "Unclear",
    "check_text",
    "intent_adapter",
]
