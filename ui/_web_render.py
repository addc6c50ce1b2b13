"""HTML for the web app: chat answers, the neighbourhood graph (an inline SVG laid out here,
so nothing is fetched), journal entries and reports.

Pure functions from the Python API's return values to HTML strings; every name and value that
comes from the graph or a user is escaped. No state, no I/O.
"""

from __future__ import annotations

import html
import json
import math
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from kg import EditKind, EditRecord, EditState, Fact, FactKind
from knowsync._outcomes import Notice

__all__ = [
    "AGREEMENT_MEASURES",
    "CSS",
    "agreement_html",
    "callout",
    "edit_card",
    "edit_summary",
    "esc",
    "fact_history_html",
    "facts_table",
    "graph_svg",
    "held_reason",
    "import_report",
    "notices_html",
    "relation_bars_html",
    "rollback_report",
    "said_html",
    "short_time",
    "state_label",
    "submission_html",
]

# The app's own style sheet: system fonts only (nothing fetched), calm colours, one accent.
CSS = """
:root { --ks-accent: #2563eb; --ks-ok: #15803d; --ks-warn: #b45309; --ks-bad: #b91c1c;
        --ks-derived: #7c3aed; --ks-recent: #ea580c; --ks-muted: #64748b; }
.gradio-container { max-width: min(1600px, 100%) !important; }
#ks-header { display: flex; align-items: center; gap: 16px; padding: 4px 2px 8px 2px;
             border-bottom: 1px solid var(--border-color-primary); margin-bottom: 6px; }
#ks-header .ks-brand { font-size: 1.35rem; font-weight: 700; letter-spacing: -0.01em; }
#ks-header .ks-brand span { color: var(--ks-accent); }
#ks-header .ks-stats { color: var(--ks-muted); font-size: 0.9rem; }
#ks-header .ks-spacer { flex: 1; }
.ks-tiles { display: flex; gap: 12px; flex-wrap: wrap; margin: 10px 0 4px 0; }
.ks-tile { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px 14px;
           min-width: 150px; }
.ks-tile-v { font-size: 1.6rem; font-weight: 700; }
.ks-tile-k { color: var(--ks-muted); font-size: 0.85rem; }
.ks-user { font-size: 0.9rem; }
.ks-role { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 0.78rem;
           background: #e0e7ff; color: #3730a3; margin-left: 4px; font-weight: 600; }
#ks-login { max-width: 440px; margin: 48px auto; }
.ks-badge { display: inline-block; padding: 1px 9px; border-radius: 999px; font-size: 0.8rem;
            font-weight: 600; margin-right: 6px; vertical-align: 1px; }
.ks-ok { background: #dcfce7; color: #166534; }
.ks-warn { background: #fef3c7; color: #92400e; }
.ks-bad { background: #fee2e2; color: #991b1b; }
.ks-info { background: #dbeafe; color: #1e40af; }
.ks-neutral { background: #f1f5f9; color: #334155; }
.ks-card { border: 1px solid var(--border-color-primary); border-radius: 10px;
           padding: 12px 14px; background: var(--background-fill-primary); line-height: 1.5; }
.ks-card h4 { margin: 10px 0 4px 0; font-size: 0.82rem; text-transform: uppercase;
              letter-spacing: 0.04em; color: var(--ks-muted); font-weight: 600; }
.ks-card h4:first-child { margin-top: 0; }
.ks-msg h4 { margin: 8px 0 2px 0; font-size: 0.78rem; text-transform: uppercase;
             letter-spacing: 0.04em; color: var(--ks-muted); font-weight: 600; }
.ks-msg ul, .ks-card ul { margin: 2px 0 2px 0; padding-left: 18px; }
.ks-msg li, .ks-card li { margin: 1px 0; }
.ks-triple { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
             font-size: 0.88em; background: #f8fafc; border: 1px solid #e2e8f0;
             border-radius: 6px; padding: 0 5px; white-space: nowrap; }
.ks-rel { color: var(--ks-accent); }
.ks-old { text-decoration: line-through; color: var(--ks-muted); }
.ks-note { color: var(--ks-muted); font-size: 0.88em; }
.ks-callout { border-radius: 8px; padding: 8px 12px; margin: 4px 0; }
.ks-callout.ks-bad { border: 1px solid #fecaca; }
.ks-callout.ks-ok { border: 1px solid #bbf7d0; }
.ks-callout.ks-warn { border: 1px solid #fde68a; }
.ks-callout.ks-info { border: 1px solid #bfdbfe; }
table.ks-table { border-collapse: collapse; width: 100%; font-size: 0.9em; margin: 4px 0; }
table.ks-table th { text-align: left; color: var(--ks-muted); font-weight: 600;
                    border-bottom: 1px solid var(--border-color-primary); padding: 3px 8px; }
table.ks-table td { border-bottom: 1px solid #f1f5f9; padding: 3px 8px; vertical-align: top; }
table.ks-table, table.ks-table th, table.ks-table td { border-left: none !important;
    border-right: none !important; border-top: none !important; }
.ks-graph { border: 1px solid var(--border-color-primary); border-radius: 10px;
            background: #fcfcfd; overflow: auto; }
.ks-graph svg { display: block; width: 100%; min-width: 960px; height: auto; margin: 0 auto; }
.ks-graph [data-entity], .ks-graph [data-fact] { cursor: pointer; }
.ks-graph [data-entity]:hover rect { stroke: var(--ks-accent); stroke-width: 2; }
.ks-graph .ks-hit { fill: none; stroke: transparent; stroke-width: 12; pointer-events: stroke; }
.ks-graph .ks-fact:hover .ks-line { stroke-width: 3; }
.ks-graph .ks-edge-label:hover rect { stroke-opacity: 1; }
.ks-legend { display: flex; gap: 18px; font-size: 0.85rem; color: var(--ks-muted);
             padding: 6px 2px; flex-wrap: wrap; }
.ks-legend i { display: inline-block; width: 26px; height: 0; vertical-align: middle;
               margin-right: 6px; border-top: 2px solid #64748b; }
.ks-legend i.d { border-top: 2px dashed var(--ks-derived); }
.ks-legend i.r { border-top: 3px solid var(--ks-recent); }
.ks-side { color: var(--ks-muted); font-size: 0.9rem; overflow-wrap: anywhere; min-width: 0; }
.ks-side .ks-triple { white-space: normal; }
.ks-said { white-space: pre-wrap; }
.ks-probe { min-height: 90px; font-size: 1.05rem; }
.ks-notices ul { margin: 4px 0 0 0; padding-left: 0; list-style: none; }
.ks-notices li { margin: 0 0 6px 0; padding: 4px 6px; border-radius: 6px; color: inherit; }
.ks-notices li.ks-new { background: #eff6ff; border-left: 3px solid var(--ks-accent); }
.ks-notices .ks-approved { color: var(--ks-ok); font-weight: 600; }
.ks-notices .ks-rejected { color: var(--ks-bad); font-weight: 600; }
.ks-bars { border: 1px solid var(--border-color-primary); border-radius: 10px;
           padding: 10px 14px; }
.ks-bars h4 { margin: 0 0 2px 0; font-size: 0.95rem; text-align: center; }
.ks-bars .ks-note { text-align: center; margin: 0 0 8px 0; }
.ks-bar-row { display: grid; grid-template-columns: minmax(90px, 30%) 1fr 5.2em 4.6em;
              align-items: center; gap: 8px; padding: 2px 0; font-size: 0.88rem; }
.ks-bar-name { overflow: hidden; text-overflow: ellipsis; white-space: nowrap;
               text-align: right; font-family: ui-monospace, SFMono-Regular, Menlo, monospace;
               font-size: 0.85em; }
.ks-bar-track { position: relative; height: 16px; background: #f1f5f9; border-radius: 4px; }
.ks-bar-track b { position: absolute; left: 0; top: 0; bottom: 5px; border-radius: 4px 4px 0 0;
                  background: var(--ks-accent); }
.ks-bar-track i { position: absolute; left: 0; bottom: 0; height: 4px; border-radius: 0 0 4px 4px;
                  background: #93c5fd; }
.ks-bar-v { text-align: right; font-variant-numeric: tabular-nums; font-weight: 600; }
.ks-bar-n { color: var(--ks-muted); font-size: 0.85em; }
.ks-bar-key { display: flex; gap: 14px; justify-content: center; font-size: 0.8rem;
              color: var(--ks-muted); margin-top: 6px; }
.ks-bar-key span::before { content: ""; display: inline-block; width: 12px; height: 8px;
                           margin-right: 4px; border-radius: 2px; background: var(--ks-accent); }
.ks-bar-key span.p::before { background: #93c5fd; height: 4px; vertical-align: 2px; }
button.ks-link { background: none; border: none; padding: 0; color: var(--ks-accent);
                 text-decoration: underline; cursor: pointer; font: inherit; }
"""


