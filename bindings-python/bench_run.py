"""Per-container time of rcontainer.run(["/bin/true"]) in a loop, next to the command line's
`rcontainer run -- /bin/true` in a loop, on the same machine in the same minute (interleaved in
rounds, so drift affects both). Usage (root): python bench_run.py [N] [path/to/rcontainer]."""

import os
import statistics
import subprocess
import sys
import time

import rcontainer

n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
cli = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "target", "release", "rcontainer")


def py_once() -> None:
    r = rcontainer.run(["/bin/true"])
    assert r.returncode == 0


def cli_once() -> None:
    subprocess.run([cli, "run", "--", "/bin/true"], check=True)


def loop(fn, count: int) -> float:
    t = time.perf_counter()
    for _ in range(count):
        fn()
    return (time.perf_counter() - t) / count


py_once(), cli_once()  # warm up (default root skeleton, page cache)
rounds = 4
py, cl = [], []
for _ in range(rounds):
    py.append(loop(py_once, n // rounds))
    cl.append(loop(cli_once, n // rounds))
print(f"rcontainer.run(['/bin/true'])       x{n}: {statistics.mean(py) * 1e3:6.2f} ms per container (rounds: {', '.join(f'{x * 1e3:.2f}' for x in py)})")
print(f"{os.path.relpath(cli)} run -- /bin/true x{n}: {statistics.mean(cl) * 1e3:6.2f} ms per container (rounds: {', '.join(f'{x * 1e3:.2f}' for x in cl)})")
