#!/usr/bin/env python3
"""Summarises bench/out/filtered-vs-peers/<dataset>/{ours-hnsw,ours-ivf,peers}.md: for every share
allowed and every method, the fastest setting that reaches recall@10 >= TARGET (default 0.95), or
the best recall any setting reached when none does. Usage: table.py DIR [TARGET]"""
import sys

out, target = sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 0.95


def rows(path):
    for line in open(path):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 6 and cells[0] not in ("allowed", "library") and not cells[0].startswith("---"):
            yield cells


methods = {}  # (share, method) -> [(setting, recall, qps)]
order = []
for kind in ("hnsw", "ivf"):
    for share, _, method, setting, recall, qps in rows(f"{out}/ours-{kind}.md"):
        if method == "index":
            continue  # the forced structure: in the full tables, not in the summary
        name = f"Shortlist {'HNSW16' if kind == 'hnsw' else 'IVF-PQ+Refine'}" + (" (scan)" if method == "scan" else "")
        methods.setdefault((share, name), []).append((setting or "-", float(recall), float(qps)))
        if name not in order:
            order.append(name)
for lib, index, share, setting, recall, qps, _ in rows(f"{out}/peers.md"):
    name = f"{lib} {index}"
    methods.setdefault((share, name), []).append((setting, float(recall), float(qps)))
    if name not in order:
        order.append(name)
shares = []
for share, _ in methods:
    if share not in shares:
        shares.append(share)
print(f"| method | " + " | ".join(f"{s} allowed" for s in shares) + " |")
print("|---|" + "---|" * len(shares))
for name in order:
    cells = []
    for share in shares:
        points = methods.get((share, name), [])
        good = [p for p in points if p[1] >= target]
        if good:
            s, r, q = max(good, key=lambda p: p[2])
            cells.append(f"{q:,.0f} q/s ({s}, {r:.3f})")
        elif points:
            s, r, q = max(points, key=lambda p: p[1])
            cells.append(f"never {target}: best {r:.3f} ({s}, {q:,.0f} q/s)")
        else:
            cells.append("—")
    print(f"| {name} | " + " | ".join(cells) + " |")