def esc(value: object) -> str:
    """HTML-escape anything shown."""
    return html.escape(str(value), quote=True)


def said_html(text: str) -> str:
    """What a person typed, for the chat: shown as they typed it, never as markup. Escaped,
    and in an HTML block, which the chat's Markdown leaves as it is (so ``*`` or ``#`` stay
    characters too); lines are kept as line breaks, so no blank line ends the block."""
    lines = "<br>".join(esc(line) for line in text.splitlines())
    return f'<div class="ks-said">{lines}</div>'


def short_time(iso: str) -> str:
    """``2025-03-01T12:34:56.123456+00:00`` -> ``2025-03-01 12:34:56`` (UTC)."""
    return iso[:19].replace("T", " ") if iso else ""


def callout(text: str, tone: str = "info", *, raw: bool = False) -> str:
    """A one-paragraph notice; ``tone`` is ok, warn, bad or info."""
    body = text if raw else esc(text)
    return f'<div class="ks-callout ks-{tone}">{body}</div>'


def badge(text: str, tone: str) -> str:
    return f'<span class="ks-badge ks-{tone}">{esc(text)}</span>'


def triple_html(s: object, r: object, o: object, *, old: bool = False) -> str:
    """A triple as a compact chip: ``subject —relation→ object``."""
    cls = "ks-triple ks-old" if old else "ks-triple"
    return f'<span class="{cls}">{esc(s)} <span class="ks-rel">—{esc(r)}→</span> {esc(o)}</span>'


def _names(item: Any) -> tuple[str, str, str] | None:
    """(s, r, o) from a triple in any of the shapes reports and intents use: a list, a fact
    dict, or an intent triple whose ends are entity references."""
    if isinstance(item, (list, tuple)) and len(item) == 3:
        return str(item[0]), str(item[1]), str(item[2])
    if isinstance(item, Mapping):
        s, r, o = item.get("subject"), item.get("relation"), item.get("object")
        if isinstance(s, Mapping):
            s = s.get("name")
        if isinstance(o, Mapping):
            o = o.get("name")
        if s is not None and r is not None and o is not None:
            return str(s), str(r), str(o)
    return None


def _fact_line(fact: Mapping[str, Any], *, extra: str = "") -> str:
    names = _names(fact)
    if names is None:
        return f"<li>{esc(fact)}</li>"
    prov = []
    if fact.get("edit_id") is not None:
        prov.append(f"edit #{fact['edit_id']}")
    if fact.get("user"):
        prov.append(f"by {fact['user']}")
    note = f' <span class="ks-note">({esc(", ".join(prov))})</span>' if prov else ""
    return f"<li>{triple_html(*names)}{extra}{note}</li>"


def _derived_line(fact: Mapping[str, Any]) -> str:
    names = _names(fact)
    if names is None:
        return f"<li>{esc(fact)}</li>"
    why = fact.get("rule") or fact.get("kind") or "derived"
    premises = fact.get("premises") or []
    src = ", ".join(f"{p[0]} {p[1]} {p[2]}" for p in premises if len(p) == 3)
    note = f"{why}" + (f" from {src}" if src else "")
    return f'<li>{triple_html(*names)} <span class="ks-note">({esc(note)})</span></li>'


def _section(title: str, items: Iterable[str]) -> str:
    lines = list(items)
    if not lines:
        return ""
    return f"<h4>{esc(title)}</h4><ul>{''.join(lines)}</ul>"


def report_sections(report: Mapping[str, Any], *, applied: bool = True) -> str:
    """The why of a decision: superseded, retracted, derived, conflicts, duplicates, new
    entities, refusals, review. ``applied`` False words the changes as what would happen."""
    parts: list[str] = []
    would = "" if applied else "Would be "
    superseded = report.get("superseded") or []
    if isinstance(superseded, list):
        lines = []
        for s in superseded:
            old = s.get("old", {}) if isinstance(s, Mapping) else {}
            names = _names(old)
            if names is None:
                continue
            who = []
            if old.get("user"):
                who.append(f"asserted by {old['user']}")
            if old.get("edit_id") is not None:
                who.append(f"edit #{old['edit_id']}")
            note = f' <span class="ks-note">({esc(", ".join(who))})</span>' if who else ""
            lines.append(f"<li>{triple_html(*names, old=True)}{note}</li>")
        parts.append(
            _section(
                f"{would}Superseded (kept in the journal)" if applied else "Would supersede",
                lines,
            )
        )
    retracted = report.get("retracted") or []
    parts.append(_section(f"{would}Retracted".capitalize(), (_fact_line(f) for f in retracted)))
    derived = report.get("derived") or []
    if isinstance(derived, list):
        title = "Derived facts that follow" if applied else "Derived facts that would follow"
        parts.append(_section(title, (_derived_line(f) for f in derived)))
    conflicts = report.get("conflicts") or []
    parts.append(_section("Conflicts", (f"<li>{esc(c)}</li>" for c in conflicts)))
    duplicates = report.get("duplicates") or []
    if isinstance(duplicates, list):
        parts.append(
            _section(
                "Already known (no change)",
                (f"<li>{triple_html(*n)}</li>" for d in duplicates if (n := _names(d))),
            )
        )
    new = report.get("new_entities") or []
    if new:
        parts.append(f"<h4>New entities</h4>{esc(', '.join(map(str, new)))}")
    refusals = report.get("refusals") or []
    parts.append(_section("Refused because", (f"<li>{esc(r)}</li>" for r in refusals)))
    review = report.get("review")
    if isinstance(review, Mapping):
        reason = f": {review['reason']}" if review.get("reason") else ""
        parts.append(
            f"<h4>Review</h4>{esc(review.get('decision', 'decided'))} by "
            f"{esc(review.get('by', '?'))}{esc(reason)}"
        )
    return "".join(parts)


def _understood(intent: Mapping[str, Any], report: Mapping[str, Any]) -> str:
    """What the interpreter read: the triples to assert and to retract."""
    request = report.get("request")
    asserted: list[tuple[str, str, str]] = []
    retracted: list[tuple[str, str, str]] = []
    if isinstance(request, Mapping):
        asserted = [n for t in request.get("assert", []) if (n := _names(t))]
        retracted = [n for t in request.get("retract", []) if (n := _names(t))]
    if not asserted and not retracted:
        kind = intent.get("kind") or intent.get("type")
        names = [n for t in intent.get("triples", []) or [] if (n := _names(t))]
        if kind == "retract":
            retracted = names
        else:
            asserted = names
    lines = [f"<li>assert {triple_html(*t)}</li>" for t in asserted]
    lines += [f"<li>retract {triple_html(*t)}</li>" for t in retracted]
    for t in intent.get("triples", []) or []:
        old = t.get("old_object") if isinstance(t, Mapping) else None
        if isinstance(old, Mapping) and old.get("name"):
            lines.append(f'<li class="ks-note">instead of {esc(old["name"])}</li>')
    return _section("Understood", lines)


def _follows(row: Mapping[str, Any]) -> bool:
    """Whether the model's answer after the sync is what the graph now says, as the model side
    measured it: a written fact's object starts the answer (``follows``), a retracted one's
    does not (``forgotten``)."""
    if "retracted" in row:
        return bool(row.get("forgotten"))
    return bool(row.get("follows"))


def _model_line(sub: Mapping[str, Any], report: Mapping[str, Any], *, model_loaded: bool) -> str:
    """What happened to the model, said separately from the graph's result: it now answers
    so, it does not follow (yet), its write failed, or there is none."""
    rows = sub.get("model") or []
    state = report.get("model_state")
    if state == "failed":
        return (
            f"<p>{badge('Model: write failed', 'bad')}"
            f"{esc(str(report.get('model_error') or 'the edit reached the graph only'))}</p>"
        )
    if rows:
        missed = [r for r in rows if not _follows(r)]
        if not missed:
            return f"<p>{badge('Model: follows', 'ok')}the model now answers so.</p>"
        return (
            f"<p>{badge('Model: does not follow', 'warn')}on {len(missed)} of {len(rows)} "
            "facts the model still answers otherwise (see below).</p>"
        )
    if state == "pending":
        return (
            f"<p>{badge('Model: pending', 'info')}the graph has it; the model is being brought "
            "up to date in the background (this message updates when it is done).</p>"
        )
    if state == "skipped":
        return (
            f"<p>{badge('Model: not asked', 'neutral')}no fact of this edit has a question "
            "the model is asked.</p>"
        )
    return ""


