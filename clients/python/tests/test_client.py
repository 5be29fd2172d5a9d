"""The client against a live `shortlist serve` on loopback.

The binary is $SHORTLIST_BIN, else `.build/debug/shortlist` of the repository this file is in,
else `shortlist` on PATH. Run: python -m unittest discover -s clients/python/tests
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
from pathlib import Path

import numpy as np

import shortlist_client as sl

DIMENSION = 16
COUNT = 300


def shortlist_binary() -> str:
    if os.environ.get("SHORTLIST_BIN"):
        return os.environ["SHORTLIST_BIN"]
    built = Path(__file__).resolve().parents[3] / ".build" / "debug" / "shortlist"
    if built.exists():
        return str(built)
    found = shutil.which("shortlist")
    if not found:
        raise unittest.SkipTest("no shortlist binary: set SHORTLIST_BIN")
    return found


class Server:
    """`shortlist serve` on a free loopback port, stopped by `stop()`."""

    def __init__(self, *args: str):
        self.process = subprocess.Popen([shortlist_binary(), "serve", "--port", "0", *args], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while True:
            line = self.process.stdout.readline()
            if line.startswith("ready "):
                fields = line.split()
                self.port = int(fields[2])
                self.metrics_port = int(fields[4]) if len(fields) > 4 and fields[3] == "metrics" else None
                break
            if not line or time.monotonic() > deadline:
                self.process.kill()
                raise RuntimeError(f"the server did not start: {self.process.stderr.read()}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.process.stdout.close()
        self.process.stderr.close()


def top_k(base: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    scores = queries @ base.T
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


class ClientTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.folder = tempfile.mkdtemp(prefix="shortlist-py-")
        rng = np.random.default_rng(7)
        cls.base = rng.standard_normal((COUNT, DIMENSION)).astype(np.float32)
        np.save(os.path.join(cls.folder, "items.npy"), cls.base)
        index = os.path.join(cls.folder, "items.idx")
        subprocess.run([shortlist_binary(), "build", "--input", os.path.join(cls.folder, "items.npy"), "--spec", "Flat", "--metric", "ip",
                        "--output", index], check=True, capture_output=True)
        with open(os.path.join(cls.folder, "items.idx.payloads.jsonl"), "w") as f:
            for i in range(COUNT):
                f.write(json.dumps({"id": i, "payload": {"title": f"item {i}", "genre": f"g{i % 3}"}}) + "\n")
        cls.server = Server("--collection", f"items={index}", "--idle-timeout", "2", "--fsync", "batch", "--metrics-port", "0")
        cls.client = sl.Client("127.0.0.1", cls.server.port)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.client.close()
        cls.server.stop()
        shutil.rmtree(cls.folder, ignore_errors=True)

    def test_ping_and_info(self) -> None:
        self.assertTrue(self.client.ping())
        info = self.client.info()
        items = next(c for c in info["collections"] if c["name"] == "items")
        self.assertEqual(items["dimension"], DIMENSION)
        self.assertEqual(items["metric"], "ip")

    def test_search_matches_exact_scores_bit_for_bit(self) -> None:
        query = np.random.default_rng(1).standard_normal(DIMENSION).astype(np.float32)
        hits = self.client.search("items", query, k=5, with_payload=True)
        expected = top_k(self.base[:COUNT], query[None, :], 5)[0]
        self.assertEqual(list(hits.ids), list(expected))
        np.testing.assert_allclose(hits.scores, self.base[expected] @ query, rtol=1e-5)
        self.assertEqual(hits[0].payload["title"], f"item {expected[0]}")
        self.assertIsInstance(hits.took_us, int)

    def test_search_batch_gives_arrays(self) -> None:
        queries = np.random.default_rng(2).standard_normal((40, DIMENSION)).astype(np.float32)
        result = self.client.search_batch("items", queries, k=7)
        self.assertEqual(result.ids.shape, (40, 7))
        self.assertEqual(result.ids.tolist(), top_k(self.base, queries, 7).tolist())
        self.assertEqual(result.scores.dtype, np.float32)
        self.assertEqual(list(result[3].ids), list(result.ids[3]))

    def test_filter_and_group_limits(self) -> None:
        query = self.base[10]
        hits = self.client.search("items", query, k=10, with_payload=True,
                                  filter={"must": [{"key": "genre", "match": {"value": "g1"}}]})
        self.assertEqual(len(hits), 10)
        self.assertTrue(all(h.payload["genre"] == "g1" for h in hits))
        grouped = self.client.search("items", query, k=3, with_payload=True, group_by="genre", max_per_group=1)
        self.assertEqual(sorted(h.payload["genre"] for h in grouped), ["g0", "g1", "g2"])
        similar = self.client.similar("items", 10, k=4, with_payload=True)
        self.assertNotIn(10, list(similar.ids))

    def test_upsert_get_delete(self) -> None:
        vectors = np.eye(DIMENSION, dtype=np.float32)[:2] * 50
        written = self.client.upsert("items", [10_001, 10_002], vectors, payloads=[{"title": "new"}, None])
        self.assertEqual(written.changed, 2)
        got = self.client.get("items", [10_001, 10_002, 99_999])
        np.testing.assert_array_equal(got.points[10_001].vector, vectors[0])
        self.assertEqual(got.points[10_001].payload, {"title": "new"})
        self.assertIsNone(got.points[10_002].payload)
        self.assertEqual(got.not_found, [99_999])
        self.assertEqual(self.client.search("items", vectors[0], k=1)[0].id, 10_001)
        deleted = self.client.delete("items", [10_001, 10_002, 99_999])
        self.assertEqual((deleted.changed, deleted.not_found), (2, [99_999]))
        self.assertEqual(deleted.count, COUNT)

    def test_every_error_code_of_the_protocol_has_its_exception(self) -> None:
        protocol = Path(__file__).resolve().parents[3] / "docs" / "protocol.md"
        codes = set()
        errors = protocol.read_text().split("\n## Errors\n", 1)[1].split("\n## ", 1)[0]
        for line in errors.splitlines():
            cells = line.split("|")
            if len(cells) > 3 and cells[1].strip().startswith("`") and cells[1].strip().endswith("`"):
                codes.add(cells[1].strip().strip("`"))
        self.assertIn("not_replicated", codes)
        for code in sorted(codes):
            self.assertIsNot(type(sl.errors.error_from_reply({"code": code, "message": "m"}, 1)), sl.ShortlistError, code)
        self.assertIsInstance(sl.errors.error_from_reply({"code": "stale_term", "message": "m"}, 1), sl.StaleTerm)

    def test_errors_are_typed_and_the_connection_stays_usable(self) -> None:
        cases = [
            (lambda: self.client.search("items", np.zeros(3)), sl.DimensionMismatch),
            (lambda: self.client.search("books", np.zeros(DIMENSION)), sl.UnknownCollection),
            (lambda: self.client.search("items", np.full(DIMENSION, np.nan)), sl.InvalidVector),
            (lambda: self.client.search("items", np.zeros(DIMENSION), k=0), sl.InvalidParameter),
            (lambda: self.client.search("items", np.zeros(DIMENSION), ef=10**9), sl.InvalidParameter),
            (lambda: self.client.similar("items", 123_456), sl.NotFound),
            (lambda: self.client.recommend("items", user_id=1), sl.Unsupported),
            (lambda: self.client.request("searh", collection="items"), sl.UnknownOp),
            (lambda: self.client.request("search", collection="items", vector=[0.0] * DIMENSION, eff=3), sl.UnknownField),
            (lambda: self.client.upsert("items", [5, 5], np.zeros((2, DIMENSION))), sl.InvalidRequest),
        ]
        for call, kind in cases:
            with self.assertRaises(kind) as caught:
                call()
            self.assertEqual(caught.exception.code, kind.code)
            self.assertTrue(self.client.ping())
        with self.assertRaises(ValueError):
            self.client.search_batch("items", np.zeros(DIMENSION))
        with self.assertRaises(TypeError):
            self.client.similar("items", 1, eff=3)

    def test_pipeline_matches_replies_to_requests(self) -> None:
        queries = np.random.default_rng(3).standard_normal((200, DIMENSION)).astype(np.float32)
        with self.client.pipeline() as p:
            searches = [p.search("items", q, k=3) for q in queries]
            bad = p.search("items", np.zeros(2))
            write = p.upsert("items", [20_000], queries[:1] * 100)
            after = p.search("items", queries[0] * 100, k=1)
            gone = p.delete("items", [20_000])
        expected = top_k(self.base, queries, 3)
        self.assertEqual([list(s.result().ids) for s in searches], expected.tolist())
        self.assertRaises(sl.DimensionMismatch, bad.result)
        self.assertEqual(write.result().changed, 1)
        self.assertEqual(after.result()[0].id, 20_000, "a request queued after a write sees it")
        self.assertEqual(gone.result().changed, 1)

    def test_the_connection_is_reopened_after_the_server_closed_it(self) -> None:
        client = sl.Client("127.0.0.1", self.server.port)
        self.assertTrue(client.ping())
        time.sleep(3)  # the server's --idle-timeout is 2 s: it sends idle_timeout and closes
        self.assertTrue(client.ping())
        client.close()

    def test_threads_share_one_client(self) -> None:
        queries = np.random.default_rng(4).standard_normal((60, DIMENSION)).astype(np.float32)
        found: dict[int, list[int]] = {}

        def work(offset: int) -> None:
            for q in range(offset, 60, 3):
                found[q] = list(self.client.search("items", queries[q], k=2).ids)
        threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual([found[q] for q in range(60)], top_k(self.base, queries, 2).tolist())


    def test_metrics_parse_as_prometheus_text_with_latency_histograms(self) -> None:
        try:
            from prometheus_client.parser import text_string_to_metric_families
        except ImportError:
            self.skipTest("prometheus_client is not installed")
        import urllib.request
        self.client.ping()
        self.client.search("items", self.base[0], k=3)
        base = f"http://127.0.0.1:{self.server.metrics_port}"
        with urllib.request.urlopen(base + "/metrics") as reply:
            text = reply.read().decode()
        families = {f.name: f for f in text_string_to_metric_families(text)}
        durations = families["shortlist_request_duration_seconds"]
        self.assertEqual(durations.type, "histogram")
        buckets = [s for s in durations.samples if s.name.endswith("_bucket") and s.labels["op"] == "search"]
        self.assertGreaterEqual(len(buckets), 10)
        self.assertEqual(buckets[-1].labels["le"], "+Inf")
        self.assertGreaterEqual(buckets[-1].value, 1)
        self.assertEqual(families["shortlist_requests"].type, "counter")
        for name in ("process_cpu_seconds", "process_resident_memory_bytes", "process_open_fds"):
            self.assertIn(name, families)
        for path, body in (("/healthz", "ok"), ("/readyz", "ready")):
            with urllib.request.urlopen(base + path) as reply:
                self.assertEqual((reply.status, reply.read().decode().strip()), (200, body))


class FourVectors(unittest.TestCase):
    """A Flat index of the 4 × 4 identity matrix (ids 0–3) in a temporary folder: `self.index`."""

    def setUp(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="shortlist-py-")
        self.addCleanup(shutil.rmtree, self.folder, True)
        np.save(os.path.join(self.folder, "v.npy"), np.eye(4, dtype=np.float32))
        self.index = os.path.join(self.folder, "v.idx")
        subprocess.run([shortlist_binary(), "build", "--input", os.path.join(self.folder, "v.npy"), "--output", self.index], check=True,
                       capture_output=True)


class DownedServerTests(FourVectors):
    def test_a_request_cut_off_by_the_server_raises_connection_lost(self) -> None:
        server = Server("--collection", f"v={self.index}")
        self.addCleanup(server.process.kill)
        client = sl.Client("127.0.0.1", server.port)
        self.assertTrue(client.ping())
        server.process.kill()
        server.process.wait()
        with self.assertRaises(sl.ConnectionLost):
            client.ping()
        client.close()
        server.stop()
        with self.assertRaises(sl.ConnectionLost):
            sl.Client("127.0.0.1", server.port)


class AuthTests(FourVectors):
    def test_token(self) -> None:
        Path(self.folder, "token").write_text("s3cret\n")
        server = Server("--collection", f"v={self.index}", "--auth-token-file", os.path.join(self.folder, "token"))
        try:
            with self.assertRaises(sl.Unauthorized), sl.Client("127.0.0.1", server.port) as anonymous:
                anonymous.search("v", np.ones(4))
            with self.assertRaises(sl.Unauthorized):
                sl.Client("127.0.0.1", server.port, token="wrong")
            with sl.Client("127.0.0.1", server.port, token="s3cret") as client:
                self.assertEqual(client.search("v", [0, 0, 1, 0], k=1)[0].id, 2)
        finally:
            server.stop()


if __name__ == "__main__":
    unittest.main()
