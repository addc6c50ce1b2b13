"""Schema-aware linking: surface phrases to schema relations, mentions to graph entities.

Relations are found by the schema's names and aliases (``Schema.find``), by the forms its cloze
templates give (``interpreter._surface``: "{subject} was performed by", "The capital of {subject}
is"), whatever the schema, and by a table of common English phrasings (``PHRASES``) that names
relations of the default library and of DBpedia-style vocabularies; a phrase whose relation the
schema lacks is ignored. Entities are found exactly (by name, folded key or
alias, through ``GraphView.entities``), then fuzzily: candidates come from
``GraphView.search_entities`` on the mention's words and their prefixes, and are scored with
rapidfuzz on folded keys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from interpreter._intents import EntityRef
from interpreter._surface import (
    Mention,
    MentionTable,
    SchemaForms,
    mention_table,
    relation_mentions,
    schema_forms,
    verb_cores,
)
from kg._names import entity_key, relation_key
from kg._schema import Schema
from kg._store import GraphView

__all__ = ["PHRASES", "EntityLink", "Linker", "RelationPhrase", "entity_question"]


@dataclass(frozen=True, slots=True)
class RelationPhrase:
    """A verbal phrasing: ``X <phrase> Y`` means ``(X, relation, Y)`` (or ``(Y, relation, X)``
    when ``inverted``)."""

    phrase: str
    relation: str
    inverted: bool = False


# Verbal phrasings of the default library's relations. Noun forms ("the capital of X",
# "X's wife") come from the schema's own names and aliases, so they need no entry here.
_VERBS: dict[str, tuple[str, ...]] = {
    "spouse": (
        "is married to",
        "was married to",
        "married",
        "marries",
        "wed",
        "is the spouse of",
        "got married to",
        "is the partner of",
        "marry",
        "wedded",
    ),
    "born_in": (
        "was born in",
        "is born in",
        "born in",
        "comes from",
        "was born at",
        "come from",
        "born",
    ),
    "birth_date": ("was born on", "born on"),
    "plays_for": (
        "plays for",
        "played for",
        "play for",
        "is playing for",
        "signed for",
        "plays at",
        "plays football for",
        "played football for",
        "plays soccer for",
    ),
    "educated_at": (
        "studied at",
        "study at",
        "graduated from",
        "attended",
        "attends",
        "went to",
        "was educated at",
        "is educated at",
        "is an alumnus of",
        "is a graduate of",
        "study",
        "studied",
        "go to school",
        "went to school at",
        "graduate from",
        "attend",
    ),
    "located_in": (
        "is located in",
        "is situated in",
        "lies in",
        "is in",
        "is part of",
        "located",
        "lie",
    ),
    "founder": (
        "founded",
        "co-founded",
        "is the founder of",
        "started",
        "established",
        "found",
    ),
    "acted_in": (
        "acted in",
        "starred in",
        "appeared in",
        "acts in",
        "stars in",
        "act in",
        "star in",
        "appear in",
    ),
    "citizen_of": (
        "is a citizen of",
        "was a citizen of",
        "holds citizenship of",
        "is a national of",
        "has citizenship of",
    ),
    "is_affiliated_to": ("is affiliated with", "is affiliated to", "was affiliated with"),
    "discovery": ("discovered", "discover"),
    "influences": ("influenced", "influences", "influence", "is influencing"),
    "tv_personality": ("hosted", "hosts", "presented", "host"),
    "profession": ("works as", "worked as", "work as"),
    "position": ("plays as", "played as", "play as"),
    "nickname": ("is nicknamed", "is known as", "is called"),
    "theory": ("developed", "proposed", "formulated"),
    "contribution": ("contributed", "invented", "created"),
    "doctoral_advisor": ("was advised by", "was supervised by"),
    "marriage_year": ("married in", "got married in"),
    "party": (
        "is a member of",
        "belongs to",
        "is a member of the",
        "belongs to the",
        "belong to",
    ),
    "child": ("is the parent of",),
    "parent": ("is the child of",),
}
# Relations of other common vocabularies (DBpedia-style), used only when a schema has them.
_VERBS_MORE: dict[str, tuple[str, ...]] = {
    "birth_place": ("was born in", "is born in", "born in"),
    "death_place": ("died in", "passed away in"),
    "death_date": ("died on",),
    "architect": ("was designed by", "is designed by", "designed by"),
    "creator": ("was created by", "is created by", "created by"),
    "director": ("was directed by", "is directed by", "directed by"),
    "writer": ("was written by", "is written by", "written by"),
    "author": ("was written by", "is written by", "written by"),
    "producer": ("was produced by", "is produced by", "produced by"),
    "editing": ("was edited by", "is edited by", "edited by"),
    "broadcasted_by": ("was broadcast by", "is broadcast by", "broadcast by"),
    "manager": ("is managed by", "was managed by", "managed by"),
    "leader": ("is led by", "was led by", "led by"),
    "operator": ("is operated by", "was operated by", "operated by"),
    "owner": ("is owned by", "was owned by", "owned by"),
    "location": ("is located in", "is situated in", "located in", "lies in", "is in"),
    "country": ("is located in", "is in", "is from", "comes from"),
    "nationality": ("is a national of",),
    "starring": ("stars", "starring"),
    "genre": ("is a genre of",),
    "language": ("speaks",),
    "alma_mater": ("graduated from", "studied at", "attended"),
    "ground": ("plays at", "play at", "plays their home games at"),
    "league": ("plays in", "play in", "competes in"),
    "club": ("plays for", "played for"),
    "team": ("plays for", "played for"),
    "established": ("was established in", "was founded in", "was built in", "built in"),
    "music_composer": ("was composed by", "composed by", "music by"),
    "publisher": ("was published by", "is published by", "published by"),
    "record_label": ("was released by", "released by", "signed to"),
    "followed_by": ("was followed by", "is followed by", "followed by"),
    "preceded_by": ("was preceded by", "is preceded by", "preceded by"),
    "instrument": ("plays the",),
}

_INVERTED: dict[str, tuple[str, ...]] = {
    "founder": ("was founded by", "is founded by"),
    "discovery": ("was discovered by",),
    "acted_in": ("features", "starred"),
    "influences": ("was influenced by",),
    "doctoral_advisor": ("advised", "supervised"),
    "theory": ("was developed by",),
    "contribution": ("was invented by", "was created by"),
    "contains": (),
}

PHRASES: tuple[RelationPhrase, ...] = tuple(
    [RelationPhrase(p, rel) for rel, ps in _VERBS.items() for p in ps]
    + [RelationPhrase(p, rel) for rel, ps in _VERBS_MORE.items() for p in ps]
    + [RelationPhrase(p, rel, inverted=True) for rel, ps in _INVERTED.items() for p in ps]
)

# Nouns users say that the default library lacks as aliases.
_NOUNS: dict[str, tuple[str, ...]] = {
    "born_in": ("hometown", "birth city", "city of birth", "place of birth"),
    "birth_date": ("date of birth", "birth date", "birthday"),
    "plays_for": ("club", "football club", "team"),
    "educated_at": ("university", "school", "college"),
    "citizen_of": ("country of citizenship",),
    "vice_president": ("vp", "vice-president", "veep"),
    "child": ("kids", "sons", "daughters"),
    "father": ("daddy", "papa"),
    "mother": ("mommy", "mama", "mom"),
    "spouse": ("husband or wife", "significant other"),
    "party": ("party",),
    "founder": ("founder",),
    "profession": ("profession",),
}

_DET = re.compile(r"^(?:the|a|an)\s+", re.I)
_YEAR = re.compile(r"^\d{3,4}$")
_WORD = re.compile(r"[\w'.\-]+")


@dataclass(frozen=True, slots=True)
class EntityLink:
    """The outcome of linking one mention: an entity, or candidates to ask about.

    Attributes:
        ref: the linked (or proposed new) entity; None when the caller must ask.
        candidates: entities the mention may name, best first (when ``ref`` is None).
        confirm: the candidates are only near misses (a low fuzzy score, as "Obma" for
            Barack_Obama): ask the user to confirm rather than to choose.
    """

    ref: EntityRef | None
    candidates: tuple[str, ...] = ()
    confirm: bool = False


@dataclass
class Linker:
    """Links relation phrases and entity mentions against one schema and one graph snapshot.

    Args:
        schema: the relation library.
        view: the graph snapshot to link entities against (None: every entity is new).
        fuzzy_cutoff: the least rapidfuzz ratio (0-100) for a fuzzy entity match that links
            without asking (one swapped or dropped letter in a name scores 85-97).
        confirm_cutoff: the least ratio, word by word, for a near miss: a mention below
            ``fuzzy_cutoff`` whose words each match the words of an entity's name at least this
            well ("Barak Obma"), or a single word close to a word of a name ("Obma" for
            Barack_Obama), is not taken as a new entity: the link asks for confirmation.
            Names that share a word but differ in another ("John Carter", "John Tyler") are
            not near misses.
        forms: the forms of the schema's cloze templates (``schema_forms(schema)``), when the
            caller keeps them between linkers of one schema; computed when None.
    """

    schema: Schema
    view: GraphView | None = None
    fuzzy_cutoff: float = 84.0
    confirm_cutoff: float = 75.0
    forms: SchemaForms | None = None
    _nouns: dict[str, str] = field(default_factory=dict, init=False, repr=False)
    _verbs: list[RelationPhrase] = field(default_factory=list, init=False, repr=False)
    _mentions: MentionTable | None = field(default=None, init=False, repr=False)
    _statements: tuple[tuple[str, str], ...] = field(default=(), init=False, repr=False)
    _questions: tuple[tuple[re.Pattern[str], str], ...] = field(default=(), init=False, repr=False)

    def __post_init__(self) -> None:
        forms = self.forms if self.forms is not None else schema_forms(self.schema)
        self._statements = forms.statements
        self._questions = forms.questions
        nouns: dict[str, str] = {}
        for rel in self.schema.relations:
            for form in (rel.name, *rel.aliases):
                nouns.setdefault(_surface(form), rel.name)
        for rel_name, words in _NOUNS.items():
            canonical = self.schema.find(rel_name)
            if canonical is not None:
                for form in words:
                    nouns.setdefault(form, canonical.name)
        for form, relation in _unambiguous(forms.nouns):
            nouns.setdefault(_surface(form) if _is_relation_like(form) else form, relation)
        self._nouns = nouns
        verbs = []
        seen: set[str] = set()
        # the schema's own templates first: they say which way round its relations are worded
        # ("{subject} was founded by" for founded_by), where the common phrasings may name a
        # relation of the same alias the other way round (the default library's founder)
        for phrase, relation, inverted in forms.verbs:
            if phrase not in seen:
                seen.add(phrase)
                verbs.append(RelationPhrase(phrase, relation, inverted))
        for p in PHRASES:
            found = self.schema.find(p.relation)
            if found is not None and p.phrase not in seen:
                seen.add(p.phrase)  # a phrase names the first relation the schema has
                verbs.append(RelationPhrase(p.phrase, found.name, p.inverted))
        self._verbs = sorted(verbs, key=lambda p: -len(p.phrase))

    # ------------------------------------------------------------------ relations

    @property
    def nouns(self) -> dict[str, str]:
        """Noun surface forms (lower case, spaces) to canonical relation names."""
        return self._nouns

    @property
    def verbs(self) -> list[RelationPhrase]:
        """Verbal phrasings of the schema's relations, longest first."""
        return self._verbs

    @property
    def statements(self) -> tuple[tuple[str, str], ...]:
        """(template, relation) of the schema's cloze templates of no noun or verb shape ("The
        company that produced {subject} is"): the template and an object state a fact."""
        return self._statements

    @property
    def questions(self) -> tuple[tuple[re.Pattern[str], str], ...]:
        """(pattern, relation) of the schema's question templates, longest first: group ``x``
        holds the words in the subject's place (``interpreter._surface.question_patterns``)."""
        return self._questions

    def mentions(self, text: str) -> list[Mention]:
        """The relations ``text`` names anywhere in its words, left to right (nouns, verb
        phrases and their cores; see ``interpreter._surface.relation_mentions``)."""
        if self._mentions is None:
            verbs = [(form, v.relation) for v in self._verbs for form in verb_cores(v.phrase)[:1]]
            cores = [(form, v.relation) for v in self._verbs for form in verb_cores(v.phrase)[1:]]
            self._mentions = mention_table(self._nouns, verbs, cores)
        return relation_mentions(text, self._mentions)

    def relation(self, phrase: str) -> str | None:
        """The canonical relation a noun phrase names ("capital", "wife", "date of birth")."""
        text = _surface(_DET.sub("", phrase.strip()))
        if text in self._nouns:
            return self._nouns[text]
        if text.endswith("s") and text[:-1] in self._nouns:  # plural: "children", "parents"
            return self._nouns[text[:-1]]
        rel = self.schema.find(text) if _is_relation_like(text) else None
        return rel.name if rel is not None else None

    def suggest_relations(self, phrase: str, limit: int = 3) -> list[str]:
        """The known relations closest to an unknown phrase, best first."""
        text = _surface(_DET.sub("", phrase.strip()))
        out: list[str] = []
        if _is_relation_like(text):
            out.extend(self.schema.suggest(text, limit=limit))
        scored = process.extract(
            text, list(self._nouns), scorer=fuzz.WRatio, limit=limit * 4, score_cutoff=72
        )
        for form, _, _ in scored:
            name = self._nouns[form]
            if name not in out:
                out.append(name)
        return out[:limit]

    # ------------------------------------------------------------------- entities

    def entity(self, mention: str) -> EntityLink:
        """Link a mention to a graph entity, or propose a new one.

        Exact (folded) names and aliases win, and names differing from one only in punctuation
        and spacing ("Washington, D.C."). A name spelt otherwise than any entity's, however
        close (a fuzzy match scoring at least ``fuzzy_cutoff``: "Zed_Nickk" for Zed_Nick), a
        single word naming a word of one entity's name ("Einstein" for Albert_Einstein, "Iran"
        for Iran_national_football_team), or a near miss (every word close to the word of a
        name, see ``confirm_cutoff``) gives no ref, the candidates and ``confirm=True``: the
        caller asks the user to confirm instead of silently swapping the name or creating an
        entity. Several equally good candidates
        give no ref and the candidates, so the caller can ask which. Anything further is a new
        entity.
        """
        text = _clean_mention(mention)
        if not text:
            return EntityLink(None)
        variants = [text]
        bare = _DET.sub("", text)
        if bare != text and bare:
            variants.append(bare)
        proposed = text if re.match(r"^The\s+[A-Z0-9]", text) else (bare or text)
        view = self.view
        if view is None:
            return EntityLink(_new(proposed, mention))
        found = view.entities(variants + [v.replace(" ", "_") for v in variants])
        for v in variants + [v.replace(" ", "_") for v in variants]:
            if v in found:
                return EntityLink(EntityRef(name=found[v].name, mention=mention, score=1.0))
        if _is_literal(bare):
            return EntityLink(_new(bare, mention))
        if _is_quoted(mention):
            # a quoted name is meant as written: no fuzzy guess ('"Obma" was born in Paris'),
            # and the name it proposes is the one the same words give unquoted ("The Big
            # Apple"), so that quoting a new name to confirm it creates that very name
            return EntityLink(_new(proposed, mention))
        return self._fuzzy(view, bare or text, mention, proposed)

    def _fuzzy(self, view: GraphView, text: str, mention: str, proposed: str) -> EntityLink:
        key = entity_key(text)
        words = [w for w in key.split() if len(w) >= 3]
        pool: dict[str, str] = {}
        probes = {
            key,
            *words,
            *(w[:3] for w in words if len(w) >= 4),
            *(w[-3:] for w in words if len(w) >= 5),
            # a letter dropped from a short name still finds it ("Obma": "oba" in "obama")
            *(w[:i] + w[i + 1 :] for w in words if 4 <= len(w) <= 6 for i in range(len(w))),
        }
        for probe in sorted(probes):
            for ent in view.search_entities(probe, limit=50):
                pool.setdefault(ent.key, ent.name)
                for alias in ent.aliases:
                    pool.setdefault(entity_key(alias), ent.name)
        if not pool:
            return EntityLink(_new(proposed, mention))
        keys = list(pool)
        best = process.extract(key, keys, scorer=fuzz.ratio, limit=3, score_cutoff=0)
        if best and best[0][1] >= self.fuzzy_cutoff:
            top = best[0][1]
            tied = [pool[k] for k, s, _ in best if top - s < 2 and pool[k] != pool[best[0][0]]]
            if not tied and _letters(key) == _letters(best[0][0]):
                # the same letters and digits, punctuation and spacing aside ("Washington,
                # D.C." for Washington_D.C.): the same name
                return EntityLink(
                    EntityRef(name=pool[best[0][0]], mention=mention, score=round(top / 100, 3))
                )
            if not tied:
                # spelt otherwise than any name: may be a new entity ("Zed_Nickk" beside
                # Zed_Nick, "German" beside Germany), so ask rather than swap it silently
                return EntityLink(None, (pool[best[0][0]],), confirm=True)
            return EntityLink(None, tuple(dict.fromkeys([pool[best[0][0]], *tied])))
        if len(key.split()) == 1 and len(key) >= 4:
            # a single word naming a part of an entity ("Einstein", "Obama")
            hits = sorted({pool[k] for k in keys if key in k.split()})
            ends = sorted({pool[k] for k in keys if key in (k.split()[0], k.split()[-1])})
            if len(hits) > 1 and len(ends) == 1:
                hits = ends  # "Oprah": Oprah_Winfrey, not The_Oprah_Winfrey_Show
            if len(hits) == 1:
                # a part of one name is not that name: "Iran" may be the country the graph
                # lacks, not Iran_national_football_team, so ask rather than swap silently
                return EntityLink(None, (hits[0],), confirm=True)
            if len(hits) > 1:
                return EntityLink(None, tuple(hits[:5]))
        near = [
            pool[k]
            for k, _, _ in process.extract(key, keys, scorer=fuzz.ratio, limit=10)
            if _near_miss(key, k, self.confirm_cutoff)
        ]
        if len(key.split()) == 1 and len(key) >= 4:
            # a misspelt single word of a name ("Obma" for Obama)
            similar = process.extract(
                key,
                sorted({w for k in keys for w in k.split() if len(w) >= 4}),
                scorer=fuzz.ratio,
                limit=3,
                score_cutoff=self.fuzzy_cutoff,
            )
            close = {w for w, _, _ in similar}
            near += sorted({pool[k] for k in keys if close & set(k.split())})
        if near:
            return EntityLink(None, tuple(dict.fromkeys(near))[:5], confirm=True)
        return EntityLink(_new(proposed, mention))