def _model_table(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return ""
    body = []
    for row in rows:
        after = str(row.get("after", ""))
        if "retracted" in row:
            ok = _follows(row)
            mark = badge("forgotten", "ok") if ok else badge("still says it", "warn")
        else:
            mark = badge("follows", "ok") if _follows(row) else badge("does not follow", "warn")
        body.append(
            f"<tr><td>{esc(row.get('prompt', ''))}</td><td>{esc(row.get('before', ''))}</td>"
            f"<td>{esc(after)} {mark}</td></tr>"
        )
    return (
        "<h4>The model, before and after</h4>"
        '<table class="ks-table"><tr><th>prompt</th><th>before</th><th>after</th></tr>'
        f"{''.join(body)}</table>"
    )


def answer_html(answer: Mapping[str, Any], *, model_loaded: bool) -> str:
    """An answer to a question: the graph's objects and the facts used, the model's answer,
    and whether they agree."""
    parts = ['<div class="ks-msg">']
    if answer.get("unclear"):
        unclear = answer["unclear"]
        msg = unclear.get("message") if isinstance(unclear, Mapping) else str(unclear)
        parts.append(f"{badge('Not sure what you ask', 'info')} {esc(msg or '')}")
        parts.append("</div>")
        return "".join(parts)
    graph = answer.get("graph") or []
    path = [str(r) for r in answer.get("path") or []]
    missing = answer.get("missing")
    what = ""
    if answer.get("subject") and path:
        what = f" {esc(' of '.join(reversed(path)))} of {esc(answer['subject'])}"
    if graph:
        parts.append(f"{badge('Graph', 'ok')}<b>{esc(', '.join(map(str, graph)))}</b>")
    elif answer.get("subject") and not path and not missing:
        parts.append(f"{badge('Graph', 'info')}what the graph holds about {esc(answer['subject'])}")
    elif isinstance(missing, Mapping):
        parts.append(f"{badge('Graph', 'neutral')}{esc(str(missing.get('message', '')))}.")
    else:
        parts.append(f"{badge('Graph', 'neutral')}the graph knows no{what or ' answer'}.")
    chain = answer.get("chain") or []
    if len(path) > 1:  # a walk: each hop's fact, and the hop the graph lacks
        hops = [
            f"<li>{esc(c['hop'])}. {esc(c['subject'])} | {esc(c['relation'])} | "
            f"{esc(c['object'])}</li>"
            for c in chain
        ]
        if isinstance(missing, Mapping):
            hops.append(
                f"<li>{esc(missing.get('hop', ''))}. missing: "
                f"{esc(missing.get('message', ''))}</li>"
            )
        parts.append(_section(f"Walked: {' → '.join(path)}", hops))
    else:
        facts = answer.get("facts") or []
        parts.append(_section("Facts used", (_fact_line(f) for f in facts)))
    if answer.get("model") is not None:
        agree = answer.get("agree")
        tone, label = (
            ("ok", "agrees")
            if agree
            else ("bad", "disagrees")
            if agree is False
            else ("neutral", "")
        )
        mark = badge(label, tone) if label else ""
        parts.append(f"<h4>The model says</h4>{esc(answer['model'])} {mark}")
        if answer.get("model_in_context") is not None:
            parts.append(
                "<h4>The model, given the graph's facts of the earlier hops</h4>"
                f"{esc(answer['model_in_context'])}"
            )
    elif not model_loaded:
        parts.append('<p class="ks-note">No model is loaded: the answer is the graph\'s.</p>')
    parts.append("</div>")
    return "".join(parts)


def submission_html(sub: Mapping[str, Any], *, model_loaded: bool) -> str:
    """One chat answer: the decision and why, what was understood, what changed, and the
    model's answer before and after."""
    decision = sub.get("decision", "")
    if sub.get("answer"):
        return answer_html(sub["answer"], model_loaded=model_loaded)
    report = sub.get("report") or {}
    edit_id = sub.get("edit_id")
    ref = f" · edit #{edit_id}" if edit_id is not None else ""
    parts = ['<div class="ks-msg">']
    if decision == "accepted" and report.get("rollback_of") is not None:
        parts.append(
            badge(f"Undone{ref}", "ok") + f"edit #{esc(report['rollback_of'])} is rolled back."
        )
        restored = [_fact_line(f) for f in report.get("restored") or []]
        removed = [
            f"<li>{triple_html(*n, old=True)}</li>"
            for f in report.get("removed") or []
            if (n := _names(f))
        ]
        parts.append(_section("Restored", restored))
        parts.append(_section("Removed", removed))
        parts.append("</div>")
        return "".join(parts)
    if decision == "accepted":
        added = report.get("added") or []
        if not added and (report.get("duplicates") or []) and not report.get("retracted"):
            parts.append(badge("Already known", "neutral") + "nothing changed.")
        else:
            parts.append(badge(f"Applied{ref}", "ok") + "the graph is updated.")
            parts.append(_model_line(sub, report, model_loaded=model_loaded))
    elif decision == "needs_review":
        parts.append(badge(f"Waiting for review{ref}", "warn"))
        parts.append(esc(sub.get("reason") or "a curator must approve this change."))
    elif decision == "rejected":
        parts.append(badge("Refused", "bad") + esc(sub.get("reason") or "the change was refused."))
    elif decision == "needs_clarification":
        parts.append(badge("Question", "info") + esc(sub.get("question") or "Please rephrase."))
        if sub.get("suggestions"):
            parts.append('<p class="ks-note">Pick one below, or rephrase.</p>')
    else:
        parts.append(badge(str(decision) or "done", "neutral"))
    tox = sub.get("toxicity")
    if isinstance(tox, Mapping) and tox.get("verdict") not in (None, "ok"):
        reasons = ", ".join(map(str, tox.get("reasons") or []))
        parts.append(f"<h4>Content filter</h4>{badge(str(tox['verdict']), 'bad')}{esc(reasons)}")
    parts.append(_understood(sub.get("intent") or {}, report))
    added = report.get("added") or []
    applied = decision == "accepted"
    if decision in ("accepted", "needs_review"):
        title = "Added" if applied else "Would add"
        parts.append(_section(title, (_fact_line(f) for f in added)))
    parts.append(report_sections(report, applied=applied))
    parts.append(_model_table(sub.get("model") or []))
    if decision == "accepted" and not sub.get("model") and not model_loaded and added:
        parts.append('<p class="ks-note">No model is loaded: only the graph was edited.</p>')
    parts.append("</div>")
    return "".join(parts)


# ------------------------------------------------------------------ journal


def _pct(x: object) -> str:
    return "—" if not isinstance(x, (int, float)) else f"{100 * float(x):.1f}%"


#: The four figures of an agreement check, as the page names them, and what each one means.
AGREEMENT_MEASURES = (
    ("cloze", "cloze", "facts in force the model completes with the graph's object"),
    ("paraphrase", "paraphrase", "the same, asked in the relation's other phrasings"),
    ("locality", "unrelated locality", "unrelated facts the model still gets right"),
    ("same_subject", "same-subject locality", "other knowledge of edited subjects kept"),
)


def relation_bars_html(records: Sequence[Mapping[str, Any]]) -> str:
    """The latest check's agreement per relation as horizontal bars, the relations that
    agree least first (where a curator looks): the cloze share as the bar, the paraphrase
    share as the thin line under it, the number of subject/relation pairs asked. Any number
    of relations and any length of name reads (a long name is cut with its full name on
    hover)."""
    if not records:
        return ""
    last = records[-1]
    rows = [
        (name, row)
        for name, row in (last.get("relations") or {}).items()
        if isinstance(row, Mapping) and isinstance(row.get("cloze"), (int, float))
    ]
    if not rows:
        return ""
    rows.sort(key=lambda item: (float(item[1]["cloze"]), str(item[0])))

    def width(share: object) -> str:
        value = float(share) if isinstance(share, (int, float)) else 0.0
        return f"{100 * min(max(value, 0.0), 1.0):.1f}%"

    lines = []
    for name, row in rows:
        para = row.get("paraphrase")
        title = f"{name}: cloze {_pct(row['cloze'])}, paraphrases {_pct(para)}"
        lines.append(
            f'<div class="ks-bar-row" data-relation="{esc(name)}" title="{esc(title)}">'
            f'<span class="ks-bar-name">{esc(name)}</span>'
            f'<span class="ks-bar-track"><b style="width:{width(row["cloze"])}"></b>'
            + (f'<i style="width:{width(para)}"></i>' if para is not None else "")
            + f'</span><span class="ks-bar-v">{_pct(row["cloze"])}</span>'
            f'<span class="ks-bar-n">{_plural_pairs(row.get("pairs"))}</span></div>'
        )
    when = short_time(str(last.get("at", ""))) if last.get("at") else "the latest check"
    return (
        '<div class="ks-bars"><h4>Per relation, latest check</h4>'
        f'<p class="ks-note">{esc(when)} · least agreement first</p>'
        + "".join(lines)
        + '<div class="ks-bar-key"><span>cloze</span><span class="p">paraphrases</span></div>'
        "</div>"
    )


def _plural_pairs(n: object) -> str:
    if not isinstance(n, (int, float)):
        return ""
    return f"{int(n):,} pair" + ("" if int(n) == 1 else "s")


def agreement_html(
    records: Sequence[Mapping[str, Any]],
    *,
    model: str | None,
    backlog: int,
    generation: int | None,
) -> str:
    """The Model tab's summary: the latest recorded check (when, by whom, what the weights
    reflected, its four figures) and where the model stands now."""
    if model is None:
        now = callout(
            "No model is loaded in this server, so the agreement cannot be measured here; "
            "checks recorded earlier (`knowsync model check`) are shown below.",
            "warn",
        )
    elif backlog:
        now = callout(
            f"Model: {model}. {backlog} change(s) are not in its weights yet; a check now "
            "measures the weights as they are.",
            "warn",
        )
    else:
        now = callout(f"Model: {model}. Its weights reflect every change in the graph.", "ok")
    if not records:
        return now + callout(
            "No agreement check is recorded yet. A curator can run one here (“Check "
            "agreement now”), or anyone with the store: `knowsync model check`.",
            "info",
        )
    last = records[-1]
    scope = (
        " (partial: "
        + (
            f"relation {esc(last.get('relation'))}"
            if last.get("relation")
            else f"first {esc(last.get('limit'))} pairs"
        )
        + ")"
        if last.get("partial")
        else ""
    )
    stale = ""
    if generation is not None and last.get("generation") != generation:
        stale = " The weights have changed since; run a check to see them now."
    tiles = "".join(
        f'<div class="ks-tile" title="{esc(help_)}"><div class="ks-tile-v">'
        f'{_pct(last.get(key))}</div><div class="ks-tile-k">{esc(name)}</div></div>'
        for key, name, help_ in AGREEMENT_MEASURES
    )
    counts = last.get("counts") or {}
    head = (
        f"<div><b>Latest check</b> {esc(short_time(str(last.get('at', ''))))} UTC by "
        f"{esc(last.get('by'))}{scope}: the weights reflected edit "
        f"#{esc(last.get('generation') or 0)} ({esc(last.get('edits_in_force', 0))} in "
        f"force); {esc(counts.get('cloze', 0))} subject/relation pairs, "
        f"{esc(counts.get('locality', 0))} unrelated probes.{esc(stale)}</div>"
    )
    return now + f'<div class="ks-agreement">{head}<div class="ks-tiles">{tiles}</div></div>'


def notices_html(notices: Sequence[Notice]) -> str:
    """The chat's notice area: the curators' decisions on the account's held edits, newest
    first, the unseen ones marked new; each names its edit with a button (``data-edit``)
    that the page turns into a select event."""
    title = "<b>Review decisions on your edits</b>"
    if not notices:
        return f'<div class="ks-side ks-notices">{title}<br>None yet.</div>'
    new = sum(not n.seen for n in notices)
    if new:
        title += f" {badge(f'{new} new', 'info')}"
    items = []
    for n in notices:
        why = f": {esc(n.reason)}" if n.reason else ""
        # an approved edit the rules then refused (re-planned against the graph as it is)
        now = "applied" if n.decision == "approved" else "refused"
        outcome = (
            "" if n.state.value == now else f' <span class="ks-note">(now {n.state.value})</span>'
        )
        items.append(
            f'<li class="ks-notice{" ks-new" if not n.seen else ""}">'
            f'<button type="button" class="ks-link" data-edit="{n.edit_id}">Edit '
            f"#{n.edit_id}</button> "
            f'<span class="ks-{n.decision}">{n.decision}</span> by <b>{esc(n.by)}</b>{why}'
            f'{outcome}<br><span class="ks-note">{esc(n.summary)} · '
            f"{esc(short_time(n.at))} UTC</span></li>"
        )
    return f'<div class="ks-side ks-notices">{title}<ul>{"".join(items)}</ul></div>'


def fact_history_html(triple: Sequence[str], entries: Sequence[tuple[EditRecord, str]]) -> str:
    """The journal entries of one fact, newest first, each with what it did to the fact
    (asserted, derived, superseded, retracted, restored, undone) and a button (``data-edit``)
    that the page turns into a select event opening the edit in History."""
    title = f"<b>Journal entries of</b> {triple_html(*triple)}"
    if not entries:
        return f'<div class="ks-side ks-notices">{title}<br>None found.</div>'
    items = [
        f'<li><button type="button" class="ks-link" data-edit="{record.id}">Edit '
        f"#{record.id}</button> <b>{esc(did)}</b> by {esc(record.user)}"
        f'<br><span class="ks-note">{esc(edit_summary(record))} · '
        f"{esc(short_time(record.created_at))} UTC · {esc(state_label(record))}</span></li>"
        for record, did in entries
    ]
    return f'<div class="ks-side ks-notices">{title}<ul>{"".join(items)}</ul></div>'


def edit_summary(record: EditRecord) -> str:
    """One line of plain text saying what a journal entry does."""
    req = record.request
    if record.kind is EditKind.EDIT:
        bits = [f"+ {' '.join(map(str, t))}" for t in req.get("assert", [])]
        bits += [f"− {' '.join(map(str, t))}" for t in req.get("retract", [])]
        return "; ".join(bits) or "edit"
    if record.kind is EditKind.IMPORT:
        return f"import {req.get('source', '')} ({req.get('rows', '?')} rows)"
    if record.kind is EditKind.ROLLBACK:
        return f"undo #{record.rollback_of}"
    lock = req.get("lock", {})
    what = lock.get("entity", "")
    if lock.get("relation"):
        what = f"{what} {lock['relation']} {lock.get('object', '')}"
    return f"{record.kind.value} {what}"


def state_label(record: EditRecord) -> str:
    if record.rolled_back_by is not None:
        return f"rolled back (#{record.rolled_back_by})"
    return record.state.value


def held_reason(record: EditRecord) -> str:
    """Why a journal entry waits for review, as the service wrote it in the report."""
    rep = record.report
    for key in ("reason", "held", "hold_reason", "why"):
        value = rep.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, Mapping):
            if value.get("reasons"):
                return "; ".join(map(str, value["reasons"]))
            if value.get("reason"):
                return str(value["reason"])
    conflicts = rep.get("conflicts") or []
    return "; ".join(map(str, conflicts)) or "waits for a curator"


