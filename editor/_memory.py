"""The model as a view of the facts in force: cached per-subject values and one closed-form solve.

Edits applied one after another drift: each delta is computed on weights that hold the earlier
ones, facts of one subject overwrite each other, and rolling one back does not give the model
one would have had without it. Here the edited weights are instead a *function of the set of
facts in force* (and the base model):

For each group ``S`` (one fact: a subject and relation with its object in force and the
objects retracted from it, by default; or all of one subject's facts, ``split="subject"``),
on the **base** weights, at the MLP output projection of one layer ``L``:

- ``k_S``: the key at ``S``'s last token (the projection's input), averaged over every prompt
  of ``S``'s facts in every context prefix;
- ``r_S``: the shift of the projection's output at that token that makes the model give every
  fact of ``S`` at once, and none of its avoided objects
  (:func:`editor._values.optimize_subject_values`, many at once).

Both depend only on the base model, the settings and ``S``'s own facts, so they are computed
once and cached on disk under a hash of exactly those. The default view adds each shift where
its subject is named and the prompt asks its question (:mod:`editor._router`,
:mod:`editor._gate`). The other view, kept for comparison, is the least-squares map
that sends each key to its shift while disturbing the corpus keys (second moment ``C``) least,
MEMIT's eq. 14 in its ``n x n`` form:

    ΔW = R (Kᵀ C⁻¹ K + λ I)⁻¹ Kᵀ C⁻¹        (K: d_ff x n keys, R: d_model x n shifts)

with subjects in a fixed order. Adding, retracting, importing or rolling back facts all mean
the same: solve again over the facts then in force, which costs the new subjects' optimisation
plus one small solve; rolling back gives, bit for bit, what a fresh sync of the remaining facts
gives, because it *is* that sync.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from editor._arch import ArchitectureSpec
from editor._common import _in_context, read_at_subject
from editor._errors import EditComputationError, EditorError
from editor._gate import GATE_FILLERS, GateTable, build_gate
from editor._hooks import StopForward, Trace
from editor._model import LoadedModel
from editor._protocol import EditContext
from editor._request import EditRequest
from editor._stats import SecondMomentStore
from editor._update import LowRankDelta, WeightUpdate
from editor._values import ValueOptimization, optimize_subject_values, rotate_prefixes

__all__ = [
    "FACT_MEMORY_DEFAULTS",
    "FACT_MEMORY_VIEWS",
    "FactMemory",
    "FactMemoryParams",
    "MemoryEntry",
    "SubjectFacts",
]

_FORMAT = 1
#: The ledger's names of the two views (see :attr:`FactMemoryParams.view`).
SOLVE_METHOD = "fact-memory"
ROUTER_METHOD = "fact-router"
FACT_MEMORY_VIEWS = {"router": ROUTER_METHOD, "solve": SOLVE_METHOD}


@dataclass(frozen=True)
class SubjectFacts:
    """What the model should say about one subject.

    Attributes:
        subject: the subject as it is said in a prompt (``"Barack Obama"``).
        requests: one per fact in force: its cloze templates and object (all about ``subject``).
        avoid: ``(template, object)`` pairs the model must no longer give (retracted facts),
            templates with ``{}`` for the subject.
        keep: templates (``{}`` for the subject) of what the graph says nothing about: the
            model's answers to them should stay as they were.
    """

    subject: str
    requests: tuple[EditRequest, ...] = ()
    avoid: tuple[tuple[str, str], ...] = ()
    keep: tuple[str, ...] = ()

    def canonical(self) -> dict[str, Any]:
        """The group as plain data in a fixed order (what its cache key is made of)."""
        data: dict[str, Any] = {
            "subject": self.subject,
            "requests": sorted(
                [r.prompt, list(r.paraphrases), r.target_new, [list(e) for e in r.extra_targets]]
                for r in self.requests
            ),
            "avoid": sorted([t, o] for t, o in self.avoid),
        }
        if self.keep:
            data["keep"] = sorted(self.keep)
        return data


@dataclass(frozen=True)
class FactMemoryParams:
    """Settings of the fact memory.

    Attributes:
        layer: the decoder block whose MLP output projection holds the facts.
        value: value-optimisation settings.
        ridge: λ of the solve; small keeps each subject's key mapped (almost) exactly to its
            shift, large trades that for a smaller update.
        cov_ridge: added to ``C`` as a share of its mean diagonal (a guard for a rank-deficient
            estimate).
        avoid_weight: weight of the unlikelihood of retracted objects.
        keep_weight: weight of the KL that keeps a subject's ``keep`` prompts as the base
            model answers them (0: not asked).
        prefixes_per_fact: each fact is asked in the bare prompt and this many context
            prefixes, in turn (None: in all of them; cost grows with facts times prefixes).
        view: how the entries reach the model: ``"router"`` adds each subject's shift where
            the input names it (:class:`editor.SubjectRouter`; no crowding, nothing else
            moves), ``"solve"`` writes them all into the layer's matrix by the closed-form
            solve above (kept for comparison: it trades facts for locality as subjects grow).
        gate_margin: the router adds a subject's shift only to prompts asking one of its
            facts' questions (:mod:`editor._gate`): within this much cosine similarity of the
            closest question the schema knows. None: no gate (every prompt naming it).
        gate_floor: below this similarity to every question the schema knows, a prompt is one
            the gate cannot place, and the shift is added.
        split: ``"subject"``: one entry per subject, its shift teaching all the subject's facts
            at once; ``"fact"``: one entry per subject and relation, each fact's shift taught
            alone, and the router's gate picks the one the prompt asks (so facts of one
            subject never pull on each other, and a new fact costs its own optimisation only).
            How the knowledge base groups its facts; the entries themselves do not change.
        batch: how many entries are optimised together in one forward pass
            (:func:`editor.optimize_subject_values`); each takes the course it would take
            alone, up to float rounding, so an entry does not depend on it beyond that.
    """

    layer: int
    value: ValueOptimization = field(default_factory=ValueOptimization)
    ridge: float = 0.1
    cov_ridge: float = 1e-3
    avoid_weight: float = 1.0
    keep_weight: float = 0.0
    prefixes_per_fact: int | None = 1
    view: str = "router"
    gate_margin: float | None = 0.03
    gate_floor: float = 0.5
    split: str = "fact"
    batch: int = 8

    def __post_init__(self) -> None:
        if self.view not in FACT_MEMORY_VIEWS:
            raise ValueError(
                f"unknown fact-memory view {self.view!r}; choose one of "
                f"{', '.join(sorted(FACT_MEMORY_VIEWS))}"
            )
        if self.split not in ("subject", "fact"):
            raise ValueError(f"unknown split {self.split!r}; choose 'subject' or 'fact'")
        if self.split == "fact" and (self.view != "router" or self.gate_margin is None):
            raise ValueError(
                "one entry per fact needs the router with its gate (view 'router', a gate margin)"
            )

    @classmethod
    def for_model(cls, spec: ArchitectureSpec, num_layers: int) -> FactMemoryParams:
        """Defaults for an architecture and depth, from :data:`FACT_MEMORY_DEFAULTS`."""
        row = (
            FACT_MEMORY_DEFAULTS.get((spec.family, num_layers))
            or FACT_MEMORY_DEFAULTS[(spec.family, None)]
        )
        layer = row.get("layer")
        if layer is None:
            layer = max(0, min(num_layers - 1, round(row["layer_fraction"] * num_layers)))
        value = replace(ValueOptimization(), **row.get("value", {}))
        extra = {
            k: v
            for k, v in row.items()
            if k
            in (
                "ridge",
                "cov_ridge",
                "avoid_weight",
                "keep_weight",
                "prefixes_per_fact",
                "view",
                "gate_margin",
                "gate_floor",
                "split",
                "batch",
            )
        }
        return cls(layer=int(layer), value=value, **extra)

    def digest(self) -> str:
        """A hash of every setting that changes a cached entry."""
        data = asdict(self)
        data.pop("ridge")  # the solve's, not the entries'
        data.pop("cov_ridge")
        data.pop("view")
        data.pop("gate_margin")  # the router's, not the entries'
        data.pop("gate_floor")
        data.pop("split")
        data.pop("batch")  # how entries are computed together, not what they are
        text = json.dumps(data, sort_keys=True, default=list)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


#: Defaults as data, keyed like ROME's: the layer ROME edits for the checkpoint.
FACT_MEMORY_DEFAULTS: dict[tuple[str, int | None], dict[str, Any]] = {
    ("llama", 30): {  # SmolLM2-135M
        "layer": 4,
        "keep_weight": 0.0,
        "value": {
            "num_grad_steps": 50,
            "lr": 1.0,
            "stop_probability": None,
            "stop_on_greedy": True,
            "clamp_norm_factor": 10.0,
        },
    },
    ("llama", None): {"layer_fraction": 0.15, "value": {"stop_probability": 0.6}},
    ("gpt2", None): {"layer_fraction": 0.3, "value": {"stop_probability": 0.6}},
    ("gpt_neox", None): {"layer_fraction": 0.15, "value": {"stop_probability": 0.6}},
}


@dataclass(frozen=True)
class MemoryEntry:
    """One subject's key and shift (float32, CPU) and what computing them reported."""

    key: torch.Tensor
    shift: torch.Tensor
    info: dict[str, float]


