"""Pipelines: many requests written at once on a client's connection, replies matched by id."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from .errors import ShortlistError
from .ops import _Ops

if TYPE_CHECKING:
    from .client import Client

__all__ = ["Pipeline", "Pending"]


class Pending:
    """The reply to a request sent in a pipeline: `result()` returns it converted, or raises its
    typed error."""

    __slots__ = ("_convert", "_reply", "_done")

    def __init__(self, convert: Callable[[dict[str, Any]], Any]):
        self._convert, self._reply, self._done = convert, None, False

    def done(self) -> bool:
        return self._done

    def result(self) -> Any:
        if not self._done:
            raise RuntimeError("the pipeline has not been executed yet")
        if isinstance(self._reply, ShortlistError):
            raise self._reply
        return self._convert(self._reply)


class Pipeline(_Ops):
    """Requests queued on a client and sent together: every op returns a `Pending`, and
    `execute()` (or leaving a `with` block) writes them all at once and reads every reply, matched
    by id (the server answers in the order requests finish). An error reply fails only its own
    request. Writes keep their order on the connection: a request queued after an upsert sees it."""

    def __init__(self, client: Client):
        self._client = client
        self._queued: list[tuple[dict[str, Any], Pending]] = []

    def _submit(self, request: dict[str, Any], convert: Callable[[dict[str, Any]], Any]) -> Pending:
        pending = Pending(convert)
        self._queued.append((request, pending))
        return pending

    def __len__(self) -> int:
        return len(self._queued)

    def execute(self) -> list[Pending]:
        """Sends every queued request, waits for every reply; returns the `Pending`s in queue order."""
        queued, self._queued = self._queued, []
        self._client._exchange([(request, pending) for request, pending in queued])
        return [pending for _, pending in queued]

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, kind: Any, value: Any, traceback: Any) -> None:
        if kind is None:
            self.execute()
