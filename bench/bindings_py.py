#!/usr/bin/env python3
"""The Python rows of bench/bindings.sh: rcontainer.run (and run_async) with capture next to
subprocess.run (and asyncio.create_subprocess_exec) of `unshare -fp --mount-proc` doing the same
(`sh -c 'echo hi'`), interleaved in rounds (the machine is noisy), and the peak memory of
capturing `yes` for 2 s. usage: bindings_py.py STATE_ROOT [SEQUENTIAL=200] [CONCURRENT=50]"""
import asyncio
import resource
import statistics
import subprocess
import sys
import time

import rcontainer

root = sys.argv[1]
seq = int(sys.argv[2]) if len(sys.argv) > 2 else 200
conc = int(sys.argv[3]) if len(sys.argv) > 3 else 50
CMD = ["sh", "-c", "echo hi"]
UNSHARE = ["unshare", "-fp", "--mount-proc"] + CMD


def rc() -> None:
    r = rcontainer.run(CMD, capture_output=True, root=root)
    assert r.returncode == 0 and r.stdout == b"hi\n", r


def rc_same() -> None:
    # What unshare -fp --mount-proc makes: pid and mount namespaces only (and the default root).
    r = rcontainer.run(CMD, capture_output=True, root=root, namespaces=["pid", "mount"])
    assert r.returncode == 0 and r.stdout == b"hi\n", r


def sp() -> None:
    r = subprocess.run(UNSHARE, capture_output=True)
    assert r.returncode == 0 and r.stdout == b"hi\n", r


async def rc_async() -> None:
    r = await rcontainer.run_async(CMD, capture_output=True, root=root)
    assert r.stdout == b"hi\n", r


async def sp_async() -> None:
    p = await asyncio.create_subprocess_exec(*UNSHARE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, _ = await p.communicate()
    assert p.returncode == 0 and out == b"hi\n"


def timed(f) -> float:
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


rc(), rc_same(), sp()  # warm up
times = {"rcontainer.run": [], "rcontainer.run(pid+mount ns)": [], "subprocess.run(unshare)": []}
rounds = 4
for _ in range(rounds):
    for _ in range(seq // rounds):
        times["rcontainer.run"].append(timed(rc))
        times["rcontainer.run(pid+mount ns)"].append(timed(rc_same))
        times["subprocess.run(unshare)"].append(timed(sp))
print(f"python, {seq} sequential runs with capture, per container:")
for k, v in times.items():
    print(f"  {k:30} median {statistics.median(v) * 1e3:7.2f} ms  mean {statistics.mean(v) * 1e3:7.2f} ms")
m = {k: statistics.median(v) for k, v in times.items()}
print(f"  ratio rcontainer / unshare: {m['rcontainer.run'] / m['subprocess.run(unshare)']:.2f} (default container), "
      f"{m['rcontainer.run(pid+mount ns)'] / m['subprocess.run(unshare)']:.2f} (the same namespaces)")


async def many(f) -> float:
    t = time.perf_counter()
    await asyncio.gather(*(f() for _ in range(conc)))
    return time.perf_counter() - t


walls = {"rcontainer.run_async": [], "create_subprocess_exec(unshare)": []}
for _ in range(3):
    walls["rcontainer.run_async"].append(asyncio.run(many(rc_async)))
    walls["create_subprocess_exec(unshare)"].append(asyncio.run(many(sp_async)))
print(f"python, {conc} at once (asyncio.gather), wall time per container (median of 3):")
for k, v in walls.items():
    print(f"  {k:34} {statistics.median(v) / conc * 1e3:7.2f} ms  ({statistics.median(v) * 1e3:.0f} ms in all)")

peak = subprocess.run([sys.executable, "-c", f"""
import resource, rcontainer
try:
    rcontainer.run(["yes"], capture_output=True, timeout=2, root={root!r})
except rcontainer.ContainerTimeoutError as e:
    print(len(e.stdout), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""], capture_output=True, text=True).stdout.split()
print(f"python, capturing yes for 2 s: {int(peak[0]) >> 20} MiB kept, peak RSS {peak[1]} MiB")
