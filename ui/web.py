"""The web app: chat-style editing, the graph, the journal with rollback, the review queue, a
model probe and batch imports, in Gradio, over the Python API (``knowsync.KnowSync``) only.

    from fastapi import FastAPI
    from ui.web import mount
    app = mount(FastAPI(), ks)          # serves the app at /
    # or: gr.Blocks from build(ks), launched with theme=THEME(), css=CSS

People sign in with an API token of the service's accounts; the session lives in a
``gr.State`` (per browser tab, kept on the server, so a page cannot claim another role). The
role decides which tabs and buttons show, and every handler acts through the account's
:class:`knowsync._session.Session` (the one door, which authorizes each operation and applies
the service's rules), after checking that the session's token still signs its account in (a
revoked token or a disabled account signs the session out at its next action). Nothing is
fetched from the internet: system fonts, no analytics, and the graph is an inline SVG laid out
here.

The chat is kept with the knowledge base as the account's conversation (``Session.remember``
after each exchange and each in-place update of an answer; the chat's clear button forgets it)
and shown again at the next sign-in, in any browser; nobody else's is ever shown. Beside it, a
notice area lists the curators' decisions on the account's held edits (``Session.notices``,
read from the journal), new ones marked until "Mark as read"; a notice's button opens its edit
in the History tab.

Files: the import takes only files uploaded through the page (a request naming a server path
where an upload belongs is refused before anything is read or copied); an upload is deleted
once imported, uploads are capped in size and kept in a folder of the server's own that goes when
it stops. :func:`mount` adds the security headers (no framing, no sniffing, no referrer, a
Content-Security-Policy) and refuses Gradio requests that change something from another site.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from ipaddress import ip_address
from pathlib import Path
from typing import Any, TypedDict
from urllib.parse import urlsplit

import gradio as gr
import pandas as pd
from fastapi import FastAPI
from gradio.routes import App as GradioApp
from gradio.utils import get_upload_folder
from gradio_client.utils import is_file_obj
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import PlainTextResponse
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kg import EditKind, EditRecord, EditState, InputError, KnowsyncError, Triple
from knowsync import KnowSync, PermissionDenied, local_user
from knowsync._conversation import MAX_MESSAGE_CHARS
from knowsync._outcomes import ChatMessage
from knowsync._session import Session
from ui._guards import SignInThrottle, TooManyAttempts
from ui._web_render import (
    AGREEMENT_MEASURES,
    CSS,
    agreement_html,
    callout,
    edit_card,
    edit_summary,
    esc,
    fact_history_html,
    facts_table,
    graph_svg,
    held_reason,
    import_report,
    notices_html,
    relation_bars_html,
    rollback_report,
    said_html,
    short_time,
    state_label,
    submission_html,
)

__all__ = ["CSS", "MAX_UPLOAD_BYTES", "SECURITY_HEADERS", "build", "mount", "theme"]

#: The largest file the page uploads (an import); larger ones are refused with 413.
MAX_UPLOAD_BYTES = 16 * 1024 * 1024
#: Sent with every response of the app :func:`mount` serves. Gradio's page needs inline
#: scripts and styles and compiles the graph's click handler (``js_on_load``) at run time.
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "; ".join(
        [
            "default-src 'self'",
            "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "media-src 'self' blob:",
            "worker-src 'self' blob:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    ),
}
NOT_UPLOADED = "Only a file uploaded through this page can be imported; upload it again."
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_FORMS = frozenset({"multipart/form-data", "application/x-www-form-urlencoded"})
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})

HISTORY_HEADERS = ["#", "when (UTC)", "user", "kind", "state", "what"]
QUEUE_HEADERS = ["#", "when (UTC)", "user", "change", "why it waits"]
USER_HEADERS = ["name", "role", "created", "by", "disabled"]
ROLES = ["viewer", "editor", "curator", "admin"]
ANYONE = "(anyone)"
# graph click -> a select event: on an entity, index 0 and its name; on an arrow or its
# label, index 1 and the fact's triple [s, r, o]
_GRAPH_JS = """
element.addEventListener('click', (e) => {
  const node = e.target.closest('[data-entity]');
  if (node) {
    trigger('select', {index: 0, value: node.getAttribute('data-entity')});
    return;
  }
  const fact = e.target.closest('[data-fact]');
  if (fact) trigger('select', {index: 1, value: JSON.parse(fact.getAttribute('data-fact'))});
});
"""
# after a fact's journal entries are listed below a tall picture: bring them into view
_SHOW_FACT_JS = """
() => { const el = document.getElementById('ks-graph-side');
        if (el) el.scrollIntoView({block: 'nearest', behavior: 'instant'}); }
