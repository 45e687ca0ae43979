#!/usr/bin/env python3
"""The Python row of bench/run.sh: rcontainer.run(["/bin/true"]) in a loop, each call timed, with
the bench bundle's config.json as `spec=` and its rootfs. Writes hyperfine-shaped JSON.

usage: py_inproc.py BUNDLE STATE_ROOT COUNT OUT.json [NAME]"""
import json
import sys
import time

import rcontainer

bundle, root, count, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
name = sys.argv[5] if len(sys.argv) > 5 else "inproc:Python rcontainer.run"
with open(f"{bundle}/config.json") as f:
    spec = json.load(f)
kw = dict(spec=spec, rootfs=f"{bundle}/rootfs", root=root)
rcontainer.run(["/bin/true"], check=True, **kw)  # warm up
times = []
for _ in range(count):
    t = time.perf_counter()
    rcontainer.run(["/bin/true"], check=True, **kw)
    times.append(time.perf_counter() - t)
with open(out, "w") as f:
    json.dump({"results": [{"command": name, "times": times}]}, f)
times.sort()
print(f"{name}: {count} containers, median {times[len(times) // 2] * 1e3:.3f} ms, min {times[0] * 1e3:.3f} ms")
