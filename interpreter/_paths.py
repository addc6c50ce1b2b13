"""Questions about a description: a walk of relations from a named entity.

"Who is the wife of the president of America?" asks for ``spouse`` of ``president`` of
``America``: the entity named is where the walk starts, the relations are walked innermost
first. Two readings, tried in order:

- the shape of the words: "the R1 of the R2 of X", "X's R2's R1", "the R1 of X's R2" (an
  "of" binds more loosely than a possessive: "the capital of Hey Jude's performer's country"
  is the capital of the country of the performer of Hey Jude);
- any other wording ("the capital of the country where X was born", "the CEO who developed
  X"): the entity the graph knows by a name in the question, and the relations the question
  names (``Linker.mentions``). Their order is the one the graph can walk from that entity
  (the words alone do not tell it: "the country where the developer of X holds citizenship"
  walks ``developer`` before ``citizenship``); of several, the one closest to the order of the
  words (nearest the entity first), and when none walks to the end, the one that walks
  farthest, so the answer can say which hop the graph lacks. A relation noun heading a
  relative clause ("the country where ...") may be a mere type word: it is dropped when the
  walk needs it dropped; so may a relation the wh- phrase names ("in which country does X
  hold citizenship"). The relation first named by a noun is what is asked and is walked;
  where the wh- phrase names a type of the schema's that this relation's objects have
  ("which language is officially spoken"), any relation named whose objects have it may be
  the one walked. A walk whose objects are not of that type ("in which city does X hold
  citizenship" reaches a country) takes one hop more where one relation of the facts of the
  entity reached leads to the type (the country's capital). The words that name a type are
  the schema's type names and the nouns its cloze templates give their objects ("... born in
  the city of").

A hop the words leave implicit is walked only when the schema types the relation named
(``domain``/``range``, types joined by "|") and the graph has no fact of it for the one entity
reached: when the relation does not fit what the entity's facts say it is ("the manager of <a
song>": the song's performer's manager), the one relation of the entity's facts that fits in
between by the types and leads on; else, or when none fits, the one relation of its facts
after which the graph has the relation named ("<a player>'s sport": the sport of the player's
position). Of two that lead on, neither is guessed: the walk stops and the answer names the
missing hop. A reading that adds fewer implicit hops is preferred; the answer's path shows
the hops added.

A relation word said of an entity it cannot apply to ("the country where <a person> is
from": ``country`` is said of places, organisations and works) means the one relation of the
entity's facts whose name holds the word and whose objects are of its type
(``country_of_citizenship``); of two, neither is guessed. The head noun of "what is the
<noun> of ..." names the type asked when it is a type word ("the national language of ...").

A schema's question templates ("Which city was {subject} born in?",
``read_templated_question``) are read as its questions: one whose subject gap holds a name
the graph knows is that relation's question, before any other reading; one whose gap holds a
description is a walk when the words' shape or the named relations give none.

Nothing here writes; the graph is only read to find names and to order the walk.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from interpreter._intents import EntityRef, QueryIntent, Unclear
from interpreter._linker import Linker
from kg._store import GraphView

__all__ = ["MAX_HOPS", "RelationTypes", "read_path_question", "read_templated_question"]

MAX_HOPS = 8
_FANOUT = 25  # entities followed per hop
_I = re.IGNORECASE
_WH = re.compile(r"\b(?:who|whom|whose|what|which|where)\b", _I)
_WH_BE = re.compile(
    r"^(?:who|whom|what|which(?:\s+[\w\-]+){0,2}|where)\s+(?:is|was|are|were)\s+(?P<d>.+)$", _I
)
_WH_TYPE = re.compile(
    r"^(?:(?:in|from|to|of|at|on|for|by|with)\s+)?(?:which|what)\s+(?P<type>[a-z][\w\-]*)\b", _I
)
_DET = re.compile(r"^(?:the|a|an)\s+", _I)
_OBJECT_NOUN = re.compile(r"\bthe\s+(?P<noun>[a-z]+)\s+of\s*$", _I)  # "... in the city of"
_RELATIVE = re.compile(
    r"^\s*(?:where|that|which|who|whose|whom|in which|to which|of which|from which)\b", _I
)
# a word, or a bracketed part of a name as one word ("Ford Falcon (North America)")
_TOKEN = re.compile(r"\([^()\s][^()]*\)|[^\s\"“”?!,;:()\[\]]+")
_POSSESSIVE_END = re.compile(r"(?:'s|’s|'|’)$")

Link = Callable[[str], EntityRef | Unclear]


@dataclass(frozen=True, slots=True)
class _Anchor:
    start: int
    end: int
    ref: EntityRef


def read_path_question(
    linker: Linker, body: str, question: str, link: Link
) -> QueryIntent | Unclear | None:
    """A question about a description read as a walk (see the module docstring), or None when
    the question names fewer than two relations around one entity.

    Args:
        linker: the schema's and the graph's linker.
        body: the question without fillers and closing punctuation.
        question: the question as asked (kept in the intent).
        link: links a mention to an entity or says what is unclear (the reader's ``_link``).
    """
    shaped = _shaped(linker, body)
    if shaped is not None:
        mention, relations = shaped
        ref = link(mention)
        if isinstance(ref, EntityRef) and not ref.new_entity:
            if linker.view is not None:
                relations = _with_implicit_hops(linker, linker.view, ref.name, relations)
            return _intent(question, ref, relations)
    named = _named(linker, body, question)
    if named is not None:
        return named
    if shaped is not None:  # the words' shape, about an entity the graph does not know
        mention, relations = shaped
        ref = link(mention)
        return ref if isinstance(ref, Unclear) else _intent(question, ref, relations)
    return None


def read_templated_question(
    linker: Linker, body: str, question: str, link: Link, *, named_only: bool = False
) -> QueryIntent | Unclear | None:
    """A question worded by one of the schema's question templates ("Which city was {subject}
    born in?", ``Linker.questions``), or None when none fits.

    The words in the subject's place name an entity ("Which city was Joe Biden born in?") or
    describe one by relations ("... was the spouse of Joe Biden born in?", "... Hey Jude's
    performer ..."): the walk ends with the template's relation, hops the words leave implicit
    added as ``read_path_question`` adds them. A template whose subject words name nothing
    the graph knows is passed over (another reading may fit), unless the entity is new to the
    graph: then what the linker says (a new name, a "did you mean") is the answer.

    With ``named_only``, only a template whose subject words are exactly a name the graph
    knows is taken ("What position does Wesley Sneijder play?" is that template's question,
    whatever relations its other words would name elsewhere).
    """
    for pattern, relation in linker.questions:
        m = pattern.match(body.strip())
        if m is None:
            continue
        if named_only:
            ref = link(m.group("x"))
            if isinstance(ref, EntityRef) and not ref.new_entity and ref.score == 1.0:
                return _intent(question, ref, [relation])
            continue
        mention, inner = _describe(linker, m.group("x"), 0)
        if not mention.strip():
            continue
        ref = link(mention)
        if isinstance(ref, Unclear):
            if inner:
                continue
            return ref
        relations = [*inner, relation]
        if inner and linker.view is not None and not ref.new_entity:
            relations = _with_implicit_hops(linker, linker.view, ref.name, relations)
        return _intent(question, ref, relations)
    return None


def _intent(question: str, ref: EntityRef, relations: Sequence[str]) -> QueryIntent:
    return QueryIntent(
        question=question, subject=ref, via=tuple(relations[:-1]), relation=relations[-1]
    )


# ------------------------------------------------------------------ the shape of the words


def _shaped(linker: Linker, body: str) -> tuple[str, list[str]] | None:
    """(the entity's words, the relations innermost first) for "wh- is <description>" with a
    description of two relations or more."""
    m = _WH_BE.match(body.strip())
    if m is None:
        return None
    mention, relations = _describe(linker, m.group("d"), 0)
    if len(relations) < 2 or not mention.strip():
        return None
    return mention, relations


def _describe(linker: Linker, text: str, depth: int) -> tuple[str, list[str]]:
    """ "the R1 of X" -> X's reading + [R1]; "X's R" -> X's reading + [R]; else (text, [])."""
    text = text.strip()
    if depth >= MAX_HOPS:
        return text, []
    bare = _DET.sub("", text)
    best: tuple[str, str] | None = None
    for of in re.finditer(r"\s+of\s+", bare, _I):
        left, right = bare[: of.start()], bare[of.end() :]
        if "'" in left or "’" in left or not right.strip():
            continue
        relation = linker.relation(left)
        if relation is not None:
            best = (relation, right)  # the longest relation on the left wins
    if best is not None:
        mention, inner = _describe(linker, best[1], depth + 1)
        return mention, [*inner, best[0]]
    m = re.match(r"^(?P<x>.+)(?:'s|’s|s'|s’)\s+(?P<rel>[^'’]+)$", text)
    if m:
        relation = linker.relation(m.group("rel"))
        if relation is not None:
            mention, inner = _describe(linker, m.group("x"), depth + 1)
            return mention, [*inner, relation]
    return text, []


# ------------------------------------------------------------- named entity + named relations


def _named(linker: Linker, body: str, question: str) -> QueryIntent | None:
    view = linker.view
    if view is None or not _WH.search(body):
        return None
    anchor = _anchor(view, body)
    if anchor is None:
        return None
    mentions = [m for m in linker.mentions(body) if m.end <= anchor.start or m.start >= anchor.end]
    if len(mentions) < 2 or len(mentions) > MAX_HOPS:
        return None
    # the words' order, nearest the entity first: "the R1 of the R2 of X" walks R2, R1
    before = sorted((m for m in mentions if m.end <= anchor.start), key=lambda m: -m.start)
    after = [m for m in mentions if m.start >= anchor.end]
    words = [*before, *after]
    optional = {i for i, m in enumerate(words) if _RELATIVE.match(body[m.end :])}
    # the relation first named by a noun is what is asked ("what is the capital of ...", not
    # "in which city is located the capital of ..."): kept, unless named again
    nouns = [i for i in range(len(words)) if words[i].kind == "noun"] or list(range(len(words)))
    first = min(nouns, key=lambda i: words[i].start)
    again = sum(1 for m in words if m.relation == words[first].relation) > 1
    kept = set() if again else {first}
    types = RelationTypes.of(linker)
    asked = _asked_type(body, types)
    if asked is not None:
        asked_types, wh_end = asked
        # the type the question asks for is no hop ("in which country does X hold citizenship")
        optional |= {i for i, m in enumerate(words) if m.end <= wh_end}
        if kept and asked_types & types.range.get(words[first].relation, frozenset()):
            # relations of the asked type are one answer worded twice ("which language is
            # officially spoken"): one of them is kept
            kept |= {
                i
                for i, m in enumerate(words)
                if asked_types & types.range.get(m.relation, frozenset())
            }
    order = _walk_order(
        view, anchor.ref.name, [m.relation for m in words], optional, kept, types=types
    )
    wanted = asked[0] if asked is not None else _head_type(body, types)
    if wanted is not None:
        order = _to_asked_type(view, types, anchor.ref.name, order, wanted)
    ref = anchor.ref.model_copy(update={"mention": body[anchor.start : anchor.end]})
    return _intent(question, ref, order)


def _asked_type(body: str, types: RelationTypes) -> tuple[frozenset[str], int] | None:
    """The types a question's wh- phrase names by a word the schema's types give ("which
    language", "in what city": ``RelationTypes.words``), and where the phrase ends; None
    otherwise."""
    m = _WH_TYPE.match(body.strip())
    named = types.named(m.group("type")) if m is not None else None
    if m is None or named is None:
        return None
    return named, len(body) - len(body.lstrip()) + m.end()


_HEAD = re.compile(
    r"^(?:what|which)\s+(?:is|was|are|were)\s+the\s+(?:[\w\-]+\s+){0,2}?(?P<type>[a-z][\w\-]*)"
    r"\s+(?:of|in|for|where|that|which)\b",
    _I,
)


def _head_type(body: str, types: RelationTypes) -> frozenset[str] | None:
    """The types the head noun of "what is the <noun> of ..." names when it is a type word
    ("what is the national language of ...": a language), else None."""
    m = _HEAD.match(body.strip())
    return types.named(m.group("type")) if m is not None else None


def _to_asked_type(
    view: GraphView, types: RelationTypes, start: str, path: list[str], asked: frozenset[str]
) -> list[str]:
    """``path`` and one hop more when its objects are not of the type the question asks for
    ("in what city was X a citizen of" reaches a country) and one relation of the facts of
    the one entity reached leads to the type asked (a country's capital); else ``path``."""
    last = types.range.get(path[-1]) if path else None
    if last is None or last & asked:
        return path
    frontier = [start]
    for relation in path:
        frontier = list(
            dict.fromkeys(
                f.object for e in frontier for f in view.facts(subject=e, relation=relation)
            )
        )[:_FANOUT]
    if len(frontier) != 1:
        return path
    fitting = {
        f.relation
        for f in view.facts(subject=frontier[0], limit=_TYPING_FACTS)
        if types.range.get(f.relation, frozenset()) & asked
    }
    return [*path, *fitting] if len(fitting) == 1 else path


def _anchor(view: GraphView, body: str) -> _Anchor | None:
    """The longest run of words naming an entity of the graph (a proper name: a capital letter
    or a digit in it), the last of equals."""
    tokens = [(m.start(), m.end()) for m in _TOKEN.finditer(body)]
    spans: dict[str, tuple[int, int]] = {}
    for i in range(len(tokens)):
        for j in range(i, min(i + 12, len(tokens))):
            start, end = tokens[i][0], tokens[j][1]
            cut = _POSSESSIVE_END.search(body[start:end])
            ends = [end] if cut is None else [start + cut.start(), end]  # "Grey's Anatomy"
            for stop in ends:
                quoted = body[start:stop].strip("'’")
                text = quoted.strip(".")  # a full stop may end a name ("Manchester United F.C.")
                if not text or not re.search(r"[A-Z0-9]", text):
                    continue
                for variant in {text, quoted, _DET.sub("", text), _DET.sub("", quoted)}:
                    for name in (variant, variant.replace(" ", "_")):
                        spans.setdefault(name, (start, stop))
    if not spans:
        return None
    found = view.entities(list(spans))
    best: _Anchor | None = None
    for name, entity in found.items():
        start, end = spans[name]
        if best is None or (end - start, start) > (best.end - best.start, best.start):
            best = _Anchor(start, end, EntityRef(name=entity.name, mention=name, score=1.0))
    return best


@dataclass(frozen=True, slots=True)
class RelationTypes:
    """The types a schema gives its relations' subjects (``domain``) and objects (``range``),
    each a set of type names (``"person|group"``); relations without both are untyped."""

    domain: dict[str, frozenset[str]]
    range: dict[str, frozenset[str]]
    words: dict[str, frozenset[str]] = field(default_factory=dict)

    @staticmethod
    def of(linker: Linker) -> RelationTypes:
        """The types of ``linker``'s schema; ``words`` maps the words that name a type to
        the types they name: each type's own name, and the noun a cloze template gives its
        relation's objects ("{subject} was born in the city of": "city" names the types of
        ``place_of_birth``'s objects; a noun of several relations names the types their
        objects share)."""
        domain: dict[str, frozenset[str]] = {}
        range_: dict[str, frozenset[str]] = {}
        words: dict[str, frozenset[str]] = {}
        for rel in linker.schema.relations:
            if rel.domain and rel.range:
                domain[rel.name] = frozenset(t.strip() for t in rel.domain.split("|"))
                range_[rel.name] = frozenset(t.strip() for t in rel.range.split("|"))
                for template in rel.cloze:
                    m = _OBJECT_NOUN.search(template)
                    if m is not None:
                        noun = m.group("noun").lower()
                        words[noun] = words.get(noun, range_[rel.name]) & range_[rel.name]
        words = {word: named for word, named in words.items() if named}
        for named in range_.values():
            words.update({t.lower(): frozenset({t}) for t in named})
        return RelationTypes(domain, range_, words)

    def named(self, word: str) -> frozenset[str] | None:
        """The types ``word`` names (``words``), its plural as well ("languages"), or None."""
        word = word.lower()
        found = self.words.get(word)
        if found is None and word.endswith("s"):
            found = self.words.get(word[:-1])
        return found

    def entity(self, view: GraphView, entity: str) -> frozenset[str] | None:
        """What the graph's facts about ``entity`` say it is: the types every typed fact
        allows (its relation's domain as subject, range as object); None when its facts say
        nothing or contradict each other."""
        allowed: frozenset[str] | None = None
        for fact in view.facts(subject=entity, limit=_TYPING_FACTS):
            allowed = _narrow(allowed, self.domain.get(fact.relation))
        for fact in view.facts(object=entity, limit=_TYPING_FACTS):
            allowed = _narrow(allowed, self.range.get(fact.relation))
        return allowed or None


def _narrow(allowed: frozenset[str] | None, types: frozenset[str] | None) -> frozenset[str] | None:
    if types is None:
        return allowed
    return types if allowed is None else allowed & types


_TYPING_FACTS = 50


def _walk_order(
    view: GraphView,
    start: str,
    relations: list[str],
    optional: set[int],
    kept: set[int],
    *,
    types: RelationTypes | None = None,
) -> list[str]:
    """The order in which to walk ``relations`` from ``start`` (see the module docstring):
    ``relations`` are in the words' order; indices in ``optional`` are left out first, those
    in ``kept`` never all.

    With ``types``, a hop the question leaves implicit is walked where the graph lacks the
    words' relation for the entity reached and one relation of its facts leads to it
    (``_implicit_hop``); the order returned then holds it."""
    objects: dict[tuple[str, str], list[str]] = {}
    implicit: dict[tuple[tuple[str, ...], str], str] = {}
    swapped: dict[tuple[tuple[str, ...], str], str] = {}

    def plain(frontier: tuple[str, ...], relation: str) -> tuple[str, ...]:
        out: list[str] = []
        for entity in frontier:
            key = (entity, relation)
            if key not in objects:
                objects[key] = [f.object for f in view.facts(subject=entity, relation=relation)]
            out.extend(o for o in objects[key] if o not in out)
        return tuple(out[:_FANOUT])

    def step(frontier: tuple[str, ...], relation: str) -> tuple[str, ...]:
        reached = plain(frontier, relation)
        if reached or types is None:
            return reached
        hop = _implicit_hop(view, types, frontier, relation, plain)
        if hop is None:
            sibling = _sibling(view, types, frontier, relation)
            if sibling is None:
                return ()
            swapped[(frontier, relation)] = sibling
            return plain(frontier, sibling)
        implicit[(frontier, relation)] = hop
        return plain(plain(frontier, hop), relation)

    def implicit_hops(walked: list[str]) -> int:
        count = 0
        frontier: tuple[str, ...] = (start,)
        for relation in walked:
            count += not plain(frontier, relation)
            frontier = step(frontier, relation)
        return count

    best: tuple[tuple[int, int, int, int, int, int], tuple[int, ...]] | None = None
    alone = next(iter(kept)) if len(kept) == 1 else None
    droppable = sorted(
        (i for i in range(len(relations)) if i != alone), key=lambda i: (i not in optional, i)
    )
    for dropped in range(min(len(droppable), len(relations) - 2) + 1):
        for leave_out in itertools.combinations(droppable, dropped):
            if kept and kept <= set(leave_out):
                continue  # one of the relations asked about is walked
            used = [i for i in range(len(relations)) if i not in leave_out]
            # a word heading a relative clause ("the country where ...") is dropped first
            typed = -sum(1 for i in leave_out if i not in optional)
            for order, reached in _orders(step, (start,), used, relations):
                complete = reached == len(used)
                # complete walks first, then those leaving out fewer of the words (type words
                # first), then those adding fewer implicit hops, then the farthest, then the
                # fewest swaps of the words' order
                added = implicit_hops([relations[i] for i in order[:reached]])
                rank = (int(complete), len(used), typed, -added, reached, -_inversions(order))
                if best is None or rank > best[0]:
                    best = (rank, order)
        if best is not None and best[0][0]:
            break  # a complete walk that drops fewer words is the reading
    if best is None:
        return relations
    walked = [relations[i] for i in best[1]]
    if not implicit and not swapped:
        return walked
    out: list[str] = []
    frontier: tuple[str, ...] = (start,)
    for relation in walked:  # the walk again, with the implicit hops it took
        held = bool(plain(frontier, relation))
        sibling = swapped.get((frontier, relation)) if not held else None
        if sibling is not None:
            out.append(sibling)
            frontier = plain(frontier, sibling)
            continue
        hop = implicit.get((frontier, relation)) if not held else None
        if hop is not None:
            out.append(hop)
            frontier = plain(frontier, hop)
        out.append(relation)
        frontier = plain(frontier, relation)
    return out


def _with_implicit_hops(
    linker: Linker, view: GraphView, start: str, relations: list[str]
) -> list[str]:
    """``relations`` walked in their order from ``start``, with the hops the words leave
    implicit where the schema's types make one the only fit (see ``_walk_order``)."""
    types = RelationTypes.of(linker)
    if not types.domain:
        return relations

    def step(frontier: tuple[str, ...], relation: str) -> tuple[str, ...]:
        out: list[str] = []
        for entity in frontier:
            for f in view.facts(subject=entity, relation=relation):
                if f.object not in out:
                    out.append(f.object)
        return tuple(out[:_FANOUT])

    out: list[str] = []
    frontier: tuple[str, ...] = (start,)
    for number, relation in enumerate(relations):
        reached = step(frontier, relation)
        if not reached:
            hop = _implicit_hop(view, types, frontier, relation, step)
            sibling = _sibling(view, types, frontier, relation) if hop is None else None
            if sibling is not None:
                out.append(sibling)
                frontier = step(frontier, sibling)
                continue
            if hop is None:
                return out + relations[number:]  # the walk stops here: its missing hop
            out.append(hop)
            reached = step(step(frontier, hop), relation)
        out.append(relation)
        frontier = reached
    return out


def _sibling(
    view: GraphView, types: RelationTypes, frontier: tuple[str, ...], relation: str
) -> str | None:
    """The relation the words mean by ``relation`` for an entity it cannot apply to, or None.

    "The country of <a person>": ``country`` is said of places, organisations and works, and
    the graph's facts say the entity is a person; of the entity's facts, the one relation
    whose name holds the words of ``relation`` and whose objects are of its type
    (``country_of_citizenship``) is what is meant. Two such relations, or none, and nothing
    is guessed."""
    wanted, objects = types.domain.get(relation), types.range.get(relation)
    if wanted is None or objects is None or len(frontier) != 1:
        return None
    known = types.entity(view, frontier[0])
    if known is None or known & wanted:
        return None  # the relation can apply to the entity: the graph just lacks the fact
    words = set(relation.split("_"))
    fitting = {
        f.relation
        for f in view.facts(subject=frontier[0], limit=_TYPING_FACTS)
        if words < set(f.relation.split("_"))
        and types.range.get(f.relation, frozenset()) <= objects
    }
    return fitting.pop() if len(fitting) == 1 else None


def _implicit_hop(
    view: GraphView,
    types: RelationTypes,
    frontier: tuple[str, ...],
    relation: str,
    step: Callable[[tuple[str, ...], str], tuple[str, ...]],
) -> str | None:
    """The one relation to walk before ``relation`` from ``frontier`` when the words leave it
    implicit (see ``_walk_order``), or None.

    Only for a typed ``relation`` and one entity without a ``relation`` fact: of the relations
    of the entity's facts after which the graph has ``relation``, the one the types make fit
    between them when exactly one does, else the only one there is."""
    wanted = types.domain.get(relation)
    if wanted is None or len(frontier) != 1:
        return None
    entity = frontier[0]
    leading = sorted(
        {
            f.relation
            for f in view.facts(subject=entity, limit=_TYPING_FACTS)
            if f.relation != relation
        }
    )
    leading = [r for r in leading if step(step(frontier, r), relation)]
    known = types.entity(view, entity)
    if known is not None and not known & wanted:
        # the relation does not fit what the entity is ("the manager of <a song>"): a relation
        # the types put in between is the hop, when one alone leads on
        fitting = [
            r
            for r in leading
            if types.domain.get(r, frozenset()) & known and types.range.get(r, frozenset()) & wanted
        ]
        if len(fitting) == 1:
            return fitting[0]
    # the graph lacks the fact ("<a player>'s sport" where it holds the player's position and
    # the position's sport): the one relation of the entity's facts that leads to it
    return leading[0] if len(leading) == 1 else None


def _orders(
    step: Callable[[tuple[str, ...], str], tuple[str, ...]],
    frontier: tuple[str, ...],
    left: list[int],
    relations: list[str],
) -> list[tuple[tuple[int, ...], int]]:
    """Every order of ``left`` (indices into ``relations``) with how many hops of it the graph
    walks from ``frontier``; an order stuck at a hop is given once, completed in the words'
    order."""
    if not left:
        return [((), 0)]
    out: list[tuple[tuple[int, ...], int]] = []
    stuck: list[int] = []
    seen: set[str] = set()
    for i in left:
        if relations[i] in seen:
            continue  # the same relation twice: one order is enough
        seen.add(relations[i])
        reached = step(frontier, relations[i])
        rest = [j for j in left if j != i]
        if not reached:
            stuck.append(i)
            continue
        out.extend(((i, *order), n + 1) for order, n in _orders(step, reached, rest, relations))
    if not out and stuck:
        out.append((tuple(left), 0))
    return out


def _inversions(order: tuple[int, ...]) -> int:
    return sum(1 for a, b in itertools.combinations(order, 2) if a > b)