_STATE_TONE = {
    EditState.APPLIED: "ok",
    EditState.HELD: "warn",
    EditState.PENDING: "info",
    EditState.REFUSED: "bad",
    EditState.ABORTED: "bad",
}


def edit_card(
    record: EditRecord, added: Sequence[Fact], removed: Sequence[Fact], *, limit: int = 60
) -> str:
    """A journal entry expanded: who, when, state, the request, and the facts it changed."""
    tone = "neutral" if record.rolled_back_by is not None else _STATE_TONE.get(record.state, "info")
    head = (
        f"<b>#{record.id}</b> {badge(record.kind.value, 'info')}"
        f"{badge(state_label(record), tone)} by <b>{esc(record.user)}</b> "
        f'<span class="ks-note">{esc(short_time(record.created_at))} UTC</span>'
    )
    parts = [f'<div class="ks-card">{head}']
    if record.kind is EditKind.ROLLBACK and record.rollback_of is not None:
        parts.append(f"<h4>Undoes</h4>edit #{record.rollback_of}")
    if record.batch:
        parts.append(f'<div class="ks-note">batch {esc(record.batch)}</div>')
    req = record.request
    if record.kind is EditKind.EDIT:
        lines = [f"<li>assert {triple_html(*t)}</li>" for t in req.get("assert", [])]
        lines += [f"<li>retract {triple_html(*t)}</li>" for t in req.get("retract", [])]
        parts.append(_section("Request", lines))
    elif record.kind is not EditKind.ROLLBACK:
        parts.append(f"<h4>Request</h4>{esc(edit_summary(record))}")

    def fact_rows(facts: Sequence[Fact], old: bool) -> Iterable[str]:
        for f in facts[:limit]:
            kind = (
                ""
                if f.kind is FactKind.ASSERTED
                else f' <span class="ks-note">({esc(f.kind.value)})</span>'
            )
            yield f"<li>{triple_html(*f.triple, old=old)}{kind}</li>"
        if len(facts) > limit:
            yield f'<li class="ks-note">… and {len(facts) - limit} more</li>'

    if record.state is EditState.HELD:
        parts.append(f"<h4>Why it waits</h4>{esc(held_reason(record))}")
        # what approving it would do, as planned when it was submitted
        would = {k: v for k, v in record.report.items() if k != "refusals"}
        parts.append(_section("Would add", (_fact_line(f) for f in would.get("added") or [])))
        parts.append(report_sections(would, applied=False))
    else:
        parts.append(_section(f"Added ({len(added)})", fact_rows(added, False)))
        parts.append(_section(f"Removed ({len(removed)})", fact_rows(removed, True)))
        keep = ("conflicts", "refusals", "review")
        parts.append(report_sections({k: v for k, v in record.report.items() if k in keep}))
    if record.report.get("aborted"):
        parts.append(f"<h4>Aborted</h4>{esc(record.report['aborted'])}")
    parts.append("</div>")
    return "".join(parts)


