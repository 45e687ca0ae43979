"""rcontainer from Python in ten lines (the example of bindings-python/README.md): run a command in a container,
manage one by hand, see an OOM kill."""
import rcontainer

r = rcontainer.run(["sh", "-c", "hostname; echo $$; ls /sys/class/net"], capture_output=True, text=True, hostname="demo", memory="64M")
print(r.returncode, r.stdout.split())  # 0 ['demo', '1', 'lo']: own hostname, pid 1, no network
with rcontainer.Container.create(["sh", "-c", "while :; do :; done"], memory="32M", pids=16) as c:  # deleted (killed) on exit
    c.start()
    c.limit(memory="64M", cpus=0.5)  # live: raise memory, cap cpu at half a core
    c.pause()                        # frozen; c.resume() thaws
    print(c.state.status, c.stats())  # paused Stats(memory_usage=..., cpu_usage_ns=..., pids_current=1, ...)
oom = rcontainer.run(["sh", "-c", "x=$(head -c 99999999 /dev/zero | tr '\\0' a)"], memory="32M")  # a 100 MB string
print(oom.returncode, oom.oom_killed)  # -9 True: the kernel's OOM killer ended it

assert r.stdout.split() == ["demo", "1", "lo"], r
assert (oom.returncode, oom.oom_killed) == (-9, True), oom
print("OK")
