"""What keeps one client from starving the server: request bodies bounded before they are
read, a pause for an address that keeps presenting bad tokens, and threads of their own for
the routes that write, so that reads are answered while writes wait for the store.

The HTTP API (:mod:`ui.api`) wires these in ``create_app``; they know nothing of knowsync's
domain beyond the error types they raise.
"""

from __future__ import annotations

import collections
import functools
import math
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kg import KnowsyncError

__all__ = [
    "BodyLimit",
    "BodyTooLarge",
    "SignInThrottle",
    "TooManyAttempts",
    "WritePool",
    "mebibytes",
]

T = TypeVar("T")


def mebibytes(size: int) -> str:
    """A byte count in words: ``16 MiB``, or bytes under one MiB."""
    if size >= 1 << 20:
        return f"{size / (1 << 20):g} MiB"
    return f"{size} bytes"


# ------------------------------------------------------------------ body limit


class BodyTooLarge(HTTPException):
    """A request body over the limit of its route (HTTP 413).

    An ``HTTPException`` so that it passes the framework's body parsing unchanged (FastAPI
    turns any other error raised while reading a body into a 400).
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(
            413,
            f"the request body is larger than {mebibytes(limit)}, the most this server takes "
            "here: send less per request (a large import in chunks: Client.import_file)",
        )


class BodyLimit:
    """ASGI middleware: request bodies bounded before the application reads them.

    A declared ``Content-Length`` over the limit is refused at once, nothing read; a body
    sent without one (chunked) is counted as it arrives and refused as soon as it passes the
    limit, so the server never holds more than the limit and one piece. Before any body is
    read, ``admit`` may refuse the request (an API route checks the token there, so that a
    client without one cannot make the server take its body).

    Args:
        app: the application.
        limit_for: the most bytes a request body to a path may have.
        refuse: the response to a body over the limit.
        admit: called with the scope and path of a request that carries a body, before the
            body is read; returns the response that refuses it, or None to let it through.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit_for: Callable[[str], int],
        refuse: Callable[[BodyTooLarge], Response],
        admit: Callable[[Scope, str], Awaitable[Response | None]] | None = None,
    ) -> None:
        self.app = app
        self.limit_for = limit_for
        self.refuse = refuse
        self.admit = admit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        root = str(scope.get("root_path", ""))
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        limit = self.limit_for(path)
        headers = Headers(scope=scope)
        declared = headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > limit:
            await self.refuse(BodyTooLarge(limit))(scope, receive, send)
            return
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        if self.admit is not None and (chunked or declared.strip("0")):
            refusal = await self.admit(scope, path)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge as exc:  # an application that let it through unanswered
            if started:
                raise
            await self.refuse(exc)(scope, receive, send)


# -------------------------------------------------------------- failed sign-ins


class TooManyAttempts(KnowsyncError):
    """Too many failed authentications from one address lately (HTTP 429).

    Attributes:
        retry_after: seconds until the address may try again.
    """

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(
            f"too many failed sign-ins from this address; try again in {retry_after} s"
        )


class SignInThrottle:
    """Failed authentications counted per client address over a sliding window: once an
    address has ``failures`` of them within ``window`` seconds, it is refused (without its
    token being looked at) until the oldest of them is ``window`` seconds old.

    A success does not wipe the count (a client with one good token could otherwise guess
    others in between). At most ``addresses`` addresses are remembered, the stalest
    forgotten first, so the memory it takes is bounded whoever calls.

    Args:
        failures: failures allowed per window (0 turns the throttle off).
        window: the window, in seconds.
        addresses: the most addresses remembered.
        clock: the time in seconds (tests pass their own).
    """

    def __init__(
        self,
        failures: int = 5,
        window: float = 60.0,
        *,
        addresses: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failures < 0 or window <= 0 or addresses < 1:
            raise ValueError("failures >= 0, window > 0 and addresses >= 1, please")
        self.failures = failures
        self.window = window
        self.addresses = addresses
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: collections.OrderedDict[str, collections.deque[float]] = (
            collections.OrderedDict()
        )

    def check(self, address: str) -> None:
        """Refuse an address that has failed too often lately.

        Raises:
            TooManyAttempts: with the seconds until it may try again.
        """
        if not self.failures:
            return
        with self._lock:
            times = self._recent(address)
            if len(times) < self.failures:
                return
            wait = times[-self.failures] + self.window - self._clock()
        raise TooManyAttempts(max(1, math.ceil(wait)))

    def left(self, address: str) -> int | None:
        """How many more failures ``address`` may have before it is paused (None: the
        throttle is off)."""
        if not self.failures:
            return None
        with self._lock:
            return max(0, self.failures - len(self._recent(address)))

    def failed(self, address: str) -> None:
        """Count a failed authentication from ``address``."""
        if not self.failures:
            return
        with self._lock:
            times = self._recent(address)
            times.append(self._clock())
            while len(times) > self.failures:
                times.popleft()
            self._seen[address] = times
            self._seen.move_to_end(address)
            while len(self._seen) > self.addresses:
                self._seen.popitem(last=False)

    def _recent(self, address: str) -> collections.deque[float]:
        """The address's failures within the window (the lock is held)."""
        times = self._seen.get(address, collections.deque())
        horizon = self._clock() - self.window
        while times and times[0] <= horizon:
            times.popleft()
        if not times:
            self._seen.pop(address, None)
        return times


# ------------------------------------------------------------------ write pool


class WritePool:
    """Threads of their own for the routes that write.

    A plain ``def`` endpoint runs in the one threadpool every sync endpoint shares; writes
    that wait for the store would fill it and reads would queue behind them. An endpoint
    wrapped by :meth:`endpoint` runs in at most ``threads`` threads of its own instead, and a
    write beyond those waits for one without holding any thread.

    Args:
        threads: how many writes run at once (the store takes one writer at a time; a few
            more prepare meanwhile).
    """

    def __init__(self, threads: int = 4) -> None:
        if threads < 1:
            raise ValueError("a write pool needs at least one thread")
        self.threads = threads
        self._limiter: anyio.CapacityLimiter | None = None

    def endpoint(self, call: Callable[..., T]) -> Callable[..., Coroutine[Any, Any, T]]:
        """``call`` as an async endpoint that runs it in the pool; the framework reads the
        parameters from ``call``'s signature (``functools.wraps``)."""

        @functools.wraps(call)
        async def in_pool(*args: Any, **kwargs: Any) -> T:
            if self._limiter is None:  # made in the server's event loop, once
                self._limiter = anyio.CapacityLimiter(self.threads)
            return await anyio.to_thread.run_sync(
                functools.partial(call, *args, **kwargs), limiter=self._limiter
            )

        return in_pool