def rollback_report(results: Sequence[Any]) -> str:
    """The effect of a rollback (one result per edit undone, the requested one last)."""
    if not results:
        return callout("Nothing was rolled back.", "warn")
    parts = ['<div class="ks-card">']
    last = results[-1]
    target = last.report.get("rollback_of")
    extra = f" (and {len(results) - 1} later edits that depended on it)" if len(results) > 1 else ""
    parts.append(
        f"{badge(f'Rolled back as #{last.edit_id}', 'ok')}edit #{esc(target)} is undone{extra}."
    )
    restored: list[str] = []
    removed: list[str] = []
    for res in results:
        restored += [_fact_line(f) for f in res.report.get("restored", [])]
        removed += [
            f"<li>{triple_html(*n, old=True)}</li>"
            for f in res.report.get("removed", [])
            if (n := _names(f))
        ]
    parts.append(_section("Restored", restored))
    parts.append(_section("Removed", removed))
    parts.append("</div>")
    return "".join(parts)


def import_report(report: Mapping[str, Any], seconds: float) -> str:
    """A batch import's outcome: every row read accounted for (added, derived, already known,
    superseded, skipped, bad), then the rows that need a look, in file order."""
    bad = sorted(report.get("bad_rows") or [], key=lambda b: b.get("line") or 0)
    skipped = sorted(
        (s for s in report.get("skipped") or [] if len(s.get("triple", [])) == 3),
        key=lambda s: s.get("line") or 0,
    )
    read = int(report.get("rows", 0)) + len(bad)  # ``rows`` counts the rows that parsed
    rate = read / seconds if seconds > 0 else 0.0
    failed = report.get("failed")
    counts = {
        "added": report.get("added", 0),
        "derived": report.get("derived", 0),
        "already known": report.get("duplicates", 0),
        "superseded": report.get("superseded", 0),
        "skipped": len(skipped),
        "bad": len(bad),
    }
    parts = [
        '<div class="ks-card">',
        badge("Failed, undone" if failed else "Imported", "bad" if failed else "ok"),
        f"{read:,} rows read in {seconds:.1f} s ({rate:,.0f} rows/s) · batch "
        f"<code>{esc(report.get('batch', ''))}</code>",
        '<table class="ks-table"><tr>',
        "".join(f"<th>{esc(k)}</th>" for k in counts),
        "</tr><tr>",
        "".join(f"<td>{v:,}</td>" for v in counts.values()),
        "</tr></table>",
    ]
    if failed:
        parts.append(callout(str(failed), "bad"))
    parts.append(
        _section(
            "Bad rows",
            (f"<li>line {esc(b.get('line'))}: {esc(b.get('reason'))}</li>" for b in bad[:50]),
        )
    )
    parts.append(
        _section(
            "Skipped",
            (
                f"<li>line {esc(s.get('line'))}: {triple_html(*s['triple'])} "
                f'<span class="ks-note">{esc(s.get("reason", ""))}</span></li>'
                for s in skipped[:50]
            ),
        )
    )
    parts.append("</div>")
    return "".join(parts)


def facts_table(facts: Sequence[Fact], recent: set[int]) -> str:
    """The facts of a neighbourhood as a table, with provenance."""
    if not facts:
        return ""
    rows = []
    for f in sorted(facts, key=lambda f: (f.subject, f.relation, f.object)):
        kind = f.kind.value
        mark = badge("recent", "warn") if f.edit_id in recent else ""
        rows.append(
            f"<tr><td>{esc(f.subject)}</td><td class='ks-rel'>{esc(f.relation)}</td>"
            f"<td>{esc(f.object)}</td><td>{esc(kind)} {mark}</td>"
            f"<td>#{esc(f.edit_id)} {esc(f.user)}</td></tr>"
        )
    return (
        '<table class="ks-table"><tr><th>subject</th><th>relation</th><th>object</th>'
        f"<th>kind</th><th>edit, by</th></tr>{''.join(rows)}</table>"
    )


# -------------------------------------------------------------------- graph
# The picture is laid out in a view box of one width whatever it shows, so its text keeps one
# size: a 2-node picture is not blown up to the page's width, and a crowded one is not shrunk;
# it grows in height instead when its rings need the room.

_VIEW_W = 1200.0
_NODE_H = 30.0
_NODE_FONT = 14
_EDGE_FONT = 12
_LABEL_H = 18.0
_MARGIN = 16.0  # between the picture's edge and anything drawn
_RING_GAP_X = 90.0  # horizontal room between the side nodes of two rings, for edge labels
_NARROW = frozenset("iljtfrI.,:;'!|()[] -")
_WIDE = frozenset("mwMWOQGDHNU@%&")


def _text_w(text: str, size: float, *, bold: bool = False) -> float:
    """A generous estimate of a line's width in a system sans (DejaVu Sans, the widest of the
    usual ones, included), so that a box drawn around it holds it."""
    ems = 0.0
    for ch in text:
        if ch in _NARROW:
            ems += 0.34
        elif ch in _WIDE:
            ems += 0.92
        elif ch.isupper():
            ems += 0.74
        elif ch.isdigit():
            ems += 0.64
        else:
            ems += 0.62
    return ems * size * (1.08 if bold else 1.0)


def _label(name: str) -> str:
    return name.replace("_", " ")


def _node_w(name: str, *, bold: bool = False) -> float:
    return max(64.0, _text_w(_label(name), _NODE_FONT, bold=bold) + 26)


Box = tuple[float, float, float, float]  # x0, y0, x1, y1


def _overlap(a: Box, b: Box, gap: float = 0.0) -> bool:
    """Whether two boxes come closer than ``gap``."""
    return a[0] < b[2] + gap and b[0] < a[2] + gap and a[1] < b[3] + gap and b[1] < a[3] + gap


def _box(x: float, y: float, w: float, h: float) -> Box:
    return (x - w / 2, y - h / 2, x + w / 2, y + h / 2)


@dataclass(frozen=True)
class _EdgeShape:
    """One fact's arrow: a quadratic curve from ``start`` through ``control`` to ``end`` (a
    straight line when the control is the midpoint), and its label's centre and width."""

    fact: Fact
    start: tuple[float, float]
    control: tuple[float, float]
    end: tuple[float, float]
    label_at: tuple[float, float]
    label_w: float

    @property
    def label_box(self) -> Box:
        return _box(*self.label_at, self.label_w, _LABEL_H)


