"""The edit request: a cloze prompt, its subject and the new target."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from kg._errors import InputError

__all__ = ["EditRequest"]


class EditRequest(BaseModel):
    """One fact to write into the model, as a cloze. Invalid fields raise pydantic's
    ``ValidationError`` at construction.

    Attributes:
        prompt: the cloze template with exactly one ``{}`` where the subject goes,
            e.g. ``"The capital of {} is"``.
        subject: the subject string, e.g. ``"Australia"``.
        target_new: the new object, e.g. ``"Canberra"`` (a leading space is added when tokenized).
        target_true: the object the model knew before, when known (used for scoring only).
        paraphrases: extra prompts, either templates with ``{}`` or full sentences that contain
            the subject, on which the new target should also hold (methods may optimise on them).
        extra_targets: ``(prompt, target)`` pairs that should also hold once the edit is in
            force, each prompt a template with ``{}`` or a sentence containing the subject. Used
            for GLAME-style propagation: facts of the new object's neighbourhood, asked through
            composed prompts about the subject ("The capital of the country of citizenship of
            {} is", "Canberra"). Methods add them as extra targets of the value optimisation.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    prompt: str
    subject: str
    target_new: str
    target_true: str | None = None
    paraphrases: tuple[str, ...] = ()
    extra_targets: tuple[tuple[str, str], ...] = ()

    @field_validator("subject", "target_new")
    @classmethod
    def _non_empty(cls, value: str) -> str:
        if not value:
            raise ValueError("must not be empty")
        return value

    @field_validator("prompt")
    @classmethod
    def _one_slot(cls, value: str) -> str:
        if value.count("{}") != 1:
            raise ValueError("the prompt must contain exactly one '{}' for the subject")
        return value

    @model_validator(mode="after")
    def _paraphrases_mention_subject(self) -> EditRequest:
        for p in self.paraphrases:
            if p.count("{}") != 1 and self.subject not in p:
                raise ValueError(
                    f"paraphrase {p!r} has neither a '{{}}' slot nor the subject {self.subject!r}"
                )
        for p, target in self.extra_targets:
            if p.count("{}") != 1 and self.subject not in p:
                raise ValueError(
                    f"extra target prompt {p!r} has neither a '{{}}' slot nor the subject "
                    f"{self.subject!r}"
                )
            if not target.strip():
                raise ValueError(f"extra target for {p!r} must not be empty")
        return self

    @property
    def text(self) -> str:
        """The prompt with the subject filled in."""
        return self.prompt.format(self.subject)

    def paraphrase_templates(self) -> tuple[str, ...]:
        """Paraphrases as templates with ``{}`` at the (first) subject mention."""
        out = []
        for p in self.paraphrases:
            if p.count("{}") == 1:
                out.append(p)
            else:
                out.append(_templatize(p, self.subject))
        return tuple(out)

    def extra_target_templates(self) -> tuple[tuple[str, str], ...]:
        """Extra targets with their prompts as templates (``{}`` at the subject)."""
        return tuple(
            (p if p.count("{}") == 1 else _templatize(p, self.subject), t.strip())
            for p, t in self.extra_targets
        )

    @classmethod
    def from_counterfact(cls, record: dict[str, object]) -> EditRequest:
        """Build a request from a CounterFact record in EasyEdit's flat format.

        Raises:
            InputError: when the subject does not occur in the record's prompt.
            pydantic.ValidationError: when a field is invalid (as for the constructor).
        """
        prompt = str(record["prompt"])
        subject = str(record["subject"])
        if subject not in prompt:
            raise InputError(f"subject {subject!r} not in prompt {prompt!r}", field="subject")
        template = _templatize(prompt, subject)
        # The record's rephrase prompt is held out for measuring generalization: not used here.
        return cls(
            prompt=template,
            subject=subject,
            target_new=str(record["target_new"]),
            target_true=str(record["ground_truth"]) if record.get("ground_truth") else None,
        )


def _templatize(text: str, subject: str) -> str:
    """Turn a sentence mentioning ``subject`` into a template with ``{}`` at the first mention."""
    i = text.index(subject)

    def esc(s: str) -> str:
        return s.replace("{", "{{").replace("}", "}}")

    return esc(text[:i]) + "{}" + esc(text[i + len(subject) :])
