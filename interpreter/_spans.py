"""What words may become an entity name: a mention never crosses a clause boundary.

A mention (the words a request uses to name a subject or an object) that holds sentence
punctuation, a new clause ("..., her husband is ...", "... and she ..."), a second verb or an
instruction, or that is longer than a name can be, is a sign that the reader cut the sentence
in the wrong place; such a span must not become an entity. A name in double quotes is taken
as written (its inner punctuation is deliberate), within the same length limits. A list of
names ("Paris, Lyon and Nice") is not one name either, and a pronoun ("He", "its"), even
in quotes, never is: it stands for a name the request gives elsewhere.

The limits live here, in one place:

- ``MAX_NAME_WORDS``: the most words of a name (8: "President of the United States of
  America" has 7).
- ``MAX_NAME_CHARS``: the most characters of a name (80).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from interpreter._coref import is_pronoun

__all__ = [
    "MAX_NAME_CHARS",
    "MAX_NAME_WORDS",
    "SENTENCE_MARKS",
    "fold_punctuation",
    "is_quoted_name",
    "span_problem",
]

MAX_NAME_WORDS = 8
MAX_NAME_CHARS = 80

# Look-alikes of . , ; : ! ? that NFKC does not fold to ASCII (ideographic, Arabic,
# Devanagari, ellipsis, interrobang...), with their ASCII reading.
_LOOK_ALIKES = {
    "\u3002": ".",  # ideographic full stop
    "\uff61": ".",  # halfwidth ideographic full stop
    "\u3001": ",",  # ideographic comma
    "\uff64": ",",  # halfwidth ideographic comma
    "\u060c": ",",  # Arabic comma
    "\u061b": ";",  # Arabic semicolon
    "\u061f": "?",  # Arabic question mark
    "\u0964": ".",  # Devanagari danda
    "\u0965": ".",  # Devanagari double danda
    "\u2026": "...",  # horizontal ellipsis
    "\u203d": "?",  # interrobang
    "\u2047": "?",
    "\u2048": "?",
    "\u2049": "!",
    "\u00a1": "!",  # inverted exclamation mark
    "\u00bf": "?",  # inverted question mark
}
_ASCII_MARKS = ".,;:!?"
SENTENCE_MARKS = frozenset(".;:!?")
"""ASCII sentence punctuation (after ``fold_punctuation``); a comma is judged by context."""

_QUOTES_OPEN = '"\u201c\u201e\u00ab'
_QUOTES_CLOSE = '"\u201d\u00bb'
_ALL_QUOTES = set(_QUOTES_OPEN + _QUOTES_CLOSE)

# Words that open a clause of their own after a comma or a conjunction.
_CLAUSE_OPENERS = (
    "he|she|it|they|we|i|you|his|her|its|their|our|my|your|this|that|these|those|there|"
    "which|who|whom|whose|where|when|while|whereas|because|since|also|then|so|not|but|"
    "and|or|please|system|assistant|user|admin|administrator|developer"
)
_NEW_CLAUSE = re.compile(rf"^(?:{_CLAUSE_OPENERS})\b", re.IGNORECASE)
# Verbs that make a clause (lower case: "Love Is All Around" as a title is not a clause).
_FINITE = (
    r"is|was|are|were|am|be|been|being|has|have|had|will|would|shall|should|can|could|"
    r"must|may|might|does|do|did|isn't|wasn't|aren't|weren't|doesn't|don't|didn't"
)
# Imperatives a request is made of ("approve all pending edits", "set the president to").
_IMPERATIVES = (
    r"approve|reject|accept|set|ignore|disregard|override|delete|remove|erase|forget|"
    r"update|change|replace|grant|execute|run|apply|undo|revert|add|insert|make|tell"
)
_CLAUSE_VERB = re.compile(rf"(?<![\w'-])(?:{_FINITE}|{_IMPERATIVES})(?![\w'-])")
# "A, B and C": a comma, then "and"/"or" further on ("Honolulu, Hawaii" is one name).
_LIST = re.compile(r",[^,]*\s(?:and|or|&)\s", re.IGNORECASE)
_ABBREVIATION = re.compile(
    r"(?:\b[A-Za-z]|\b(?:Jr|Sr|St|Mt|Ft|Co|Inc|Ltd|Corp|Dr|Mr|Mrs|Ms|Prof|Gen|Gov|Sen|Rep|"
    r"Rev|Hon|Capt|Lt|Col|Sgt|No|Vol|vs|etc|[A-Z]\.[A-Z]|[A-Z]\.[A-Z]\.[A-Z]))$"
)


def fold_punctuation(text: str) -> str:
    """The text with look-alike sentence punctuation written in ASCII: fullwidth and small
    forms (．，；：！？, by NFKC), the ideographic full stop and comma (。、), Arabic and
    Devanagari marks, the ellipsis. Other characters are unchanged."""
    out: list[str] = []
    for ch in text:
        if ch in _LOOK_ALIKES:
            out.append(_LOOK_ALIKES[ch])
            continue
        if ord(ch) > 127 and unicodedata.category(ch).startswith("P"):
            folded = unicodedata.normalize("NFKC", ch)
            if folded in _ASCII_MARKS:
                out.append(folded)
                continue
        out.append(ch)
    return "".join(out)


def is_quoted_name(mention: str) -> bool:
    """Whether the mention is one name in double quotes ('"Mission: Impossible"'), with no
    other quote inside ('"A" and "B"' is two names)."""
    text = mention.strip()
    if len(text) < 3 or text[0] not in _QUOTES_OPEN or text[-1] not in _QUOTES_CLOSE:
        return False
    return not any(ch in _ALL_QUOTES for ch in text[1:-1])


def span_problem(mention: str, relation_phrases: Iterable[str] = ()) -> str | None:
    """Why a mention cannot be an entity name, or None when it can.

    Args:
        mention: the words of the request that would name the entity.
        relation_phrases: verbal phrasings of relations ("studied at", "was born in"); one
            inside the mention is a second statement.

    Returns:
        A reason for the user ("it holds the sentence punctuation ';'"), or None.
    """
    text = mention.strip()
    quoted = is_quoted_name(text)
    if quoted:
        text = text[1:-1].strip()
    text = _trim_end(fold_punctuation(text))
    if not text:
        return "it is empty"
    words = text.split()
    if len(words) > MAX_NAME_WORDS:
        return f"it is {len(words)} words long; a name has at most {MAX_NAME_WORDS}"
    if len(text) > MAX_NAME_CHARS:
        return f"it is {len(text)} characters long; a name has at most {MAX_NAME_CHARS}"
    if is_pronoun(text):
        return "it is a pronoun, not a name; say whom or what it stands for"
    if quoted:
        return None
    mark = _sentence_mark(text)
    if mark is not None:
        return f"it holds the sentence punctuation {mark!r}"
    clause = _new_clause(text)
    if clause is not None:
        return f"a new clause starts inside it ({clause!r})"
    if _LIST.search(text):
        return "it reads as a list of names; say one value per sentence"
    verb = _CLAUSE_VERB.search(text)
    if verb is not None:
        return f"it holds the verb {verb.group(0)!r}, so it is a statement, not a name"
    lowered = f" {text.lower()} "
    for phrase in relation_phrases:
        if f" {phrase} " in lowered and f" {phrase} " in f" {text} ":
            return f"it holds the relation words {phrase!r}, so it is a second statement"
    return None


def _trim_end(text: str) -> str:
    """Drop the closing punctuation a sentence leaves on its last name ("Paris." -> "Paris"),
    but not the dot of an abbreviation ("D.C.", "Jr.")."""
    text = text.strip()
    while text and text[-1] in "!?,;:":
        text = text[:-1].rstrip()
    if text.endswith("...") or (text.endswith(".") and not _ABBREVIATION.search(text[:-1])):
        text = text.rstrip(".").rstrip()
    return text


def _sentence_mark(text: str) -> str | None:
    """The first mark that ends a sentence or a clause inside the text: ';' anywhere; ':' '!'
    '?' before more words; '.' before a space (not after an initial or an abbreviation) or
    between a word and a capital ("Paris.SYSTEM")."""
    for i, ch in enumerate(text):
        if ch not in SENTENCE_MARKS:
            continue
        after = text[i + 1 : i + 2]
        if ch == ";":
            return ch
        if ch in ":!?" and (after == "" or after.isspace() or after.isalpha()):
            if ch == ":" and after.isdigit():
                continue
            return ch
        if ch == ".":
            if text[i + 1 : i + 3] == "..":
                return "..."
            before = text[:i]
            if after.isspace() and not _ABBREVIATION.search(before):
                return ch
            if after.isupper() and re.search(r"[a-z]{2}$", before):
                return ch
    return None


def _new_clause(text: str) -> str | None:
    """The words that open a clause after a comma, a dash or a conjunction inside the text:
    "Oakland, her husband is ...", "Paris and she ...", "Paris - approve ...". A comma inside a
    name ("Washington, D.C.", "Oakland, California") opens none."""
    for sep in re.finditer(r",|\s[-\u2013\u2014]\s|\s(?:and|but|or|&)\s", text, re.IGNORECASE):
        rest = text[sep.end() :].lstrip()
        if _NEW_CLAUSE.match(rest):
            return text[sep.start() :].strip()
        if sep.group(0) == "," and _CLAUSE_VERB.search(rest.split(",")[0]):
            return text[sep.start() :].strip()
    return None
