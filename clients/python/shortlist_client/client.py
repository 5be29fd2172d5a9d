"""The client: one reusable TCP connection to `shortlist serve`, every op of docs/protocol.md,
numpy vectors sent as base64 float32 (exact, and the server's fastest form), typed errors, and
pipelining (many requests in flight on one connection, replies matched by id)."""

from __future__ import annotations

import itertools
import json
import select
import socket
import threading
from typing import Any, Callable

from .errors import ConnectionLost, ProtocolViolation, ShortlistError, error_from_reply
from .ops import _Ops, encode_vector
from .pipeline import Pending, Pipeline

__all__ = ["Client", "Pipeline", "Pending", "encode_vector"]


class Client(_Ops):
    """A connection to `shortlist serve` at `host:port`, opened at once and reopened when the
    server has closed it (idle timeout, restart) before a request is sent. A request that was sent
    when the connection broke raises `ConnectionLost`; it is not retried, since it may have run.

    `timeout` bounds each wait for the server, in seconds. `token` is sent with `auth` on every
    connection (servers started with `--auth-token-file`). One client may be shared by threads:
    requests take turns on the connection (use a client per thread, or a pipeline, for throughput).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 7700, *, timeout: float | None = 30.0, token: str | None = None):
        self.host, self.port, self.timeout, self.token = host, int(port), timeout, token
        self._request_ids = itertools.count(1)
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._buffer = b""
        with self._lock:
            self._connect()

    # Connection management

    def _connect(self) -> None:
        self._close_socket()
        try:
            s = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as e:
            raise ConnectionLost(f"cannot connect to {self.host}:{self.port}: {e}") from e
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket, self._buffer = s, b""
        if self.token is not None:
            try:
                self._exchange_locked([({"op": "auth", "token": self.token}, Pending(lambda r: r))], reconnect=False)[0].result()
            except ShortlistError:
                self._close_socket()
                raise

    def _close_socket(self) -> None:
        if self._socket is not None:
            try:
                self._socket.close()
            finally:
                self._socket = None

    def _stale(self) -> bool:
        """Whether the server has closed the connection (or sent something unasked, such as an
        idle-timeout notice) since the last exchange."""
        if self._socket is None:
            return True
        readable, _, _ = select.select([self._socket], [], [], 0)
        return bool(readable) or bool(self._buffer)

    def close(self) -> None:
        """Closes the connection (a later request opens a new one)."""
        with self._lock:
            self._close_socket()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # Requests

    def pipeline(self) -> Pipeline:
        """A `Pipeline` on this connection: `with client.pipeline() as p: a = p.search(…); …`,
        then `a.result()`."""
        return Pipeline(self)

    def _submit(self, request: dict[str, Any], convert: Callable[[dict[str, Any]], Any]) -> Any:
        pending = Pending(convert)
        self._exchange([(request, pending)])
        return pending.result()

    def _exchange(self, batch: list[tuple[dict[str, Any], Pending]]) -> None:
        with self._lock:
            self._exchange_locked(batch, reconnect=True)

    def _exchange_locked(self, batch: list[tuple[dict[str, Any], Pending]], reconnect: bool) -> list[Pending]:
        """Sends `batch` in one write and reads until every request has its reply. When the
        connection fails on the way, the requests still waiting get `ConnectionLost` (their
        `result()` raises it) and the socket is dropped, to be reopened by the next request."""
        if reconnect and self._stale():
            self._connect()
        assert self._socket is not None
        waiting: dict[int, Pending] = {}
        lines = []
        for request, pending in batch:
            request_id = next(self._request_ids)
            waiting[request_id] = pending
            lines.append(json.dumps({**request, "id": request_id}, separators=(",", ":"), allow_nan=False).encode("utf-8") + b"\n")
        try:
            self._socket.sendall(b"".join(lines))
            while waiting:
                reply = self._read_reply()
                request_id = reply.get("id")
                pending = waiting.pop(request_id, None) if isinstance(request_id, int) else None
                if pending is None:
                    # Only a server closing the connection speaks unasked (idle_timeout, too_many_connections).
                    error = reply.get("error") if reply.get("ok") is False else None
                    if isinstance(error, dict):
                        raise ConnectionLost(f"the server closed the connection: {error_from_reply(error, None)}")
                    raise ProtocolViolation(f"a reply to no request in flight: {reply!r}")
                if reply.get("ok") is True and isinstance(reply.get("result"), dict):
                    pending._reply = reply["result"]
                elif reply.get("ok") is False:
                    pending._reply = error_from_reply(reply.get("error"), request_id)
                else:
                    pending._reply = ProtocolViolation(f"a reply with neither a result object nor an error: {reply!r}")
                pending._done = True
        except (OSError, ShortlistError) as e:
            self._close_socket()
            failure = e if isinstance(e, ShortlistError) else ConnectionLost(f"connection to {self.host}:{self.port} broke: {e}")
            for pending in waiting.values():
                pending._reply, pending._done = failure, True
        return [pending for _, pending in batch]

    def _read_reply(self) -> dict[str, Any]:
        assert self._socket is not None
        while True:
            newline = self._buffer.find(b"\n")
            if newline >= 0:
                line, self._buffer = self._buffer[:newline], self._buffer[newline + 1:]
                if not line.strip():
                    continue
                try:
                    reply = json.loads(line)
                except ValueError as e:
                    raise ProtocolViolation(f"the server sent a line that is not JSON: {line[:200]!r}") from e
                if not isinstance(reply, dict):
                    raise ProtocolViolation(f"the server sent a line that is not a JSON object: {line[:200]!r}")
                return reply
            chunk = self._socket.recv(1 << 20)
            if not chunk:
                raise ConnectionLost(f"{self.host}:{self.port} closed the connection")
            self._buffer += chunk
