"""Records of a full run with some questions' records replaced by another run's (valid when only those
questions take a different code path and generation is greedy)."""
import json, sys
base, sub, out = sys.argv[1:4]
repl = {json.loads(l)["id"]: l for l in open(sub)}
with open(out, "w") as o:
    for l in open(base):
        o.write(repl.get(json.loads(l)["id"], l))
print("replaced", len(repl))
