"""Python client for Shortlist's `shortlist serve` (line-delimited JSON over TCP, docs/protocol.md).

    import numpy as np
    from shortlist_client import Client

    with Client("127.0.0.1", 7700) as client:
        hits = client.search("items", np.random.rand(64), k=10, with_payload=True)
        print(hits.ids, hits.scores, hits[0].payload)
"""

from .client import Client, Pending, Pipeline, encode_vector
from .errors import (ConnectionLost, DimensionMismatch, IdleTimeout, InternalError, InvalidParameter, InvalidRequest, InvalidVector,
                     LimitExceeded, LineTooLong, NotFound, NotPrimary, NotReplicated, Overloaded, ParseError, ProtocolViolation, ServerIOError, ShortlistError,
                     ShuttingDown, StaleTerm, TooLarge, TooManyConnections, Unauthorized, UnknownCollection, UnknownField, UnknownOp, Unsupported)
from .types import BatchResult, GetResult, Hit, Hits, Point, WriteResult

__version__ = "0.1.0"

__all__ = [
    "Client", "Pipeline", "Pending", "encode_vector", "Hit", "Hits", "BatchResult", "Point", "GetResult", "WriteResult",
    "ShortlistError", "ConnectionLost", "ProtocolViolation", "ParseError", "InvalidRequest", "UnknownOp", "UnknownField",
    "UnknownCollection", "DimensionMismatch", "InvalidVector", "InvalidParameter", "TooLarge", "LimitExceeded", "LineTooLong",
    "NotFound", "Unsupported", "Unauthorized", "Overloaded", "TooManyConnections", "IdleTimeout", "ShuttingDown", "NotPrimary", "StaleTerm",
    "NotReplicated", "ServerIOError",
    "InternalError",
]
