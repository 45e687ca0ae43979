"""Cgroup features over real containers: OOM reporting, live limits, stats, pause/resume, kill(all=True)."""

import signal
import time

import pytest

import rcontainer
from rcontainer import Container

MiB = 1 << 20
# The shell keeps 100 MB of command substitution output in memory: far over a 32M limit.
HOG = "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo ${#x}"
BUSY = "echo ready; while :; do :; done"


def started(args, **kw):
    c = Container.create(["sh", "-c", args], stdout=rcontainer.PIPE, **kw)
    c.start()
    return c


def test_oom_reported_by_wait_and_stats(kw):
    with Container.create(["sh", "-c", HOG], memory="32M", stdout=rcontainer.PIPE, **kw) as c:
        assert c.stats().memory_limit == 32 * MiB
        c.start()
        out, _ = c.communicate(timeout=60)
        s = c.wait()
        assert s.oom_killed, s
        assert (s.signal, s.returncode) == (signal.SIGKILL, -9)
        assert out == b""  # the shell itself was the victim
        st = c.stats()  # the cgroup stays until delete()
        assert st.oom_kills >= 1 and st.memory_limit == 32 * MiB
        assert 0 < st.memory_peak <= 32 * MiB or st.memory_peak == 0


def test_run_reports_oom(kw):
    r = rcontainer.run(["sh", "-c", HOG], memory="32M", capture_output=True, **kw)
    assert r.oom_killed and r.returncode == -9, r
    # The same command with room enough is not an OOM kill.
    r = rcontainer.run(["sh", "-c", HOG], memory="512M", capture_output=True, **kw)
    assert (r.oom_killed, r.returncode, r.stdout) == (False, 0, b"100000000\n"), r
    with pytest.raises(rcontainer.CalledProcessError) as e:
        rcontainer.run(["sh", "-c", HOG], memory=32 * MiB, check=True, stdout=rcontainer.DEVNULL, **kw)
    assert e.value.oom_killed and e.value.returncode == -9


def test_raising_the_limit_live_lets_a_hog_finish(kw):
    # The hog waits for a line on stdin, then allocates ~100 MB with a 32M limit in force at first.
    c = Container.create(["sh", "-c", "read go; " + HOG], memory="32M", stdin=rcontainer.PIPE, stdout=rcontainer.PIPE, **kw)
    with c:
        c.start()
        c.limit(memory="512M")
        assert c.stats().memory_limit == 512 * MiB
        out, _ = c.communicate(b"go\n", timeout=60)
        s = c.wait()
        assert (out, s) == (b"100000000\n", rcontainer.ExitStatus(0, None, False))
        assert c.stats().oom_kills == 0


def test_limit_pids_and_cpus_live(kw):
    with started(BUSY, pids=16, **kw) as c:
        assert c.stdout.readline() == b"ready\n"
        assert c.stats().pids_limit == 16
        c.limit(pids=32, cpus=0.5)
        assert c.stats().pids_limit == 32
        c.limit(pids=-1, cpus=0)  # no limit
        assert c.stats().pids_limit is None
        c.limit(memory=64 * MiB, memory_swap=-1)
        assert c.stats().memory_limit == 64 * MiB
        c.limit(memory=-1)
        assert c.stats().memory_limit is None
        c.limit()  # nothing given: nothing changes
        c.kill(signal.SIGKILL)
        assert c.wait(timeout=10).signal == signal.SIGKILL


def test_stats_move_while_busy(kw):
    with started(BUSY, **kw) as c:
        assert c.stdout.readline() == b"ready\n"
        a = c.stats()
        assert isinstance(a, rcontainer.Stats)
        time.sleep(0.5)
        b = c.stats()
        assert b.cpu_usage_ns - a.cpu_usage_ns > 100_000_000, (a, b)  # > 0.1 s of cpu in 0.5 s
        assert b.cpu_user_ns + b.cpu_system_ns > 0
        assert b.pids_current == 1 and b.pids_limit is None
        assert b.memory_usage > 0 and b.memory_limit is None and b.oom_kills == 0
        with pytest.raises(AttributeError):
            b.memory_usage = 0  # type: ignore[misc]  # frozen


