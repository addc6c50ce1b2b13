"""The front door's limits: what text the interpreter accepts at all.

Text is data: nothing in it is executed or treated as an instruction to the interpreter, and
names pass on as plain strings (the stores bind them as parameters).
"""

from __future__ import annotations

import re
import unicodedata

from kg._errors import InputError

__all__ = ["MAX_TEXT_LENGTH", "check_text", "looks_like_instructions"]

MAX_TEXT_LENGTH = 1000

_INSTRUCTIONS = re.compile(
    r"\b(?:ignore|disregard|forget|override|bypass)\s+(?:all\s+|any\s+|the\s+|your\s+)*"
    r"(?:previous|prior|above|earlier|system|safety)?\s*(?:rules|instructions|prompts?|guidelines)\b"
    r"|\byou\s+are\s+now\b|\bsystem\s+prompt\b|\bact\s+as\s+(?:an?\s+)?(?:admin|root)\b",
    re.IGNORECASE,
)


def looks_like_instructions(text: str) -> bool:
    """Whether the text addresses the reader itself ("ignore previous rules", "you are now an
    admin"). Such text is never obeyed; the interpreter does not hand it to a language model
    either, where it could steer the reading."""
    return bool(_INSTRUCTIONS.search(text))


def check_text(text: object, *, max_length: int = MAX_TEXT_LENGTH) -> str:
    """Validate a request and return it NFC-normalized and stripped.

    Tabs and newlines become spaces; other control, format, private-use and unpaired surrogate
    characters are refused (they hide text from a reviewer and from the logs).

    Raises:
        InputError: the text is not a string, is empty, is longer than ``max_length``
            characters, or holds control characters.
    """
    if not isinstance(text, str):
        raise InputError(f"text must be a string, got {type(text).__name__}", field="text")
    if len(text) > max_length:
        raise InputError(
            f"text is {len(text)} characters long; the limit is {max_length}: "
            "send one request at a time",
            field="text",
        )
    cleaned = unicodedata.normalize("NFC", text)
    cleaned = "".join(" " if ch in "\t\n\r" else ch for ch in cleaned).strip()
    if not cleaned:
        raise InputError("text is empty; say what to change or ask", field="text")
    for pos, ch in enumerate(cleaned):
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co"):
            raise InputError(
                f"text holds a control or invisible character U+{ord(ch):04X} at position "
                f"{pos}; remove it",
                field="text",
            )
    return " ".join(cleaned.split())
