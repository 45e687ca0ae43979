"""rcontainer from Python in ten lines: run a command in a container, then manage one by hand."""
import signal

import rcontainer

r = rcontainer.run(["sh", "-c", "hostname; echo $$; ls /sys/class/net"], capture_output=True, text=True, hostname="demo", memory="64M")
print(r.returncode, r.stdout.split())  # 0 ['demo', '1', 'lo']: own hostname, pid 1, no network
with rcontainer.Container.create(["sleep", "30"], pids=16) as c:  # deleted (killed) on exit
    c.start()
    c.kill(signal.SIGKILL)
    print(c.id, c.wait())  # ExitStatus(code=None, signal=9, oom_killed=False)

assert r.stdout.split() == ["demo", "1", "lo"]
print("OK")