@dataclass(frozen=True)
class _Picture:
    """A laid-out neighbourhood: node centres and widths, edge shapes, the view box (x, y, w,
    h) holding all of it, and whether every edge label found a place clear of the others."""

    center: str
    pos: dict[str, tuple[float, float]]
    widths: dict[str, float]
    edges: list[_EdgeShape]
    view: Box
    clear: bool

    def node_box(self, name: str) -> Box:
        return _box(*self.pos[name], self.widths[name], _NODE_H)


def _tree(center: str, facts: Sequence[Fact]) -> tuple[dict[str, int], dict[str, list[str]]]:
    """Breadth-first from the centre over facts in either direction: each entity's hop and
    the entities it reached first (sorted, so the picture does not depend on fact order)."""
    adj: dict[str, set[str]] = defaultdict(set)
    for f in facts:
        adj[f.subject].add(f.object)
        adj[f.object].add(f.subject)
    depth = {center: 0}
    children: dict[str, list[str]] = defaultdict(list)
    queue = deque([center])
    while queue:
        node = queue.popleft()
        for nxt in sorted(adj[node]):
            if nxt not in depth:
                depth[nxt] = depth[node] + 1
                children[node].append(nxt)
                queue.append(nxt)
    for node in sorted(adj):  # not reached from the centre: hang it off the centre
        if node not in depth:
            depth[node] = 1
            children[center].append(node)
    return depth, children


def _wedges(center: str, children: Mapping[str, list[str]]) -> dict[str, float]:
    """Each node's wanted angle: the middle of a wedge of its parent's, sized by how many
    leaves hang below it, so that branches keep to their own side and do not cross."""
    leaves: dict[str, int] = {}

    def count(node: str) -> int:
        leaves[node] = max(1, sum(count(c) for c in children.get(node, [])))
        return leaves[node]

    count(center)
    angle: dict[str, float] = {}
    first = children.get(center, [])
    # the first branch's middle at the top
    start = -math.pi / 2 - (math.pi * leaves[first[0]] / leaves[center] if first else 0.0)
    stack = [(center, start, start + 2 * math.pi)]
    while stack:
        node, a0, a1 = stack.pop()
        angle[node] = (a0 + a1) / 2
        kids = children.get(node, [])
        total = sum(leaves[k] for k in kids)
        at = a0
        for kid in kids:
            span = (a1 - a0) * leaves[kid] / total
            stack.append((kid, at, at + span))
            at += span
    return angle


def _arc_need(theta: float, rx: float, ry: float, w: float, h: float, gap: float) -> float:
    """The angle a w x h box needs on the ellipse (rx, ry) at parameter ``theta``: its extent
    along the ellipse's tangent there, plus ``gap``, over the ellipse's speed there."""
    tx, ty = -rx * math.sin(theta), ry * math.cos(theta)
    speed = math.hypot(tx, ty) or 1.0
    extent = abs(w * tx / speed) + abs(h * ty / speed) + gap
    return extent / speed


def _hung(x: float, y: float, rx: float, ry: float, w: float) -> Box:
    """A node's box hung outward from its point (x, y) of the ellipse (rx, ry), along the
    ellipse's normal there, until its side facing the centre touches the point: arrows to
    the other points of the ring then pass it by."""
    nx, ny = x / (rx * rx), y / (ry * ry)
    norm = math.hypot(nx, ny) or 1.0
    nx, ny = nx / norm, ny / norm
    reach = abs(nx) * w / 2 + abs(ny) * _NODE_H / 2
    return _box(x + nx * reach, y + ny * reach, w, _NODE_H)


def _polar_to_param(phi: float, rx: float, ry: float) -> float:
    """The parameter of the point of the ellipse (rx cos t, ry sin t) that lies at polar angle
    ``phi`` from its centre, kept within the same turn as ``phi``."""
    t = math.atan2(rx * math.sin(phi), ry * math.cos(phi))
    return t + 2 * math.pi * round((phi - t) / (2 * math.pi))


def _spread(wanted: list[float], widths: list[float]) -> list[float]:
    """Angles as close to ``wanted`` (ascending, within one turn) as possible with neighbours,
    the last and the first included, at least the mean of their angular widths apart.

    Sweeps push overlapping pairs apart; when that leaves the ends too close round the turn,
    the nodes are packed in order with the spare angle shared out evenly instead."""
    out = list(wanted)
    count = len(out)
    if count < 2:
        return out
    for _ in range(200):
        moved = False
        for i in range(count - 1):
            deficit = (widths[i] + widths[i + 1]) / 2 - (out[i + 1] - out[i])
            if deficit > 1e-9:
                out[i] -= deficit / 2
                out[i + 1] += deficit / 2
                moved = True
        if not moved:
            break
    if out[-1] - out[0] + (widths[0] + widths[-1]) / 2 <= 2 * math.pi + 1e-9:
        return out
    gaps = [(widths[i] + widths[(i + 1) % count]) / 2 for i in range(count)]
    spare = max(0.0, 2 * math.pi - sum(gaps)) / count
    packed = [0.0]
    for g in gaps[:-1]:
        packed.append(packed[-1] + g + spare)
    shift = sum(w - p for w, p in zip(wanted, packed, strict=True)) / count
    return [p + shift for p in packed]


def _turn(angle: float) -> float:
    """``angle`` within (-pi, pi]."""
    return angle - 2 * math.pi * math.ceil((angle - math.pi) / (2 * math.pi))


def _rings(
    center: str,
    depth: Mapping[str, int],
    parent: Mapping[str, str],
    wanted: Mapping[str, float],
    widths: Mapping[str, float],
    loose: float,
    view_w: float,
) -> tuple[dict[str, tuple[float, float]], dict[str, tuple[float, float]]]:
    """Each hop on an ellipse around the centre. An ellipse is as wide as the view allows
    (leaving room for the outer rings' side nodes) and grows in height until its nodes, at
    angles as near their wedges' as they fit, clear each other and the inner rings. A node's
    wedge turns with where its parent was put (a crowded ring moves its nodes off their
    wedges; their children follow, so the arrows between the rings run outward). Returns
    the node centres and the anchors: the point of its ring each node hangs from (the
    centre's own centre), where arrows from the inner rings end."""
    rings: dict[int, list[str]] = defaultdict(list)
    for node, d in depth.items():
        if d:
            rings[d].append(node)
    if not rings:
        return {center: (0.0, 0.0)}, {center: (0.0, 0.0)}
    deepest = max(rings)
    # a node hangs outward from its point of the ring, so a ring's side reaches out by its
    # widest node; the next ring starts beyond that
    wide = {d: max(widths[n] for n in rings[d]) for d in rings}
    wide[0] = widths[center] / 2
    cap = {deepest: view_w / 2 - _MARGIN - wide[deepest]}
    for d in range(deepest - 1, 0, -1):
        cap[d] = cap[d + 1] - wide[d] - _RING_GAP_X
    short = wide[0] + 1.5 * _RING_GAP_X - cap[1]
    if short > 0:  # too many rings of wide names for the view: the view widens (text shrinks)
        cap = {d: c + short for d, c in cap.items()}
    gap = 14.0 * loose
    pos: dict[str, tuple[float, float]] = {center: (0.0, 0.0)}
    anchor: dict[str, tuple[float, float]] = {center: (0.0, 0.0)}
    placed: list[Box] = [_box(0.0, 0.0, widths[center], _NODE_H)]
    ry_prev, rx_prev = 0.0, 0.0
    turned = dict(wanted)
    for d in range(1, deepest + 1):
        for n in rings[d]:
            up = parent.get(n, center)
            if up != center:
                ax, ay = anchor[up]
                turned[n] = wanted[n] + _turn(math.atan2(ay, ax) - turned[up])
        nodes = sorted(rings[d], key=lambda n: (turned[n], n))
        angles = [turned[n] for n in nodes]
        ry = max(ry_prev + (_NODE_H + 4 * _LABEL_H) * loose, 150.0 * loose)
        low_rx = rx_prev + wide[d - 1] + _RING_GAP_X * (1.5 if d == 1 else 0.5)
        for _ in range(200):
            rx = min(cap[d], max(ry * 1.8, low_rx))
            # the point of the ellipse seen from the centre in the wedge's direction
            wish = [_polar_to_param(a, rx, ry) for a in angles]
            spread = wish
            for _ in range(4):  # each node's angular need where the last spread put it
                need = [
                    _arc_need(a, rx, ry, widths[n], _NODE_H, gap)
                    for a, n in zip(spread, nodes, strict=True)
                ]
                spread = _spread(wish, need)
            boxes = [
                _hung(rx * math.cos(a), ry * math.sin(a), rx, ry, widths[n])
                for a, n in zip(spread, nodes, strict=True)
            ]
            crowded = any(
                _overlap(b, other, gap / 2) for i, b in enumerate(boxes) for other in boxes[:i]
            ) or any(_overlap(b, other, gap) for b in boxes for other in placed)
            if not crowded:
                break
            ry *= 1.05
        for n, a, b in zip(nodes, spread, boxes, strict=True):
            pos[n] = ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
            anchor[n] = (rx * math.cos(a), ry * math.sin(a))
        placed += boxes
        ry_prev, rx_prev = ry, rx
    return pos, anchor