def test_pause_and_resume(kw):
    with started(BUSY, **kw) as c:
        assert c.stdout.readline() == b"ready\n"
        c.pause()
        assert c.state.status == "paused"
        with pytest.raises(rcontainer.StateError):
            c.pause()
        frozen = c.stats().cpu_usage_ns
        time.sleep(0.4)
        assert c.stats().cpu_usage_ns - frozen < 10_000_000  # < 10 ms: nothing runs
        assert c.poll() is None
        c.resume()
        assert c.state.status == "running"
        with pytest.raises(rcontainer.StateError):
            c.resume()
        thawed = c.stats().cpu_usage_ns
        time.sleep(0.4)
        assert c.stats().cpu_usage_ns - thawed > 50_000_000
        c.pause()  # a paused container is still deleted (killed) by the with block
    assert c.poll() is not None


def test_kill_all_reaches_every_process(kw):
    script = "sleep 60 & sleep 60 & echo ready; wait; echo children gone"
    with started(script, **kw) as c:
        assert c.stdout.readline() == b"ready\n"
        assert c.stats().pids_current == 3
        c.kill(signal.SIGTERM, all=True)  # the init (no handler) ignores it; its children die
        out, _ = c.communicate(timeout=10)
        assert out == b"children gone\n"
        assert c.wait().code == 0
        with pytest.raises(rcontainer.StateError):
            c.kill(all=True)


def test_wrong_state(kw):
    c = Container.create(["true"], **kw)
    c.limit(memory="64M")  # created: allowed
    with pytest.raises(rcontainer.StateError):
        c.pause()  # not running yet
    c.start()
    c.wait(timeout=10)
    with pytest.raises(rcontainer.StateError):
        c.limit(memory="64M")  # stopped
    with pytest.raises(rcontainer.StateError):
        c.pause()
    assert c.stats().pids_current == 0  # readable until delete()
    c.delete()
    with pytest.raises(rcontainer.StateError) as e:
        c.limit(memory="64M")
    assert c.id in str(e.value)
    with pytest.raises(rcontainer.NotFoundError):
        c.stats()
    with pytest.raises(rcontainer.StateError):
        c.resume()


@pytest.mark.parametrize("field,kwargs", [
    ("memory", {"memory": "-5M"}),
    ("memory", {"memory": "lots"}),
    ("memory", {"memory": 0}),
    ("memory", {"memory": -7}),
    ("memory_swap", {"memory_swap": "-2"}),
    ("cpus", {"cpus": -1}),
    ("cpus", {"cpus": float("nan")}),
    ("pids", {"pids": -5}),
    ("pids", {"pids": 0}),
])
def test_bad_limit_values(kw, field, kwargs):
    with Container.create(["true"], memory="64M", pids=8, **kw) as c:
        with pytest.raises(rcontainer.ConfigError) as e:
            c.limit(**kwargs)
        assert isinstance(e.value, ValueError)
        assert f"{field} = " in str(e.value), str(e.value)
        st = c.stats()  # unchanged
        assert (st.memory_limit, st.pids_limit) == (64 * MiB, 8)


@pytest.mark.parametrize("field,kwargs", [
    ("memory", {"memory": "-5M"}),
    ("memory", {"memory": "0"}),
    ("cpus", {"cpus": -1}),
    ("pids", {"pids": 0}),  # -1 is no limit, as for the command and Node (core's one rule)
    ("pids", {"pids": -2}),
    ("memory_swap", {"memory_swap": "0"}),
])
def test_bad_create_limits(kw, field, kwargs):
    with pytest.raises(ValueError) as e:
        Container.create(["true"], **kwargs, **kw)
    assert isinstance(e.value, rcontainer.ConfigError)
    assert f"{field} = " in str(e.value), str(e.value)


def test_limit_argument_types(kw):
    with Container.create(["true"], **kw) as c:
        with pytest.raises(TypeError):
            c.limit(pids="many")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            c.limit(memory=1.5)  # type: ignore[arg-type]


def test_create_takes_the_same_limits_as_the_command_and_node(kw):
    # One definition of the options (core's): memory_swap exists here too, -1 means no limit,
    # and the same bad values are refused, naming the option as Python spells it.
    r = rcontainer.run(["cat", "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", "/sys/fs/cgroup/pids/pids.max"],
                       memory="32M", memory_swap="64M", pids=-1, capture_output=True, text=True,
                       namespaces=["pid", "mount", "ipc", "uts", "network"], **kw)
    if r.returncode != 0 and "memsw" in r.stderr:
        pytest.skip("no swap accounting on this kernel (memory.memsw.*)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [str(64 << 20), "max"]
    with pytest.raises(rcontainer.ConfigError, match=r"memory_swap = 16777216: is memory plus swap: it must not be below memory"):
        rcontainer.run(["true"], memory="32M", memory_swap="16M", **kw)
    with pytest.raises(rcontainer.ConfigError, match=r"pids = 0"):
        rcontainer.run(["true"], pids=0, **kw)
