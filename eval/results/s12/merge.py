"""Records of a full run with some questions' records replaced by another run's (valid when only those
questions take a different code path and generation is greedy).

    python eval/results/s12/merge.py FULL.jsonl RERUN.jsonl OUT.jsonl
"""

import json
import sys

base, sub, out = sys.argv[1:4]
with open(sub, encoding="utf-8") as f:
    rerun = {json.loads(line)["id"]: line for line in f}
with open(base, encoding="utf-8") as f, open(out, "w", encoding="utf-8") as o:
    for line in f:
        o.write(rerun.get(json.loads(line)["id"], line))
print("replaced", len(rerun))