def _clip(x: float, y: float, dx: float, dy: float, w: float, h: float) -> tuple[float, float]:
    """The point where a ray from the centre (x, y) along (dx, dy) leaves a w x h box."""
    if dx == 0 and dy == 0:
        return x, y
    t = min(w / 2 / abs(dx) if dx else math.inf, h / 2 / abs(dy) if dy else math.inf)
    return x + dx * t, y + dy * t


# how far an arrow from an inner ring node may head outward before turning to its node
# (a share of its length; None: straight), tried in turn until one passes every node by
_OUTWARD = (None, 0.2, 0.35, 0.5, 0.75)
# and then how much more it may bend to one side or the other (pixels at its middle)
_SWERVE = tuple((out, side) for side in (0.0, 35.0, -35.0, 70.0, -70.0) for out in _OUTWARD)


def _crossed(curve: tuple[tuple[float, float], ...], boxes: np.ndarray) -> int:
    """How many of ``boxes`` (rows x0, y0, x1, y1) a quadratic curve (start, control, end)
    runs through, sampled a few pixels apart."""
    (sx, sy), (cx, cy), (ex, ey) = curve
    if not len(boxes):
        return 0
    steps = max(8, int((abs(ex - sx) + abs(ey - sy) + abs(cx - sx) + abs(cy - sy)) / 3))
    t = np.arange(1, steps) / steps
    xs = (1 - t) ** 2 * sx + 2 * t * (1 - t) * cx + t * t * ex
    ys = (1 - t) ** 2 * sy + 2 * t * (1 - t) * cy + t * t * ey
    inside = (
        (xs[:, None] > boxes[None, :, 0])
        & (xs[:, None] < boxes[None, :, 2])
        & (ys[:, None] > boxes[None, :, 1])
        & (ys[:, None] < boxes[None, :, 3])
    )
    return int(inside.any(axis=0).sum())


# where along an edge its label may go (the middle first), and how far off the line
_LABEL_TS = (0.5, 0.6, 0.4, 0.68, 0.32, 0.76, 0.24, 0.55, 0.45, 0.82, 0.18)
_LABEL_OFFSETS = (0.0, 11.0, -11.0, 22.0, -22.0)


def _toward(
    point: tuple[float, float], other: tuple[float, float], step: float
) -> tuple[float, float]:
    """``point`` moved ``step`` towards ``other``."""
    dx, dy = other[0] - point[0], other[1] - point[1]
    length = math.hypot(dx, dy) or 1.0
    return point[0] + dx / length * step, point[1] + dy / length * step


