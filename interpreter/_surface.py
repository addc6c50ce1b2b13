"""The surface forms a schema gives its relations: what the reader understands for any schema.

A relation is named by its name and aliases (nouns: "official language", "CEO"), and its cloze
templates show how it is said: "The capital of {subject} is" gives the noun "capital";
"{subject} was performed by" gives the verb phrase "was performed by" (and the active "performed",
read the other way round: "Madonna performed Hey Jude"); "{subject} is a citizen of" gives "is a
citizen of"; "The company that produced {subject} is" gives "produced", the other way round.

A relation's question templates ("Which city was {subject} born in?") are questions as asked:
``question_patterns`` makes each a pattern whose one gap is the subject, which may itself be a
description ("Which city was the spouse of X born in?").

``relation_mentions`` finds the relations a question names anywhere in its words (for questions
whose shape the reader's patterns do not cover): every form above, with the verb phrases also
cut to their core ("was born in the city of" -> "born in", "born"); a form that would name two
relations of the schema names neither.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kg._schema import Schema

__all__ = [
    "Mention",
    "MentionTable",
    "SchemaForms",
    "question_patterns",
    "relation_mentions",
    "schema_forms",
    "stem",
    "stem_phrase",
]

_I = re.IGNORECASE
_AUX = r"(?:is|was|are|were|has been|have been|had been|can be|will be)"
_NOUN = r"[\w\-]+(?: [\w\-]+){0,4}"
_NOUN_OF = re.compile(
    rf"^(?:the|a|an|one of the)\s+(?P<noun>{_NOUN}?)\s+(?:of|in)\s+\{{subject\}}\s+{_AUX}\b", _I
)
_NOUN_POSSESSIVE = re.compile(rf"^\{{subject\}}'s\s+(?P<noun>{_NOUN}?)\s+{_AUX}\b", _I)
_NOUN_THAT_VERB = re.compile(
    r"^the\s+[\w\-]+\s+(?:that|which|who)\s+(?P<verb>[\w\- ]+?)\s+\{subject\}\s+(?:is|was)$", _I
)
_VERB = re.compile(r"^\{subject\}\s+(?P<verb>[a-z][\w\- ']*)$", _I)
_PASSIVE_BY = re.compile(rf"^{_AUX}\s+(?P<participle>[a-z]+ed)\s+by$", _I)
_LEADING_AUX = re.compile(rf"^{_AUX}\s+", _I)
# the words a verb phrase may end with that do not name the relation
_TAIL = re.compile(
    r"(?:\s+(?:the\s+[\w\-]+\s+of|of|by|to|in|at|for|from|with|on|as|the|a|an))+$", _I
)
_FUNCTION = {
    "is", "was", "are", "were", "the", "a", "an", "of", "in", "by", "to", "at", "be", "from",
    "for", "with", "on", "as", "into", "onto", "about",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class SchemaForms:
    """What a schema's cloze templates say about its relations.

    Attributes:
        nouns: (noun form, relation) pairs ("capital", "official language").
        verbs: (verb phrase, relation, inverted) triples: ``X <phrase> Y`` states
            ``(X, relation, Y)``, or ``(Y, relation, X)`` when inverted.
        statements: (template, relation) pairs of the templates of no noun or verb shape
            ("The company that produced {subject} is"): the template followed by the object
            states the fact.
        questions: (pattern, relation) pairs of the question templates
            (``question_patterns``).
    """

    nouns: tuple[tuple[str, str], ...]
    verbs: tuple[tuple[str, str, bool], ...]
    statements: tuple[tuple[str, str], ...] = ()
    questions: tuple[tuple[re.Pattern[str], str], ...] = ()


def question_patterns(schema: Schema) -> tuple[tuple[re.Pattern[str], str], ...]:
    """(pattern, relation) for each question template of ``schema``'s relations, longest
    template first: a question as asked, closing punctuation and spacing aside, and the group
    ``x`` the words in the subject's place. A template whose subject gap would swallow the
    whole question ("{subject}?") is left out."""
    out: list[tuple[int, re.Pattern[str], str]] = []
    for rel in schema.relations:
        for template in rel.questions:
            text = " ".join(template.strip().rstrip("?.!").split())
            before, _, after = text.partition("{subject}")
            if not (before + after).strip():
                continue
            head = "".join(rf"{re.escape(w)}\s+" for w in before.split())
            tail = [re.escape(w) for w in after.split()]
            if tail and after[0] in "'’":  # "Who is {subject}'s child?": no space before it
                tail[0] = "['’]" + re.escape(after.split()[0][1:])
                rest = r"\s+".join(tail)
            else:
                rest = "".join(rf"\s+{w}" for w in tail)
            pattern = re.compile(rf"^{head}(?P<x>.+?){rest}\s*$", _I)
            out.append((len(before + after), pattern, rel.name))
    out.sort(key=lambda t: -t[0])
    return tuple((p, r) for _, p, r in out)


def schema_forms(schema: Schema) -> SchemaForms:
    """The noun and verb forms the cloze templates of ``schema`` give each relation, and its
    question templates as patterns."""
    nouns: list[tuple[str, str]] = []
    verbs: list[tuple[str, str, bool]] = []
    statements: list[tuple[str, str]] = []
    for rel in schema.relations:
        for template in rel.cloze:
            text = " ".join(template.split())
            m = _NOUN_OF.match(text) or _NOUN_POSSESSIVE.match(text)
            if m and " of the " not in m.group("noun"):
                nouns.append((m.group("noun").lower(), rel.name))
                if text[m.end() :].strip():
                    # "The headquarters of {subject} is located in the city of": the whole
                    # template, then the object, states the fact as well
                    statements.append((text, rel.name))
                continue
            m = _NOUN_THAT_VERB.match(text)
            if m:
                verbs.append((m.group("verb").lower(), rel.name, True))
            m = _VERB.match(text)
            if m is None:
                words = set(text.lower().replace("{subject}", " ").split())
                if text.count("{subject}") == 1 and words - _FUNCTION:  # not "The {subject} is"
                    statements.append((text, rel.name))
                continue
            verb = m.group("verb").lower().strip()
            if not set(verb.split()) - _FUNCTION:
                continue
            verbs.append((verb, rel.name, False))
            passive = _PASSIVE_BY.match(verb)
            if passive:  # "{subject} was performed by" -> "Madonna performed Hey Jude"
                verbs.append((passive.group("participle").lower(), rel.name, True))
    return SchemaForms(
        tuple(dict.fromkeys(nouns)),
        tuple(dict.fromkeys(verbs)),
        tuple(dict.fromkeys(statements)),
        question_patterns(schema),
    )


@dataclass(frozen=True, slots=True)
class Mention:
    """Words of a text that name a relation: ``text[start:end]``.

    ``kind`` says how: ``noun`` (a name, alias or noun form: "capital"), ``verb`` (a verb
    phrase: "was performed by"), ``core`` (a verb phrase cut to its core: "born"), ``word``
    (a word that only this relation's forms use, inflected as it may be: "officially" for
    official_language, "sang" for the performer whose alias is "singer").
    """

    start: int
    end: int
    relation: str
    kind: str = "noun"


MentionTable = dict[str, tuple[str, str]]

# the kinds of form, most trusted first; a form names the relation of the first kind holding it
_KINDS = ("noun", "verb", "core", "word")


def mention_table(
    nouns: dict[str, str],
    verbs: list[tuple[str, str]],
    cores: list[tuple[str, str]],
) -> MentionTable:
    """Word sequences (lower case, single spaces, and their stems: ``stem_phrase``) to the one
    (relation, kind) each names.

    ``nouns`` and ``verbs`` (the forms the reader already takes, names and aliases first) win
    over ``cores`` (verb phrases cut to their core), which win over single words that only one
    relation's forms use; within each group a form naming two relations is left out, and so is
    a form whose stem does.
    """
    table: MentionTable = {}
    groups: list[tuple[str, list[tuple[str, str]]]] = [
        ("noun", list(nouns.items())),
        ("verb", verbs),
        ("core", cores),
        ("word", _distinctive_words([*nouns.items(), *verbs])),
    ]
    for kind, group in groups:
        named: dict[str, set[str]] = {}
        for form, relation in group:
            key = " ".join(form.lower().replace("_", " ").split())
            if not key:
                continue
            for k in dict.fromkeys([key, stem_phrase(key)]):
                if k not in table:
                    named.setdefault(k, set()).add(relation)
        table.update({k: (next(iter(v)), kind) for k, v in named.items() if len(v) == 1})
    return table


def _distinctive_words(forms: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The content words (by stem) of the forms that the forms of one relation only use:
    "official" of "official language", "citizen" of "is a citizen of"."""
    users: dict[str, set[str]] = {}
    for form, relation in forms:
        for word in re.findall(r"[a-z][a-z\-]+", form.lower().replace("_", " ")):
            if word not in _FUNCTION and word not in _GENERIC and len(word) >= 4:
                users.setdefault(stem(word), set()).add(relation)
    return [(word, next(iter(rels))) for word, rels in users.items() if len(rels) == 1]


