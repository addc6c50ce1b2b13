from __future__ import annotations

import pytest
from pydantic import ValidationError

from editor import EditRequest


def test_valid_request_and_text() -> None:
    r = EditRequest(prompt="The capital of {} is", subject="Zorland", target_new="Paris")
    assert r.text == "The capital of Zorland is"


@pytest.mark.parametrize(
    "fields",
    [
        {"prompt": "The capital of Zorland is", "subject": "Zorland", "target_new": "Paris"},
        {"prompt": "{} and {}", "subject": "Zorland", "target_new": "Paris"},
        {"prompt": "The capital of {} is", "subject": "", "target_new": "Paris"},
        {"prompt": "The capital of {} is", "subject": "Zorland", "target_new": " "},
        {"prompt": "The capital of {} is", "subject": "Zorland", "target_new": "P", "x": 1},
        {"prompt": "{} is", "subject": "Zorland", "target_new": "P", "paraphrases": ["nope"]},
    ],
)
def test_invalid_requests_are_rejected(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        EditRequest(**fields)  # type: ignore[arg-type]


def test_paraphrases_become_templates() -> None:
    r = EditRequest(
        prompt="{} is in",
        subject="Rome {x}",
        target_new="Spain",
        paraphrases=("Where is Rome {x}? In", "People say {} lies in"),
    )
    assert r.paraphrase_templates() == ("Where is {}? In", "People say {} lies in")
    assert r.paraphrase_templates()[0].format(r.subject) == "Where is Rome {x}? In"


def test_from_counterfact_holds_out_the_rephrase() -> None:
    record = {
        "prompt": "The mother tongue of Danielle Darrieux is",
        "subject": "Danielle Darrieux",
        "target_new": "English",
        "ground_truth": "French",
        "rephrase_prompt": "Danielle Darrieux speaks",
    }
    r = EditRequest.from_counterfact(record)
    assert r.prompt == "The mother tongue of {} is"
    assert r.target_true == "French"
    assert r.paraphrases == ()


def test_from_counterfact_needs_the_subject_in_the_prompt() -> None:
    from kg._errors import InputError

    with pytest.raises(InputError, match="not in prompt"):
        EditRequest.from_counterfact({"prompt": "X is", "subject": "Y", "target_new": "Z"})


def test_rewriting_templates_ask_paraphrases_in_fewer_contexts() -> None:
    from editor._common import rewriting_templates

    r = EditRequest(
        prompt="The capital of {} is",
        subject="Zorland",
        target_new="Rome",
        paraphrases=("{}'s capital city is",),
    )
    contexts = ("{}", "Hello. {}", "Well, {}")
    assert rewriting_templates(r, contexts, 1) == [
        "The capital of {} is",
        "Hello. The capital of {} is",
        "Well, The capital of {} is",
        "{}'s capital city is",
    ]
    assert len(rewriting_templates(r, contexts)) == 6  # None: every paraphrase in every context
    assert rewriting_templates(r, contexts, 2)[-1] == "Hello. {}'s capital city is"
