"""Container: lifecycle, exceptions, threads, asyncio, garbage collection."""

import asyncio
import errno
import gc
import os
import select
import signal
import threading
import time

import pytest

import rcontainer
from rcontainer import Container


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_lifecycle(kw):
    c = Container.create(["sh", "-c", "read x; exit 5"], stdin=rcontainer.PIPE, stdout=rcontainer.DEVNULL, **kw)
    try:
        assert c.id.startswith("rc-") and c.pid > 0 and repr(c).startswith("<rcontainer.Container")
        st = c.state
        assert (st.id, st.status, st.pid) == (c.id, "created", c.pid)
        assert os.path.isdir(os.path.join(kw["root"], c.id))
        c.start()
        assert c.state.status == "running"
        assert c.poll() is None
        with pytest.raises(rcontainer.ContainerTimeoutError):
            c.wait(timeout=0.1)
        c.stdin.write(b"go\n")
        c.stdin.close()
        s = c.wait()
        assert s == rcontainer.ExitStatus(5, None, False)
        assert (s.returncode, s.exit_code, s.success) == (5, 5, False)
        assert c.wait() == s and c.poll() == s
        assert c.state.status == "stopped"
    finally:
        c.delete(force=True)
    assert not os.path.exists(os.path.join(kw["root"], c.id))
    c.delete()  # twice: harmless
    c.delete(force=True)


def test_name_and_pipes(kw):
    with Container.create(["sh", "-c", "echo o; echo e >&2"], name="py-named", stdout=rcontainer.PIPE, stderr=rcontainer.STDOUT, **kw) as c:
        assert c.id == "py-named"
        with pytest.raises(rcontainer.ContainerExistsError) as e:
            Container.create(["true"], name="py-named", **kw)
        assert e.value.errno == errno.EEXIST and isinstance(e.value, FileExistsError)
        c.start()
        out, err = c.communicate(timeout=10)
        assert (out, err) == (b"o\ne\n", None)
    assert c.wait().code == 0


def test_kill_and_signals(kw):
    with Container.create(["sleep", "60"], **kw) as c:
        c.start()
        c.kill(signal.SIGKILL)
        s = c.wait(timeout=10)
        assert (s.code, s.signal, s.returncode, s.exit_code) == (None, signal.SIGKILL, -9, 137)
        with pytest.raises(rcontainer.StateError):
            c.kill()
    # An init with a handler gets SIGTERM (the default).
    script = "trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done"
    with Container.create(["sh", "-c", script], stdout=rcontainer.PIPE, **kw) as c:
        c.start()
        assert c.stdout.readline() == b"ready\n"
        c.kill()
        assert c.wait(timeout=10).code == 7


def test_bad_configuration_raises_value_errors(kw, tmp_path):
    bad = [
        dict(args=[]),
        dict(args=["true"], rootfs=str(tmp_path / "missing")),
        dict(args=["true"], network="bridge"),
        dict(args=["true"], namespaces=["bogus"]),
        dict(args=["true"], memory="12Q"),
        dict(args=["true"], memory=-5),
        dict(args=["true"], cpus=0),
        dict(args=["true"], pids=0),
        dict(args=["true"], name="a/b"),
        dict(args=["true"], uid_map="1:2"),
        dict(args=["true"], env=["NOEQUALS"]),
        dict(args=["true"], user="x"),
        dict(args=["true"], mounts=["just-one"]),
        dict(args=["true"], cwd="relative"),
        dict(args=["true"], spec="{not json"),
        dict(args=["true"], spec={"ociVersion": "0.9"}),
        dict(args=["true"], root="relative/root"),
    ]
    for k in bad:
        with pytest.raises(rcontainer.ConfigError) as e:
            Container.create(**{"root": kw["root"], **k})
        assert isinstance(e.value, ValueError) and isinstance(e.value, rcontainer.ContainerError), k
        assert str(e.value), k
    with pytest.raises(TypeError):
        Container.create(["true"], stdout=object(), **kw)
    with pytest.raises(TypeError):
        Container()


def test_os_errors_carry_errno(kw):
    with pytest.raises(rcontainer.ContainerOSError) as e:
        c = Container.create(["/no/such/command"], **kw)
        c.start()
    assert e.value.errno == errno.ENOENT
    assert isinstance(e.value, FileNotFoundError) and isinstance(e.value, OSError)
    assert "/no/such/command" in str(e.value)


def test_wrong_state_raises_state_error(kw):
    c = Container.create(["sleep", "60"], **kw)
    with pytest.raises(rcontainer.StateError):
        c.delete()  # running (created) without force
    c.start()
    with pytest.raises(rcontainer.StateError):
        c.start()
    c.delete(force=True)
    for call in (c.start, c.kill, lambda: c.state, c.fileno):
        with pytest.raises(rcontainer.StateError):
            call()
    with pytest.raises(rcontainer.NotFoundError):
        c.state
    assert c.wait().signal == signal.SIGKILL  # the status stays known