# words too general to name a relation on their own, whatever a schema's forms say
_GENERIC = {
    "name", "current", "type", "kind", "place", "city", "country", "located", "which", "that",
    "what", "whom", "there", "been", "being", "have", "with", "from", "this", "thing", "field",
}  # fmt: skip
# irregular English forms, as the regular stem of their base
_IRREGULAR = {
    "sang": "sing", "sung": "sing", "song": "song", "made": "make", "wrote": "write",
    "written": "write", "spoke": "speak", "spoken": "speak", "bore": "bear", "born": "born",
    "led": "lead", "ran": "run", "run": "run", "built": "build", "began": "begin",
    "begun": "begin", "founded": "found", "taught": "teach", "owned": "own", "won": "win",
    "held": "hold", "grew": "grow", "grown": "grow", "known": "know", "knew": "know",
}  # fmt: skip
_SUFFIXES = (
    "ations", "ation", "ating", "ated", "ates", "ate", "ings", "ing", "ers", "ors", "er",
    "or", "ed", "es", "s", "ly", "ship",
)  # fmt: skip


def stem(word: str) -> str:
    """A crude English stem, enough to tell inflections and derivations of one word apart
    from other words: "performed", "performer", "performs" -> "perform"; "sang", "singer" ->
    "sing"; "originated", "origin" -> "origin"; "officially" -> "official"."""
    word = word.lower()
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if word.endswith("ied") or word.endswith("ies"):
        return word[:-3] + "y"
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    else:
        return word
    for suffix in ("ly", "ship", "er", "or"):  # "founders" -> "found"
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def stem_phrase(phrase: str) -> str:
    """Every word of a phrase stemmed (``stem``)."""
    return " ".join(stem(w) for w in phrase.split())


