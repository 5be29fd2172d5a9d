#!/usr/bin/env python3
"""Filtered search of the peers on the allowed sets `shortlist filtered-bench --write-masks` wrote.

Runs, single queries on one thread (the same protocol as `shortlist filtered-bench`):
  hnswlib HNSW (M=16, efConstruction=200), `knn_query(filter=callable)`;
  FAISS IndexHNSWFlat (same settings), `SearchParametersHNSW(sel=IDSelectorBitmap)`;
  FAISS IndexIVFPQ + IndexRefineFlat (nlist, m as ../shared/tools/peers chooses them: 4·sqrt(N), dim/8),
    `IndexRefineSearchParameters(base_index_params=SearchParametersIVF(sel=IDSelectorBitmap))`.
Recall@k is against exact search over the allowed items (numpy, float32). Cosine normalises once
and uses inner product, as the peers tool does. Reads files with ../shared/tools/peers/peers.py.
Indexes are cached in --cache (built once with --build-threads threads).
"""
import argparse
import os
import sys
import time

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "..", "shared", "tools", "peers"))
import peers  # noqa: E402  (read_matrix)


def exact_truth(xb, xq, allowed, k, metric):
    ids = np.nonzero(allowed)[0]
    sub = xb[ids]
    if metric == "l2":
        d = (xq * xq).sum(1)[:, None] - 2 * xq @ sub.T + (sub * sub).sum(1)[None, :]
    else:
        d = -(xq @ sub.T)
    kk = min(k, len(ids))
    part = np.argpartition(d, kk - 1, axis=1)[:, :kk]
    order = np.take_along_axis(d, part, 1).argsort(1)
    return ids[np.take_along_axis(part, order, 1)]


def recall(found, truth):
    hits = sum(len(set(f) & set(t)) for f, t in zip(found, truth))
    return hits / max(1, sum(len(t) for t in truth))


