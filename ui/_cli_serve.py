"""``knowsync serve``: the HTTP API (and the web app, when it is installed) in one process.

Registered through ``ui.cli._EXTENSIONS``; it imports uvicorn and FastAPI only when it runs, so
``knowsync --help`` stays fast.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["register"]

_MAX_MB = 1 << 14  # 16 GiB: beyond that a body limit is no limit


def register(
    sub: Any, common: argparse.ArgumentParser
) -> dict[str, Callable[[argparse.Namespace], int]]:
    """Add the ``serve`` command to the CLI's subparsers."""
    s = sub.add_parser(
        "serve",
        parents=[common],
        help="serve the HTTP API (/api/v1, docs at /docs) and the web app",
        description="Serve one knowledge base over HTTP until Ctrl-C. Create the first admin "
        "with `knowsync users add --role admin NAME`; clients send its token as "
        "'Authorization: Bearer TOKEN'.",
    )
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback)")
    s.add_argument("--port", type=int, default=7860, help="port (default 7860; 0 picks a free one)")
    s.add_argument(
        "--model",
        default=None,
        metavar="default|none|PATH",
        help="the language model kept in agreement: 'default' (the shipped model), 'none' "
        "(graph only), or a .gguf file / Hugging Face folder (default: $KNOWSYNC_MODEL or none)",
    )
    s.add_argument(
        "--method",
        choices=["memory"],
        default="memory",
        help="how the model is kept: 'memory', its weights a view of the facts in force "
        "(synced in the background: an edit answers once the graph has it)",
    )
    s.add_argument("--no-web", action="store_true", help="serve the API only, not the web app")
    s.add_argument(
        "--max-body-mb",
        type=int,
        default=None,
        metavar="N",
        help="the largest request body the API takes, in MiB (default 16): larger ones are "
        "refused with 413 before they are read",
    )
    s.add_argument(
        "--max-upload-mb",
        type=int,
        default=None,
        metavar="N",
        help="the same for file uploads (POST /api/v1/imports/upload and the web app's "
        "routes), in MiB (default 64)",
    )
    s.add_argument(
        "--log-level",
        choices=["critical", "error", "warning", "info", "debug"],
        default="warning",
        help="uvicorn's log level (default warning)",
    )
    return {"serve": _cmd_serve}


def _cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from knowsync import KnowSync
    from knowsync._outcomes import ModelStatus
    from knowsync._session import Session
    from ui.api import MAX_BODY_BYTES, MAX_UPLOAD_BYTES, create_app

    if not 0 <= args.port <= 65535:
        print(f"knowsync: error: --port {args.port} is not a port number", file=sys.stderr)
        return 2
    limits = {"body": args.max_body_mb, "upload": args.max_upload_mb}
    for what, size in limits.items():
        if size is not None and not 1 <= size <= _MAX_MB:
            print(
                f"knowsync: error: --max-{what}-mb {size}: give a size from 1 to {_MAX_MB} MiB",
                file=sys.stderr,
            )
            return 2
    max_body = MAX_BODY_BYTES if args.max_body_mb is None else args.max_body_mb << 20
    max_upload = MAX_UPLOAD_BYTES if args.max_upload_mb is None else args.max_upload_mb << 20
    model = args.model or os.environ.get("KNOWSYNC_MODEL") or "none"
    # The graph serves at once; the model loads beside it and catches up with what was edited
    # meanwhile, so that the page can show the loading instead of a refused connection.
    ks = KnowSync(args.store, schema=args.schema, create=True)
    try:
        if model != "none":
            ks.model_status = ModelStatus("loading", detail=f"loading {model}", started=time.time())
            threading.Thread(
                target=_load_model,
                args=(ks, model, args.method),
                name="knowsync-model-load",
                daemon=True,
            ).start()
        local = _loopback(args.host)
        app = create_app(
            ks,
            web=not args.no_web,
            open_web=local,
            max_body_bytes=max_body,
            max_upload_bytes=max_upload,
        )
        if Session.open_mode(ks):
            print(
                "knowsync: no accounts yet: "
                + (
                    "the web app opens without sign-in, acting as the local user; "
                    if local
                    else "nobody can sign in from another machine; "
                )
                + "`knowsync users add --role admin NAME` creates the first",
                file=sys.stderr,
            )
        if not local:
            print(
                f"knowsync: warning: listening on {args.host} without TLS: tokens travel in "
                "clear; put a TLS proxy in front",
                file=sys.stderr,
            )
        server = _make_server(
            uvicorn.Config(
                app,
                host=args.host,
                port=args.port,
                log_level=args.log_level,
                lifespan="on",
                timeout_graceful_shutdown=10,
            )
        )
        server.run()
        if not server.started:
            print(f"knowsync: error: cannot serve on {args.host}:{args.port}", file=sys.stderr)
            return 2
    finally:
        ks.close()
    print("knowsync: server stopped", file=sys.stderr)
    return 0


def _load_model(ks: Any, model: str, method: str) -> None:
    """Attach the model to the serving knowledge base, saying how it goes on stderr."""
    from editor import is_cached

    first_use = model == "default" and not is_cached(None)
    print(
        f"knowsync: loading the model ({model}, {method})"
        + (": first use, converting it to a float32 cache once" if first_use else "")
        + "; the graph is served meanwhile",
        file=sys.stderr,
        flush=True,
    )
    try:
        ks.attach_model(model, method=method, queued=True)
    except Exception as exc:  # shown in the page too (ks.model_status); the graph serves on
        print(f"knowsync: error: the model could not be loaded: {exc}", file=sys.stderr)
        return
    status = ks.model_status
    print(
        f"knowsync: model ready: {status.label} ({status.seconds:.1f} s)",
        file=sys.stderr,
        flush=True,
    )
    print(
        "knowsync: the model is brought up to date with the facts in force in the background "
        "(the page's header shows the backlog; `knowsync model check` measures the agreement)",
        file=sys.stderr,
        flush=True,
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _make_server(config: Any) -> Any:
    """A uvicorn server that prints the URL once it listens (with the real port for 0)."""
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, printing the URL once it listens, and ending quietly on Ctrl-C or
        SIGTERM (a second Ctrl-C forces it)."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            # uvicorn raises the signal again after its graceful shutdown; asyncio turns that
            # into a KeyboardInterrupt that cancels the web app's lifespan mid-teardown and
            # logs a traceback. The shutdown is done by then: return instead.
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            handled = (signal.SIGINT, signal.SIGTERM)
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if not self.started:
                return
            port = self.config.port
            for srv in getattr(self, "servers", []):
                for sock in getattr(srv, "sockets", []):
                    port = sock.getsockname()[1]
                    break
            host = self.config.host
            shown = f"[{host}]" if ":" in host else host
            url = f"http://{shown}:{port}"
            print(
                f"knowsync: serving {url}  (API {url}/api/v1, docs {url}/docs); Ctrl-C stops",
                flush=True,
            )

    return Server(config)
