"""``Interpreter``: one request in, one checked intent out."""

from __future__ import annotations

import re
from typing import Literal

from interpreter._backend import ChatBackend, ChatRequest
from interpreter._guard import MAX_TEXT_LENGTH, check_text
from interpreter._intents import (
    EditIntent,
    EditTriple,
    EntityRef,
    Intent,
    QueryIntent,
    RetractIntent,
    Triple,
    Unclear,
)
from interpreter._linker import Linker
from interpreter._reader import RuleReader
from kg._schema import Schema
from kg._store import GraphView

__all__ = ["Interpreter"]


class Interpreter:
    """Reads plain-language requests into intents, rules first, then a chat model.

    The rule-based reader handles the common sentence shapes; when it finds no shape, or an
    unknown relation, and a ``backend`` is configured, the backend is asked. The backend's
    answer is constrained: relations must be schema relations (an alias is mapped to its
    canonical name), every entity name is linked again against the graph (``new_entity`` is
    recomputed, never taken from the model). Without a backend such requests give ``Unclear``.
    Nothing prompts; the intent says what was understood.

    Args:
        schema: the relation library.
        backend: the chat model fallback (None: rules only).
        max_length: the longest request accepted, in characters.
        fuzzy_cutoff: the least rapidfuzz ratio (0-100) for a fuzzy entity match.
    """

    def __init__(
        self,
        schema: Schema,
        *,
        backend: ChatBackend | None = None,
        max_length: int = MAX_TEXT_LENGTH,
        fuzzy_cutoff: float = 84.0,
    ) -> None:
        self.schema = schema
        self.backend = backend
        self.max_length = max_length
        self.fuzzy_cutoff = fuzzy_cutoff

    def linker(self, view: GraphView | None) -> Linker:
        """A linker for this schema and one graph snapshot."""
        return Linker(self.schema, view, fuzzy_cutoff=self.fuzzy_cutoff)

    def read(self, text: str, view: GraphView | None = None) -> Intent:
        """Read one request.

        Args:
            text: the request, in English.
            view: the graph snapshot to link names against (None: all names are new).

        Returns:
            One of EditIntent, RetractIntent, QueryIntent, RollbackIntent, Unclear.

        Raises:
            InputError: the text is empty, too long, or holds control characters.
            BackendError: the chat backend failed or answered with an invalid intent.
        """
        checked = check_text(text, max_length=self.max_length)
        linker = self.linker(view)
        ruled = RuleReader(linker).read(checked)
        if ruled is not None and not (
            isinstance(ruled, Unclear) and ruled.missing in ("intent", "relation")
        ):
            return ruled
        if self.backend is None:
            if ruled is not None:
                return ruled
            return Unclear(
                missing="intent",
                message=(
                    "I could not read this as an edit, a removal, a question or an undo. "
                    'Try a sentence like "The capital of Australia is Canberra".'
                ),
            )
        hint = ruled.message if isinstance(ruled, Unclear) else ""
        request = ChatRequest(
            text=checked,
            relations=tuple(r.name for r in self.schema.relations),
            entities=_candidates(checked, view),
            hint=hint,
        )
        proposed = self.backend.propose(request)
        constrained = _constrain(proposed, linker)
        if isinstance(constrained, Unclear) and ruled is not None:
            return ruled
        return constrained

    def extract(self, text: str, view: GraphView | None = None) -> list[Triple]:
        """Best-effort triples stated in prose (several sentences; rules only, no backend).

        Unlike ``read`` this keeps what it can read and skips the rest, so it suits text
        mining, not edit requests.

        Raises:
            InputError: the text is empty, too long, or holds control characters.
        """
        checked = check_text(text, max_length=self.max_length)
        return RuleReader(self.linker(view)).extract(checked)


def _candidates(text: str, view: GraphView | None, limit: int = 30) -> tuple[str, ...]:
    """Graph entities that words of the text may name, for the model's prompt."""
    if view is None:
        return ()
    out: dict[str, None] = {}
    for word in re.findall(r"[A-Za-z][\w\-'.]{2,}", text):
        if word[0].isupper():
            for ent in view.search_entities(word, limit=5):
                out.setdefault(ent.name, None)
        if len(out) >= limit:
            break
    return tuple(out)[:limit]


def _constrain(intent: Intent, linker: Linker) -> Intent:
    """The model's intent with relations checked against the schema and names re-linked."""
    model: Literal["model"] = "model"
    if isinstance(intent, (EditIntent, RetractIntent)):
        triples: list[Triple] = []
        for t in intent.triples:
            rel = _relation(t.relation, linker)
            if isinstance(rel, Unclear):
                return rel
            s = _relink(t.subject, linker)
            o = _relink(t.object, linker)
            old = (
                _relink(t.old_object, linker)
                if isinstance(t, EditTriple) and t.old_object
                else None
            )
            if isinstance(s, Unclear):
                return s
            if isinstance(o, Unclear):
                return o
            if isinstance(old, Unclear):
                return old
            if isinstance(intent, EditIntent):
                triples.append(
                    EditTriple(
                        subject=s,
                        relation=rel,
                        object=o,
                        old_object=old if isinstance(old, EntityRef) else None,
                    )
                )
            else:
                triples.append(Triple(subject=s, relation=rel, object=o))
        if isinstance(intent, EditIntent):
            return EditIntent(
                triples=tuple(t for t in triples if isinstance(t, EditTriple)), reader=model
            )
        return RetractIntent(triples=tuple(triples), reader=model)
    if isinstance(intent, QueryIntent):
        relation: str | None = None
        if intent.relation is not None:
            rel = _relation(intent.relation, linker)
            if isinstance(rel, Unclear):
                return rel
            relation = rel
        subject = _relink(intent.subject, linker) if intent.subject else None
        obj = _relink(intent.object, linker) if intent.object else None
        for part in (subject, obj):
            if isinstance(part, Unclear):
                return part
        return QueryIntent(
            question=intent.question,
            subject=subject if isinstance(subject, EntityRef) else None,
            relation=relation,
            object=obj if isinstance(obj, EntityRef) else None,
            reader=model,
        )
    return intent.model_copy(update={"reader": model})


def _relation(name: str, linker: Linker) -> str | Unclear:
    rel = linker.schema.find(name) if re.match(r"^[^\W\d][\w \-]*$", name) else None
    if rel is not None:
        return rel.name
    by_phrase = linker.relation(name)
    if by_phrase is not None:
        return by_phrase
    suggestions = tuple(linker.suggest_relations(name))
    return Unclear(
        missing="relation",
        message=f"The model proposed the relation {name!r}, which the schema does not know.",
        suggestions=suggestions,
        reader="model",
    )


def _relink(ref: EntityRef, linker: Linker) -> EntityRef | Unclear:
    """Link the model's name (or the words it quoted) against the graph."""
    for text in (ref.name, ref.name.replace("_", " "), ref.mention):
        if not text.strip():
            continue
        link = linker.entity(text)
        if link.ref is not None and not link.ref.new_entity:
            return link.ref.model_copy(update={"mention": ref.mention or text})
        if link.candidates:
            return Unclear(
                missing="entity",
                message=f"{text!r} could mean {', '.join(link.candidates)}; which one?",
                suggestions=link.candidates,
                reader="model",
            )
    link = linker.entity(ref.name)
    if link.ref is None:
        return Unclear(missing="entity", message=f"No usable name in {ref.name!r}.", reader="model")
    return link.ref.model_copy(update={"mention": ref.mention or ref.name})