def timed(search, xq, max_seconds):
    """Single queries in order until all are done or max_seconds pass; returns (results, q/s, n)."""
    out = []
    start = time.perf_counter()
    for i in range(xq.shape[0]):
        out.append(search(xq[i:i + 1]))
        if time.perf_counter() - start > max_seconds:
            break
    seconds = time.perf_counter() - start
    return out, len(out) / seconds, len(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--query", required=True)
    ap.add_argument("--metric", choices=["l2", "cos"], required=True)
    ap.add_argument("--masks", help="folder of allowed-SHARE.u8 files")
    ap.add_argument("--build-only", action="store_true", help="build (and cache) the indexes, then stop")
    ap.add_argument("--share", type=float, action="append")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--limit", type=int, default=1000)
    ap.add_argument("--ef", default="32,64,128,256,512")
    ap.add_argument("--nprobe", default="8,16,32,64,128")
    ap.add_argument("--refine", type=float, default=4)
    ap.add_argument("--algos", default="hnswlib,faiss-hnsw,faiss-ivfpq-rf")
    ap.add_argument("--cache", required=True)
    ap.add_argument("--build-threads", type=int, default=2)
    ap.add_argument("--max-seconds", type=float, default=20, help="per setting: stop early and report the queries done")
    a = ap.parse_args()

    import faiss
    import hnswlib
    xb = np.array(peers.read_matrix(a.base), dtype=np.float32, order="C")
    xq = np.array(peers.read_matrix(a.query, limit=a.limit), dtype=np.float32, order="C")
    if a.metric == "cos":
        xb /= np.linalg.norm(xb, axis=1, keepdims=True)
        xq /= np.linalg.norm(xq, axis=1, keepdims=True)
    n, d = xb.shape
    os.makedirs(a.cache, exist_ok=True)
    shares = a.share or [0.5, 0.1, 0.01, 0.001]
    algos = a.algos.split(",")
    efs = [int(x) for x in a.ef.split(",")]
    nprobes = [int(x) for x in a.nprobe.split(",")]
    space = "l2" if a.metric == "l2" else "ip"
    fmetric = faiss.METRIC_L2 if a.metric == "l2" else faiss.METRIC_INNER_PRODUCT

    built = {}
    if "hnswlib" in algos:
        p = os.path.join(a.cache, "hnswlib.bin")
        h = hnswlib.Index(space=space, dim=d)
        if os.path.exists(p):
            h.load_index(p, max_elements=n)
        else:
            h.init_index(max_elements=n, ef_construction=200, M=16, random_seed=100)
            h.add_items(xb, np.arange(n), num_threads=a.build_threads)
            h.save_index(p)
        h.set_num_threads(1)
        built["hnswlib"] = h
    faiss.omp_set_num_threads(a.build_threads)
    if "faiss-hnsw" in algos:
        p = os.path.join(a.cache, "faiss-hnsw.bin")
        if os.path.exists(p):
            built["faiss-hnsw"] = faiss.read_index(p)
        else:
            idx = faiss.IndexHNSWFlat(d, 16, fmetric)
            idx.hnsw.efConstruction = 200
            idx.add(xb)
            faiss.write_index(idx, p)
            built["faiss-hnsw"] = idx
    if "faiss-ivfpq-rf" in algos:
        nlist = int(round(4 * np.sqrt(n)))
        m = peers.nearest_divisor(d, d / 8)
        p = os.path.join(a.cache, f"faiss-ivf{nlist}-pq{m}-rf.bin")
        if os.path.exists(p):
            idx = faiss.read_index(p)
        else:
            q = faiss.IndexFlat(d, fmetric)
            ivf = faiss.IndexIVFPQ(q, d, nlist, m, 8, fmetric)
            idx = faiss.IndexRefineFlat(ivf)
            rng = np.random.default_rng(1)
            tn = min(n, 65536)
            idx.train(np.ascontiguousarray(xb[np.sort(rng.choice(n, tn, replace=False))]))
            idx.add(xb)
            faiss.write_index(idx, p)
        built["faiss-ivfpq-rf"] = idx
        ivf_name = f"IVF{nlist},PQ{m} + RefineFlat"
    faiss.omp_set_num_threads(1)
    if a.build_only:
        return

    print(f"| library | index | allowed | setting | recall@{a.k} | queries/s | queries |")
    print("|---|---|---|---|---|---|---|")
    for share in shares:
        allowed = np.fromfile(os.path.join(a.masks, f"allowed-{share}.u8"), dtype=np.uint8).astype(bool)
        assert allowed.shape[0] == n, "mask of another base"
        truth = exact_truth(xb, xq, allowed, a.k, a.metric)
        label = f"{share * 100:g}%"
        bits = np.packbits(allowed, bitorder="little")
        sel = faiss.IDSelectorBitmap(n, faiss.swig_ptr(bits))
        for name in algos:
            idx = built[name]
            if name == "hnswlib":
                allowed_list = allowed.tolist()
                def filt(i, allowed_list=allowed_list):
                    return allowed_list[i]
                for ef in efs:
                    idx.set_ef(ef)
                    def search(q):
                        try:
                            return idx.knn_query(q, a.k, num_threads=1, filter=filt)[0][0]
                        except RuntimeError:  # fewer than k found
                            return np.array([], dtype=np.int64)
                    found, qps, count = timed(search, xq, a.max_seconds)
                    print(f"| hnswlib | HNSW16 | {label} | ef {ef} | {recall(found, truth[:count]):.4f} | {qps:.0f} | {count} |", flush=True)
            elif name == "faiss-hnsw":
                for ef in efs:
                    params = faiss.SearchParametersHNSW(sel=sel, efSearch=ef)
                    def search(q):
                        return idx.search(q, a.k, params=params)[1][0]
                    found, qps, count = timed(search, xq, a.max_seconds)
                    found = [f[f >= 0] for f in found]
                    print(f"| FAISS | HNSWFlat16 | {label} | ef {ef} | {recall(found, truth[:count]):.4f} | {qps:.0f} | {count} |", flush=True)
            else:
                for nprobe in nprobes:
                    ivf_params = faiss.SearchParametersIVF(sel=sel, nprobe=nprobe)
                    params = faiss.IndexRefineSearchParameters(k_factor=a.refine, base_index_params=ivf_params)
                    def search(q):
                        return idx.search(q, a.k, params=params)[1][0]
                    found, qps, count = timed(search, xq, a.max_seconds)
                    found = [f[f >= 0] for f in found]
                    print(f"| FAISS | {ivf_name} | {label} | nprobe {nprobe}, R {a.refine:g} | {recall(found, truth[:count]):.4f} | {qps:.0f} | {count} |", flush=True)


if __name__ == "__main__":
    main()
