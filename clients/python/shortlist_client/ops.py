"""Every op of docs/protocol.md as a method, shared by `Client` (which sends at once) and
`Pipeline` (which queues), with the conversion of arguments and results."""

from __future__ import annotations

import base64
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from .types import BatchResult, GetResult, Hit, Hits, Point, WriteResult

__all__ = ["encode_vector"]


def encode_vector(vector: Any, dimension: int | None = None) -> str:
    """One vector (any 1-D array-like of numbers) as the protocol's base64 of little-endian float32."""
    a = np.asarray(vector, dtype="<f4")
    if a.ndim != 1:
        raise ValueError(f"a vector must be one-dimensional, not of shape {a.shape}")
    if dimension is not None and a.shape[0] != dimension:
        raise ValueError(f"the vector has {a.shape[0]} components, not {dimension}")
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")


def _matrix(vectors: Any) -> np.ndarray:
    a = np.asarray(vectors, dtype="<f4")
    if a.ndim != 2:
        raise ValueError(f"vectors must be a 2-D array (count × dimension), not of shape {a.shape}")
    return np.ascontiguousarray(a)


def _ids(ids: Iterable[int]) -> list[int]:
    out = [int(i) for i in ids]
    if any(i < 0 or i >= 1 << 64 for i in out):
        raise ValueError("ids are unsigned 64-bit integers")
    return out


def _hits(items: list[Any], took_us: Any = None) -> Hits:
    out = Hits(Hit(int(h["id"]), float(h["score"]), h.get("payload")) for h in items)
    out.took_us = took_us
    return out


def _knobs(request: dict[str, Any], *, ef: int | None, nprobe: int | None, rerank: int | None, target_recall: float | None,
           filter: dict[str, Any] | None, with_payload: bool, boost: dict[str, Any] | None, group_by: str | None,
           max_per_group: int | None, diversity: float | dict[str, Any] | None) -> dict[str, Any]:
    params = {name: value for name, value in (("ef", ef), ("nprobe", nprobe), ("rerank", rerank), ("target_recall", target_recall))
              if value is not None}
    if params:
        request["params"] = params
    if filter is not None:
        request["filter"] = filter
    if with_payload:
        request["with_payload"] = True
    if boost is not None:
        request["boost"] = boost
    if group_by is not None or max_per_group is not None:
        request["group_by"], request["max_per_group"] = group_by, max_per_group
    if diversity is not None:
        request["diversity"] = diversity if isinstance(diversity, dict) else {"lambda": float(diversity)}
    return request