def entity_question(mention: str, link: EntityLink) -> str:
    """What to ask the user about a mention that did not link to one entity."""
    names = ", ".join(link.candidates)
    if link.confirm:
        return (
            f"I do not know {mention!r}; did you mean {names}? Please say it again with the "
            f'full name, or put the name in double quotes ("{mention}") if it is a new entity.'
        )
    return f"{mention!r} could mean {names}; which one?"


def _letters(key: str) -> str:
    return re.sub(r"[\W_]+", "", key)


def _near_miss(key: str, candidate: str, cutoff: float) -> bool:
    """A name of several words whose every word matches the same-placed word of ``candidate``
    at least ``cutoff`` (and not all equal); single words are judged against the stricter
    ``fuzzy_cutoff`` instead ("Queens" is not a near miss of Queensland)."""
    a, b = key.split(), candidate.split()
    if len(a) < 2 or len(a) != len(b) or a == b:
        return False
    return all(
        x == y or (len(x) >= 3 and fuzz.ratio(x, y) >= cutoff) for x, y in zip(a, b, strict=True)
    )


def _unambiguous(pairs: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    """The (form, relation) pairs whose form names one relation only."""
    named: dict[str, set[str]] = {}
    for form, relation in pairs:
        named.setdefault(form, set()).add(relation)
    return [(form, relation) for form, relation in pairs if len(named[form]) == 1]


def _surface(form: str) -> str:
    return relation_key(form).replace("_", " ")


def _is_relation_like(text: str) -> bool:
    return bool(text) and bool(re.match(r"^[^\W\d][\w \-]*$", text)) and len(text) <= 64


def _clean_mention(mention: str) -> str:
    text = mention.strip().strip(" \t,;:!?")
    if text.endswith(".") and not re.search(
        r"\b[A-Z]\.$|\b(?:Jr|Sr|St|Co|Inc|Ltd|Corp|F\.C|D\.C)\.$", text
    ):
        text = text[:-1].rstrip()
    if len(text) >= 2 and text[0] in "\"'“‘" and text[-1] in "\"'”’":
        text = text[1:-1].strip()
    return text


def _is_quoted(mention: str) -> bool:
    text = mention.strip()
    return len(text) >= 2 and text[0] in '"“' and text[-1] in '"”'


def _is_literal(text: str) -> bool:
    return bool(_YEAR.match(text) or re.match(r"^\d{4}-\d{2}-\d{2}$", text))


def _new(text: str, mention: str) -> EntityRef:
    """A proposed entity: the graph's convention joins words with underscores."""
    name = "_".join(text.split()) if re.fullmatch(r"[\w.,'&\- ]+", text) else text
    return EntityRef(name=name[:200], mention=mention, new_entity=True, score=0.0)