def test_fileno_is_a_pollable_pidfd(kw):
    with Container.create(["sh", "-c", "sleep 0.2"], **kw) as c:
        c.start()
        fd = c.fileno()
        assert select.select([fd], [], [], 0)[0] == []
        assert select.select([fd], [], [], 10)[0] == [fd]
        assert c.wait(timeout=0).code == 0


def test_context_manager_deletes_on_error(kw):
    with pytest.raises(RuntimeError):
        with Container.create(["sleep", "60"], **kw) as c:
            c.start()
            pid = c.pid
            raise RuntimeError("boom")
    assert not alive(pid)
    assert not os.path.exists(os.path.join(kw["root"], c.id))


def test_garbage_collected_container_is_killed_and_deleted(kw):
    c = Container.create(["sleep", "60"], **kw)
    c.start()
    pid, cid = c.pid, c.id
    cgroups = open(f"/proc/{pid}/cgroup").read()
    assert alive(pid)
    del c
    gc.collect()
    assert not alive(pid)
    assert not os.path.exists(os.path.join(kw["root"], cid))
    # Its cgroup (if the core made one, named after the id) is gone too.
    for line in cgroups.splitlines():
        _, controllers, path = line.split(":", 2)
        if cid in path:
            base = "/sys/fs/cgroup/unified" if controllers == "" and os.path.isdir("/sys/fs/cgroup/unified") else "/sys/fs/cgroup"
            sub = controllers.split(",")[0].replace("name=", "") if controllers else ""
            if controllers and os.path.isdir(os.path.join("/sys/fs/cgroup", sub)):
                base = os.path.join("/sys/fs/cgroup", sub)
            assert not os.path.exists(base + path), f"cgroup {base + path} leaked"
    # A created (never started) one too.
    c = Container.create(["true"], **kw)
    pid = c.pid
    del c
    gc.collect()
    assert not alive(pid)


def test_gil_released_and_handle_shared_by_threads(kw):
    with Container.create(["sleep", "60"], **kw) as c:
        c.start()
        result = {}
        t = threading.Thread(target=lambda: result.setdefault("s", c.wait()))
        t.start()
        # The waiting thread holds neither the GIL nor the handle's lock: we count, then kill.
        n, end = 0, time.monotonic() + 0.3
        while time.monotonic() < end:
            n += 1
        assert n > 10000
        c.kill(signal.SIGKILL)
        t.join(10)
        assert not t.is_alive() and result["s"].signal == signal.SIGKILL


def test_threads_run_concurrently(kw):
    # 8 threads x 20 run() calls at once.
    errors, outputs = [], []

    def worker(t):
        try:
            for i in range(20):
                r = rcontainer.run(["sh", "-c", "echo $0-$1", str(t), str(i)], capture_output=True, **kw)
                outputs.append((r.returncode, r.stdout))
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert sorted(outputs) == sorted((0, f"{t}-{i}\n".encode()) for t in range(8) for i in range(20))


def test_asyncio_gather_50(kw):
    async def main():
        cs = [Container.create(["sh", "-c", f"sleep 0.{i % 5}; exit {i % 7}"], **kw) for i in range(50)]
        try:
            for c in cs:
                c.start()
            threads = threading.active_count()
            statuses = await asyncio.wait_for(asyncio.gather(*(c.wait_async() for c in cs)), 60)
            assert threading.active_count() == threads  # no thread per container
            return [s.code for s in statuses]
        finally:
            for c in cs:
                c.delete(force=True)

    assert asyncio.run(main()) == [i % 7 for i in range(50)]


def test_wait_async_twice_and_cancel(kw):
    async def main():
        with Container.create(["sleep", "60"], **kw) as c:
            c.start()
            waiter = asyncio.ensure_future(c.wait_async())
            await asyncio.sleep(0.05)
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
            a, b = c.wait_async(), c.wait_async()
            asyncio.get_running_loop().call_later(0.1, c.kill, signal.SIGKILL)
            sa, sb = await asyncio.gather(a, b)
            assert sa == sb and sa.signal == signal.SIGKILL
            assert (await c.wait_async()) == sa

    asyncio.run(main())


def test_fork_child_does_not_kill_parents_containers(kw):
    with Container.create(["sleep", "60"], **kw) as c:
        c.start()
        pid = os.fork()
        if pid == 0:  # the child drops its copy of the handle, then exits through atexit
            try:
                del c
                gc.collect()
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        assert alive(c.pid) and c.state.status == "running"
