"""Validation and folding of entity and relation names."""

from __future__ import annotations

import re
import unicodedata

from kg._errors import InputError

__all__ = [
    "MAX_NAME_LENGTH",
    "MAX_RELATION_LENGTH",
    "check_entity_name",
    "check_relation_name",
    "entity_key",
    "relation_key",
]

MAX_NAME_LENGTH = 200
MAX_RELATION_LENGTH = 64

_SEPARATORS = re.compile(r"[\s_]+")
_RELATION_CHARS = re.compile(r"^[^\W\d][\w \-]*$")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _has_control(text: str) -> bool:
    if text.isprintable():  # the common case, in C: no control, format or separator chars
        return False
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") for ch in text)


def check_entity_name(name: object, *, field: str = "name") -> str:
    """Validate an entity name and return it stripped.

    Raises:
        InputError: the name is not a string, is empty, too long or holds control characters.
    """
    if not isinstance(name, str):
        raise InputError(f"{field} must be text, got {type(name).__name__}", field=field)
    stripped = unicodedata.normalize("NFC", name.strip())
    if not stripped:
        raise InputError(f"{field} is empty; give a non-empty entity name", field=field)
    if len(stripped) > MAX_NAME_LENGTH:
        raise InputError(
            f"{field} is {len(stripped)} characters long; the limit is {MAX_NAME_LENGTH}",
            field=field,
        )
    if _has_control(stripped):
        raise InputError(
            f"{field} {stripped[:40]!r} contains control characters; remove them", field=field
        )
    return stripped


def entity_key(name: str, *, folded: bool = True) -> str:
    """The identity of an entity name: ``Barack_Obama``, ``Barack  Obama`` and ``barack obama``
    share the key ``barack obama``. With ``folded=False`` only surrounding space is ignored."""
    text = unicodedata.normalize("NFKC", name).strip()
    if not folded:
        return text
    return _SEPARATORS.sub(" ", text).strip().casefold()


def check_relation_name(name: object, *, field: str = "relation") -> str:
    """Validate a relation name and return it stripped.

    Relation names are identifiers with spaces or hyphens allowed (``married to``,
    ``first_lady``); quotes, ``|``, braces and other punctuation are refused.

    Raises:
        InputError: the name is not text, is empty, too long, or has forbidden characters.
    """
    if not isinstance(name, str):
        raise InputError(f"{field} must be text, got {type(name).__name__}", field=field)
    stripped = name.strip()
    if not stripped:
        raise InputError(f"{field} is empty; give a relation name", field=field)
    if len(stripped) > MAX_RELATION_LENGTH:
        raise InputError(
            f"{field} is {len(stripped)} characters long; the limit is {MAX_RELATION_LENGTH}",
            field=field,
        )
    if _has_control(stripped) or not _RELATION_CHARS.match(stripped):
        raise InputError(
            f"{field} {stripped!r} may hold only letters, digits, '_', '-' and spaces, "
            "starting with a letter",
            field=field,
        )
    return stripped


def relation_key(name: str) -> str:
    """The lookup key of a relation name or surface form: ``Married to``, ``married_to``,
    ``married-to`` and ``marriedTo`` all give ``married_to``."""
    text = _CAMEL.sub("_", name.strip())
    return re.sub(r"[\s\-_]+", "_", text).strip("_").casefold()