class _Ops:
    """Every op, as (request, conversion of the result) handed to `_submit`: the client runs it at
    once, a pipeline queues it."""

    def _submit(self, request: dict[str, Any], convert: Callable[[dict[str, Any]], Any]) -> Any:
        raise NotImplementedError

    def ping(self) -> Any:
        """True when the server answers."""
        return self._submit({"op": "ping"}, lambda r: bool(r.get("pong")))

    def info(self) -> Any:
        """The server's version, workers, collections (kind, metric, dimension, count, spec,
        payload fields, model inputs) and limits, as a dict."""
        return self._submit({"op": "info"}, lambda r: r)

    def stats(self) -> Any:
        """Request counts, latency percentiles, connections, memory and per-collection state."""
        return self._submit({"op": "stats"}, lambda r: r)

    def search(self, collection: str, vector: Any, k: int = 10, *, ef: int | None = None, nprobe: int | None = None,
               rerank: int | None = None, target_recall: float | None = None, filter: dict[str, Any] | None = None,
               with_payload: bool = False, boost: dict[str, Any] | None = None, group_by: str | None = None,
               max_per_group: int | None = None, diversity: float | dict[str, Any] | None = None) -> Any:
        """The `k` items nearest `vector` (1-D, the collection's dimension), best first, as `Hits`.

        `ef` (HNSW), `nprobe` and `rerank` (IVF) trade speed for recall per query;
        `target_recall` asks for the fastest setting measured to reach it (a tuned index).
        `filter` is a payload filter (docs/protocol.md: must / should / must_not, match, range,
        has_id, is_null). `boost`, `group_by` + `max_per_group` and `diversity` (λ in 0…1, or
        {"lambda": λ, "candidates": n}) re-rank the candidates."""
        request = {"op": "search", "collection": collection, "vector": encode_vector(vector), "k": int(k)}
        _knobs(request, ef=ef, nprobe=nprobe, rerank=rerank, target_recall=target_recall, filter=filter, with_payload=with_payload,
               boost=boost, group_by=group_by, max_per_group=max_per_group, diversity=diversity)
        return self._submit(request, lambda r: _hits(r["hits"], r.get("took_us")))

    def search_batch(self, collection: str, vectors: Any, k: int = 10, *, ef: int | None = None, nprobe: int | None = None,
                     rerank: int | None = None, target_recall: float | None = None, filter: dict[str, Any] | None = None,
                     with_payload: bool = False) -> Any:
        """Many queries in one request (`vectors`: count × dimension, at most the server's
        `max_batch`, 1,024 by default). Returns a `BatchResult`: `.ids` and `.scores` are
        count × k arrays (-1 / -inf where fewer than k items exist), `[q]` the `Hits` of query q."""
        m = _matrix(vectors)
        request = {"op": "search_batch", "collection": collection, "k": int(k),
                   "vectors": [base64.b64encode(row.tobytes()).decode("ascii") for row in m]}
        _knobs(request, ef=ef, nprobe=nprobe, rerank=rerank, target_recall=target_recall, filter=filter, with_payload=with_payload,
               boost=None, group_by=None, max_per_group=None, diversity=None)
        return self._submit(request, lambda r: BatchResult([_hits(h) for h in r["results"]], r.get("took_us"), int(k)))

    def similar(self, collection: str, item_id: int, k: int = 10, **knobs: Any) -> Any:
        """The `k` items nearest a stored item, the item itself left out ("more like this").
        Takes the same keyword knobs as `search`."""
        request = {"op": "similar", "collection": collection, "item_id": _ids([item_id])[0], "k": int(k)}
        return self._submit(_with_knobs(request, knobs), lambda r: _hits(r["hits"], r.get("took_us")))

    def recommend(self, collection: str, *, user_id: int | None = None, history: Sequence[int] | None = None,
                  features: dict[str, Any] | None = None, context: dict[str, Any] | None = None, k: int = 10,
                  exclude_seen: bool = False, **knobs: Any) -> Any:
        """The best `k` items for a user, from the collection's model: a known `user_id`, and/or
        the request-time `history` (item ids, oldest first), user `features` and `context`
        (names as `info()["collections"][…]["model"]` lists them). `exclude_seen` leaves out the
        history and the user's stored seen items. Takes the same keyword knobs as `search`."""
        request: dict[str, Any] = {"op": "recommend", "collection": collection, "k": int(k)}
        if user_id is not None:
            request["user_id"] = _ids([user_id])[0]
        if history is not None:
            request["history"] = _ids(history)
        if features is not None:
            request["features"] = features
        if context is not None:
            request["context"] = context
        if exclude_seen:
            request["exclude_seen"] = True
        return self._submit(_with_knobs(request, knobs), lambda r: _hits(r["hits"], r.get("took_us")))

    def upsert(self, collection: str, ids: Iterable[int], vectors: Any = None, payloads: Sequence[Any] | None = None,
               features: Sequence[dict[str, Any]] | None = None) -> Any:
        """Inserts or replaces points: `ids` with `vectors` (count × dimension), or with item
        `features` (one dict per id) for a collection whose model embeds them; `payloads` (any
        JSON values, one per id; None for none). All or nothing: one bad point refuses the whole
        request. Durable when it returns (the server's log is synced). Returns a `WriteResult`."""
        ids = _ids(ids)
        if (vectors is None) == (features is None):
            raise ValueError("give vectors or features, one of them")
        rows = _matrix(vectors) if vectors is not None else None
        for name, values in (("vectors", rows), ("features", features), ("payloads", payloads)):
            if values is not None and len(values) != len(ids):
                raise ValueError(f"{len(ids)} ids but {len(values)} {name}")
        points = []
        for i, point_id in enumerate(ids):
            point: dict[str, Any] = {"id": point_id}
            if rows is not None:
                point["vector"] = base64.b64encode(rows[i].tobytes()).decode("ascii")
            else:
                point["features"] = features[i]  # type: ignore[index]
            if payloads is not None and payloads[i] is not None:
                point["payload"] = payloads[i]
            points.append(point)
        return self._submit({"op": "upsert", "collection": collection, "points": points},
                            lambda r: WriteResult(count=int(r["count"]), changed=int(r["upserted"])))

    def delete(self, collection: str, ids: Iterable[int]) -> Any:
        """Deletes points by id; ids that are not there are reported in `not_found`."""
        return self._submit({"op": "delete", "collection": collection, "ids": _ids(ids)},
                            lambda r: WriteResult(count=int(r["count"]), changed=int(r["deleted"]),
                                                  not_found=[int(i) for i in r.get("not_found", [])]))

    def get(self, collection: str, ids: Iterable[int]) -> Any:
        """The stored vectors (float32 arrays) and payloads of some ids, as a `GetResult`."""
        def convert(r: dict[str, Any]) -> GetResult:
            points = {int(p["id"]): Point(int(p["id"]), np.asarray(p["vector"], dtype=np.float32), p.get("payload"))
                      for p in r["points"]}
            return GetResult(points, [int(i) for i in r.get("not_found", [])])
        return self._submit({"op": "get", "collection": collection, "ids": _ids(ids)}, convert)

    def save(self, collection: str | None = None) -> Any:
        """Writes the collection's index file (every collection without one) and empties its log;
        returns the names saved."""
        request: dict[str, Any] = {"op": "save"}
        if collection is not None:
            request["collection"] = collection
        return self._submit(request, lambda r: list(r["saved"]))

    def request(self, op: str, **members: Any) -> Any:
        """Any op, with its members as given (JSON values): the reply's `result` as a dict."""
        return self._submit({"op": op, **members}, lambda r: r)


def _with_knobs(request: dict[str, Any], knobs: dict[str, Any]) -> dict[str, Any]:
    allowed = {"ef", "nprobe", "rerank", "target_recall", "filter", "with_payload", "boost", "group_by", "max_per_group", "diversity"}
    unknown = set(knobs) - allowed
    if unknown:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
    settings = {name: knobs.get(name) for name in allowed}
    settings["with_payload"] = bool(settings["with_payload"])
    return _knobs(request, **settings)
