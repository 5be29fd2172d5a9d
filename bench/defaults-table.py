#!/usr/bin/env python3
"""Test Recall@20 / NDCG@20 per data set and model from recpeers CSVs: iALS is the configuration
of its grid with the best valid Recall@20 (per seed); every shortlist label as run. Usage:
defaults-table.py peers.csv ours.csv"""
import csv, statistics, sys
from collections import defaultdict

rows = [r for p in sys.argv[1:] for r in csv.DictReader(open(p))]
for r in rows:   # recpeers leaves seed empty for --eval-factors rows; ours carry it in params
    if not r.get("seed") and r.get("params", "").startswith("seed="):
        r["seed"] = r["params"][5:].split(";")[0]
by = defaultdict(list)
for r in rows:
    by[(r["dataset"], r["model"])].append(r)
sets = list(dict.fromkeys(r["dataset"] for r in rows))
models = list(dict.fromkeys(r["model"] for r in rows))
print("| data set | model | seeds | test R@20 | test N@20 | valid R@20 | R@20 ÷ iALS |")
print("|---|---|---|---|---|---|---|")
for s in sets:
    chosen = {}
    for m in models:
        rs = by.get((s, m), [])
        if not rs:
            continue
        if m in ("ials", "bpr", "twotower-torch"):   # the grid's selection per seed
            best = {}
            for r in rs:
                if r["seed"] not in best or float(r["valid_recall@20"]) > float(best[r["seed"]]["valid_recall@20"]):
                    best[r["seed"]] = r
            rs = list(best.values())
        chosen[m] = rs
    base = statistics.mean(float(r["test_recall@20"]) for r in chosen["ials"]) if "ials" in chosen else None
    for m, rs in chosen.items():
        def ms(k):
            v = [float(r[k]) for r in rs]
            return f"{statistics.mean(v):.4f}" + (f" ± {(max(v) - min(v)) / 2:.4f}" if len(v) > 1 else "")
        r20 = statistics.mean(float(r["test_recall@20"]) for r in rs)
        ratio = f"{r20 / base:.3f}" if base else ""
        print(f"| {s} | {m} | {len(rs)} | {ms('test_recall@20')} | {ms('test_ndcg@20')} | {ms('valid_recall@20')} | {ratio} |")