class FactMemory:
    """Computes, caches and solves the per-subject entries of one model (see the module doc).

    Args:
        loaded: the model; the edited matrix's value at construction is taken as its base
            (construct before any update is applied, or pass ``base``).
        stats: second moments of the base model's keys.
        params: settings; None takes :meth:`FactMemoryParams.for_model`.
        cache_root: where entries are cached on disk (None: memory only).
        base: the edited matrix's base value, when the live one already holds an update.
    """

    def __init__(
        self,
        loaded: LoadedModel,
        stats: SecondMomentStore,
        *,
        params: FactMemoryParams | None = None,
        cache_root: Path | None = None,
        base: torch.Tensor | None = None,
    ) -> None:
        self.loaded = loaded
        self.stats = stats
        spec = loaded.spec
        self.params = params or FactMemoryParams.for_model(spec, spec.num_layers(loaded.model))
        self.param_name = spec.mlp_out_weight_name(self.params.layer)
        self._param = dict(loaded.model.named_parameters())[self.param_name]
        self.base = (base if base is not None else self._param.detach()).to("cpu").clone()
        self.cache_root = cache_root
        self._entries: dict[str, MemoryEntry] = {}
        self._cov_factor: torch.Tensor | None = None
        self._work: torch.nn.Module | None = None
        self._compute_lock = threading.Lock()
        self._prompt_keys: dict[str, torch.Tensor] = {}
        self._disk_keys: dict[str, torch.Tensor] | None = None

    # ------------------------------------------------------------------ entries

    @property
    def directory(self) -> Path | None:
        """Where this model's and these settings' entries are cached on disk."""
        if self.cache_root is None:
            return None
        return (
            self.cache_root
            / "fact-memory"
            / self.loaded.model_key[:32]
            / f"v{_FORMAT}-{self.params.digest()}"
        )

    def solve_digest(self) -> str:
        """A hash of everything besides the entries that the update depends on: the model,
        the settings and the second moments' source."""
        p = self.params
        text = json.dumps(
            [
                self.loaded.model_key,
                p.digest(),
                p.view,
                p.ridge,
                p.cov_ridge,
                p.split,
                self.stats.corpus.sha256,
                *([p.gate_margin, p.gate_floor] if p.gate_margin is not None else []),
            ]
        )
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def digest(self, group: SubjectFacts) -> str:
        """The cache key of a subject's entry."""
        text = json.dumps(group.canonical(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def cached(self, group: SubjectFacts) -> bool:
        """Whether the entry for ``group`` needs no computation."""
        digest = self.digest(group)
        return digest in self._entries or (
            self.directory is not None and (self.directory / f"{digest}.safetensors").is_file()
        )

    def entry(self, group: SubjectFacts) -> MemoryEntry:
        """The subject's key and shift, from the cache or computed on the base weights.

        Raises:
            EditComputationError: nothing to write for the subject, or a failed optimisation.
        """
        digest = self.digest(group)
        hit = self._entries.get(digest) or self._load(digest)
        if hit is None:
            failed = self.compute([group])
            if failed:
                raise failed[0][1]
            hit = self._entries[digest]
        self._entries[digest] = hit
        return hit

    def compute(
        self,
        groups: Sequence[SubjectFacts],
        *,
        done: Callable[[SubjectFacts, EditorError | None], None] | None = None,
    ) -> list[tuple[SubjectFacts, EditorError]]:
        """Compute the entries of ``groups`` that are not cached, ``params.batch`` at a time
        in shared forward passes, each saved as soon as it is done (an interrupted run goes
        on where it stopped). ``done(group, error)`` is called as each group settles (cached
        ones at once). Returns the groups that failed, with why.
        """
        failed: list[tuple[SubjectFacts, EditorError]] = []

        def settle(group: SubjectFacts, error: EditorError | None) -> None:
            if error is not None:
                failed.append((group, error))
            if done is not None:
                done(group, error)

        todo: dict[str, list[SubjectFacts]] = {}
        for group in groups:
            digest = self.digest(group)
            hit = self._entries.get(digest) or self._load(digest)
            if hit is not None:
                self._entries[digest] = hit
                settle(group, None)
            else:
                todo.setdefault(digest, []).append(group)
        if not todo:
            return failed
        order = list(todo)
        with self._compute_lock:
            ctx = self._context()
            hp = self.params
            site = ctx.spec.mlp_out_name(hp.layer)
            clock = [time.perf_counter()]

            def finished(i: int, result: Any) -> None:
                digest = order[i]
                error: EditorError | None = None
                if isinstance(result, EditorError):
                    error = result
                else:
                    v_star, v_init, info = result
                    try:
                        key = self._key(ctx, todo[digest][0])
                    except EditorError as exc:
                        error = exc
                    else:
                        now = time.perf_counter()
                        entry = MemoryEntry(
                            key=key.detach().to("cpu", torch.float32),
                            shift=(v_star - v_init).detach().to("cpu", torch.float32),
                            # the wall time since the previous entry settled: entries of one
                            # batch share their passes, so this is each one's share of them
                            info={**info, "seconds": now - clock[0]},
                        )
                        clock[0] = now
                        self._save(digest, entry)
                        self._entries[digest] = entry
                for group in todo[digest]:
                    settle(group, error)

            optimize_subject_values(
                ctx,
                [todo[d][0] for d in order],
                site,
                hp.value,
                avoid_weight=hp.avoid_weight,
                prefixes_per_request=hp.prefixes_per_fact,
                keep_weight=hp.keep_weight,
                batch=hp.batch,
                done=finished,
            )
        return failed

    def _key(self, ctx: EditContext, group: SubjectFacts) -> torch.Tensor:
        """The mean key at the subject's last token over its prompts in every context prefix
        (the paraphrases in the first ``paraphrase_contexts``, as the optimisation asks them)."""
        hp = self.params.value
        templates: list[str] = []
        para = hp.context_templates[: max(1, hp.paraphrase_contexts)]
        for i, request in enumerate(group.requests):
            contexts = rotate_prefixes(hp, i, self.params.prefixes_per_fact).context_templates
            templates += [_in_context(c, request.prompt) for c in contexts]
            templates += [_in_context(c, p) for p in request.paraphrase_templates() for c in para]
        templates += [_in_context(c, t) for t, _ in group.avoid for c in para]
        keys = read_at_subject(
            ctx,
            ctx.spec.mlp_out_name(self.params.layer),
            templates,
            [group.subject] * len(templates),
            kind="input",
        )
        return keys.mean(0)

    def _context(self) -> EditContext:
        """Entries are computed on a copy of the model that keeps the base weights, so that the
        live model goes on answering (with the view in force) while they are computed."""
        if self._work is None:
            import copy

            work = copy.deepcopy(self.loaded.model)
            param = dict(work.named_parameters())[self.param_name]
            with torch.no_grad():
                param.copy_(self.base.to(param.device, param.dtype))
            work.requires_grad_(False)
            self._work = work
        return EditContext(
            model=self._work,
            tokenizer=self.loaded.tokenizer,
            spec=self.loaded.spec,
            stats=self.stats,
        )

    def _load(self, digest: str) -> MemoryEntry | None:
        from safetensors import safe_open

        if self.directory is None:
            return None
        path = self.directory / f"{digest}.safetensors"
        if not path.is_file():
            return None
        try:
            with safe_open(str(path), framework="pt") as fh:
                meta = fh.metadata() or {}
                key, shift = fh.get_tensor("key"), fh.get_tensor("shift")
        except (OSError, ValueError, KeyError):
            return None  # a torn or foreign file: compute the entry again
        return MemoryEntry(key=key, shift=shift, info=json.loads(meta.get("info", "{}")))

    def _save(self, digest: str, entry: MemoryEntry) -> None:
        import os

        from safetensors.torch import save_file

        if self.directory is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{digest}.safetensors"
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        save_file(
            {"key": entry.key.contiguous(), "shift": entry.shift.contiguous()},
            str(tmp),
            metadata={"info": json.dumps(entry.info)},
        )
        os.replace(tmp, path)

    # -------------------------------------------------------------------- solve

    def update(
        self,
        groups: Sequence[SubjectFacts],
        *,
        bank: Sequence[str] = (),
        tick: Callable[[SubjectFacts, bool], None] | None = None,
    ) -> WeightUpdate:
        """The update that writes every group: the router's table of shifts (``tensors
        ["shifts"]``, one row per subject of ``info["routed"]``, and what its gate is built
        from in ``info["gate"]``), or the matrix solved over all of them at once.

        Args:
            groups: the subjects and their facts; their order does not matter.
            bank: the questions the gate knows (cloze templates with ``{}``: every relation's
                in the schema); see :mod:`editor._gate`.
            tick: called after each group with the group and whether it was computed (not
                cached), for a progress bar.

        Raises:
            EditComputationError: a group cannot be written, or the solve is not finite.
        """
        start = time.perf_counter()
        ordered = sorted(groups, key=lambda g: (g.subject, self.digest(g)))
        subjects = [g.subject for g in ordered]
        if self.params.split == "subject" and len(set(subjects)) != len(subjects):
            raise EditComputationError("each subject may appear in one group only")
        if len({self.digest(g) for g in ordered}) != len(ordered):
            raise EditComputationError("the same group appears twice")
        missing = {self.digest(g) for g in ordered if not self.cached(g)}
        # the missing entries optimised together, then every entry from the cache
        failed = self.compute([g for g in ordered if self.digest(g) in missing])
        if failed:
            raise failed[0][1]
        entries: list[MemoryEntry] = []
        for group in ordered:
            entries.append(self.entry(group))
            if tick is not None:
                tick(group, self.digest(group) in missing)
        computed = len(missing)
        solve_start = time.perf_counter()
        deltas = {}
        tensors = {}
        routed: list[str] = []
        gate: dict[str, Any] | None = None
        if self.params.view == "router":
            method = ROUTER_METHOD
            # a zero shift changes nothing (a retracted object the model never gave): the
            # subject stays out of the table, and the model is the base one for it, bit for bit
            kept = [(g, e) for g, e in zip(ordered, entries, strict=True) if bool(e.shift.any())]
            routed = [g.subject for g, _ in kept]
            if kept:
                tensors["shifts"] = torch.stack([e.shift for _, e in kept])
            if kept and self.params.gate_margin is not None:
                gate = {
                    "bank": sorted(set(bank)),
                    "own": [_own_templates(g) for g, _ in kept],
                    "margin": self.params.gate_margin,
                    "floor": self.params.gate_floor,
                }
        else:
            method = SOLVE_METHOD
            if entries:
                deltas[self.param_name] = self.solve(entries)
        info = {
            "method": method,
            "routed": routed,
            "layer": self.params.layer,
            "subjects": len(entries),
            "facts": sum(len(g.requests) for g in ordered),
            "avoided": sum(len(g.avoid) for g in ordered),
            "computed": computed,
            "solve_seconds": time.perf_counter() - solve_start,
            "seconds": time.perf_counter() - start,
        }
        if gate is not None:
            info["gate"] = gate
        return WeightUpdate(deltas=deltas, method=method, info=info, tensors=tensors)

    # --------------------------------------------------------------------- gate

    def gate_table(self, info: dict[str, Any]) -> GateTable | None:
        """The router's gate for a view (its update's ``info``; None: the view has no gate).

        The keys are read on the base model and remembered (on disk too): a rebuilt view
        reads only new prompts.
        """
        gate = info.get("gate")
        routed = info.get("routed") or []
        if not gate or not routed:
            return None
        bank = list(gate["bank"])
        own = gate["own"]
        bank_prompts = [_fill(t, name) for t in bank for name in GATE_FILLERS]
        index = {t: i for i, t in enumerate(bank)}
        asked = [
            [_fill(t, subject) for t in templates]
            for subject, templates in zip(routed, own, strict=True)
        ]
        # every missing key in one read (prompts of one length go through together)
        self.prompt_keys([p for prompts in asked for p in prompts] + bank_prompts)
        own_keys = [self.prompt_keys(prompts) for prompts in asked]
        held = [sorted(index[t] for t in templates if t in index) for templates in own]
        return build_gate(
            self.prompt_keys(bank_prompts),
            len(bank),
            own_keys,
            held,
            margin=float(gate["margin"]),
            floor=float(gate["floor"]),
            device=self.loaded.device,
        )

    def prompt_keys(self, prompts: Sequence[str]) -> torch.Tensor:
        """The base model's key (this layer's MLP output projection input) at each prompt's
        last token, one row per prompt (float32, CPU)."""
        spec = self.loaded.spec
        width = int(self.base.shape[0] if spec.mlp_out_transposed else self.base.shape[1])
        missing = [p for p in dict.fromkeys(prompts) if p not in self._prompt_keys]
        if missing:
            with self._compute_lock:
                stored = self._stored_keys()
                found = {p: stored[_key_name(p)] for p in missing if _key_name(p) in stored}
                self._prompt_keys.update(found)
                todo = [p for p in missing if p not in found]
                if todo:
                    ctx = self._context()
                    site = ctx.spec.mlp_out_name(self.params.layer)
                    read = _last_keys(ctx, site, todo)
                    self._prompt_keys.update(read)
                    fresh = {_key_name(p): key for p, key in read.items()}
                    stored.update(fresh)
                    self._store_keys(fresh)
        if not prompts:
            return torch.zeros(0, width)
        return torch.stack([self._prompt_keys[p] for p in prompts])

    @property
    def _keys_dir(self) -> Path | None:
        if self.cache_root is None:
            return None
        folder = self.cache_root / "fact-memory" / self.loaded.model_key[:32]
        return folder / f"keys-layer{self.params.layer:03d}"

    def _stored_keys(self) -> dict[str, torch.Tensor]:
        """The prompt keys cached on disk (read once), by :func:`_key_name`: one file per
        batch read (what one sync or edit added), so that adding keys never rewrites the rest."""
        if self._disk_keys is None:
            self._disk_keys = {}
            folder = self._keys_dir
            if folder is not None and folder.is_dir():
                from safetensors.torch import load_file

                for path in sorted(folder.glob("*.safetensors")):
                    # a torn or foreign file: its keys are read again
                    with contextlib.suppress(OSError, ValueError, RuntimeError):
                        self._disk_keys.update(load_file(str(path)))
        return self._disk_keys

    def _store_keys(self, keys: dict[str, torch.Tensor]) -> None:
        """Add newly read keys to the disk cache (a file of their own)."""
        import os

        from safetensors.torch import save_file

        folder = self._keys_dir
        if folder is None or not keys:
            return
        folder.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256("".join(sorted(keys)).encode()).hexdigest()[:24]
        path = folder / f"{name}.safetensors"
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        save_file({k: v.contiguous() for k, v in keys.items()}, str(tmp))
        os.replace(tmp, path)

    def solve(self, entries: Sequence[MemoryEntry]) -> LowRankDelta:
        """``ΔW = R (Kᵀ C⁻¹ K + λ I)⁻¹ Kᵀ C⁻¹`` as low-rank factors (storage orientation).

        Raises:
            EditComputationError: when the result is not finite.
        """
        keys = torch.stack([e.key for e in entries], dim=1).double()  # d_ff x n
        shifts = torch.stack([e.shift for e in entries], dim=1).double()  # d_model x n
        factor = self._covariance_factor()
        c_inv_k = torch.cholesky_solve(keys, factor)  # C⁻¹ K
        gram = keys.T @ c_inv_k
        n = gram.shape[0]
        scale = float(gram.diagonal().mean()) if n else 1.0
        system = gram + self.params.ridge * scale * torch.eye(n, dtype=gram.dtype)
        right = torch.linalg.solve(system, c_inv_k.T)  # (G + λI)⁻¹ Kᵀ C⁻¹ : n x d_ff
        delta = LowRankDelta.from_math(self.loaded.spec, shifts, right)
        if not delta.is_finite():
            raise EditComputationError("the fact-memory solve is not finite")
        return delta

    def _covariance_factor(self) -> torch.Tensor:
        if self._cov_factor is None:
            cov = self.stats.get(self.params.layer).to("cpu", torch.float64)
            ridge = self.params.cov_ridge * float(cov.diagonal().mean())
            cov = cov + ridge * torch.eye(cov.shape[0], dtype=cov.dtype)
            self._cov_factor = torch.linalg.cholesky(cov)
        return self._cov_factor


def _own_templates(group: SubjectFacts) -> list[str]:
    """The questions a subject's entry answers: its facts' templates and its retracted ones'."""
    out: set[str] = set()
    for request in group.requests:
        out.add(request.prompt)
        out.update(request.paraphrase_templates())
    out.update(t for t, _ in group.avoid)
    return sorted(out)


def _key_name(prompt: str) -> str:
    """A prompt's name in the key cache."""
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:40]


def _fill(template: str, subject: str) -> str:
    return template.replace("{}", subject)


def _last_keys(
    ctx: EditContext, site: str, prompts: Sequence[str], chunk: int = 64
) -> dict[str, torch.Tensor]:
    """The input of ``site`` at each prompt's last token (float32, CPU). Prompts of one token
    length are read together, ``chunk`` at a time: no padding, so each row sees exactly its
    own tokens, and a key depends on what is read with it only up to float rounding."""
    encoded = {p: list(ctx.tokenizer(p)["input_ids"]) for p in prompts}
    by_length: dict[int, list[str]] = {}
    for prompt, ids in encoded.items():
        by_length.setdefault(len(ids), []).append(prompt)
    out: dict[str, torch.Tensor] = {}
    for _, group in sorted(by_length.items()):
        for i in range(0, len(group), chunk):
            part = group[i : i + chunk]
            batch = torch.tensor([encoded[p] for p in part], dtype=torch.long, device=ctx.device)
            with (
                torch.no_grad(),
                Trace(ctx.model, site, retain_input=True, retain_output=False, stop=True) as trace,
                contextlib.suppress(StopForward),
            ):
                ctx.model(input_ids=batch, use_cache=False)
            assert trace.input is not None
            keys = trace.input[:, -1].detach().to("cpu", torch.float32)
            out.update((p, keys[j].clone()) for j, p in enumerate(part))
    return out