"""
# a notice's (or a journal entry's) button -> a select event carrying the edit's id
_NOTICES_JS = """
element.addEventListener('click', (e) => {
  const item = e.target.closest('[data-edit]');
  if (item) trigger('select', {index: 0, value: item.getAttribute('data-edit')});
});
"""
#: the notices the chat's side shows at least (the unseen ones, and the latest seen ones)
_NOTICES_SHOWN = 5


class SignedIn(TypedDict):
    """Who is signed in, in one browser tab: the account, its role when it signed in, and the
    API token it signed in with (None in open mode, where the local user acts without one).
    The state stays on the server; the token is checked again at every action."""

    name: str
    role: str
    token: str | None


def theme() -> gr.themes.Base:
    """The app's theme: system fonts only, so the page fetches nothing."""
    return gr.themes.Default(
        primary_hue="blue",
        neutral_hue="slate",
        radius_size="md",
        font=["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
    )


# ------------------------------------------------------------------ helpers


def _model(ks: KnowSync) -> Any:
    """The model half, or None when no model is loaded."""
    return getattr(ks, "model", None)


def _session_ended(ks: KnowSync, session: SignedIn) -> str | None:
    """Why a signed-in session may act no more (its token revoked, its account disabled or
    gone, or accounts made since it opened in open mode), or None while it may."""
    token = session.get("token")
    if token is None:  # open mode: the local user acts while the store has no accounts
        if Session.open_mode(ks):
            return None
        return "accounts exist now, so everyone signs in with a token"
    try:
        door = Session.signed_in(ks, token)
    except KnowsyncError as exc:
        try:  # disabling revokes the tokens: say so rather than "revoked"
            Session(ks, session["name"]).whoami()
        except PermissionDenied as denied:  # the account is disabled, or gone
            return str(denied)
        except KnowsyncError:
            pass
        return str(exc)
    return None if door.user == session["name"] else "the token names another account"


def _plural(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def agreement_over_time(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The recorded checks of every fact (partial ones left out: they measure a part) as
    one row per check and figure, for the line chart. Checks are evenly spaced and named by
    when they ran (checks days apart and minutes apart read the same way)."""
    rows = []
    seen: dict[str, int] = {}
    for r in records:
        if r.get("partial"):
            continue
        label = short_time(str(r["at"]))
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:  # two checks in one second stay two points
            label = f"{label} ({seen[label]})"
        rows += [
            {
                "checked (UTC)": label,
                "agreement (%)": round(100 * float(r[key]), 1),
                "measure": name,
            }
            for key, name, _ in AGREEMENT_MEASURES
            if r.get(key) is not None
        ]
    # typed even when empty: a chart first drawn from an untyped (object) column reads the
    # shares as categories and keeps doing so after the data arrives
    frame = pd.DataFrame(rows, columns=["checked (UTC)", "agreement (%)", "measure"])
    return frame.astype({"checked (UTC)": str, "agreement (%)": float, "measure": str})


def _fact_journal(door: Session, triple: Triple, limit: int = 200) -> list[tuple[EditRecord, str]]:
    """The journal entries that changed one fact, newest first (among the latest ``limit``
    about its subject), each with what it did to the fact: asserted, derived, superseded,
    retracted, restored or undone.

    Raises:
        NotFoundError: the subject is no entity.
    """
    out = []
    for record in door.history(triple.subject, limit=limit):
        added, removed = door.edit_changes(record.id)
        put = [f for f in added if f.triple == triple]
        retired = [f for f in removed if f.triple == triple]
        undo = record.kind is EditKind.ROLLBACK
        if put:
            did = "restored (undo)" if undo else "derived" if put[0].kind.derived else "asserted"
        elif retired:
            other = any(
                f.subject == triple.subject
                and f.relation == triple.relation
                and f.object != triple.object
                for f in added
            )
            did = "undone" if undo else "superseded" if other else "retracted"
        else:
            continue
        out.append((record, did))
    return out


def _door(ks: KnowSync, session: SignedIn) -> Session:
    """The one door for the signed-in account (see :class:`knowsync._session.Session`)."""
    return Session(ks, session["name"])


def _can(ks: KnowSync, session: SignedIn | None, action: str, edit_id: int | None = None) -> bool:
    if not session or _session_ended(ks, session):
        return False
    try:
        _door(ks, session).authorize(action, edit_id=edit_id)
    except KnowsyncError:
        return False
    return True


def _need(
    ks: KnowSync, session: SignedIn | None, action: str, edit_id: int | None = None
) -> Session:
    """The signed-in account's session, if it still signs its account in and the service
    allows them ``action`` (to answer before any work starts; the session's methods
    authorize what they do again).

    Raises:
        gr.Error: nobody is signed in, the session has ended (see :func:`_session_ended`), or
            the role does not allow it.
    """
    if not session:
        raise gr.Error("Sign in first.")
    ended = _session_ended(ks, session)
    if ended:  # Gradio shows an error's message as HTML
        raise gr.Error(esc(f"You were signed out: {ended}."))
    door = _door(ks, session)
    try:
        door.authorize(action, edit_id=edit_id)
    except KnowsyncError as exc:  # PermissionDenied, or NotFoundError for an unknown edit
        raise gr.Error(esc(str(exc))) from exc
    return door


def _header(ks: KnowSync, session: SignedIn | None) -> str:
    brand = '<div id="ks-header"><div class="ks-brand">know<span>sync</span></div></div>'
    if not session:  # nothing about the knowledge base before sign-in
        return brand
    try:
        stats = _door(ks, session).stats()
    except KnowsyncError:  # the account may read no more: its next action says why
        return brand
    facts = sum(stats.get(k, 0) for k in ("asserted", "inverse", "composed"))
    derived = stats.get("inverse", 0) + stats.get("composed", 0)
    model_txt = _model_text(ks)
    user = ""
    if session:
        user = (
            f'<span class="ks-user">signed in as <b>{esc(session["name"])}</b>'
            f'<span class="ks-role">{esc(session["role"])}</span></span>'
        )
    return (
        '<div id="ks-header"><div class="ks-brand">know<span>sync</span></div>'
        f'<div class="ks-stats">{_plural(facts, "fact", "facts")} ({derived:,} derived) · '
        f"{_plural(stats.get('entities', 0), 'entity', 'entities')} · "
        f"{_plural(stats.get('edits', 0), 'journal entry', 'journal entries')} · "
        f'{model_txt}</div><div class="ks-spacer"></div>{user}</div>'
    )


def _model_text(ks: KnowSync) -> str:
    """The header's word on the model: which one, or how its loading goes."""
    status = ks.model_status
    if status.state == "ready":
        sync = ks.model_sync_state()
        if sync["error"]:
            return (
                f'<span class="ks-failed">model: {esc(status.label)} · sync failed '
                f"({esc(str(sync['error'])[:200])})</span>"
            )
        if sync["syncing"] or sync["backlog"]:
            return (
                f'<span class="ks-loading">model: {esc(status.label)} · catching up with '
                f"{sync['backlog']} change(s) (the graph answers meanwhile)</span>"
            )
        return f"model: {esc(status.label)} · up to date with the graph"
    if status.state == "loading":
        waited = time.time() - (status.started or time.time())
        return (
            f'<span class="ks-loading">model: loading… {waited:.0f} s '
            "(the graph answers meanwhile; the model catches up)</span>"
        )
    if status.state == "failed":
        return f'<span class="ks-failed">model: failed to load ({esc(status.detail)})</span>'
    return "no model loaded (graph only)"


#: How many names an entity picker offers at a time: the page never holds the whole list, it
#: asks the server for the names matching what is typed (type-ahead).
TYPE_AHEAD = 50


def _entity_choices(door: Session, text: str = "") -> list[str]:
    """Entity names for a picker: those whose name contains ``text`` (however it is spelt:
    case, spaces and underscores folded), shortest first, at most :data:`TYPE_AHEAD`."""
    return door.search_entities(text.strip()[:200], limit=TYPE_AHEAD)


def _recent_edit_ids(door: Session, count: int = 10) -> set[int]:
    """The ids of the latest applied edits (not imports) still in force."""
    out: set[int] = set()
    for record in door.history(limit=200):
        if (
            record.kind is EditKind.EDIT
            and record.state is EditState.APPLIED
            and record.rolled_back_by is None
        ):
            out.add(record.id)
            if len(out) >= count:
                break
    return out


def _first_subject(sub: dict[str, Any]) -> str | None:
    """The subject of the first triple of a submission (to show it in the graph)."""
    request = (sub.get("report") or {}).get("request") or {}
    for key in ("assert", "retract"):
        for t in request.get(key, []):
            return str(t[0])
    answer = sub.get("answer") or {}
    return str(answer["subject"]) if answer.get("subject") else None


def _until(value: str) -> str | None:
    """A date alone means the end of that day."""
    value = value.strip()
    if not value:
        return None
    return f"{value}T23:59:59.999999+00:00" if len(value) == 10 else value


def _message_text(content: object) -> str:
    """The text of a chat message's content: a string, or the text parts of the list the
    chat hands its messages back in."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        content = [content]
    if isinstance(content, list):
        return "".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type", "text") == "text"
        )
    return ""


def _kept_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chat's messages as the conversation keeps them: role, content and the pending
    submission of an answer that waits on its model write (the suggestions of a past
    question are not kept); an answer too long to keep is replaced by a note."""
    out: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role not in ("user", "assistant"):
            continue
        content = _message_text(message.get("content"))
        if len(content) > MAX_MESSAGE_CHARS:
            content = callout(
                "This answer was too long to keep; the History tab shows its edit.", "info"
            )
        kept: dict[str, Any] = {"role": str(role), "content": content}
        if role == "assistant" and isinstance(message.get("pending"), dict):
            kept["pending"] = message["pending"]
        out.append(kept)
    return out


def _shown_messages(kept: list[ChatMessage]) -> tuple[list[dict[str, str]], list[list[Any]]]:
    """A kept conversation as the chat shows it, and the answers among it still waiting on
    their edit's model write (``[index, submission]``, as the chat's timer re-checks them)."""
    shown = [{"role": m.role, "content": m.content} for m in kept]
    waiting = [[i, m.pending] for i, m in enumerate(kept) if m.pending is not None]
    return shown, waiting


def _edit_id(value: float | int | str | None) -> int | None:
    try:
        return int(float(value)) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


# ------------------------------------------------------------------ uploads


def _upload_file(path: object, upload_dir: str | Path) -> Path | None:
    """The file at ``path`` if it lies in the upload folder once links are resolved (a file
    the server received as an upload), else None. Nothing is opened to tell."""
    if not isinstance(path, str) or not path or "://" in path:
        return None
    folder = Path(upload_dir).resolve()
    file = Path(path).resolve()
    if file == folder or not file.is_relative_to(folder) or not file.is_file():
        return None
    return file


def _named_files(data: object) -> Iterator[object]:
    """The paths of the files (Gradio's FileData: a dict with a ``path``) in a request body."""
    if isinstance(data, dict) and is_file_obj(data):
        yield data["path"]
    elif isinstance(data, dict):
        for value in data.values():
            yield from _named_files(value)
    elif isinstance(data, list):
        for item in data:
            yield from _named_files(item)


def _discard_upload(file: Path, upload_dir: str | Path) -> None:
    """Delete an upload once read, and the folder Gradio made for it when that is empty."""
    file.unlink(missing_ok=True)
    if file.parent != Path(upload_dir).resolve():
        with contextlib.suppress(OSError):  # not empty: another upload of the same content
            file.parent.rmdir()


def _import_problem(exc: KnowsyncError, file: Path) -> str:
    """Why an uploaded file was not imported, in words that show neither where the server
    keeps it nor what it holds (a header the import cannot read is not quoted back)."""
    if isinstance(exc, InputError) and exc.line == 1:
        return (
            f"{file.name}: the first line must be the header 'head,relation,tail' (or "
            "'subject,relation,object')"
        )
    return str(exc).replace(str(file), file.name).replace(str(file.parent), "")


# ------------------------------------------------------------------ the app


def build(
    ks: KnowSync,
    *,
    open_mode: bool = False,
    upload_dir: str | Path | None = None,
    throttle: SignInThrottle | None = None,
) -> gr.Blocks:
    """The web app over one knowledge base.

    With ``open_mode``, a knowledge base without accounts opens straight into the chat, acting
    as the local user (:func:`knowsync.local_user`), as the command line does; once accounts
    exist, everyone signs in. ``upload_dir``: where the server keeps uploads (the only files
    the import opens); None: Gradio's own folder, as ``launch()`` uses it. ``throttle``: failed
    sign-ins counted per client address, shared with the HTTP API's token checks (None: one of
    the app's own).

    Style and fonts are given where the app is served (:func:`mount`, or ``launch(theme=theme(),
    css=CSS)``).
    """
    uploads = str(upload_dir if upload_dir is not None else get_upload_folder())

    def received() -> set[str]:
        """The files Gradio's upload route received for this app, links resolved."""
        return {str(Path(p).resolve()) for p in app.upload_file_set}

    # uploads nobody imported go after an hour (the rest when the server stops)
    sign_ins = throttle if throttle is not None else SignInThrottle()
    with gr.Blocks(title="knowsync", analytics_enabled=False, delete_cache=(3600, 3600)) as app:
        session = gr.State(None)
        with gr.Row():
            header = gr.HTML(_header(ks, None), scale=1)
            signout = gr.Button("Sign out", size="sm", scale=0, min_width=90, visible=False)

        # ---------------------------------------------------------- sign in
        with gr.Column(elem_id="ks-login") as login_col:
            gr.Markdown(
                "### Sign in\nPaste your API token (`knowsync users add NAME` prints one; "
                "an admin can make one for you)."
            )
            token = gr.Textbox(label="API token", type="password", elem_id="ks-token", max_lines=1)
            signin = gr.Button("Sign in", variant="primary", elem_id="ks-signin")
            login_msg = gr.HTML()

        # ---------------------------------------------------------- the tabs
        with gr.Column(visible=False) as main_col, gr.Tabs() as tabs:
            with gr.Tab("Chat", id="chat"), gr.Row():
                with gr.Column(scale=3):
                    chatbot = gr.Chatbot(
                        label="Conversation",
                        show_label=False,  # its floating label covered messages scrolled under it
                        height=560,
                        buttons=["copy"],
                        feedback_options=None,
                        elem_id="ks-chat",
                        latex_delimiters=[],  # nothing typed becomes markup, formulas included
                        placeholder=(
                            "<b>State a fact, ask, or undo.</b><br>"
                            "“Actually, the wife of Mike Pence is Karen Pence.” · "
                            "“Who is the father of Barack Obama?” · “Undo my last edit.”"
                        ),
                    )
                    with gr.Row():
                        chat_in = gr.Textbox(
                            show_label=False,
                            placeholder="Type a fact or a question and press Enter",
                            scale=6,
                            max_lines=4,
                            elem_id="ks-chat-input",
                        )
                        send = gr.Button("Send", variant="primary", scale=1, min_width=80)
                    # chat answers whose model write is still queued: [message index, the
                    # submission]; a timer re-renders each in place once its model part is done
                    awaiting = gr.State([])
                    chat_timer = gr.Timer(2.0, active=False)
                    # what was just said, shown at once, for the answer that follows
                    said_text = gr.State("")
                with gr.Column(scale=1, min_width=240):
                    notices = gr.HTML(elem_id="ks-notices", js_on_load=_NOTICES_JS)
                    notices_seen = gr.Button(
                        "Mark as read",
                        size="sm",
                        visible=False,
                        elem_id="ks-notices-seen",
                    )
                    # the ``at`` of the newest unseen notice shown: what "Mark as read" marks
                    notices_mark = gr.State(None)
                    # a curator's decision reaches an author who is signed in meanwhile
                    notices_timer = gr.Timer(20.0)
                    gr.HTML(
                        '<div class="ks-side"><b>How it works</b><br>Each sentence is '
                        "read into triples, checked against the graph, and either applied "
                        "(graph, then model), held for a curator, refused with the reason, "
                        "or answered with a question.<br><br>Derived facts (inverses, "
                        "compositions) follow automatically; superseded facts stay in the "
                        "journal and can be restored by a rollback.</div>"
                    )
                    my_edits = gr.HTML()
            with gr.Tab("Graph", id="graph") as graph_tab:
                with gr.Row(equal_height=True):
                    entity = gr.Dropdown(
                        label="Entity",
                        choices=[],
                        allow_custom_value=True,
                        filterable=True,
                        scale=3,
                        elem_id="ks-entity",
                    )
                    hops = gr.Slider(1, 3, value=min(2, ks.hops), step=1, label="Hops", scale=1)
                    fanout = gr.Slider(
                        2, 40, value=max(2, min(40, ks.fanout)), step=1, label="Fan-out", scale=1
                    )
                    draw = gr.Button("Draw", variant="primary", scale=0, min_width=90)
                graph = gr.HTML(js_on_load=_GRAPH_JS, elem_id="ks-graph")
                with gr.Row():
                    with gr.Column(scale=3), gr.Accordion("Facts in this picture", open=False):
                        graph_facts = gr.HTML()
                    with gr.Column(scale=2):
                        graph_edits = gr.HTML(elem_id="ks-graph-side", js_on_load=_NOTICES_JS)
            with gr.Tab("History", id="history") as history_tab:
                with gr.Row(equal_height=True):
                    h_user = gr.Dropdown(
                        label="User", choices=[ANYONE], value=ANYONE, allow_custom_value=True
                    )
                    h_entity = gr.Dropdown(
                        label="Entity", choices=[], value=None, allow_custom_value=True
                    )
                    h_since = gr.Textbox(label="Since", placeholder="YYYY-MM-DD", max_lines=1)
                    h_until = gr.Textbox(label="Until", placeholder="YYYY-MM-DD", max_lines=1)
                    h_filter = gr.Button("Filter", scale=0, min_width=90)
                h_table = gr.Dataframe(
                    headers=HISTORY_HEADERS,
                    interactive=False,
                    wrap=True,
                    max_height=340,
                    column_widths=["6%", "16%", "10%", "8%", "14%", "46%"],
                    elem_id="ks-history",
                )
                h_msg = gr.HTML()
                with gr.Row():
                    with gr.Column(scale=3):
                        h_detail = gr.HTML(
                            '<div class="ks-note">Click a row (or type its number) to see '
                            "what the edit changed.</div>"
                        )
                    with gr.Column(scale=1, min_width=240):
                        # a text box: Gradio's number box shows 0 when it holds nothing
                        h_id = gr.Textbox(
                            label="Edit #",
                            max_lines=1,
                            placeholder="a number",
                            elem_id="ks-history-id",
                        )
                        h_open = gr.Button("Open")
                        h_cascade = gr.Checkbox(
                            label="Also undo later edits that depend on it", value=False
                        )
                        h_rollback = gr.Button(
                            "Roll back this edit",
                            variant="stop",
                            visible=False,
                            elem_id="ks-rollback",
                        )
                h_effect = gr.HTML(elem_id="ks-effect")
            with gr.Tab("Review", id="review", visible=False) as review_tab:
                with gr.Row():
                    r_count = gr.HTML()
                    r_refresh = gr.Button("Refresh", scale=0, min_width=90)
                r_table = gr.Dataframe(
                    headers=QUEUE_HEADERS,
                    interactive=False,
                    wrap=True,
                    max_height=300,
                    column_widths=["6%", "16%", "10%", "36%", "32%"],
                    elem_id="ks-queue",
                )
                with gr.Row():
                    with gr.Column(scale=3):
                        r_detail = gr.HTML(
                            '<div class="ks-note">Click a waiting edit to review it.</div>'
                        )
                    with gr.Column(scale=2, min_width=260):
                        r_id = gr.Textbox(
                            label="Edit #",
                            max_lines=1,
                            placeholder="a number",
                            elem_id="ks-review-id",
                        )
                        r_reason = gr.Textbox(
                            label="Reason (kept in the journal; required to reject)",
                            lines=2,
                            elem_id="ks-review-reason",
                        )
                        with gr.Row():
                            approve = gr.Button("Approve", variant="primary", elem_id="ks-approve")
                            reject = gr.Button("Reject", variant="stop", elem_id="ks-reject")
                        r_result = gr.HTML(elem_id="ks-review-result")
                with gr.Accordion("Locks: protect facts and entities from edits", open=False):
                    locks_html = gr.HTML()
                    with gr.Row(equal_height=True):
                        l_entity = gr.Textbox(label="Entity", max_lines=1)
                        l_relation = gr.Textbox(label="Relation (optional)", max_lines=1)
                        l_object = gr.Textbox(label="Object (optional)", max_lines=1)
                        l_reason = gr.Textbox(label="Reason", max_lines=1)
                        l_lock = gr.Button("Lock", scale=0, min_width=80)
                    with gr.Row(equal_height=True):
                        l_id = gr.Textbox(label="Lock #", max_lines=1, placeholder="a number")
                        l_unlock = gr.Button("Unlock", scale=0, min_width=80)
                        l_msg = gr.HTML()
            with gr.Tab("Probe", id="probe"):
                p_note = gr.HTML()
                with gr.Row(equal_height=True):
                    p_prompt = gr.Textbox(
                        label="Prompt",
                        placeholder="The capital of Australia is",
                        scale=5,
                        max_lines=3,
                        elem_id="ks-probe-prompt",
                    )
                    p_go = gr.Button("Ask both models", variant="primary", scale=1)
                with gr.Row():
                    with gr.Column():
                        gr.Markdown("**Edited model** (base + the ledger)")
                        p_edited = gr.HTML(elem_classes=["ks-probe"], elem_id="ks-probe-edited")
                    with gr.Column():
                        gr.Markdown("**Original model** (base weights)")
                        p_base = gr.HTML(elem_classes=["ks-probe"], elem_id="ks-probe-base")
            with gr.Tab("Model", id="model") as model_tab:
                m_summary = gr.HTML(elem_id="ks-agreement-summary")
                with gr.Row():
                    m_check = gr.Button(
                        "Check agreement now",
                        variant="primary",
                        visible=False,
                        scale=0,
                        min_width=200,
                        elem_id="ks-model-check",
                    )
                    m_sync = gr.Button(
                        "Sync the model now",
                        visible=False,
                        scale=0,
                        min_width=200,
                        elem_id="ks-model-sync",
                    )
                    m_refresh = gr.Button("Refresh", scale=0, min_width=100)
                m_msg = gr.HTML(elem_id="ks-model-msg")
                with gr.Row(equal_height=False):
                    with gr.Column():
                        # a line needs two checks: the first one is drawn as points
                        chart: dict[str, Any] = {
                            "x": "checked (UTC)",
                            "y": "agreement (%)",
                            "color": "measure",
                            "y_lim": [0, 100],
                            "height": 320,
                        }
                        m_time = gr.LinePlot(
                            title="Agreement over time (checks of every fact)",
                            elem_id="ks-agreement-time",
                            **chart,
                        )
                        m_first = gr.ScatterPlot(
                            title="Agreement at the first check of every fact",
                            visible=False,
                            elem_id="ks-agreement-first",
                            **chart,
                        )
                    m_relations = gr.HTML(elem_id="ks-agreement-relations")
            with gr.Tab("Import", id="import", visible=False) as import_tab:
                gr.Markdown(
                    "Upload a CSV (`head,relation,tail` or `subject,relation,object`) or JSONL "
                    "file. Rows are imported in chunked transactions; rows already known change "
                    "nothing; bad rows are listed with their line numbers."
                )
                with gr.Row():
                    i_file = gr.File(
                        label="Triples file", file_types=[".csv", ".jsonl", ".json"], scale=2
                    )
                    with gr.Column(scale=1):
                        i_policy = gr.Radio(
                            ["skip", "overwrite", "fail"],
                            value="skip",
                            label="A row that contradicts a fact in force",
                            info="skip it · supersede the old fact · stop and undo the import",
                        )
                        i_go = gr.Button("Import", variant="primary")
                i_result = gr.HTML()
                i_batch = gr.State(None)
                with gr.Row():
                    i_undo = gr.Button(
                        "Roll back this import", variant="stop", visible=False, scale=0
                    )
            with gr.Tab("Users", id="users", visible=False) as users_tab:
                u_table = gr.Dataframe(headers=USER_HEADERS, interactive=False)
                with gr.Row(equal_height=True):
                    u_name = gr.Textbox(label="Name", max_lines=1)
                    u_role = gr.Dropdown(ROLES, value="editor", label="Role")
                    u_add = gr.Button("Add user", variant="primary", scale=0, min_width=100)
                gr.Markdown("**Change an account**")
                with gr.Row(equal_height=True):
                    u_pick = gr.Dropdown(
                        label="Account", choices=[], scale=2, elem_id="ks-user-pick"
                    )
                    u_new_role = gr.Dropdown(ROLES, value=None, label="New role", scale=1)
                    u_set_role = gr.Button("Set role", scale=0, min_width=100)
                with gr.Row(equal_height=True):
                    u_label = gr.Textbox(
                        label="Label of a new token (optional)",
                        placeholder="laptop, import script…",
                        max_lines=1,
                        scale=2,
                    )
                    u_token = gr.Button("New token", scale=0, min_width=110)
                    u_revoke = gr.Button("Revoke its tokens", variant="stop", scale=0)
                    u_disable = gr.Button("Disable", variant="stop", scale=0, min_width=90)
                    u_enable = gr.Button("Enable", scale=0, min_width=90)
                u_msg = gr.HTML(elem_id="ks-users-msg")

        # ====================================================== handlers

        def history_frame(
            door: Session, user: str | None, ent: str | None, since: str, until: str
        ) -> tuple[pd.DataFrame, str]:
            try:
                records = door.history(
                    ent or None,
                    user=None if not user or user == ANYONE else user,
                    since=since.strip() or None,
                    until=_until(until),
                    limit=200,
                )
            except KnowsyncError as exc:
                return pd.DataFrame([], columns=HISTORY_HEADERS), callout(str(exc), "bad")
            rows = [
                [
                    r.id,
                    short_time(r.created_at),
                    r.user,
                    r.kind.value,
                    state_label(r),
                    edit_summary(r),
                ]
                for r in records
            ]
            note = "" if rows else callout("No journal entries match these filters.", "info")
            return pd.DataFrame(rows, columns=HISTORY_HEADERS), note

        def queue_frame(door: Session) -> tuple[pd.DataFrame, str]:
            records = door.review_queue()
            rows = [
                [r.id, short_time(r.created_at), r.user, edit_summary(r), held_reason(r)]
                for r in records
            ]
            count = (
                f'<div class="ks-side"><b>{len(rows)}</b> edit{"s" if len(rows) != 1 else ""} '
                "waiting for review, oldest first.</div>"
            )
            return pd.DataFrame(rows, columns=QUEUE_HEADERS), count

        def locks_view(door: Session) -> str:
            locks = door.locks()
            if not locks:
                return '<div class="ks-note">No locks.</div>'
            rows = "".join(
                f"<tr><td>#{lk.id}</td><td>{esc(lk.describe())}</td>"
                f"<td>{esc(short_time(lk.created_at))}</td></tr>"
                for lk in locks
            )
            head = "<tr><th>#</th><th>lock</th><th>since</th></tr>"
            return f'<table class="ks-table">{head}{rows}</table>'

        def users_frame(door: Session) -> pd.DataFrame:
            rows = [
                [a.name, a.role.value, short_time(a.created_at), a.created_by or "", a.disabled]
                for a in door.users()
            ]
            return pd.DataFrame(rows, columns=USER_HEADERS)

        def my_edits_view(sess: SignedIn | None) -> str:
            if not sess:
                return ""
            records = _door(ks, sess).history(user=sess["name"], limit=8)
            if not records:
                return '<div class="ks-side"><b>Your edits</b><br>none yet.</div>'
            lines = "".join(
                f"<li>#{r.id} {esc(edit_summary(r))} "
                f'<span class="ks-note">({esc(state_label(r))})</span></li>'
                for r in records
            )
            return f'<div class="ks-side"><b>Your latest edits</b><ul>{lines}</ul></div>'

        def notices_panel(sess: SignedIn | None) -> tuple[Any, Any, str | None]:
            """The notice area (the decisions on the account's held edits: every unseen one,
            and the latest seen ones up to a handful), its "Mark as read" button, and the
            ``at`` of the newest unseen notice shown."""
            if not sess or not _can(ks, sess, "submit"):  # no edits of their own, no notices
                return "", gr.update(visible=False), None
            door = _door(ks, sess)
            unseen = door.notices(limit=50)
            shown = (
                unseen
                if len(unseen) >= _NOTICES_SHOWN
                else door.notices(include_seen=True, limit=_NOTICES_SHOWN)
            )
            mark = max((n.at for n in unseen), default=None)
            return notices_html(shown), gr.update(visible=mark is not None), mark

        def keep(door: Session, messages: list[dict[str, Any]]) -> str:
            """Add the chat's newest messages to the account's conversation (after what its
            other tabs added); "" once kept, else a note saying why they were not (the answer
            shown stands either way)."""
            try:
                door.remember_more(_kept_messages(messages))
            except KnowsyncError as exc:
                return callout(f"This conversation could not be kept: {exc}", "warn")
            return ""

        def probe_note() -> str:
            if _model(ks) is None:
                return callout(
                    "No model is loaded, so there is nothing to probe: the server runs on the "
                    "graph alone. Start it with a model to compare the edited and the original "
                    "weights.",
                    "warn",
                )
            return callout(
                "The same prompt, answered greedily by the edited model and by the original "
                "weights. Where they differ, an edit (or a fact derived from one) is at work.",
                "info",
            )

        # ---------------------------------------------------------- sign in / out

        def do_signin(tok: str, request: gr.Request) -> tuple[Any, ...]:
            client = getattr(request, "client", None)
            address = str(getattr(client, "host", None) or "unknown")
            try:
                sign_ins.check(address)
                try:
                    account = Session.signed_in(ks, tok.strip()).whoami()
                except KnowsyncError:
                    sign_ins.failed(address)
                    raise
            except KnowsyncError as exc:
                left = None if isinstance(exc, TooManyAttempts) else sign_ins.left(address)
                if left:
                    why = f" ({left} more failed attempt(s) from here and sign-in pauses)"
                elif left == 0:
                    why = f" (sign-in from here now pauses for up to {sign_ins.window:.0f} s)"
                else:
                    why = ""
                return (
                    None,
                    callout(f"Could not sign in: {exc}{why}", "bad"),
                    *[gr.skip()] * (len(signin_outputs) - 2),
                )
            session_ = SignedIn(name=account.name, role=account.role.value, token=tok.strip())
            return enter(session_, signout=True)

        def do_open_mode() -> tuple[Any, ...]:
            if not open_mode or not Session.open_mode(ks):
                return tuple(gr.skip() for _ in signin_outputs)
            return enter(SignedIn(name=local_user(), role="admin", token=None), signout=False)

        def enter(sess: SignedIn, *, signout: bool) -> tuple[Any, ...]:
            door = _door(ks, sess)
            entities = _entity_choices(door)
            users = [ANYONE, *door.account_names()] if _can(ks, sess, "read") else [ANYONE]
            frame, _ = history_frame(door, None, None, "", "")
            curator = _can(ks, sess, "review")
            conversation, waiting = _shown_messages(door.conversation())
            return (
                sess,
                "",
                gr.update(visible=False),  # login_col
                gr.update(visible=True),  # main_col
                gr.update(visible=signout),  # signout
                _header(ks, sess),
                gr.Tab(visible=curator),
                gr.Tab(visible=_can(ks, sess, "submit")),
                gr.Tab(visible=_can(ks, sess, "admin")),
                gr.update(choices=entities),
                gr.update(choices=users, value=ANYONE),
                gr.update(choices=entities),
                frame,
                my_edits_view(sess),
                probe_note(),
                gr.update(
                    placeholder=(
                        "Type a fact or a question and press Enter"
                        if _can(ks, sess, "submit")
                        else "Ask a question (your role can read, not edit)"
                    )
                ),
                conversation,  # chatbot: the account's own, as kept
                waiting,  # awaiting: its answers still waiting on the model, re-checked
                gr.Timer(active=bool(waiting)),
                *notices_panel(sess),
            )

        signin_outputs = [
            session,
            login_msg,
            login_col,
            main_col,
            signout,
            header,
            review_tab,
            import_tab,
            users_tab,
            entity,
            h_user,
            h_entity,
            h_table,
            my_edits,
            p_note,
            chat_in,
            chatbot,
            awaiting,
            chat_timer,
            notices,
            notices_seen,
            notices_mark,
        ]
        signin.click(do_signin, [token], signin_outputs)
        token.submit(do_signin, [token], signin_outputs)
        app.load(do_open_mode, None, signin_outputs)

        # While the model loads, the header counts the seconds and says when it is ready.
        model_timer = gr.Timer(1.0)

        def do_model_tick(sess: SignedIn | None) -> tuple[Any, Any]:
            loading = ks.model_status.state == "loading"
            shown = sess if sess and not _session_ended(ks, sess) else None
            return _header(ks, shown), gr.Timer(active=loading)

        model_timer.tick(do_model_tick, [session], [header, model_timer], show_progress="hidden")

        def do_signout() -> tuple[Any, ...]:
            return (
                None,
                "",
                gr.update(visible=True),
                gr.update(visible=False),
                gr.update(visible=False),
                _header(ks, None),
                [],
                [],
                "",
                gr.update(visible=False),
                None,
                "",
            )

        # the chat and the notices go with the session (they stay kept for the next sign-in);
        # ``login_msg`` last: do_expire puts its reason there
        signout_outputs = [
            session,
            token,
            login_col,
            main_col,
            signout,
            header,
            chatbot,
            awaiting,
            notices,
            notices_seen,
            notices_mark,
            login_msg,
        ]
        signout.click(do_signout, None, signout_outputs)

        def do_expire(sess: SignedIn | None) -> tuple[Any, ...]:
            """After an action failed: if it failed because the session has ended (its token
            revoked, its account disabled), sign it out and say why."""
            ended = _session_ended(ks, sess) if sess else None
            if not ended:
                return tuple(gr.skip() for _ in signout_outputs)
            why = callout(f"You were signed out: {ended}. Sign in again.", "warn")
            return (*do_signout()[:-1], why)

        def guarded(event: Any) -> Any:
            """A registered action, followed by :func:`do_expire` when it fails."""
            event.failure(do_expire, [session], signout_outputs, show_progress="hidden")
            return event

        # ---------------------------------------------------- the Model tab (agreement)

        def model_view(sess: SignedIn | None) -> tuple[Any, ...]:
            """The summary, the two charts and the curator's buttons, from the recorded
            checks (:meth:`knowsync._session.Session.model_checks`)."""
            door = _need(ks, sess, "read")
            records = door.model_checks(200)
            sync = ks.model_sync_state()
            loaded = _model(ks) is not None
            summary = agreement_html(
                records,
                model=ks.model_status.label if loaded else None,
                backlog=int(sync["backlog"]),
                generation=sync["generation"],
            )
            curator = loaded and _can(ks, sess, "review")
            over_time = agreement_over_time(records)
            one = over_time["checked (UTC)"].nunique() == 1
            return (
                summary,
                gr.update(value=over_time, visible=not one),
                gr.update(value=over_time if one else None, visible=one),
                relation_bars_html(records),
                gr.update(visible=curator),
                gr.update(visible=curator),
            )

        model_outputs = [m_summary, m_time, m_first, m_relations, m_check, m_sync]
        model_tab.select(model_view, [session], model_outputs)
        m_refresh.click(model_view, [session], model_outputs)

        def do_check(
            sess: SignedIn | None,
            progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's idiom
        ) -> tuple[Any, ...]:
            door = _need(ks, sess, "review")

            def tick(done: int, total: int) -> None:
                progress((done, total), desc="Asking the model", unit="prompts")

            try:
                report = door.check_model(tick=tick)
                msg = callout(
                    f"Checked {report.counts.get('cloze', 0)} subject/relation pairs and "
                    f"{report.counts.get('locality', 0)} unrelated probes; the figures are "
                    "recorded below.",
                    "ok",
                )
            except KnowsyncError as exc:
                msg = callout(f"The check failed: {exc}", "bad")
            return (msg, *model_view(sess))

        def do_sync(
            sess: SignedIn | None,
            progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's idiom
        ) -> tuple[Any, ...]:
            door = _need(ks, sess, "review")

            def tick(done: int, total: int) -> None:
                progress((done, total), desc="Writing the facts into the model", unit="facts")

            try:
                out = door.sync_model(tick=tick)
                failed = out.get("failed") or {}
                msg = callout(
                    f"The model holds {out.get('facts', 0)} facts of {out.get('subjects', 0)} "
                    f"subjects ({out.get('computed', 0)} facts computed now"
                    + (
                        f", {len(failed)} failed: {', '.join(sorted(failed))[:300]}"
                        if failed
                        else ""
                    )
                    + "). Check the agreement to see how far it follows them.",
                    "warn" if failed else "ok",
                )
            except KnowsyncError as exc:
                msg = callout(f"The sync failed: {exc}", "bad")
            return (msg, *model_view(sess))

        guarded(m_check.click(do_check, [session], [m_msg, *model_outputs]))
        guarded(m_sync.click(do_sync, [session], [m_msg, *model_outputs]))

        # ---------------------------------------------------------- chat

        def do_say(text: str, messages: list[dict[str, Any]]) -> tuple[Any, ...]:
            """The first, instant step of sending: the message appears in the chat, the box
            empties and waits (about a second, the graph's part) until the answer is in."""
            text = (text or "").strip()
            if not text:
                return gr.skip(), gr.skip(), ""
            said = {"role": "user", "content": said_html(text)}
            return [*(messages or []), said], gr.update(value="", interactive=False), text

        def do_answer(
            text: str,
            messages: list[dict[str, Any]],
            waiting: list[list[Any]],
            sess: SignedIn | None,
        ) -> tuple[Any, ...]:
            """The answer to what :func:`do_say` showed: the graph's result now, the model's
            part (when queued) re-rendered in place by the chat's timer once it is done."""
            if not text:
                return gr.skip(), gr.skip(), gr.skip(), gr.skip()
            door = _need(ks, sess, "ask")
            said = {"role": "user", "content": said_html(text)}
            messages = list(messages or [])
            focus: str | None = None
            options: list[dict[str, str]] = []
            pending: dict[str, Any] | None = None  # the submission, while the model catches up
            waiting = list(waiting or [])
            try:
                if _can(ks, sess, "submit"):
                    sub = door.submit(text).to_dict()
                else:
                    sub = {"decision": "accepted", "answer": door.ask(text).to_dict()}
                content = submission_html(sub, model_loaded=_model(ks) is not None)
                focus = _first_subject(sub)
                options = [{"value": s, "label": s} for s in sub.get("suggestions") or []]
                if (sub.get("report") or {}).get("model_state") == "pending":
                    waiting.append([len(messages), sub])  # the reply's index once appended
                    pending = sub
            except KnowsyncError as exc:
                content = callout(f"{type(exc).__name__}: {exc}", "bad")
            reply: dict[str, Any] = {"role": "assistant", "content": content}
            if options:
                reply["options"] = options
            messages = [*messages, reply]
            reply["content"] += keep(door, [said, {**reply, "pending": pending}])
            return (
                messages,
                gr.update(value=focus) if focus else gr.skip(),
                waiting,
                gr.Timer(active=bool(waiting)),
            )

        def do_chat_tick(
            messages: list[dict[str, Any]], waiting: list[list[Any]], sess: SignedIn | None
        ) -> tuple[Any, ...]:
            """Re-render, in place, each answer whose queued model write has finished (the
            journal's report then holds the model's before/after rows, or the failure)."""
            if not waiting or sess is None or _session_ended(ks, sess):
                return gr.skip(), [], gr.Timer(active=False), gr.skip()
            door = _need(ks, sess, "read")
            messages = list(messages or [])
            still: list[list[Any]] = []
            changed: int | None = None  # the last message re-rendered
            for index, sub in waiting:
                edit_id = sub.get("edit_id")
                shown = messages[index] if 0 <= index < len(messages) else None
                if (
                    edit_id is None
                    or shown is None
                    or f"edit #{edit_id}" not in str(shown.get("content", ""))
                ):
                    continue  # the conversation was cleared meanwhile
                try:
                    report = door.get_edit(int(edit_id)).report
                except KnowsyncError:
                    continue
                if report.get("model_state") == "pending":
                    still.append([index, sub])
                    continue
                done = {**sub, "report": report, "model": report.get("model") or []}
                html = submission_html(done, model_loaded=_model(ks) is not None)
                try:  # the kept answer is settled in place too (once, by whichever tab)
                    door.settle_message(int(edit_id), html)
                except KnowsyncError as exc:
                    html += callout(f"This answer could not be kept as it reads now: {exc}", "warn")
                messages[index] = {**shown, "content": html}
                changed = index
            return (
                messages if changed is not None else gr.skip(),
                still,
                gr.Timer(active=bool(still)),
                # the backlog it shows moved too
                _header(ks, sess) if changed is not None else gr.skip(),
            )

        chat_timer.tick(
            do_chat_tick,
            [chatbot, awaiting, session],
            [chatbot, awaiting, chat_timer, header],
            show_progress="hidden",
        )

        def after_send(sess: SignedIn | None) -> tuple[Any, ...]:
            return _header(ks, sess), my_edits_view(sess), *notices_panel(sess)

        after_outputs = [header, my_edits, notices, notices_seen, notices_mark]
        said_outputs = [chatbot, chat_in, said_text]

        def answer_after(said: Any) -> None:
            """The answer to what was just shown; the box is usable again, whatever came of
            it."""
            answered = guarded(
                said.then(
                    do_answer,
                    [said_text, chatbot, awaiting, session],
                    [chatbot, entity, awaiting, chat_timer],
                    show_progress="minimal",
                )
            )
            answered.success(after_send, [session], after_outputs, show_progress="hidden")
            answered.then(
                lambda: gr.update(interactive=True), None, chat_in, show_progress="hidden"
            )

        for trigger in (send.click, chat_in.submit):
            answer_after(
                trigger(
                    do_say, [chat_in, chatbot], said_outputs, queue=False, show_progress="hidden"
                )
            )

        def do_option(messages: list[dict[str, Any]], evt: gr.SelectData) -> tuple[Any, ...]:
            return do_say(str(evt.value), messages)

        answer_after(
            chatbot.option_select(
                do_option, [chatbot], said_outputs, queue=False, show_progress="hidden"
            )
        )

        def do_clear_chat(sess: SignedIn | None) -> list[Any]:
            """The chat's clear button: the kept conversation goes too."""
            _need(ks, sess, "ask").forget_conversation()
            return []

        guarded(chatbot.clear(do_clear_chat, [session], [awaiting]))

        # ---------------------------------------------------------- notices

        def do_notices(sess: SignedIn | None) -> tuple[Any, ...]:
            if sess is None or _session_ended(ks, sess):
                return gr.skip(), gr.skip(), gr.skip()
            return notices_panel(sess)

        notices_timer.tick(
            do_notices, [session], [notices, notices_seen, notices_mark], show_progress="hidden"
        )

        def do_notices_seen(mark: str | None, sess: SignedIn | None) -> tuple[Any, ...]:
            door = _need(ks, sess, "ask")
            if mark:
                door.mark_notices_seen(mark)
            return notices_panel(sess)

        guarded(
            notices_seen.click(
                do_notices_seen, [notices_mark, session], [notices, notices_seen, notices_mark]
            )
        )

        # ---------------------------------------------------------- graph

        def do_draw(
            name: str | None, n_hops: float, n_fanout: float, sess: SignedIn | None
        ) -> tuple[str, str, str]:
            door = _need(ks, sess, "read")
            if not name:
                return (
                    '<div class="ks-graph" style="padding:24px">Pick an entity to draw its '
                    "neighbourhood.</div>",
                    "",
                    "",
                )
            try:
                name = door.entity_name(name)  # any spelling: "Barack Obama" is Barack_Obama
                facts = door.neighbourhood(name, hops=int(n_hops), fanout=int(n_fanout))
                records = door.history(name, limit=6)
            except KnowsyncError as exc:
                return callout(str(exc), "bad"), "", ""
            recent = _recent_edit_ids(door)
            edits = "".join(
                f'<li><button type="button" class="ks-link" data-edit="{r.id}">'
                f"Edit #{r.id}</button> "
                f"{esc(edit_summary(r))} <span class='ks-note'>"
                f"{esc(r.user)}, {esc(short_time(r.created_at))} · {esc(state_label(r))}"
                "</span></li>"
                for r in records
            )
            edits_html = (
                f'<div class="ks-side"><b>Latest journal entries about {esc(name)}</b>'
                f"<ul>{edits}</ul></div>"
                if edits
                else ""
            )
            return graph_svg(name, facts, recent=recent), facts_table(facts, recent), edits_html

        draw_inputs = [entity, hops, fanout, session]
        draw_outputs = [graph, graph_facts, graph_edits]

        def do_type_ahead(typed: gr.KeyUpData, sess: SignedIn | None) -> Any:
            """The names matching what is typed so far, asked of the server at each key."""
            if not sess or _session_ended(ks, sess):
                return gr.skip()
            try:
                names = _entity_choices(_door(ks, sess), str(typed.input_value or ""))
            except KnowsyncError:  # may no longer read: the next action says why
                return gr.skip()
            return gr.update(choices=names)

        for picker in (entity, h_entity):
            picker.key_up(
                do_type_ahead,
                [session],
                [picker],
                show_progress="hidden",
                trigger_mode="always_last",
                queue=False,
            )
        guarded(draw.click(do_draw, draw_inputs, draw_outputs))
        guarded(entity.select(do_draw, draw_inputs, draw_outputs))
        guarded(hops.release(do_draw, draw_inputs, draw_outputs))
        guarded(fanout.release(do_draw, draw_inputs, draw_outputs))
        guarded(graph_tab.select(do_draw, draw_inputs, draw_outputs))

        def do_recentre(
            n_hops: float, n_fanout: float, sess: SignedIn | None, evt: gr.SelectData
        ) -> tuple[Any, ...]:
            name = str(evt.value)
            return (gr.update(value=name), *do_draw(name, n_hops, n_fanout, sess))

        def do_graph_click(
            n_hops: float, n_fanout: float, sess: SignedIn | None, evt: gr.SelectData
        ) -> tuple[Any, ...]:
            """A click on an entity re-centres the picture; on an arrow or its label, the
            side lists that fact's journal entries."""
            if evt.index == 1:
                door = _need(ks, sess, "read")
                value = evt.value
                if not (isinstance(value, list) and len(value) == 3):
                    return gr.skip(), gr.skip(), gr.skip(), gr.skip()
                triple = Triple(*(str(v) for v in value))
                try:
                    entries = _fact_journal(door, triple)
                except KnowsyncError as exc:
                    return gr.skip(), gr.skip(), gr.skip(), callout(str(exc), "bad")
                return gr.skip(), gr.skip(), gr.skip(), fact_history_html(triple, entries)
            return do_recentre(n_hops, n_fanout, sess, evt)

        guarded(
            graph.select(do_graph_click, [hops, fanout, session], [entity, *draw_outputs])
        ).then(None, js=_SHOW_FACT_JS)

        # ---------------------------------------------------------- history

        def do_filter(
            user: str | None, ent: str | None, since: str, until: str, sess: SignedIn | None
        ) -> tuple[pd.DataFrame, str]:
            return history_frame(_need(ks, sess, "read"), user, ent, since, until)

        filter_inputs = [h_user, h_entity, h_since, h_until, session]
        guarded(h_filter.click(do_filter, filter_inputs, [h_table, h_msg]))
        guarded(history_tab.select(do_filter, filter_inputs, [h_table, h_msg]))

        def do_open(value: str | float | None, sess: SignedIn | None) -> tuple[Any, ...]:
            door = _need(ks, sess, "read")
            edit_id = _edit_id(value)
            if edit_id is None:
                return gr.skip(), gr.update(visible=False), ""
            try:
                record, added, removed = door.show(edit_id)
            except KnowsyncError as exc:
                return callout(str(exc), "bad"), gr.update(visible=False), ""
            undoable = (
                record.kind in (EditKind.EDIT, EditKind.IMPORT)
                and record.state is EditState.APPLIED
                and record.rolled_back_by is None
                and _can(ks, sess, "rollback", edit_id)
            )
            return edit_card(record, added, removed), gr.update(visible=undoable), ""

        def do_pick_row(sess: SignedIn | None, evt: gr.SelectData) -> tuple[Any, ...]:
            row = evt.row_value or []
            edit_id = _edit_id(row[0]) if row else None
            return (edit_id, *do_open(edit_id, sess))

        guarded(h_open.click(do_open, [h_id, session], [h_detail, h_rollback, h_effect]))
        guarded(h_id.submit(do_open, [h_id, session], [h_detail, h_rollback, h_effect]))
        guarded(h_table.select(do_pick_row, [session], [h_id, h_detail, h_rollback, h_effect]))

        def do_open_notice(sess: SignedIn | None, evt: gr.SelectData) -> tuple[Any, ...]:
            """A notice's edit, opened in the History tab."""
            edit_id = _edit_id(evt.value)
            return (gr.Tabs(selected="history"), edit_id, *do_open(edit_id, sess))

        for edit_links in (notices, graph_edits):
            guarded(
                edit_links.select(
                    do_open_notice, [session], [tabs, h_id, h_detail, h_rollback, h_effect]
                )
            )

        def do_rollback(
            value: str | float | None,
            cascade: bool,
            sess: SignedIn | None,
            progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's idiom
        ) -> tuple[Any, ...]:
            edit_id = _edit_id(value)
            if edit_id is None:
                return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            door = _need(ks, sess, "rollback", edit_id)
            progress(0.1, desc=f"Rolling back #{edit_id} in the graph and the model…")
            try:
                results = door.rollback(edit_id, cascade=cascade)
            except KnowsyncError as exc:
                hint = (
                    " Tick “Also undo later edits that depend on it” to undo them too."
                    if "depend" in str(exc) and not cascade
                    else ""
                )
                return (
                    callout(f"Not rolled back: {exc}.{hint}", "bad"),
                    gr.skip(),
                    gr.skip(),
                    gr.skip(),
                    gr.skip(),
                )
            effect = rollback_report(results)
            detail, button, _ = do_open(edit_id, sess)
            frame, _ = history_frame(door, None, None, "", "")
            return effect, detail, button, frame, _header(ks, sess)

        guarded(
            h_rollback.click(
                do_rollback,
                [h_id, h_cascade, session],
                [h_effect, h_detail, h_rollback, h_table, header],
            )
        )

        # ---------------------------------------------------------- review

        def do_queue(sess: SignedIn | None) -> tuple[pd.DataFrame, str, str]:
            door = _need(ks, sess, "review")
            frame, count = queue_frame(door)
            return frame, count, locks_view(door)

        guarded(r_refresh.click(do_queue, [session], [r_table, r_count, locks_html]))
        guarded(review_tab.select(do_queue, [session], [r_table, r_count, locks_html]))

        def do_review_open(value: str | float | None, sess: SignedIn | None) -> str:
            door = _need(ks, sess, "review")
            edit_id = _edit_id(value)
            if edit_id is None:
                return ""
            try:
                record, added, removed = door.show(edit_id)
            except KnowsyncError as exc:
                return callout(str(exc), "bad")
            return edit_card(record, added, removed)

        def do_review_pick(sess: SignedIn | None, evt: gr.SelectData) -> tuple[Any, str, str]:
            row = evt.row_value or []
            edit_id = _edit_id(row[0]) if row else None
            return edit_id, do_review_open(edit_id, sess), ""

        guarded(r_table.select(do_review_pick, [session], [r_id, r_detail, r_result]))
        guarded(r_id.submit(do_review_open, [r_id, session], [r_detail]))

        def decide(verb: str) -> Callable[..., tuple[Any, ...]]:
            def handler(
                value: str | float | None,
                reason: str,
                sess: SignedIn | None,
                progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's idiom
            ) -> tuple[Any, ...]:
                edit_id = _edit_id(value)
                door = _need(ks, sess, "review", edit_id)
                if edit_id is None:
                    return callout("Pick an edit from the queue first.", "warn"), *[gr.skip()] * 5
                if verb == "reject" and not reason.strip():
                    return callout("Say why it is rejected.", "warn"), *[gr.skip()] * 5
                progress(0.1, desc=f"{verb.title()} #{edit_id}…")
                try:
                    if verb == "approve":
                        sub = door.approve(edit_id, reason=reason.strip())
                    else:
                        sub = door.reject(edit_id, reason=reason.strip())
                except KnowsyncError as exc:
                    return callout(f"{type(exc).__name__}: {exc}", "bad"), *[gr.skip()] * 5
                result = submission_html(sub.to_dict(), model_loaded=_model(ks) is not None)
                frame, count = queue_frame(door)
                return (
                    f'<div class="ks-card">{result}</div>',
                    frame,
                    count,
                    gr.skip() if sub.decision == "needs_review" else "",
                    do_review_open(edit_id, sess),
                    _header(ks, sess),
                )

            return handler

        decide_outputs = [r_result, r_table, r_count, r_reason, r_detail, header]
        guarded(approve.click(decide("approve"), [r_id, r_reason, session], decide_outputs))
        guarded(reject.click(decide("reject"), [r_id, r_reason, session], decide_outputs))

        def do_lock(
            ent: str, rel: str, obj: str, reason: str, sess: SignedIn | None
        ) -> tuple[str, str]:
            door = _need(ks, sess, "lock")
            try:
                lock = door.lock(
                    ent.strip(), rel.strip() or None, obj.strip() or None, reason=reason
                )
            except KnowsyncError as exc:
                return callout(str(exc), "bad"), gr.skip()
            return callout(f"Locked: {lock.describe()}", "ok"), locks_view(door)

        def do_unlock(value: str | float | None, sess: SignedIn | None) -> tuple[str, str]:
            door = _need(ks, sess, "lock")
            lock_id = _edit_id(value)
            if lock_id is None:
                return callout("Give the lock's number.", "warn"), gr.skip()
            try:
                lock = door.unlock(lock_id)
            except KnowsyncError as exc:
                return callout(str(exc), "bad"), gr.skip()
            return callout(f"Unlocked: {lock.describe()}", "ok"), locks_view(door)

        guarded(
            l_lock.click(
                do_lock, [l_entity, l_relation, l_object, l_reason, session], [l_msg, locks_html]
            )
        )
        guarded(l_unlock.click(do_unlock, [l_id, session], [l_msg, locks_html]))

        # ---------------------------------------------------------- probe

        def do_probe(
            prompt: str,
            sess: SignedIn | None,
            progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's idiom
        ) -> tuple[str, str]:
            _need(ks, sess, "ask")
            model = _model(ks)
            if model is None:
                return callout("No model loaded.", "warn"), callout("No model loaded.", "warn")
            prompt = (prompt or "").strip()
            if not prompt:
                return gr.skip(), gr.skip()
            progress(0.2, desc="Edited model…")
            edited = model.answer(prompt)
            progress(0.6, desc="Original model…")
            base = model.answer_base(prompt)
            tone = "ok" if edited.strip() == base.strip() else "warn"
            same = "same answer" if tone == "ok" else "differs from the original"
            return (
                f'<div class="ks-card"><span class="ks-note">{esc(prompt)}</span> '
                f"<b>{esc(edited)}</b><br><span class='ks-badge ks-{tone}'>{same}</span></div>",
                f'<div class="ks-card"><span class="ks-note">{esc(prompt)}</span> '
                f"<b>{esc(base)}</b></div>",
            )

        guarded(p_go.click(do_probe, [p_prompt, session], [p_edited, p_base]))
        guarded(p_prompt.submit(do_probe, [p_prompt, session], [p_edited, p_base]))

        # ---------------------------------------------------------- import

        def do_import(
            file: str | None,
            policy: str,
            sess: SignedIn | None,
            progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's idiom
        ) -> tuple[Any, ...]:
            door = _need(ks, sess, "submit")
            if not file:
                return (
                    callout("Choose a file first.", "warn"),
                    None,
                    gr.update(visible=False),
                    gr.skip(),
                    gr.skip(),
                )
            upload = _upload_file(file, uploads)
            if upload is None or str(upload) not in received():  # only what the page uploaded
                raise gr.Error(NOT_UPLOADED)
            try:
                with upload.open("rb") as handle:
                    lines = sum(1 for _ in handle)
                total = max(1, lines - (1 if upload.suffix == ".csv" else 0))
                progress(0, desc=f"0 / {total:,} rows")

                def tick(done: int) -> None:
                    progress(min(1.0, done / total), desc=f"{done:,} / {total:,} rows")

                start = time.perf_counter()
                try:
                    # under the rules an edit by this account meets, as the HTTP API imports
                    # chunks of about a twentieth (500 rows at least): the bar moves
                    chunk = min(5000, max(500, total // 20))
                    report = door.import_file(
                        upload, policy=policy, chunk_size=chunk, progress=tick
                    )
                except KnowsyncError as exc:
                    problem = callout(_import_problem(exc, upload), "bad")
                    return problem, None, gr.update(visible=False), gr.skip(), None
            finally:
                _discard_upload(upload, uploads)  # read once; nobody fetches it afterwards
            seconds = time.perf_counter() - start
            data = report.to_dict()
            undo = bool(report.edits) and not report.failed and _can(ks, sess, "review")
            return (
                import_report(data, seconds),
                report.batch,
                gr.update(visible=undo),
                _header(ks, sess),
                None,
            )

        guarded(
            i_go.click(
                do_import,
                [i_file, i_policy, session],
                [i_result, i_batch, i_undo, header, i_file],
                show_progress_on=[i_result],  # one bar, where the summary will be
            )
        )

        def do_undo_import(batch: str | None, sess: SignedIn | None) -> tuple[Any, ...]:
            door = _need(ks, sess, "review")
            if not batch:
                return gr.skip(), gr.skip(), gr.skip()
            try:
                results = door.rollback_batch(batch)
            except KnowsyncError as exc:
                return callout(str(exc), "bad"), gr.skip(), gr.skip()
            return (
                callout(f"Import {batch} rolled back ({len(results)} journal entries).", "ok"),
                gr.update(visible=False),
                _header(ks, sess),
            )

        guarded(i_undo.click(do_undo_import, [i_batch, session], [i_result, i_undo, header]))

        # ---------------------------------------------------------- users

        def do_users(sess: SignedIn | None) -> tuple[Any, ...]:
            door = _need(ks, sess, "admin")
            return users_frame(door), gr.update(choices=door.account_names())

        guarded(users_tab.select(do_users, [session], [u_table, u_pick]))
        account_out = [u_msg, u_table, u_pick]

        def account_action(
            act: Callable[[Session, str], str],
        ) -> Callable[..., tuple[Any, ...]]:
            """An admin's action on the picked account (the rules, such as keeping one active
            admin, are the door's): its message, then the table and the names again."""

            def run(name: str | None, sess: SignedIn | None) -> tuple[Any, ...]:
                door = _need(ks, sess, "admin")
                if not name:
                    return callout("Pick an account first.", "warn"), gr.skip(), gr.skip()
                try:
                    msg = act(door, name)
                except KnowsyncError as exc:
                    return callout(str(exc), "bad"), gr.skip(), gr.skip()
                return msg, users_frame(door), gr.update(choices=door.account_names())

            return run

        def set_role(role: str | None) -> Callable[[Session, str], str]:
            def act(door: Session, name: str) -> str:
                if not role:
                    return callout("Pick the new role first.", "warn")
                account = door.set_role(name, role)
                return callout(f"{account.name} is now {account.role.value}.", "ok")

            return act

        def new_token(label: str) -> Callable[[Session, str], str]:
            def act(door: Session, name: str) -> str:
                tok = door.new_token(name, label=(label or "").strip())
                return callout(
                    f"A new token for <b>{esc(name)}</b>, shown this once: <code>{esc(tok)}</code>"
                    " (their other tokens still work until revoked).",
                    "ok",
                    raw=True,
                )

            return act

        def revoke(door: Session, name: str) -> str:
            n = door.revoke_tokens(name)
            return callout(
                f"Revoked {n} token(s) of {name}: whoever signed in with them is signed out "
                "at their next action; a new token lets them in again.",
                "ok",
            )

        def disable(door: Session, name: str) -> str:
            door.disable_user(name)
            return callout(
                f"{name} is disabled and their tokens are revoked; their journal entries stay, "
                "attributed to them.",
                "ok",
            )

        def enable(door: Session, name: str) -> str:
            door.enable_user(name)
            return callout(f"{name} is enabled again; they need a new token to sign in.", "ok")

        guarded(
            u_set_role.click(
                lambda name, role, sess: account_action(set_role(role))(name, sess),
                [u_pick, u_new_role, session],
                account_out,
            )
        )
        guarded(
            u_token.click(
                lambda name, label, sess: account_action(new_token(label))(name, sess),
                [u_pick, u_label, session],
                account_out,
            )
        )
        for button, act in ((u_revoke, revoke), (u_disable, disable), (u_enable, enable)):
            guarded(button.click(account_action(act), [u_pick, session], account_out))

        def do_add_user(uname: str, role: str, sess: SignedIn | None) -> tuple[Any, ...]:
            door = _need(ks, sess, "admin")
            try:
                account, tok = door.add_user(uname.strip(), role)
            except KnowsyncError as exc:
                return callout(str(exc), "bad"), gr.skip(), gr.skip()
            return (
                callout(
                    f"Added <b>{esc(account.name)}</b> ({esc(account.role.value)}). Their token, "
                    f"shown this once: <code>{esc(tok)}</code>",
                    "ok",
                    raw=True,
                ),
                users_frame(door),
                gr.update(choices=door.account_names()),
            )

        guarded(u_add.click(do_add_user, [u_name, u_role, session], account_out))

    for block in app.blocks.values():  # where Gradio keeps this app's files: its uploads
        block.GRADIO_CACHE = uploads
    blocks: gr.Blocks = app
    return blocks


def mount(
    app: FastAPI,
    ks: KnowSync,
    path: str = "/",
    *,
    open_mode: bool = False,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
) -> FastAPI:
    """Serve the web app on a FastAPI app (register the API's own routes first: a mount at
    ``/`` answers every path the app does not). ``open_mode``: as for :func:`build`; the app
    then answers only requests addressed to this machine (``localhost``, a loopback address),
    so a page of another site that reaches it through DNS rebinding gets nothing.

    Every response gets :data:`SECURITY_HEADERS`. Uploads go to a folder of this server's own,
    removed when it stops, and are refused above ``max_upload_bytes`` (413). A request that
    changes something in the web app (an upload, an action) from a page whose ``Origin`` is
    not the ``Host`` it was sent to is refused (403); behind a reverse proxy, pass the
    ``Host`` header on.

    Returns the FastAPI app.
    """
    upload_dir = Path(tempfile.mkdtemp(prefix="knowsync-web-uploads-"))
    blocks = build(
        ks,
        open_mode=open_mode,
        upload_dir=upload_dir,
        throttle=getattr(app.state, "sign_in_throttle", None),
    )
    mounted: FastAPI = gr.mount_gradio_app(
        app,
        blocks,
        path=path,
        theme=theme(),
        css=CSS,
        footer_links=[],
        run_history=False,
        ssr_mode=False,
        mcp_server=False,
        pwa=False,
        show_error=True,
        max_file_size=max_upload_bytes,
    )
    web = next(
        route.app
        for route in mounted.routes
        if isinstance(route, Mount)
        and isinstance(route.app, GradioApp)
        and route.app.get_blocks() is blocks
    )
    web.uploaded_file_dir = str(upload_dir)
    web.add_middleware(_OnlyUploads, upload_dir=upload_dir)
    web.add_middleware(_SameSite, loopback_only=open_mode)
    mounted.add_middleware(_SecurityHeaders)

    serve = mounted.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(parent: FastAPI) -> AsyncIterator[Any]:
        try:
            async with serve(parent) as state:
                yield state
        finally:
            shutil.rmtree(upload_dir, ignore_errors=True)

    mounted.router.lifespan_context = lifespan
    # a server that never ran its lifespan (a test client) leaves nothing behind either
    weakref.finalize(mounted, shutil.rmtree, str(upload_dir), True)
    return mounted


class _SecurityHeaders:
    """ASGI middleware: :data:`SECURITY_HEADERS` on every HTTP response (a header that a
    route sets itself is kept)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _SameSite:
    """ASGI middleware for the Gradio app: a request that changes something (POST, PUT, PATCH,
    DELETE: an upload, an action) from a page of another site is refused, as is, with
    ``loopback_only``, any request addressed to another host than this machine. Only the
    ``Host`` header counts: a forwarded host is what another site's script could send."""

    def __init__(self, app: ASGIApp, *, loopback_only: bool) -> None:
        self.app = app
        self.loopback_only = loopback_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = self._refusal(scope) if scope["type"] == "http" else None
        if refusal is None:
            await self.app(scope, receive, send)
            return
        await PlainTextResponse(refusal, status_code=403)(scope, receive, send)

    def _refusal(self, scope: Scope) -> str | None:
        headers = Headers(scope=scope)
        host = headers.get("host", "").lower()
        if self.loopback_only and not _is_loopback(host):
            return "This server answers only pages of this machine."
        origin = headers.get("origin")
        changes = scope["method"] in _UNSAFE_METHODS
        if changes and origin is not None and urlsplit(origin).netloc.lower() != host:
            return "Refused: the request comes from a page of another site."
        return None


class _OnlyUploads:
    """ASGI middleware for the Gradio app: a request whose body names a file (Gradio's
    FileData) that is not in the server's upload folder, links resolved, is refused (403).
    Gradio copies a file named in a request into its cache, and serves it from there, before
    any handler runs: a client that names a server path in place of an upload gets nothing
    read or copied. Uploads themselves (multipart forms) pass."""

    def __init__(self, app: ASGIApp, *, upload_dir: Path) -> None:
        self.app = app
        self.upload_dir = upload_dir

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in _UNSAFE_METHODS
            or _media_type(Headers(scope=scope)) in _FORMS  # an upload: Gradio reads no JSON
        ):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            data = json.loads(body) if body else None
        except ValueError:  # not JSON: nothing Gradio reads files from
            data = None
        if any(_upload_file(p, self.upload_dir) is None for p in _named_files(data)):
            await PlainTextResponse(NOT_UPLOADED, status_code=403)(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _media_type(headers: Headers) -> str:
    """A request's media type, without its parameters."""
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _is_loopback(host: str) -> bool:
    """Whether a ``Host`` header (a name or an address, with or without a port) names this
    machine."""
    name = urlsplit(f"//{host}").hostname or ""
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ip_address(name).is_loopback
    except ValueError:
        return False
