#!/usr/bin/env python3
"""Summarises bench/trainer-vs-peers output: test metrics as mean ± half-range over seeds (the
peers' grid selected by valid Recall@20 on the first seed, then that configuration on the other seeds),
and training throughput, ours beside PyTorch's, per model shape. Usage: trainer-table.py OUT_DIR"""
import csv, os, re, statistics, sys

out = sys.argv[1]
def rows(name):
    p = os.path.join(out, name)
    return list(csv.DictReader(open(p))) if os.path.exists(p) else []

peers, extra, ours = rows("peers.csv"), rows("peers-seeds.csv"), rows("ours.csv")
runs = {}
best = {}
first = min(r["seed"] for r in peers) if peers else "0"
for r in peers:
    if r["seed"] == first and (r["model"] not in best or float(r["valid_recall@20"]) > float(best[r["model"]]["valid_recall@20"])):
        best[r["model"]] = r
for m, r in best.items():
    runs[m] = [r] + [x for x in extra if x["model"] == m]
if ours:
    runs["shortlist"] = ours
metrics = [("test R@20", "test_recall@20"), ("test N@20", "test_ndcg@20"), ("test R@10", "test_recall@10"),
           ("test HR@10", "test_hr@10"), ("valid R@20", "valid_recall@20")]
def cell(rs, key, fmt="{:.4f}"):
    vals = [float(r[key]) for r in rs if r.get(key) not in (None, "")]
    if not vals:
        return ""
    mean = statistics.mean(vals)
    if len(vals) == 1:
        return fmt.format(mean)
    return fmt.format(mean) + " ± " + fmt.format((max(vals) - min(vals)) / 2)
# Training time and examples/s of these runs are left out: they shared the two cores with other
# runs. Throughput is measured separately, on a quiet machine (the second table).
print("| model | seeds | " + " | ".join(h for h, _ in metrics) + " | configuration |")
print("|---|---|" + "---|" * len(metrics) + "---|")
for m in ["mostpop", "ials", "twotower-torch", "shortlist"]:
    if m not in runs:
        continue
    rs = runs[m]
    params = rs[0]["params"].split(";", 1)[1] if rs[0]["params"].startswith("seed=") else rs[0]["params"]
    print(f"| {m} | {len(rs)} | " + " | ".join(cell(rs, k) for _, k in metrics) + f" | {params[:100]} |")

speed_torch = rows("speed-torch.csv")
ours_txt = os.path.join(out, "speed-ours.txt")
if speed_torch and os.path.exists(ours_txt):
    mine = {}
    for line in open(ours_txt):
        m = re.match(r"\| (\d+) \| (\d+) \| (\w+) \| (\d+) \| (\d+) \|", line)
        if m:
            mine[(int(m.group(1)), int(m.group(2)))] = (int(m.group(4)), int(m.group(5)))
    print()
    print("| batch | hidden | PyTorch adam ex/s | PyTorch sparse ex/s | Shortlist ex/s | ratio to PyTorch's faster |")
    print("|---|---|---|---|---|---|")
    torch = {}
    for r in speed_torch:
        torch[(int(r["batch"]), int(r["hidden"]), r["opt"])] = int(r["examples_per_sec_median"])
    for (b, h), (med, _) in sorted(mine.items()):
        a, s = torch.get((b, h, "adam")), torch.get((b, h, "sparse"))
        faster = max(x for x in (a, s) if x) if (a or s) else None
        ratio = f"{med / faster:.2f}×" if faster else ""
        print(f"| {b} | {h} | {a or ''} | {s or ''} | {med} | {ratio} |")
