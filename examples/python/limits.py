"""Limits from Python: an OOM kill reported as such, a limit raised live, usage read, a container paused."""
import time

import rcontainer

HOG = "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo ${#x} bytes"  # holds ~100 MB

r = rcontainer.run(["sh", "-c", HOG], memory="32M", capture_output=True)
print("32M:", r.returncode, "oom_killed" if r.oom_killed else "")  # -9 oom_killed

with rcontainer.Container.create(["sh", "-c", "read go; " + HOG], memory="32M", stdin=rcontainer.PIPE, stdout=rcontainer.PIPE) as c:
    c.start()
    c.limit(memory="512M")  # raised before the hog allocates
    out, _ = c.communicate(b"go\n", timeout=60)
    print("raised to 512M:", out.decode().strip(), c.wait(), c.stats().memory_peak >> 20, "MiB peak")

with rcontainer.Container.create(["sh", "-c", "while :; do :; done"], cpus=0.5) as c:
    c.start()
    time.sleep(0.5)
    c.pause()
    used = c.stats().cpu_usage_ns
    time.sleep(0.3)
    print(c.state.status, "cpu while paused:", (c.stats().cpu_usage_ns - used) // 1000, "us")
    c.resume()
    busy = c.stats().cpu_usage_ns / 1e9

assert r.oom_killed and r.returncode == -9 and out == b"100000000 bytes\n" and 0 < busy < 0.45
print("OK")
