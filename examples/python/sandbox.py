"""The untrusted-snippet service (the first example of bindings-python/README.md): 64 MB, half a
CPU, 32 pids, no network, nobody's uid, 2 s, output captured up to 1 MiB; one at a time, and 20
at once with asyncio."""
import asyncio

import rcontainer

# The preset (nobody, no capabilities, a read-only root with a 64 MiB /tmp, only lo, 64
# processes) with tighter limits of our own, a timeout and bounded output.
SANDBOX = dict(sandbox=True, memory="64M", cpus=0.5, pids=32, timeout=2, capture_output=True, text=True, max_output=1 << 20)


def run_snippet(code: str) -> tuple:
    try:
        r = rcontainer.run(["sh", "-c", code], **SANDBOX)
        return r.returncode, r.stdout, r.stdout_truncated
    except rcontainer.ContainerTimeoutError as e:  # killed at 2 s; e.stdout: what it printed
        return "timeout", e.stdout, e.stdout_truncated


async def run_snippet_async(code: str) -> tuple:
    try:
        r = await rcontainer.run_async(["sh", "-c", code], **SANDBOX)
        return r.returncode, r.stdout, r.stdout_truncated
    except rcontainer.ContainerTimeoutError as e:
        return "timeout", e.stdout, e.stdout_truncated


print(run_snippet("id -u; ls /sys/class/net"))   # (0, '65534\nlo\n', False): nobody, no network
print(run_snippet("while :; do :; done")[0])     # timeout
code, out, cut = run_snippet("yes")              # gigabytes in 2 s: 1 MiB kept
print(code, len(out), cut)                       # timeout 1048576 True
bomb = run_snippet(":(){ :|:& };:; sleep 1; echo survived")  # a fork bomb hits pids=32
print(bomb)


async def main() -> list:
    return await asyncio.gather(*(run_snippet_async(f"echo job {n}; exit {n % 3}") for n in range(20)))


results = asyncio.run(main())
print(results[:3])                               # [(0, 'job 0\n', False), (1, 'job 1\n', False), ...]
assert results == [(n % 3, f"job {n}\n", False) for n in range(20)]
assert code == "timeout" and len(out) == 1 << 20 and cut
print("OK")
