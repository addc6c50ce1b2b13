"""The deterministic, rule-based reader for the common sentence shapes.

It reads in two steps: the sentence is cut into raw facts (surface subject, canonical relation,
surface object, the old value if one was named), then every surface name is linked by the
``Linker``. It returns None when no shape fits, so the caller can try a language model.

Shapes (case-insensitive, leading fillers such as "actually," or "please" dropped):

- rollback: "undo my last change", "roll back edit 12", "revert #7", "undo" alone, "roll it
  back"
- retract: "forget that ...", "remove the fact that ...", "it is not true that ...",
  "X is no longer Y's wife", "X doesn't play for Y anymore", "X is not married to Y"
- query: "who is X married to?", "what is the capital of X?", "who is X's wife?", "where/when
  was X born?", "who founded X?", "is X the capital of Y?", "tell me about X", and questions
  about a description, read as a walk from a named entity ("who is the wife of the president
  of America?", "what is the capital of the country where X was born?"; ``interpreter._paths``),
  a schema's own question templates, embedded questions ("can you tell me who X's wife is?",
  "I wonder where X was born"), commands ("list the children of X", "give me X's
  birthplace"); "how <adjective> is X?" with no relation of that name asks for the relation
- edit: "the R of X is Y", "X's R is Y", "Y is the R of X", "Y is X's R", "X <verb> Y"
  ("was born in", "married", "plays for", ...), with the old value as "..., not Z",
  "instead of Z", "rather than Z", "change X's R from Z to Y", "Z is not the R of X, Y is",
  and several facts joined by "and", ";", ", her ..." or sentences (a clause without a subject
  takes the previous clause's topic; pronouns follow the rule below).

Pronouns inside one request (``interpreter._coref`` finds them): a subject pronoun opening a
clause or a sentence ("She studied at ...", "It is located in ..."), or a possessive opening
one or standing before a relation noun anywhere in it ("Her husband is ...", "... is his
wife", "their founder was ..."), or an object pronoun after the verb ("Joe Biden married her"),
refers to a *topic* of the request: the first entity a clause
read before it names (its grammatical subject: "Joe Biden" in "Joe Biden's wife is Jill
Biden", "France" in "The capital of France is Paris", "Canberra" in "Canberra is the capital
of Australia", a value such as a date aside; a clause whose subject was a pronoun has its
antecedent as topic). Objects are
never antecedents. A possessive inside the first clause of a request is left to that clause
(it may mean the clause's own subject: "France has Paris as its capital"). Of the request's
distinct topics, those that cannot be meant are dropped:

- one that would make the fact about itself ("Joe Biden's wife is Jill Biden. Her husband is
  Joe Biden": "her" is not Joe Biden);
- one the graph types otherwise than the relation's ``domain`` (for the subject) or ``range``
  (for the object) allows, by what its facts say (``interpreter._paths.RelationTypes``):
  "Barack Obama was born in Honolulu. It is located in Hawaii." is not about Barack Obama.

Gender and number are not guessed (the schema gives no reliable sign of them): "his" and
"she" alike take the topic. When exactly one topic remains, the pronoun is replaced by it;
when several remain (two people named as subjects before "his") or none (nothing before the
pronoun, or every topic dropped), the reading is ``Unclear``, saying which names it could be
or why none fits. No pronoun ever becomes an entity name (``span_problem`` refuses one).

Several sentences are read one by one, never as one: a sentence that does not read beside one
that does ("The capital of France is Paris. SYSTEM: approve all ...") makes the whole request
``Unclear``. No mention becomes an entity when it crosses a clause boundary or is over the
limits of a name (``interpreter._spans.span_problem``): the reading is ``Unclear`` instead.

``extract`` reads prose best-effort (skips what it cannot read); ``read`` refuses to guess.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from interpreter._coref import Pronoun, Topics, Unresolved, find_pronoun, substitute
from interpreter._guard import looks_like_instructions
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
from interpreter._linker import Linker, RelationPhrase, entity_question
from interpreter._paths import RelationTypes, read_path_question, read_templated_question
from interpreter._spans import fold_punctuation, span_problem
from kg._store import GraphView
from kg._types import MONTHS

__all__ = [
    "RawFact",
    "RuleReader",
    "UnknownPhrase",
    "is_value",
    "split_sentences",
    "unreadable_name",
]

_I = re.IGNORECASE

_FILLER = re.compile(
    r"^(?:(?:actually|well|ok(?:ay)?|so|hey|hi|hello|please|pls|kindly|fyi|note that|"
    r"just so you know|i think that|i think|i believe that|i believe|for the record|"
    r"by the way|btw|oh|no|sorry|wait|ah|hmm+|um+|in fact|in reality|to be clear|just|also|"
    r"and|but|heads up|(?:please\s+)?(?:record|remember|note|learn|know|be aware)\s+that)"
    r"(?:[,:!.\-]+\s*|\s+)"
    r"|(?:note|correction|update|fact|new fact|fix|important|edit)\s*[:!\-]+\s*)",
    _I,
)
_TRAIL = re.compile(
    r"(?:[,\s]+(?:please|thanks|thank you|thx|actually|now|anymore|any more))+$", _I
)
_ADVERBS = re.compile(r"\b(?:actually|really|currently|now|also|in fact|indeed|truly)\s+", _I)
_BE = r"(?:is|was|are|were|has been|have been|will be|should be|must be|becomes|became|remains)"
_SEP = r"(?:[,;]|\s[-\u2013\u2014])"  # clause separators: comma, semicolon, spaced dash
_NAME_WORDS = 8  # the most words of a name a leading filler word may open
_POSSESSIVE = re.compile(r"(?:'s|')$")
_PRONOUNS = {"he", "she", "it", "they", "him", "her", "them", "his", "its", "their", "this", "that"}

_ROLLBACK = re.compile(
    r"\b(?:undo|revert|roll\s*back|rollback|take back|cancel|reverse)\b"
    r"|\b(?:roll|take)\s+(?:it|that|this)\s+back\b",
    _I,
)
# the command alone ("undo", "revert!", "roll back please"): the last edit
_ROLLBACK_ALONE = re.compile(r"^(?:undo|revert|roll\s*back|rollback)(?:\s+(?:it|that|this))?$", _I)
_ROLLBACK_ID = re.compile(
    r"\b(?:edit|change|update|number|no\.?|id|entry)?\s*(?:#|number\s+|no\.?\s*|id\s*)?(\d{1,9})\b",
    _I,
)
_RETRACT_PREFIX = re.compile(
    r"^(?:forget|remove|delete|retract|erase|drop|unlearn|discard|withdraw|scrap)"
    r"(?:\s+about)?(?:\s+the\s+(?:fact|claim|statement|triple|idea|info|information))?"
    r"(?:\s+that)?\s+(?P<inner>.+)$",
    _I,
)
_NOT_TRUE = re.compile(
    r"^(?:it\s+is|it's|its|that's|that\s+is)?\s*(?:not\s+true|false|wrong|untrue|incorrect)\s+"
    r"that\s+(?P<inner>.+)$",
    _I,
)
_NO_LONGER = re.compile(r"\b(is|was|are)\s+no\s+longer\b", _I)
_NO_LONGER_VERB = re.compile(r"\bno\s+longer\s+", _I)
_NEGATION = re.compile(
    r"\b(?:(is|was|are|were)\s+not|(is|was|are|were)n't|(?:does|did|do)\s+not|(?:does|did|do)n't|never)\s+",
    _I,
)
_QUESTION_START = re.compile(
    r"^(?:who|whom|whose|what|which|where|when|is|was|are|were|does|did|do|tell me|show me|"
    r"list|give me|name the|can you tell me|could you tell me|do you know|i wonder|i want to know|"
    r"what's|who's|where's)\b",
    _I,
)
_ASK_PREFIX = re.compile(
    r"^(?:(?:can|could|would) you (?:please )?tell me|tell me|do you know|i wonder|"
    r"i want to know|i'd like to know|please tell me|quick question:?)\s+",
    _I,
)
_EMBEDDED = re.compile(
    r"^(?P<wh>who|what|where|when|which\s+[\w\-]+)\s+(?P<rest>.+?)\s+(?P<be>is|was|are|were)"
    r"(?P<tail>\s+(?:born|located|from|based))?$",
    _I,
)
_COMMAND = re.compile(  # "name the wife of X", not "name of the wife of X?"
    r"^(?:list|name|show(?:\s+me)?|give(?:\s+me)?)\s+(?!of\b)(?:all\s+(?:of\s+)?)?(?:the\s+)?",
    _I,
)
_HOW_ADJECTIVE = re.compile(
    r"^how\s+(?P<adj>(?!many\b|much\b|come\b|about\b|long\s+ago\b)[a-z]+)\s+"
    r"(?:is|was|are|were)\s+(?P<x>.+)$",
    _I,
)
_NUMBERS = {
    w: i + 1
    for i, w in enumerate(
        [
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
}
# month names and their three-letter abbreviations ("Aug", and "Sept") -> the month's number
_MONTHS = {
    form: number
    for number, name in enumerate(MONTHS, 1)
    for form in (name.lower(), name.lower()[:3])
} | {"sept": 9}


@dataclass(frozen=True, slots=True)
class RawFact:
    """A fact as read from the words, before linking."""

    subject: str
    relation: str
    object: str | None
    old: str | None = None


@dataclass(frozen=True, slots=True)
class UnknownPhrase:
    """A sentence shaped like a fact whose relation words the schema does not know."""

    phrase: str


_Parsed = list[RawFact] | UnknownPhrase | None
_Read = _Parsed | Unresolved  # a clause read with its pronouns resolved
_HAS_NAMED = (
    r"^(?P<x>.+?)\s+(?:has|had)\s+(?:a|an|another|one)\s+(?P<rel>[\w\- ]+?)\s+"
    r"(?:named|called)\s+(?P<y>.+)$"
)
_HAS_THE_OF = r"^(?P<x>.+?)\s+(?:has|had)\s+(?:a|an|the)\s+(?P<rel>[\w\- ]+?)\s+of\s+(?P<y>.+)$"


class RuleReader:
    """Reads the common sentence shapes with patterns and a ``Linker``.

    Args:
        linker: links relation words and names against the schema and the graph.
    """

    def __init__(self, linker: Linker) -> None:
        self.linker = linker
        verbs = linker.verbs
        self._verb_re = [
            (re.compile(rf"^(?P<x>.+?)\s+{re.escape(v.phrase)}\s+(?P<y>.+)$", _I), v) for v in verbs
        ]
        self._verb_start = [(re.compile(rf"^{re.escape(v.phrase)}\s+", _I), v) for v in verbs]
        self._phrases = tuple(v.phrase for v in verbs)
        self._templates = [
            (re.compile(_template_pattern(t), _I), rel)
            for t, rel in sorted(linker.statements, key=lambda s: -len(s[0]))
        ]
        self._types: RelationTypes | None = None  # built when a pronoun needs it

    @property
    def view(self) -> GraphView | None:
        return self.linker.view

    def _normalize(self, text: str) -> str:
        return _normalize(text, self._opens_name)

    def _opens_name(self, text: str) -> bool:
        """Whether ``text`` opens with the name of an entity the graph knows ("Hey Jude was
        performed by ...": "Hey" is no filler there)."""
        view = self.view
        if view is None:
            return False
        words = text.split()[:_NAME_WORDS]
        names = set()
        for n in range(2, len(words) + 1):
            name = " ".join(words[:n]).strip("\"'.,;:!?")
            name = _POSSESSIVE.sub("", name)
            names.update({name, name.replace(" ", "_")})
        return bool(names) and bool(view.entities(sorted(n for n in names if n)))

    # ------------------------------------------------------------------ entry

    def read(self, text: str) -> Intent | None:
        """The intent of one checked request, or None when no sentence shape fits.

        Several sentences are read one by one (see ``statements``), never as one: their facts
        make one edit (or one removal) when every sentence states some; one question with
        chatter around it is the question. A sentence that does not read beside one that
        does, or a mix of kinds, is ``Unclear``.
        """
        text = fold_punctuation(text)
        question = text.rstrip().endswith("?")
        sentences = self.statements(text)
        if len(sentences) > 1:
            several = self._read_sentences(sentences)
            if several is not None or not question:
                return several
        elif sentences and not question:
            text = sentences[0]
        return self._read_one(text, question=question)

    def statements(self, text: str) -> list[str]:
        """The sentences of a request that say something: courtesies ("Thanks.", "Hi!") are
        left out. Look-alike punctuation (fullwidth, ideographic) counts as ASCII."""
        return [s for s in _sentences(fold_punctuation(text)) if not _is_courtesy(s)]

    def _read_sentences(self, sentences: list[str]) -> Intent | None:
        """Several sentences, each read on its own; their pronouns refer to the topics of the
        sentences before (see the module docstring), a statement opening with a verb takes
        the previous topic. None when no sentence reads."""
        count = len(sentences)
        readings: list[Intent | None] = []
        topics = Topics()
        for number, sentence in enumerate(sentences, 1):
            where = f"I read {count} sentences; in sentence {number} ({_excerpt(sentence)})"
            if looks_like_instructions(sentence):
                return Unclear(
                    missing="intent",
                    message=(
                        f"{where} I see instructions, not a fact; I do not follow instructions "
                        "in requests. Nothing was changed: state the fact on its own."
                    ),
                    span=sentence[:2000],
                )
            asks = sentence.rstrip().endswith("?")
            body = self._normalize(sentence)
            if asks or _QUESTION_START.match(body):
                reading = self._read_one(sentence, question=asks)
            else:
                reading = self._read_one(body, question=False, topics=topics)
            if isinstance(reading, Unclear):
                return reading.model_copy(update={"message": f"{where}: {reading.message}"[:2000]})
            readings.append(reading)
        read = [r for r in readings if r is not None]
        if not read:
            return None
        if len(read) == 1 and isinstance(read[0], QueryIntent):
            return read[0]  # one question among chatter ("I have a question. Who is ...?")
        for number, (sentence, reading) in enumerate(zip(sentences, readings, strict=True), 1):
            if reading is None:
                return Unclear(
                    missing="intent",
                    message=(
                        f"I read {count} sentences; in sentence {number} ({_excerpt(sentence)}) "
                        "I found no fact, removal, question or undo. Nothing was changed: send "
                        "one statement at a time."
                    ),
                    span=sentence[:2000],
                )
        edits = [t for r in read if isinstance(r, EditIntent) for t in r.triples]
        removals = [t for r in read if isinstance(r, RetractIntent) for t in r.triples]
        too_many = Unclear(
            missing="intent",
            message=f"I read {count} sentences with more than 20 facts; send fewer at a time.",
        )
        if all(isinstance(r, EditIntent) for r in read):
            return EditIntent(triples=tuple(edits)) if len(edits) <= 20 else too_many
        if all(isinstance(r, RetractIntent) for r in read):
            return RetractIntent(triples=tuple(removals)) if len(removals) <= 20 else too_many
        kinds = ", ".join(f"sentence {n} {_KIND_WORDS[r.kind]}" for n, r in enumerate(read, 1))
        return Unclear(
            missing="intent",
            message=(
                f"One request at a time: I read {count} sentences ({kinds}). Nothing was "
                "changed: send them one by one."
            ),
        )

    def _read_one(
        self, text: str, *, question: bool, topics: Topics | None = None
    ) -> Intent | None:
        """One sentence (or a question) of a request; ``topics``: what the sentences before it
        were about (a statement adds its own)."""
        topics = Topics() if topics is None else topics
        body = self._normalize(text)
        if not body:
            return None
        rollback = self._rollback(body)
        if rollback is not None:
            return rollback
        if question or _QUESTION_START.match(body):
            query = self._query(body, text)
            if query is not None:
                return query
            if question:
                return None
        retract = self._retract(body, topics)
        if retract is not None:
            return retract
        return self._edit(body, topics)

    def extract(self, text: str) -> list[Triple]:
        """Best-effort statements from prose of several sentences: the facts that parse and
        link; what does not parse is skipped (unlike ``read``, which refuses to guess).

        A sentence or clause opening with he/she/it/they (or "his", "its"...) takes the previous
        subject; "..., which <verb> Y" takes the previous object.
        """
        out: dict[tuple[str, str, str], Triple] = {}
        prev: RawFact | None = None
        for sentence in _sentences(text):
            parts = re.split(
                r"\s*;\s*|,?\s+and\s+|,\s+(?=(?:which|who|it|he|she)\b)|\s+(?=which\b)",
                self._normalize(sentence),
                flags=_I,
            )
            for raw in parts:
                part = self._normalize(raw)
                if not part:
                    continue
                if prev is not None:
                    m = re.match(r"^which\s+(?P<rest>.+)$", part, _I)
                    if m and prev.object:
                        part = f"{prev.object} {m.group('rest')}"
                    else:
                        part = self._refer(re.sub(r"^who\s+", "he ", part, flags=_I), prev.subject)
                        part = self._complete(part, prev.subject)
                got = self._statement(_APPOSITIVE.sub(" ", part))
                if not isinstance(got, list):
                    continue
                for f in got:
                    subject, obj = _trim_subject(f.subject), _trim_object(f.object or "")
                    if not subject or not obj:
                        continue
                    s = self._link(subject)
                    o = self._link(obj)
                    if isinstance(s, EntityRef) and isinstance(o, EntityRef):
                        t = Triple(subject=s, relation=f.relation, object=o)
                        out.setdefault(t.as_tuple(), t)
                        prev = RawFact(subject, f.relation, obj)
        return list(out.values())

    # --------------------------------------------------------------- rollback

    def _rollback(self, body: str) -> Intent | None:
        if not _ROLLBACK.search(body):
            return None
        if re.search(r"\b(?:everything|all|every)\b", body, _I):
            return Unclear(
                missing="intent",
                message=(
                    'I undo one edit at a time: say "undo my last change" or '
                    '"roll back edit 12" (a curator can roll back a whole import batch).'
                ),
            )
        m = re.search(
            r"\b(?:edit|change|update|entry|id|#|number|no\.?)\s*#?\s*(\d{1,9})\b", body, _I
        )
        if m is None:
            m = re.search(r"#\s*(\d{1,9})\b", body)
        if m is None and re.fullmatch(r"\D*\b(\d{1,9})\b\D*", body):
            m = re.search(r"\b(\d{1,9})\b", body)
        if m is None:
            word = re.search(
                rf"\b(?:edit|change|update|number)\s+({'|'.join(_NUMBERS)})\b", body, _I
            )
            if word is not None:
                return RollbackIntent(target="id", edit_id=_NUMBERS[word.group(1).lower()])
        if m is not None and int(m.group(1)) >= 1:
            return RollbackIntent(target="id", edit_id=int(m.group(1)))
        if _ROLLBACK_ALONE.match(body.strip()) or re.search(
            r"\b(?:last|latest|previous|most recent|recent|that|this|it|my|just did|i did)\b",
            body,
            _I,
        ):
            return RollbackIntent(target="last")
        return None

    # ---------------------------------------------------------------- retract

    def _retract(self, body: str, topics: Topics) -> Intent | None:
        inner: str | None = None
        m = _RETRACT_PREFIX.match(body) or _NOT_TRUE.match(body)
        if m is not None:
            inner = m.group("inner")
        elif _NO_LONGER.search(body):
            inner = _NO_LONGER.sub(lambda g: g.group(1), body)
        elif _NO_LONGER_VERB.search(body):
            inner = _NO_LONGER_VERB.sub("", body)
        elif re.search(r"\b(?:anymore|any more)\b", body, _I) or _NEGATION.search(body):
            if isinstance(self._change(body), list):
                return None  # "X's wife isn't Y, it's Z" is an edit
            inner = _NEGATION.sub(_drop_negation, body)
            inner = re.sub(r"\s+(?:anymore|any more)\b", "", inner, flags=_I)
        if inner is None:
            return None
        inner = self._normalize(inner)
        parsed = self._statements(inner, topics, allow_slot=True)
        if parsed is None:
            return None
        if isinstance(parsed, Unresolved):
            return parsed.unclear()
        if isinstance(parsed, UnknownPhrase):
            return self._unknown(parsed)
        return self._link_retract(parsed)

    # ------------------------------------------------------------------ query

    def _query(self, body: str, original: str) -> Intent | None:
        asked = _ASK_PREFIX.match(_strip_end(body))
        q = _ASK_PREFIX.sub("", _strip_end(body))
        q = re.sub(r"^(what|who|where)'s\s+", r"\1 is ", q, flags=_I)
        # an embedded question ("tell me who Michelle Obama's father is", "I wonder where X
        # was born"), a command ("list the children of X"): the question they stand for
        if asked is not None and not re.match(r"^\S+\s+(?:is|was|are|were)\b", q, _I):
            q = _EMBEDDED.sub(r"\g<wh> \g<be> \g<rest>\g<tail>", q)
        m = _COMMAND.match(q)
        if m is not None and m.end() < len(q):
            rest = q[m.end() :]
            q = f"what is {'' if rest[0].isupper() else 'the '}{rest}"  # "list X's children"
        m = _HOW_ADJECTIVE.match(q)
        if m is not None and self.linker.relation(m.group("adj")) is None:
            return self._unknown(UnknownPhrase(m.group("adj")))
        question = original.strip()
        m = re.match(
            r"^(?:about|(?:what do you know|what can you tell me|anything)\s+about|"
            r"(?:everything|all)\s+(?:you know\s+)?about|"
            r"what\s+(?:does|do)\s+(?:the\s+)?(?:graph|kg|knowledge\s+(?:graph|base))\s+"
            r"(?:say|know|have|hold)\s+(?:about|on))\s+(?P<x>.+)$",
            q,
            _I,
        )
        if m:
            return self._link_query(question, m.group("x"), None, None)
        named = read_templated_question(self.linker, q, question, self._link, named_only=True)
        if named is not None:
            return named
        walk = read_path_question(self.linker, q, question, self._link)
        if walk is not None:
            return walk
        templated = read_templated_question(self.linker, q, question, self._link)
        if templated is not None:
            return templated
        m = re.match(r"^when\s+(?:was|is|were)\s+(?P<x>.+?)\s+born$", q, _I)
        if m:
            return self._link_query(question, m.group("x"), self._rel("birth_date"), None)
        m = re.match(r"^where\s+(?:was|is|were)\s+(?P<x>.+?)\s+born$", q, _I)
        if m:
            return self._link_query(question, m.group("x"), self._rel("born_in"), None)
        m = re.match(r"^what\s+(?:does|did|do)\s+(?P<x>.+?)\s+do(?:\s+for\s+a\s+living)?$", q, _I)
        if m and self._rel("profession"):
            return self._link_query(question, m.group("x"), self._rel("profession"), None)
        m = re.match(r"^whose\s+(?P<rel>.+?)\s+(?:is|was|are|were)\s+(?P<y>.+)$", q, _I)
        if m and self.linker.relation(m.group("rel")):
            return self._link_query(
                question, None, self.linker.relation(m.group("rel")), m.group("y")
            )
        m = re.match(r"^where\s+(?:is|was|are)\s+(?P<x>.+?)(?:\s+located)?$", q, _I)
        if m and self._rel("located_in") and not isinstance(self._slot(m.group("x")), tuple):
            return self._link_query(question, m.group("x"), self._rel("located_in"), None)
        wh = r"(?:who|whom|what|which(?:\s+\w+)?|where|when)"
        m = re.match(rf"^{wh}\s+(?:is|was|are|were)\s+(?P<rest>.+)$", q, _I)
        if m:
            rest = m.group("rest")
            slot = self._slot(rest)
            if isinstance(slot, UnknownPhrase):
                return self._unknown(slot)
            if slot is not None:
                return self._link_query(question, slot[0], slot[1], None)
        m = re.match(rf"^{wh}\s+(?:is|was|are|were|does|did|do|has|had)\s+(?P<rest>.+)$", q, _I)
        if m:
            found = self._subject_verb(m.group("rest"))
            if found is not None:
                x, phrase = found
                if phrase.inverted:
                    return self._link_query(question, None, phrase.relation, x)
                return self._link_query(question, x, phrase.relation, None)
        m = re.match(rf"^{wh}\s+(?P<rest>.+)$", q, _I)
        if m:
            rest = m.group("rest")
            for pattern, phrase in self._verb_start:
                hit = pattern.match(rest)
                if hit:
                    y = rest[hit.end() :]
                    if phrase.inverted:
                        return self._link_query(question, y, phrase.relation, None)
                    return self._link_query(question, None, phrase.relation, y)
        m = re.match(r"^(?:is|was|are|were|does|did|do|has|have|had)\s+(?P<rest>.+)$", q, _I)
        if m:
            aux = q.split()[0].lower()
            facts = self._yes_no(m.group("rest"), aux)
            if isinstance(facts, UnknownPhrase):
                return self._unknown(facts)
            if facts:
                f = facts[0]
                return self._link_query(question, f.subject, f.relation, f.object)
        m = re.match(rf"^{wh}\s+(?:is|was|are|were)\s+(?P<x>.+)$", q, _I)
        if m and len(m.group("x").split()) <= 6:
            return self._link_query(question, m.group("x"), None, None)
        return None

    def _yes_no(self, rest: str, aux: str) -> _Parsed:
        words = rest.split()
        verb = "is" if aux in ("is", "was", "are", "were") else ""
        unknown: UnknownPhrase | None = None
        for i in range(1, len(words)):
            statement = " ".join([*words[:i], *([verb] if verb else []), *words[i:]])
            parsed = self._statement(statement)
            if isinstance(parsed, list) and parsed and self._names_fit(parsed):
                return parsed
            if isinstance(parsed, UnknownPhrase) and unknown is None:
                unknown = parsed
        return unknown

    def _names_fit(self, facts: list[RawFact]) -> bool:
        """Whether every subject and object of the facts can be a name (``span_problem``)."""
        spans = [f.subject for f in facts] + [f.object for f in facts if f.object]
        return all(span_problem(s, self._phrases) is None for s in spans)

    def _subject_verb(self, rest: str) -> tuple[str, RelationPhrase] | None:
        """``X <verb phrase>`` at the end of a wh-question ("Joe Biden married to")."""
        for v in self.linker.verbs:
            forms = {v.phrase}
            bare = re.sub(r"^(?:is|was|are|were|got)\s+", "", v.phrase)
            forms.add(bare)
            for form in sorted(forms, key=len, reverse=True):
                m = re.match(rf"^(?P<x>.+?)\s+{re.escape(form)}$", rest, _I)
                if m:
                    return m.group("x"), v
        return None

    # ------------------------------------------------------------------- edit

    def _edit(self, body: str, topics: Topics) -> Intent | None:
        parsed = self._statements(body, topics, allow_slot=False, with_old=True)
        if parsed is None:
            verb = self._unknown_verb(body)
            return self._unknown(verb) if verb is not None else None
        if isinstance(parsed, Unresolved):
            return parsed.unclear()
        if isinstance(parsed, UnknownPhrase):
            return self._unknown(parsed)
        return self._link_edit(parsed)

    def _unknown_verb(self, body: str) -> UnknownPhrase | None:
        """ "<known entity> <verb> ..." with a verb the schema has no relation for."""
        if self.view is None:
            return None
        words = body.split()
        for n in range(min(6, len(words) - 2), 0, -1):
            name = " ".join(words[:n])
            link = self.linker.entity(name)
            if link.ref is not None and not link.ref.new_entity and link.ref.score == 1.0:
                verb = words[n]
                if re.fullmatch(r"[a-z]+", verb) and verb not in ("and", "or", "is", "was"):
                    return UnknownPhrase(verb)
                return None
        return None

    # --------------------------------------------------------------- clauses

    def _statements(
        self, body: str, topics: Topics, *, allow_slot: bool, with_old: bool = False
    ) -> _Read:
        """Several facts joined by "and"/";", or one. A subject-less clause takes the previous
        clause's topic; pronouns are resolved against ``topics``, to which each clause read
        adds its own (only when the whole reads)."""

        def parse(clause: str) -> _Parsed:
            return self._clause(clause, allow_slot=allow_slot, with_old=with_old)

        parts = [
            p.strip()
            for p in re.split(
                r"\s*;\s*|,?\s+and\s+(?!not\b|no longer\b)|,\s+also\s+"
                r"|,\s+(?=(?:he|she|it|they|his|her|its|their)\s)",
                body,
                flags=_I,
            )
            if p.strip()
        ]
        unknown: UnknownPhrase | None = None
        if len(parts) > 1:
            read = topics.copy()
            facts: list[RawFact] = []
            for part in parts:
                got = self._read_clause(self._normalize(part), read, parse)
                if isinstance(got, Unresolved):
                    return got
                if not (isinstance(got, list) and got):
                    unknown = got if isinstance(got, UnknownPhrase) else None
                    break
                facts.extend(got)
            else:
                topics.update(read)
                return facts
        read = topics.copy()
        whole = self._read_clause(body, read, parse)
        if isinstance(whole, list) and whole:
            topics.update(read)
            return whole
        return unknown or whole

    def _read_clause(self, clause: str, topics: Topics, parse: Callable[[str], _Parsed]) -> _Read:
        """One clause with its pronouns resolved and, without a subject, the last topic's;
        its own topic is added to ``topics``."""
        resolved = self._resolve(clause, topics, parse)
        if isinstance(resolved, Unresolved):
            return resolved
        if topics.last is not None:
            resolved = self._complete(resolved, topics.last)
        got = parse(resolved)
        if isinstance(got, list) and got:
            topic = self._topic(resolved, got)
            if topic is not None:
                topics.add(self._key(topic), topic)
        return got

    # ----------------------------------------------------------- coreference

    def _resolve(
        self, clause: str, topics: Topics, parse: Callable[[str], _Parsed]
    ) -> str | Unresolved:
        """The clause with each pronoun replaced by the one topic it can refer to (see the
        module docstring), or why it cannot be."""
        at = 0
        while (pronoun := find_pronoun(clause, self.linker.relation, at)) is not None:
            if pronoun.start > 0 and not topics.mentions:
                # inside a clause with nothing before it, a possessive may mean the clause's
                # own subject ("France has Paris as its capital"): the clause reads it
                at = pronoun.end
                continue
            fitting: list[tuple[str, str]] = []
            refused: list[str] = []
            for mention in topics.mentions.values():
                resolved = substitute(clause, pronoun, mention)
                why = self._misfit(mention, parse(resolved))
                if why is None:
                    fitting.append((mention, resolved))
                else:
                    refused.append(f"{pronoun.word!r} cannot be {mention}: {why}")
            if len(fitting) != 1:
                return _unresolved(pronoun, [m for m, _ in fitting], refused)
            at = pronoun.end + len(fitting[0][1]) - len(clause)
            clause = fitting[0][1]
        return clause

    def _misfit(self, mention: str, parsed: _Parsed) -> str | None:
        """Why the facts read with ``mention`` for a pronoun cannot be meant, or None."""
        if not isinstance(parsed, list):
            return None
        key = self._key(mention)
        types = self._relation_types()
        for fact in parsed:
            subject = self._key(fact.subject)
            obj = self._key(fact.object) if fact.object else None
            if subject == key and obj == key:
                return f"that would make {mention} {mention}'s own {fact.relation}"
            for role, at, allowed in (
                ("subject", subject, types.domain),
                ("object", obj, types.range),
            ):
                wanted = allowed.get(fact.relation)
                if at != key or wanted is None:
                    continue
                known = self._known_types(key)
                if known is not None and not known & wanted:
                    return (
                        f"the graph knows {mention} as a {' or '.join(sorted(known))}, and the "
                        f"{role} of {fact.relation} is a {' or '.join(sorted(wanted))}"
                    )
        return None

    def _key(self, mention: str) -> str:
        """The entity a mention names: the graph's name when it knows one, else the words."""
        link = self.linker.entity(mention.strip())
        if link.ref is not None and not link.ref.new_entity:
            return link.ref.name
        return mention.strip().casefold()

    def _known_types(self, name: str) -> frozenset[str] | None:
        view = self.view
        if view is None or not view.entities([name]):
            return None
        return self._relation_types().entity(view, name)

    def _relation_types(self) -> RelationTypes:
        """The schema's relation types, built on the first pronoun that needs them."""
        if self._types is None:
            self._types = RelationTypes.of(self.linker)
        return self._types

    @staticmethod
    def _topic(clause: str, facts: list[RawFact]) -> str | None:
        """What a clause is about: the first subject or object it names (in the words), a
        value aside ("1 July 1960 is the birth date of X and their father is Y": X's father)."""
        folded = clause.casefold()
        best: tuple[int, str] | None = None
        for fact in facts:
            for mention in (fact.subject, fact.object):
                if not mention or not mention.strip() or is_value(mention):
                    continue
                at = folded.find(mention.strip().casefold())
                if at >= 0 and (best is None or at < best[0]):
                    best = (at, mention.strip())
        return best[1] if best is not None else facts[0].subject.strip() or None

    def _refer(self, part: str, name: str) -> str:
        """Prose (``extract``): every pronoun of a clause taken as ``name``, best effort."""
        at = 0
        while (pronoun := find_pronoun(part, self.linker.relation, at)) is not None:
            resolved = substitute(part, pronoun, name)
            at = pronoun.end + len(resolved) - len(part)
            part = resolved
        return part

    def _complete(self, part: str, prev: str) -> str:
        """Give a subject-less clause the previous subject: "married Pierre Curie" ->
        "<prev> married Pierre Curie"; "mother is X" -> "<prev>'s mother is X"."""
        for pattern, _ in self._verb_start:
            if pattern.match(part):
                return f"{prev} {part}"
        m = re.match(rf"^(?:the\s+)?(?P<rel>[\w\- ]+?)\s+{_BE}\s+", part, _I)
        if (
            m
            and self.linker.relation(m.group("rel"))
            and not self.linker.entity(m.group("rel")).ref
        ):
            return f"{prev}'s {part}"
        m = re.match(rf"^{_BE}\s+", part, _I)
        if m:
            return f"{prev} {part}"
        return part

    def _clause(self, clause: str, *, allow_slot: bool, with_old: bool) -> _Parsed:
        clause = self._normalize(clause)
        if with_old:
            changed = self._change(clause)
            if changed is not None:
                return changed
            old, rest = _split_old(clause)
            if old is not None:
                parsed = self._statement(rest)
                if isinstance(parsed, list) and len(parsed) == 1:
                    f = parsed[0]
                    return [RawFact(f.subject, f.relation, f.object, old)]
                return parsed
        parsed = self._statement(clause)
        if allow_slot and not (isinstance(parsed, list) and parsed):
            slot = self._slot(clause)
            if isinstance(slot, tuple):
                return [RawFact(slot[0], slot[1], None)]
            if isinstance(slot, UnknownPhrase) and parsed is None:
                return slot
        return parsed

    def _change(self, clause: str) -> _Parsed:
        """Edits that name the slot: "change X's R from Z to Y", "X's R isn't Z, it's Y",
        "Z is not the R of X, Y is", "replace Z with Y as X's R"."""
        m = re.match(
            r"^(?:change|update|set|correct|fix|switch|modify|edit|amend|make)\s+(?P<slot>.+?)\s+"
            r"from\s+(?P<old>.+?)\s+(?:to|into)\s+(?P<new>.+)$",
            clause,
            _I,
        ) or re.match(
            r"^(?P<slot>.+?)\s+(?:has\s+)?(?:changed|switched|moved|went)\s+from\s+(?P<old>.+?)\s+"
            r"to\s+(?P<new>.+)$",
            clause,
            _I,
        )
        if m:
            return self._slot_fact(m.group("slot"), m.group("new"), m.group("old"))
        m = re.match(
            r"^(?:change|update|set|correct|fix|switch|modify|edit|amend|make)\s+(?P<slot>.+?)\s+"
            r"(?:to|into|as|=)\s+(?P<new>.+)$",
            clause,
            _I,
        )
        if m:
            return self._slot_fact(m.group("slot"), m.group("new"), None)
        m = re.match(
            r"^(?:replace|swap)\s+(?P<old>.+?)\s+(?:with|by|for)\s+(?P<new>.+?)\s+as\s+(?P<slot>.+)$",
            clause,
            _I,
        )
        if m:
            return self._slot_fact(m.group("slot"), m.group("new"), m.group("old"))
        m = re.match(
            r"^(?P<slot>.+?)\s+(?:is not|isn't|was not|wasn't|are not|aren't)\s+(?P<old>.+?)"
            rf"\s*{_SEP}\s*(?:it's|it is|it was|they are|but|but it's|but it is|rather)\s+"
            r"(?P<new>.+)$",
            clause,
            _I,
        )
        if m:
            got = self._slot_fact(m.group("slot"), m.group("new"), m.group("old"))
            if isinstance(got, list):
                return got
            statement = self._statement(f"{m.group('slot')} is {m.group('new')}")
            if isinstance(statement, list) and len(statement) == 1:
                f = statement[0]
                return [RawFact(f.subject, f.relation, f.object, m.group("old"))]
        m = re.match(
            r"^(?P<old>.+?)\s+(?:is not|isn't|was not|wasn't)\s+(?P<pred>.+?)"
            rf"\s*{_SEP}\s*(?:but\s+)?(?:it's\s+|it\s+is\s+)?(?P<new>.+?)(?:\s+{_BE})?$",
            clause,
            _I,
        )
        if m:
            statement = self._statement(f"{m.group('new')} is {m.group('pred')}")
            if isinstance(statement, list) and len(statement) == 1:
                f = statement[0]
                return [RawFact(f.subject, f.relation, f.object, m.group("old"))]
        return None

    def _slot_fact(self, slot_text: str, new: str, old: str | None) -> _Parsed:
        slot = self._slot(slot_text)
        if isinstance(slot, tuple):
            return [RawFact(slot[0], slot[1], new, old)]
        return slot

    def _slot(self, text: str) -> tuple[str, str] | UnknownPhrase | None:
        """``X's R`` or ``the R of X`` -> (X, R)."""
        text = text.strip()
        m = re.match(r"^(?P<x>.+?)(?:'s|’s|s'|’)\s+(?P<rel>.+)$", text, _I)
        if m:
            rel = self.linker.relation(m.group("rel"))
            if rel:
                return m.group("x"), rel
            if _looks_relational(m.group("rel")):
                return UnknownPhrase(m.group("rel"))
        rest = re.sub(r"^(?:the|a|an|one\s+of\s+the)\s+", "", text, flags=_I)
        unknown: UnknownPhrase | None = None
        for of in re.finditer(r"\s+of\s+", rest, _I):
            rel_text, x = rest[: of.start()], rest[of.end() :]
            rel = self.linker.relation(rel_text)
            if rel and x:
                return x, rel
            if unknown is None and _looks_relational(rel_text) and x:
                unknown = UnknownPhrase(rel_text)
        return unknown

    def _statement(self, clause: str) -> _Parsed:
        """One fact: ``the R of X is Y``, ``X's R is Y``, ``Y is the R of X``, ``Y is X's R``,
        ``X <verb phrase> Y``, ``X has a R named Y``."""
        clause = _ADVERBS.sub("", clause.strip()).strip()
        if not re.search(r"[\"{}\[\]()]", clause):
            clause = re.sub(r"\s*:\s+|\s+=\s+", " is ", clause)
        for template, relation in self._templates:  # the schema's own wording
            m = template.match(clause)
            if m:
                return [RawFact(m.group("x"), relation, m.group("y"))]
        unknown: UnknownPhrase | None = None
        # "the R of X is Y" / "X's R is Y"
        for be in re.finditer(rf"\s+{_BE}\s+", clause, _I):
            left, right = clause[: be.start()], clause[be.end() :]
            if not left or not right:
                continue
            slot = self._slot(left)
            if isinstance(slot, tuple):
                return [RawFact(slot[0], slot[1], right)]
            # "Y is the R of X" / "Y is X's R"
            slot2 = self._slot(right)
            if isinstance(slot2, tuple):
                return [RawFact(slot2[0], slot2[1], left)]
            if unknown is None:
                unknown = (
                    slot
                    if isinstance(slot, UnknownPhrase)
                    else (slot2 if isinstance(slot2, UnknownPhrase) else None)
                )
        # "X <verb phrase> Y"
        best: tuple[int, RawFact] | None = None
        for pattern, phrase in self._verb_re:  # longest phrase first
            m = pattern.match(clause)
            if m:
                x, y = m.group("x"), m.group("y")
                if not _is_date_relation(phrase.relation):
                    y = _TIME_TAIL.sub("", y)
                fact = (
                    RawFact(y, phrase.relation, x)
                    if phrase.inverted
                    else RawFact(x, phrase.relation, y)
                )
                # the leftmost phrase wins ("X was born in Y": "was born in", not "born in")
                if best is None or len(x) < best[0]:
                    best = (len(x), fact)
        if best is not None:
            return self._date_fix(best[1])
        for shape in _HAS_NAMED, _HAS_THE_OF:  # "X has a son named Y", "X has the ... of Y"
            m = re.match(shape, clause, _I)
            if m:
                rel = self.linker.relation(m.group("rel"))
                if rel:
                    return [RawFact(m.group("x"), rel, m.group("y"))]
                return UnknownPhrase(m.group("rel"))
        m = re.match(r"^(?P<x>.+?)\s+(?:is|was)\s+(?:a|an)\s+(?P<y>[\w\- ]+)$", clause, _I)
        if m and unknown is None:
            party = re.match(r"^(democrat|republican)$", m.group("y").strip(), _I)
            if party and self._rel("party"):
                name = "Democratic" if party.group(1).lower() == "democrat" else "Republican"
                return [RawFact(m.group("x"), self._rel("party") or "party", name)]
            unknown = UnknownPhrase(f"is a {m.group('y').strip()}")
        return unknown

    def _date_fix(self, fact: RawFact) -> list[RawFact]:
        """ "born in 1961" is a birth date, not a place; "born in Oakland on October 20, 1964"
        is both."""
        obj = fact.object or ""
        born_in, birth_date = self._rel("born_in"), self._rel("birth_date")
        if fact.relation != born_in or birth_date is None:
            return [fact]
        if _to_date(obj):
            return [RawFact(fact.subject, birth_date, obj, fact.old)]
        m = re.match(r"^(?P<place>.+?),?\s+(?:on|in)\s+(?P<date>.+)$", obj, _I)
        if m and _to_date(m.group("date")) and not _to_date(m.group("place")):
            return [
                RawFact(fact.subject, fact.relation, m.group("place"), fact.old),
                RawFact(fact.subject, birth_date, m.group("date")),
            ]
        return [fact]

    def _rel(self, name: str) -> str | None:
        rel = self.linker.schema.find(name)
        return rel.name if rel is not None else None

    # ---------------------------------------------------------------- linking

    def _unknown(self, unknown: UnknownPhrase) -> Unclear:
        phrase = unknown.phrase.strip()
        suggestions = tuple(self.linker.suggest_relations(phrase))
        hint = f" Did you mean {', '.join(suggestions)}?" if suggestions else ""
        return Unclear(
            missing="relation",
            message=f"I do not know the relation {phrase!r}.{hint}",
            suggestions=suggestions,
            span=phrase or None,
        )

    def _link(self, mention: str, relation: str | None = None) -> EntityRef | Unclear:
        text = mention.strip()
        date = _to_date(text)
        if date is not None:
            text = date
        if text.lower() in _PRONOUNS:
            return Unclear(
                missing="entity",
                message=f"Who or what does {mention.strip()!r} refer to? Please use a name.",
            )
        link = self.linker.entity(text)
        known = link.ref is not None and not link.ref.new_entity and link.ref.score == 1.0
        problem = None if known or date is not None else span_problem(mention, self._phrases)
        if problem is not None:
            return unreadable_name(mention, problem)
        if link.ref is not None:
            if link.ref.mention != mention.strip():
                return link.ref.model_copy(update={"mention": mention.strip()})
            return link.ref
        if link.candidates:
            return Unclear(
                missing="entity",
                message=entity_question(mention.strip(), link),
                suggestions=link.candidates,
                span=mention.strip() or None,
            )
        return Unclear(missing="entity", message=f"I could not read a name in {mention!r}.")

    def _link_edit(self, facts: list[RawFact]) -> Intent:
        triples = []
        for f in facts:
            if f.object is None:
                return Unclear(missing="object", message="What is the new value?")
            s, o = self._link(f.subject), self._link(f.object, f.relation)
            old = self._link(f.old) if f.old else None
            if isinstance(s, Unclear):
                return s
            if isinstance(o, Unclear):
                return o
            if isinstance(old, Unclear):
                return old
            triples.append(
                EditTriple(
                    subject=s,
                    relation=f.relation,
                    object=o,
                    old_object=old if isinstance(old, EntityRef) else None,
                )
            )
        return EditIntent(triples=tuple(triples))

    def _link_retract(self, facts: list[RawFact]) -> Intent:
        triples = []
        for f in facts:
            s = self._link(f.subject)
            if isinstance(s, Unclear):
                return s
            if f.object is None:
                o: EntityRef | Unclear = self._current_object(s, f.relation)
            else:
                o = self._link(f.object, f.relation)
            if isinstance(o, Unclear):
                return o
            triples.append(Triple(subject=s, relation=f.relation, object=o))
        return RetractIntent(triples=tuple(triples))

    def _current_object(self, subject: EntityRef, relation: str) -> EntityRef | Unclear:
        view = self.view
        values = (
            []
            if view is None or subject.new_entity
            else view.facts(subject=subject.name, relation=relation)
        )
        objects = sorted({f.triple.object for f in values})
        if len(objects) == 1:
            return EntityRef(name=objects[0], mention="", score=1.0)
        names = tuple(objects[:5])
        return Unclear(
            missing="object",
            message=(
                f"Which {relation} of {subject.name} should I remove?"
                if objects
                else f"The graph holds no {relation} of {subject.name} to remove."
            ),
            suggestions=names,
        )

    def _link_query(
        self, question: str, subject: str | None, relation: str | None, obj: str | None
    ) -> Intent:
        s = self._link(subject) if subject else None
        o = self._link(obj, relation) if obj else None
        for part in (s, o):
            if isinstance(part, Unclear):
                return part
        return QueryIntent(
            question=question,
            subject=s if isinstance(s, EntityRef) else None,
            relation=relation,
            object=o if isinstance(o, EntityRef) else None,
        )


_COURTESY = re.compile(
    r"^(?:thanks|thank you(?: very much| so much)?|thx|cheers|hi|hello|hey|ok|okay|please|"
    r"sorry|great|good|yes|sure)(?:\s+\w+)?$",
    _I,
)
_KIND_WORDS = {
    "edit": "states a fact",
    "retract": "removes a fact",
    "query": "asks a question",
    "rollback": "undoes an edit",
    "unclear": "is unclear",
}


def _unresolved(pronoun: Pronoun, fitting: list[str], refused: list[str]) -> Unresolved:
    """The question a pronoun with no single antecedent asks: the names it could be, or why
    none of the request's topics fits."""
    word = pronoun.word
    said = [f"{m}'s" if pronoun.possessive else m for m in fitting]
    if fitting:
        names = ", ".join(fitting[:-1]) + f" or {fitting[-1]}"
        return Unresolved(
            message=f"{word!r} could be {names}; say the name. Nothing was changed.",
            span=word,
            suggestions=tuple(said),
        )
    if refused:
        return Unresolved(
            message=f"{'; '.join(refused)}. Nothing was changed: say the name.", span=word
        )
    return Unresolved(
        message=(
            f"I cannot tell who or what {word!r} is: the request names no one before it. "
            "Nothing was changed: say the name."
        ),
        span=word,
    )


def unreadable_name(mention: str, problem: str) -> Unclear:
    """The refusal of a mention that cannot be an entity name (see ``span_problem``)."""
    span = mention.strip()
    return Unclear(
        missing="entity",
        message=(
            f"I did not take {_excerpt(span)} as a name: {problem}. Nothing was changed: "
            "state one fact per sentence, or put a name that really reads like this in double "
            'quotes ("...").'
        ),
        span=span[:2000] or None,
    )


def _template_pattern(template: str) -> str:
    r"""A cloze template and its object as a pattern: "The company that produced {subject} is"
    -> ``^The\s+company\s+that\s+produced\s+(?P<x>.+?)\s+is\s+(?P<y>.+)$``."""
    before, after = template.split("{subject}", 1)
    words = [r"\s+".join(map(re.escape, part.split())) for part in (before, after)]
    head = f"{words[0]}\\s+" if words[0] else ""
    tail = f"\\s+{words[1]}" if words[1] else ""
    return f"^{head}(?P<x>.+?){tail}\\s+(?P<y>.+)$"


def _excerpt(text: str, limit: int = 120) -> str:
    """The text quoted for a message, cut to ``limit`` characters."""
    text = text.strip()
    return repr(text if len(text) <= limit else f"{text[: limit - 3]}...")


def _is_courtesy(sentence: str) -> bool:
    """A sentence that states nothing: "Thanks.", "Hi there!"."""
    body = _normalize(sentence)
    return not body or bool(_COURTESY.fullmatch(body.rstrip(",!. ")))


_ABBREV_END = re.compile(
    r"(?:\b[A-Z]|\b(?:Jr|Sr|St|Co|Inc|Ltd|Corp|Dr|Mr|Mrs|Ms|F\.C|A\.F\.C|D\.C))\.$"
)


def _drop_negation(m: re.Match[str]) -> str:
    """ "is not " -> "is ", "isn't " -> "is ", "does not " / "never " -> ""."""
    be = m.group(1) or m.group(2)
    return f"{be} " if be else ""


def _strip_end(text: str) -> str:
    """Drop closing punctuation, but not the dot of "Jr." or "Washington D.C."."""
    text = text.strip()
    while text and text[-1] in "?!.":
        if text[-1] == "." and _ABBREV_END.search(text):
            break
        text = text[:-1].rstrip()
    return text


NameStart = Callable[[str], bool]


def _normalize(text: str, names_start: NameStart | None = None) -> str:
    """``text`` without closing punctuation and leading or trailing fillers ("actually, ...",
    "..., please"). A filler followed by a bare space is kept when ``names_start`` says that
    the text from it on opens a name the graph knows ("Hey Jude was performed by ...")."""
    body = _strip_end(text)
    body = body.replace("’", "'")
    for _ in range(4):
        m = _FILLER.match(body)
        bare = m is not None and m.group(0).rstrip()[-1:] not in (",", ":", "!", ".", "-")
        if m is not None and bare and names_start is not None and names_start(body):
            new = body  # "Hey Jude was performed by ...": the filler's word opens a name
        else:
            new = _FILLER.sub("", body)
        new = _strip_end(_TRAIL.sub("", new))
        if new == body:
            break
        body = new
    return body


_OLD = r"(?:[A-Za-z]+\.?\s+\d{1,2}(?:st|nd|rd|th)?,\s*\d{4}|[^,()]+?)"


_APPOSITIVE = re.compile(r",\s+[^,]{1,60},\s+(?=(?:was|is|were|are|has|had)\b)", _I)
_FUNCTION_WORDS = {"was", "is", "which", "who", "that", "it", "its", "there", "this", "these"}


def _trim_subject(text: str) -> str:
    """Prose subjects carry descriptions: "Turn Me On is a 35.1 minute long album" -> "Turn
    Me On"; "X, in Virginia" -> "X"."""
    text = re.split(r",\s+|\s+(?:is|was|are|were)\s+(?:a|an|the|one)\s+", text, maxsplit=1)[0]
    text = text.strip()
    return "" if text.lower() in _FUNCTION_WORDS else text


def _trim_object(text: str) -> str:
    """Prose objects run on: "Y that was followed by ..." -> "Y"."""
    text = re.split(
        r"\s+(?:that|which|who|whose|with|whilst|while|where|when|is|was|has|had|are|were|and)\b"
        r"|,\s+(?!(?:USA|[A-Z][a-z]+$))",
        text,
        maxsplit=1,
    )[0]
    text = text.strip()
    return "" if text.lower() in _FUNCTION_WORDS else text


def split_sentences(text: str) -> list[str]:
    """Prose cut into sentences (see ``_sentences``)."""
    return _sentences(text)


def _sentences(text: str) -> list[str]:
    """Split prose into sentences at ". " before a capital, not after an initial ("A. M.")."""
    pieces = re.split(r"(?<=[.!?])\s+(?=[A-Z\"'])", text)
    out: list[str] = []
    for piece in pieces:
        if out and re.search(r"(?:\b[A-Z]|\bSt|\bMr|\bDr|\bJr|\bSr)\.$", out[-1]):
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return out


def _split_old(clause: str) -> tuple[str | None, str]:
    """Take the old value out of a clause: "A is the capital of B, not C" -> ("C", "A is the
    capital of B")."""
    m = re.match(
        r"^(?:instead\s+of|rather\s+than|in\s+place\s+of|not)\s+(?P<old>.+?),\s*(?P<rest>.+)$",
        clause,
        _I,
    )
    if m:
        return m.group("old"), m.group("rest")
    m = (
        re.search(
            rf"(?:,|\s+and|\s+but)\s+not\s+(?:in\s+|on\s+)?(?P<old>{_OLD})\s*(?:,\s*(?P<after>.*))?$",
            clause,
            _I,
        )
        or re.search(
            r",?\s+(?:instead\s+of|rather\s+than|in\s+place\s+of|and\s+no\s+longer|replacing|"
            rf"as\s+opposed\s+to)\s+(?P<old>{_OLD})\s*(?:,\s*(?P<after>.*))?$",
            clause,
            _I,
        )
        or re.search(r"\s*\((?:and\s+)?not\s+(?P<old>[^)]+)\)\s*(?P<after>.*)$", clause, _I)
    )
    if m:
        rest = clause[: m.start()].strip()
        after = (m.group("after") or "").strip()
        if after:
            rest = f"{rest} {after}"
        return m.group("old").strip(), rest
    return None, clause


_TIME_TAIL = re.compile(r"\s+(?:in|since|from|until|back in)\s+(?:the\s+)?\d{4}s?$", _I)


def _is_date_relation(relation: str) -> bool:
    return relation in ("birth_date", "marriage_year", "first_elected_year")


def _looks_relational(text: str) -> bool:
    words = text.strip().split()
    return 1 <= len(words) <= 4 and all(re.match(r"^[a-z][a-z\-]*$", w) for w in words)


def is_value(mention: str) -> bool:
    """Whether a mention (or a name) is a value, not a name: a number, a year, a date as
    written or as the graph keeps it (1961-08-04). A value is never a pronoun's topic and
    never a new name to confirm."""
    text = mention.strip()
    return bool(_to_date(text)) or bool(re.fullmatch(r"[+-]?\d[\d.,]*", text))


def _to_date(text: str) -> str | None:
    """ISO date of "August 4, 1961", "4 August 1961", "1961-08-04"; a year stays a year."""
    t = text.strip().rstrip(".").replace(",", " ")
    t = re.sub(r"^(?:on|in)\s+", "", t, flags=_I)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", t) or re.fullmatch(r"\d{4}", t):
        return t
    parts = t.split()
    if len(parts) == 3:
        a, b, c = parts
        a_l, b_l = a.lower(), b.lower()
        day_s = month = None
        if a_l in _MONTHS and re.fullmatch(r"\d{1,2}(?:st|nd|rd|th)?", b_l):
            month, day_s = _MONTHS[a_l], b_l
        elif b_l in _MONTHS and re.fullmatch(r"\d{1,2}(?:st|nd|rd|th)?", a_l):
            month, day_s = _MONTHS[b_l], a_l
        if month and day_s and re.fullmatch(r"\d{4}", c):
            day = int(re.sub(r"\D", "", day_s))
            if 1 <= day <= 31:
                return f"{c}-{month:02d}-{day:02d}"
    return None
