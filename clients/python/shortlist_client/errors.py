"""Typed errors: one class per error `code` of the protocol (docs/protocol.md, "Errors").

Programs branch on the class (or on `.code`); `.message` is for people and may change.
"""

from __future__ import annotations

from typing import Any


class ShortlistError(Exception):
    """An error reply from the server. `code` is the protocol's stable snake_case code."""

    code = "unknown"

    def __init__(self, message: str, *, code: str | None = None, request_id: Any = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.request_id = request_id

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class ConnectionLost(ShortlistError, ConnectionError):
    """The connection closed or broke before the reply came (the request may or may not have run)."""

    code = "connection_lost"


class ProtocolViolation(ShortlistError):
    """The server sent something that is not a reply of the protocol (a client or server bug)."""

    code = "protocol_violation"


def _error(name: str, code: str, doc: str) -> type[ShortlistError]:
    return type(name, (ShortlistError,), {"code": code, "__doc__": doc})


ParseError = _error("ParseError", "parse_error", "The line was not one JSON object.")
InvalidRequest = _error("InvalidRequest", "invalid_request", "A member is missing, of the wrong type, or repeated.")
UnknownOp = _error("UnknownOp", "unknown_op", "The op names no op.")
UnknownField = _error("UnknownField", "unknown_field", "A member the op does not take (a typo, or a newer client).")
UnknownCollection = _error("UnknownCollection", "unknown_collection", "The collection does not exist.")
DimensionMismatch = _error("DimensionMismatch", "dimension_mismatch", "A vector's length is not the collection's dimension.")
InvalidVector = _error("InvalidVector", "invalid_vector", "A value is NaN, infinite or too large, or a cosine vector is zero.")
InvalidParameter = _error("InvalidParameter", "invalid_parameter", "k, ef, nprobe, rerank or a model input outside what is allowed.")
TooLarge = _error("TooLarge", "too_large", "More vectors, points or ids in one request than the server's limits allow.")
LimitExceeded = _error("LimitExceeded", "limit_exceeded", "The reply would pass a bound (results or bytes).")
LineTooLong = _error("LineTooLong", "line_too_long", "The request line passed --max-line-bytes.")
NotFound = _error("NotFound", "not_found", "similar's item_id or recommend's user_id does not exist.")
Unsupported = _error("Unsupported", "unsupported", "The collection cannot do this (no model, no seen sets, untuned).")
Unauthorized = _error("Unauthorized", "unauthorized", "Authenticate first, or the token is wrong.")
Overloaded = _error("Overloaded", "overloaded", "The server's queue is full; retry later.")
TooManyConnections = _error("TooManyConnections", "too_many_connections", "The server refused the connection.")
IdleTimeout = _error("IdleTimeout", "idle_timeout", "The server closed an idle or too-slow connection.")
ShuttingDown = _error("ShuttingDown", "shutting_down", "The server is stopping.")
NotPrimary = _error("NotPrimary", "not_primary", "A write reached a cluster replica; the message names the shard's primary.")
StaleTerm = _error("StaleTerm", "stale_term", "A replication op from a server that is no longer its shard's primary.")
NotReplicated = _error("NotReplicated", "not_replicated",
                       "The primary applied the write but too few replicas confirmed it in time; it may not survive a failover: retry.")
ServerIOError = _error("ServerIOError", "io_error", "The write-ahead log or a save failed on the server; nothing changed.")
InternalError = _error("InternalError", "internal", "A server bug: please report it with the request.")

_BY_CODE: dict[str, type[ShortlistError]] = {
    cls.code: cls
    for cls in (ParseError, InvalidRequest, UnknownOp, UnknownField, UnknownCollection, DimensionMismatch, InvalidVector,
                InvalidParameter, TooLarge, LimitExceeded, LineTooLong, NotFound, Unsupported, Unauthorized, Overloaded,
                TooManyConnections, IdleTimeout, ShuttingDown, NotPrimary, StaleTerm, NotReplicated, ServerIOError, InternalError)
}


def error_from_reply(error: Any, request_id: Any) -> ShortlistError:
    """The typed exception for a reply's `error` member (an unknown code gives `ShortlistError`)."""
    if not isinstance(error, dict):
        return ProtocolViolation(f"error member is not an object: {error!r}", request_id=request_id)
    code, message = str(error.get("code", "unknown")), str(error.get("message", ""))
    cls = _BY_CODE.get(code)
    return cls(message, request_id=request_id) if cls else ShortlistError(message, code=code, request_id=request_id)
