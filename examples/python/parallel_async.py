"""Many sandboxed jobs at once with asyncio: each container's pidfd is watched by the event loop
(no thread per container); each job has its own limits and is deleted when done."""
import asyncio

import rcontainer


async def job(n: int) -> str:
    cmd = ["sh", "-c", f"echo job {n}: host $(hostname), pid $$; exit {n % 3}"]
    with rcontainer.Container.create(cmd, hostname=f"job{n}", stdout=rcontainer.PIPE, memory="32M", cpus=0.5, pids=32) as c:
        c.start()
        status = await c.wait_async()
        return f"{c.stdout.read().decode().strip()} -> exit {status.code}"


async def main() -> None:
    results = await asyncio.gather(*(job(n) for n in range(20)))
    print("\n".join(results))
    assert all(r.endswith(f"exit {n % 3}") and f"host job{n}, pid 1" in r for n, r in enumerate(results))
    print("OK")


asyncio.run(main())
