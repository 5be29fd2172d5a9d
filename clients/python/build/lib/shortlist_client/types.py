"""Values the client returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Hit:
    """One result: the item's id, its score (higher is better for every metric: the dot product
    for `ip`, the cosine for `cosine`, minus the squared distance for `l2`) and, when asked for,
    its payload."""

    id: int
    score: float
    payload: Any = None


class Hits(list):
    """The hits of one query, best first, with the server's time for the request (`took_us`)."""

    took_us: int | None = None

    @property
    def ids(self) -> np.ndarray:
        """The ids as an int64 array."""
        return np.fromiter((h.id for h in self), dtype=np.int64, count=len(self))

    @property
    def scores(self) -> np.ndarray:
        """The scores as a float32 array."""
        return np.fromiter((h.score for h in self), dtype=np.float32, count=len(self))


@dataclass
class BatchResult:
    """The hits of every query of a `search_batch`, in query order."""

    hits: list[Hits]
    took_us: int | None = None
    k: int = 0

    def __len__(self) -> int:
        return len(self.hits)

    def __getitem__(self, i: int) -> Hits:
        return self.hits[i]

    @property
    def ids(self) -> np.ndarray:
        """queries × k int64 ids; -1 where a query has fewer than k hits."""
        out = np.full((len(self.hits), self.k), -1, dtype=np.int64)
        for q, hits in enumerate(self.hits):
            out[q, : len(hits)] = hits.ids
        return out

    @property
    def scores(self) -> np.ndarray:
        """queries × k float32 scores; -inf where a query has fewer than k hits."""
        out = np.full((len(self.hits), self.k), -np.inf, dtype=np.float32)
        for q, hits in enumerate(self.hits):
            out[q, : len(hits)] = hits.scores
        return out


@dataclass(frozen=True)
class Point:
    """A stored item: its id, its vector as the index compares it (unit length for `cosine`) and
    its payload (None when it has none)."""

    id: int
    vector: np.ndarray
    payload: Any = None


@dataclass
class GetResult:
    """The points found, by id, and the ids that are not in the collection."""

    points: dict[int, Point] = field(default_factory=dict)
    not_found: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class WriteResult:
    """What an upsert or delete did: how many points it wrote or deleted, the ids it did not
    find (delete) and the collection's live count afterwards."""

    count: int
    changed: int
    not_found: list[int] = field(default_factory=list)
