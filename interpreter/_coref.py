"""Pronouns inside one request: which words are pronouns, what a request has been about.

The rule itself (which entity a pronoun takes) is the reader's (``RuleReader``, see its
module docstring); this module holds its parts that need no schema or graph:

- ``find_pronoun``: a subject pronoun (he/she/it/they) opening a clause, a possessive
  (his/her/its/their) opening a clause or standing before a relation noun anywhere in it, or
  an object pronoun (him/her/them/it) after the clause's verb, ending the clause or before a
  function word ("Joe Biden married her", "... married her in 1977").
  A pronoun word followed by a capitalised word opens a title ("It Takes Two", "His Dark
  Materials"), not a reference.
- ``Topics``: the entities the clauses read so far were about, in order, each once.
- ``Unresolved``: a pronoun the request gives no single antecedent for, with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from interpreter._intents import Unclear

__all__ = [
    "PERSONAL",
    "POSSESSIVE",
    "Pronoun",
    "Topics",
    "Unresolved",
    "find_pronoun",
    "is_pronoun",
    "substitute",
]

PERSONAL = frozenset({"he", "she", "it", "they"})
POSSESSIVE = frozenset({"his", "her", "its", "their"})
_OBJECT = frozenset({"him", "them"})
_OBJECTS = frozenset({"him", "her", "them", "it"})
_WORD = re.compile(r"[A-Za-z]+(?:'s)?")
_RELATION_WORDS = 4  # the most words of a relation noun after a possessive ("place of birth")
# Words a possessive never stands before ("His was born in ...", "her and ..."): it needs a noun.
_NOT_A_NOUN = re.compile(
    r"^(?:is|was|are|were|be|been|has|have|had|will|would|shall|should|can|could|may|might|"
    r"must|does|did|do|and|or|but|not|of|in|on|at|to|by|for|from|with|as|that|which|who)$",
    re.IGNORECASE,
)


def is_pronoun(text: str) -> bool:
    """Whether ``text`` (a mention, quotes and closing marks aside) is a bare pronoun."""
    return text.strip().strip("\"'.,;:!?").strip().lower() in PERSONAL | POSSESSIVE | _OBJECT


@dataclass(frozen=True, slots=True)
class Pronoun:
    """A pronoun in a clause: its word as written, where it is, and whether it is possessive."""

    word: str
    start: int
    end: int
    possessive: bool


def find_pronoun(
    clause: str, relation: Callable[[str], str | None], start: int = 0
) -> Pronoun | None:
    """The first pronoun at or after ``start`` that refers to an entity of the request.

    Args:
        clause: one clause of a request.
        relation: names the relation a noun phrase stands for ("wife" -> "wife"), or None.
        start: where to look from.

    Returns:
        A subject pronoun opening the clause ("She studied at ..."), a possessive opening it
        ("Her husband is ...") or a possessive before a relation noun anywhere ("... is his
        wife"), an object pronoun after the verb ("... married her", "... married her in
        1977"); None when there is none. A pronoun before a capitalised word is part of a
        title; a possessive before a verb or a function word ("His was ...") is no possessive.
    """
    words = list(_WORD.finditer(clause))
    for i, m in enumerate(words):
        if m.start() < start:
            continue
        word = m.group(0)
        lower = word.lower()
        if lower not in PERSONAL | POSSESSIVE | _OBJECTS:
            continue
        following = words[i + 1 : i + 1 + _RELATION_WORDS]
        if lower in _OBJECTS and i >= 2 and _is_object(following, relation, clause):
            return Pronoun(word, m.start(), m.end(), False)
        if not following or following[0].group(0)[0].isupper():
            continue  # "It Takes Two", "His Dark Materials": a title; or nothing after it
        if lower in PERSONAL:
            if not clause[: m.start()].strip():
                return Pronoun(word, m.start(), m.end(), False)
            continue
        if _NOT_A_NOUN.match(following[0].group(0)):
            continue
        if not clause[: m.start()].strip() or _before_relation(clause, following, relation):
            return Pronoun(word, m.start(), m.end(), True)
    return None


def _is_object(
    following: list[re.Match[str]], relation: Callable[[str], str | None], clause: str
) -> bool:
    """Whether a him/her/them/it after the clause's first words is an object: it ends the
    clause, or a function word or number follows it ("married her in 1977"), and it does not
    open a relation noun ("... is her husband")."""
    if not following:
        return True
    if _before_relation(clause, following, relation):
        return False
    return bool(_NOT_A_NOUN.match(following[0].group(0)))


def _before_relation(
    clause: str, following: list[re.Match[str]], relation: Callable[[str], str | None]
) -> bool:
    """Whether the words after a possessive open a relation noun ("his wife", "its capital
    city"). "her" before anything else is an object ("married her in 1992")."""
    for n in range(len(following), 0, -1):
        phrase = clause[following[0].start() : following[n - 1].end()]
        if relation(phrase) is not None:
            return True
    return False


def substitute(clause: str, pronoun: Pronoun, name: str) -> str:
    """The clause with ``name`` in place of the pronoun ("his wife" -> "Barack Obama's wife")."""
    said = f"{name}'s" if pronoun.possessive else name
    return f"{clause[: pronoun.start]}{said}{clause[pronoun.end :]}"


@dataclass
class Topics:
    """What the clauses of one request read so far were about: the first entity each names
    (its grammatical subject), in order, each entity once.

    Attributes:
        mentions: each topic as the request wrote it, keyed by the entity it links to.
    """

    mentions: dict[str, str] = field(default_factory=dict)
    last: str | None = None

    def add(self, key: str, mention: str) -> None:
        """Record that a clause was about the entity ``key`` (written ``mention``)."""
        self.mentions.setdefault(key, mention)
        self.last = self.mentions[key]

    def copy(self) -> Topics:
        return Topics(dict(self.mentions), self.last)

    def update(self, other: Topics) -> None:
        """Take the topics of ``other`` (a copy read further)."""
        self.mentions = dict(other.mentions)
        self.last = other.last


@dataclass(frozen=True, slots=True)
class Unresolved:
    """A pronoun the request gives no single antecedent for: the reader asks."""

    message: str
    span: str
    suggestions: tuple[str, ...] = ()

    def unclear(self) -> Unclear:
        return Unclear(
            missing="entity",
            message=self.message[:2000],
            suggestions=self.suggestions,
            span=self.span[:2000] or None,
        )
