"""``knowsync serve``: the HTTP API (and the web app, when it is installed) in one process.

Registered through ``ui.cli._EXTENSIONS``; it imports uvicorn and FastAPI only when it runs, so
``knowsync --help`` stays fast.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import ipaddress
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["register"]


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
        choices=["rome", "memit", "alphaedit"],
        default="rome",
        help="the model-editing method (default rome)",
    )
    s.add_argument("--no-web", action="store_true", help="serve the API only, not the web app")
    s.add_argument(
        "--log-level",
        choices=["critical", "error", "warning", "info", "debug"],
        default="warning",
        help="uvicorn's log level (default warning)",
    )
    return {"serve": _cmd_serve}


def _knowsync_kwargs(model: str, method: str) -> dict[str, Any]:
    """The model arguments KnowSync accepts (older versions take none: then a warning)."""
    from knowsync import KnowSync

    params = inspect.signature(KnowSync).parameters
    if "model" not in params:
        if model != "none":
            print(
                f"knowsync: warning: this version cannot keep a model; ignoring --model {model}",
                file=sys.stderr,
            )
        return {}
    kwargs: dict[str, Any] = {"model": None if model == "none" else model}
    if "method" in params:
        kwargs["method"] = method
    return kwargs


def _cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from knowsync import KnowSync
    from ui.api import create_app

    if not 0 <= args.port <= 65535:
        print(f"knowsync: error: --port {args.port} is not a port number", file=sys.stderr)
        return 2
    model = args.model or os.environ.get("KNOWSYNC_MODEL") or "none"
    ks = KnowSync(
        args.store, schema=args.schema, create=True, **_knowsync_kwargs(model, args.method)
    )
    try:
        backlog = ks.model_backlog() if ks.model is not None else []
        if backlog:
            print(
                f"knowsync: note: {len(backlog)} edits in the graph never reached the model "
                "(made with no model attached); `knowsync model sync` writes them",
                file=sys.stderr,
            )
        app = create_app(ks, web=not args.no_web)
        if not _loopback(args.host):
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
        try:
            with _terminate_as_interrupt():
                server.run()
        except KeyboardInterrupt:
            # uvicorn shut down gracefully on the signal, then raised it again: done
            pass
        if not server.started:
            print(f"knowsync: error: cannot serve on {args.host}:{args.port}", file=sys.stderr)
            return 2
    finally:
        ks.close()
    print("knowsync: server stopped", file=sys.stderr)
    return 0


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Make SIGTERM end the server like Ctrl-C: uvicorn finishes the requests in flight,
    then re-raises the signal it caught; with this handler that ends as KeyboardInterrupt
    instead of killing the process before the store is closed."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
        """uvicorn's server, printing the URL once it listens."""

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