def verb_cores(phrase: str) -> list[str]:
    """A verb phrase without its auxiliary, and cut to its core: "was born in the city of" ->
    "born in the city of", "born"; "is a citizen of" -> "a citizen of", "citizen"."""
    bare = _LEADING_AUX.sub("", phrase.strip().lower())
    if not set(bare.split()) - _FUNCTION:
        return []  # "is in" names nothing once its auxiliary is gone
    out = [bare]
    core = _TAIL.sub("", bare)
    core = re.sub(r"^(?:a|an|the)\s+", "", core)
    if core and core not in out and set(core.split()) - _FUNCTION:
        out.append(core)
    return out


_WORD = re.compile(r"[A-Za-z0-9]+(?:[\-'][A-Za-z0-9]+)*")


def relation_mentions(text: str, table: MentionTable, *, longest: int = 8) -> list[Mention]:
    """The relations ``text`` names, left to right: the longest form at each word wins (as
    written, then by its words' stems: "performers", "sang"); forms of one relation joined by
    "/" or "or" ("the manager/director of", "director or manager") are one mention."""
    words = [(m.start(), m.end(), m.group(0).lower()) for m in _WORD.finditer(text)]
    stems = [stem(w) for _, _, w in words]
    out: list[Mention] = []
    i = 0
    while i < len(words):
        hit: tuple[int, str, str] | None = None
        for n in range(min(longest, len(words) - i), 0, -1):
            found = table.get(" ".join(w for _, _, w in words[i : i + n]))
            if found is None:
                found = table.get(" ".join(stems[i : i + n]))
            if found is not None:
                hit = (n, *found)
                break
        if hit is None:
            i += 1
            continue
        n, relation, kind = hit
        mention = Mention(words[i][0], words[i + n - 1][1], relation, kind)
        prev = out[-1] if out else None
        if (
            prev is not None
            and prev.relation == relation
            and re.fullmatch(r"\s*(?:/|or|\(or)\s*", text[prev.end : mention.start], re.I)
        ):
            kind = prev.kind if _KINDS.index(prev.kind) < _KINDS.index(kind) else kind
            out[-1] = Mention(prev.start, mention.end, relation, kind)
        else:
            out.append(mention)
        i += n
    return out