def _edges(
    pos: Mapping[str, tuple[float, float]],
    widths: Mapping[str, float],
    facts: Sequence[Fact],
    depth: Mapping[str, int] | None = None,
    anchor: Mapping[str, tuple[float, float]] | None = None,
) -> tuple[list[_EdgeShape], bool]:
    """Each fact's curve, and a place for its label on or beside it that keeps clear of every
    node, every label placed before it and the view's sides. False with the shapes when some
    label found no such place (it is then put at its edge's middle).

    An arrow between two rings ends at the outer node's box where it is nearest its anchor
    (the point of its ring it hangs from) rather than aiming at its centre: the other nodes
    of that ring hang outside the ring, so an arrow from within it passes them by. Where an
    arrow would still run through a node, it heads outward from the inner node's outer side
    first, then bends to either side, as little as passes every node by."""
    depth = depth or {}
    anchor = anchor or {}

    def aim(node: str, other: str) -> tuple[float, float] | None:
        """For a node of an outer ring: the point of its box nearest its anchor."""
        if node in anchor and depth.get(other, 0) < depth.get(node, 0):
            x0, y0, x1, y1 = _box(*pos[node], widths[node], _NODE_H)
            ax, ay = anchor[node]
            return min(max(ax, x0), x1), min(max(ay, y0), y1)
        return None

    def leave(node: str, other: str) -> tuple[float, float, float, float] | None:
        """The outer side's middle of a ring node and the ring's outward normal there."""
        if node not in anchor or not 0 < depth.get(node, 0) < depth.get(other, 0):
            return None
        (ax, ay), (px, py) = anchor[node], pos[node]
        reach = math.hypot(px - ax, py - ay) or 1.0
        ux, uy = (px - ax) / reach, (py - ay) / reach
        return 2 * px - ax, 2 * py - ay, ux, uy

    def curve_of(
        f: Fact, bend: float, outward: float | None
    ) -> tuple[tuple[float, float], tuple[float, float], tuple[float, float]]:
        """The arrow of ``f``: start, control point, end. ``outward`` (None: no) is how far,
        as a share of its length, it heads outward from an inner ring node before turning."""
        at_s, at_o = aim(f.subject, f.object), aim(f.object, f.subject)
        out_s = leave(f.subject, f.object) if outward is not None else None
        out_o = leave(f.object, f.subject) if outward is not None else None
        (x1, y1), (x2, y2) = at_s or pos[f.subject], at_o or pos[f.object]
        if out_s:
            x1, y1 = out_s[0], out_s[1]
        if out_o:
            x2, y2 = out_o[0], out_o[1]
        length = math.hypot(x2 - x1, y2 - y1) or 1.0
        nx, ny = -(y2 - y1) / length, (x2 - x1) / length
        cx, cy = (x1 + x2) / 2 + nx * bend, (y1 + y2) / 2 + ny * bend
        for out in (out_s, out_o):
            if out and outward is not None:
                cx = out[0] + out[2] * length * outward + nx * bend
                cy = out[1] + out[3] * length * outward + ny * bend

        def tip(
            node: str,
            out: tuple[float, float, float, float] | None,
            at: tuple[float, float] | None,
            centre: tuple[float, float],
            gap: float,
        ) -> tuple[float, float]:
            """Where the arrow meets ``node``, ``gap`` clear of its box: off its outer side,
            off the point nearest its anchor, or where the line from its centre leaves it."""
            if out:
                return out[0] + out[2] * gap, out[1] + out[3] * gap
            if at:
                return _toward(at, (cx, cy), gap)
            x, y = centre
            return _clip(x, y, cx - x, cy - y, widths[node] + 2 * gap, _NODE_H + 2 * gap)

        start = tip(f.subject, out_s, at_s, (x1, y1), 2.0)
        return start, (cx, cy), tip(f.object, out_o, at_o, (x2, y2), 5.0)

    node_boxes = {n: _box(*pos[n], widths[n], _NODE_H) for n in sorted(pos)}
    nodes = list(node_boxes.values())
    box_array = np.array(nodes, dtype=float).reshape(-1, 4)
    labels: list[Box] = []
    shapes: list[_EdgeShape] = []
    clear = True
    limit = max(abs(p[0]) + widths[n] / 2 for n, p in pos.items())
    limit = max(limit, _VIEW_W / 2 - _MARGIN)
    pair_count: dict[frozenset[str], int] = defaultdict(int)
    for f in sorted(facts, key=lambda f: (f.kind is not FactKind.ASSERTED, str(f.triple))):
        if f.subject == f.object:
            continue
        pair = frozenset((f.subject, f.object))
        k = pair_count[pair]
        pair_count[pair] += 1
        # parallel edges of one pair bend apart: 0, +1, -1, +2, ...; the side kept per direction
        sign = 1 if f.subject < f.object else -1
        bend = (0 if k == 0 else ((k + 1) // 2) * (1 if k % 2 else -1)) * 40.0 * sign
        others = box_array[[n != f.subject and n != f.object for n in node_boxes]]
        best: tuple[int, tuple[tuple[float, float], ...]] | None = None
        for swerve in _SWERVE:  # the first curve that passes every other node by
            curve = curve_of(f, bend + swerve[1], swerve[0])
            hits = _crossed(curve, others)
            if best is None or hits < best[0]:
                best = (hits, curve)
            if not hits:
                break
        assert best is not None
        (sx, sy), (cx, cy), (ex, ey) = best[1]
        length = math.hypot(ex - sx, ey - sy) or 1.0
        nx, ny = -(ey - sy) / length, (ex - sx) / length
        tw = _text_w(f.relation, _EDGE_FONT, bold=True) + 12
        spot: tuple[float, float] | None = None
        for t in _LABEL_TS:
            # B(t) = (1-t)^2 P0 + 2t(1-t) C + t^2 P2
            bx = (1 - t) ** 2 * sx + 2 * t * (1 - t) * cx + t * t * ex
            by = (1 - t) ** 2 * sy + 2 * t * (1 - t) * cy + t * t * ey
            for off in _LABEL_OFFSETS:
                lx, ly = bx + nx * off, by + ny * off
                box = _box(lx, ly, tw, _LABEL_H)
                if box[0] < -limit or box[2] > limit:
                    continue
                if any(_overlap(box, b, 3.0) for b in nodes) or any(
                    _overlap(box, b, 2.0) for b in labels
                ):
                    continue
                spot = (lx, ly)
                break
            if spot is not None:
                break
        if spot is None:
            clear = False
            spot = ((sx + 2 * cx + ex) / 4, (sy + 2 * cy + ey) / 4)
        labels.append(_box(*spot, tw, _LABEL_H))
        shapes.append(_EdgeShape(f, (sx, sy), (cx, cy), (ex, ey), spot, tw))
    return shapes, clear


# how much looser and wider the rings are laid out each time a label found no room
_ATTEMPTS = ((1.0, 1.0), (1.3, 1.0), (1.0, 1.15), (1.3, 1.15), (1.3, 1.3), (1.6, 1.3))


def _layout(center: str, facts: Sequence[Fact]) -> _Picture:
    """Concentric rings by hop, each node in a wedge of its parent's sized by its subtree;
    then every edge label placed clear of the nodes and the other labels. Where some label
    finds no room, the rings are laid out again looser (up to a few times). Deterministic:
    the same facts in any order give the same picture."""
    depth, children = _tree(center, facts)
    parent = {kid: node for node, kids in children.items() for kid in kids}
    wanted = _wedges(center, children)
    widths = {n: _node_w(n, bold=n == center) for n in depth}
    pos: dict[str, tuple[float, float]] = {}
    shapes: list[_EdgeShape] = []
    clear = False
    for loose, wider in _ATTEMPTS:
        pos, anchor = _rings(center, depth, parent, wanted, widths, loose, _VIEW_W * wider)
        shapes, clear = _edges(pos, widths, facts, depth, anchor)
        if clear:
            break
    boxes = [_box(*pos[n], widths[n], _NODE_H) for n in pos] + [s.label_box for s in shapes]
    half = max(_VIEW_W / 2, max(max(-b[0], b[2]) for b in boxes) + _MARGIN)
    top = min(b[1] for b in boxes) - _MARGIN
    bottom = max(b[3] for b in boxes) + _MARGIN
    return _Picture(center, pos, widths, shapes, (-half, top, 2 * half, bottom - top), clear)


def _fact_key(fact: Fact) -> str:
    """A fact's triple as the ``data-fact`` attribute carries it (JSON: [s, r, o])."""
    return json.dumps(list(fact.triple), ensure_ascii=False)


def graph_svg(center: str, facts: Sequence[Fact], *, recent: set[int] | None = None) -> str:
    """The neighbourhood of ``center`` as an inline SVG: labelled arrows subject -> object;
    asserted facts solid, derived (inverse, composed) dashed violet, facts of recent edits
    thick orange. Nodes carry ``data-entity`` (a click re-centres the graph), arrows and their
    labels ``data-fact`` (a click lists the fact's journal entries)."""
    recent = recent or set()
    if not facts:
        return (
            f'<div class="ks-graph" style="padding:24px">{esc(center)} has no facts in force.</div>'
        )
    pic = _layout(center, facts)
    vx, vy, vw, vh = pic.view
    out = [
        f'<div class="ks-graph"><svg xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="{vx:.0f} {vy:.0f} {vw:.0f} {vh:.0f}" data-width="{vw:.0f}" '
        f'style="max-width:{vw * 1.15:.0f}px" '
        'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif" '
        f'font-size="{_NODE_FONT}">',
        "<defs>",
    ]
    colours = {"a": "#64748b", "d": "#7c3aed", "r": "#ea580c"}
    for key, colour in colours.items():
        out.append(
            f'<marker id="ks-arrow-{key}" viewBox="0 0 10 10" refX="9" refY="5" '
            f'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
            f'<path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
        )
    out.append("</defs>")
    labels: list[str] = []
    for shape in pic.edges:
        f = shape.fact
        if f.edit_id in recent:
            key, extra, weight = "r", "", 3.0
        elif f.kind.derived:
            key, extra, weight = "d", ' stroke-dasharray="6 4"', 1.6
        else:
            key, extra, weight = "a", "", 1.4
        (sx, sy), (cx, cy), (ex, ey) = shape.start, shape.control, shape.end
        d = f"M{sx:.1f},{sy:.1f} Q{cx:.1f},{cy:.1f} {ex:.1f},{ey:.1f}"
        title = (
            f"<title>{esc(f.triple)} ({esc(f.kind.value)}, edit #{esc(f.edit_id)} by "
            f"{esc(f.user)}) · click for its history</title>"
        )
        data = f'data-fact="{esc(_fact_key(f))}"'
        out.append(
            f'<g class="ks-fact" {data}>{title}<path class="ks-hit" d="{d}"/>'
            f'<path class="ks-line" d="{d}" fill="none" stroke="{colours[key]}" '
            f'stroke-width="{weight}"{extra} marker-end="url(#ks-arrow-{key})"/></g>'
        )
        lx, ly = shape.label_at
        x0, y0, _, _ = shape.label_box
        style = ' font-style="italic"' if f.kind.derived else ""
        bold = ' font-weight="700"' if key == "r" else ""
        labels.append(
            f'<g class="ks-edge-label" {data}>{title}<rect x="{x0:.1f}" y="{y0:.1f}" '
            f'width="{shape.label_w:.1f}" height="{_LABEL_H:.0f}" rx="4" fill="#ffffff" '
            f'fill-opacity="0.95" stroke="{colours[key]}" stroke-opacity="0.25"/>'
            f'<text x="{lx:.1f}" y="{ly + 4.2:.1f}" text-anchor="middle" '
            f'font-size="{_EDGE_FONT}" fill="{colours[key]}"{style}{bold}>{esc(f.relation)}'
            "</text></g>"
        )
    out.extend(labels)
    for node, (x, y) in sorted(pic.pos.items(), key=lambda item: (item[0] == center, item[0])):
        w = pic.widths[node]
        is_center = node == center
        fill, stroke, colour = (
            ("#2563eb", "#1d4ed8", "#ffffff") if is_center else ("#ffffff", "#94a3b8", "#0f172a")
        )
        bold_name = ' font-weight="700"' if is_center else ""
        out.append(
            f'<g data-entity="{esc(node)}"><title>{esc(node)}</title>'
            f'<rect x="{x - w / 2:.1f}" y="{y - _NODE_H / 2:.1f}" width="{w:.1f}" '
            f'height="{_NODE_H:.0f}" rx="15" fill="{fill}" stroke="{stroke}" stroke-width="1.2"/>'
            f'<text x="{x:.1f}" y="{y + 5:.1f}" text-anchor="middle" fill="{colour}"{bold_name}>'
            f"{esc(_label(node))}</text></g>"
        )
    out.append("</svg></div>")
    legend = (
        '<div class="ks-legend"><span><i></i>asserted</span><span><i class="d"></i>derived '
        '(inverse, composed)</span><span><i class="r"></i>changed by a recent edit</span>'
        f"<span>{len(pic.pos)} entities · {len(facts)} facts · click an entity to centre it, "
        "an arrow or its label for the fact's history</span></div>"
    )
    return "".join(out) + legend
