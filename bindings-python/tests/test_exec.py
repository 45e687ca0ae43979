"""Container.exec: a command run inside a live container, as docker exec does. Its output, exit
status, kill, asyncio wait, the container's defaults, and the errors of a stopped, paused or
deleted container."""

import asyncio
import gc
import os
import signal

import pytest

import rcontainer
from rcontainer import Container


def alive(pid):
    """Whether `pid` runs (a zombie does not count)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def exists(pid):
    return os.path.exists(f"/proc/{pid}")


@pytest.fixture
def box(kw):
    """A running container (sleep) whose own process has FOO in its environment and /tmp as cwd."""
    with Container.create(["sleep", "600"], env={"FOO": "from-the-container"}, cwd="/tmp", hostname="execbox", **kw) as c:
        c.start()
        yield c


def test_output_status_and_the_containers_defaults(box):
    p = box.exec(["sh", "-c", "echo $FOO:$BAR:$(pwd):$(id -u):$(hostname):$$; echo err >&2; exit 3"],
                 env={"BAR": "bar"}, stdout=rcontainer.PIPE, stderr=rcontainer.PIPE)
    assert isinstance(p, rcontainer.Process) and p.pid > 0 and p.container_id == box.id
    assert p.args == ["sh", "-c", "echo $FOO:$BAR:$(pwd):$(id -u):$(hostname):$$; echo err >&2; exit 3"]
    assert repr(p).startswith("<rcontainer.Process pid=")
    out, err = p.communicate(timeout=20)
    foo, bar, cwd, uid, host, pid = out.decode().strip().split(":")
    assert (foo, bar, cwd, uid, host) == ("from-the-container", "bar", "/tmp", "0", "execbox")
    assert 1 < int(pid) < 100, "not in the container's pid namespace"
    assert err == b"err\n"
    s = p.wait()
    assert s == rcontainer.ExitStatus(3, None, False)
    assert p.returncode == 3 and p.poll() == s
    # The container is untouched.
    assert box.state.status == "running"


def test_env_cwd_user_override_and_stdout_to_stderr(box):
    p = box.exec(["sh", "-c", "echo $FOO; pwd; id -u; id -g; echo to-stderr >&2"], env=["FOO=mine"], cwd="/", user="65534:65534",
                 stdout=rcontainer.PIPE, stderr=rcontainer.STDOUT)
    out, err = p.communicate(timeout=20)
    assert out.decode().split() == ["mine", "/", "65534", "65534", "to-stderr"]
    assert err is None
    assert p.wait().code == 0


def test_input_and_a_file_as_stdout(box, tmp_path):
    p = box.exec(["cat"], stdin=rcontainer.PIPE, stdout=rcontainer.PIPE)
    out, _ = p.communicate(b"typed in\n", timeout=20)
    assert out == b"typed in\n" and p.wait().code == 0
    path = tmp_path / "out"
    with open(path, "wb") as f:
        assert box.exec(["echo", "to a file"], stdout=f).wait(timeout=20).code == 0
    assert path.read_bytes() == b"to a file\n"


def test_kill_timeout_and_poll(box):
    p = box.exec(["sleep", "600"])
    assert alive(p.pid)
    assert p.poll() is None and p.returncode is None
    with pytest.raises(rcontainer.ContainerTimeoutError) as e:
        p.wait(timeout=0.1)
    assert isinstance(e.value, TimeoutError) and "still running" in str(e.value)
    p.kill(signal.SIGKILL)
    s = p.wait(timeout=10)
    assert (s.code, s.signal, s.returncode, s.exit_code) == (None, signal.SIGKILL, -9, 137)
    assert p.returncode == -9
    assert not exists(p.pid), "reaped: no zombie left"
    with pytest.raises(rcontainer.StateError):
        p.kill()
    # SIGTERM by default: a shell with a handler gets it.
    p = box.exec(["sh", "-c", "trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done"], stdout=rcontainer.PIPE)
    assert p.stdout.readline() == b"ready\n"
    p.kill()
    assert p.wait(timeout=10).code == 7
    p.close()


def test_wait_async(box):
    async def main():
        procs = [box.exec(["sh", "-c", f"sleep 0.{i}; exit {i}"]) for i in range(1, 4)]
        return await asyncio.wait_for(asyncio.gather(*(p.wait_async() for p in procs)), 20)

    statuses = asyncio.run(main())
    assert [s.code for s in statuses] == [1, 2, 3]


def test_the_pidfd_is_pollable(box):
    import select

    p = box.exec(["sh", "-c", "sleep 0.2"])
    r, _, _ = select.select([p.fileno()], [], [], 20)
    assert r == [p.fileno()]
    assert p.poll().code == 0
    with pytest.raises(rcontainer.StateError):
        p.fileno()  # reaped: no pidfd any more


def test_exec_into_a_created_container(kw):
    with Container.create(["sleep", "600"], **kw) as c:
        p = c.exec(["sh", "-c", "echo $$"], stdout=rcontainer.PIPE)
        out, _ = p.communicate(timeout=20)
        assert int(out) > 1 and p.wait().code == 0
        assert c.state.status == "created"


def test_a_missing_command_and_bad_arguments(box):
    with pytest.raises(FileNotFoundError) as e:
        box.exec(["/no/such/command"])
    assert isinstance(e.value, rcontainer.ContainerOSError) and "/no/such/command" in str(e.value)
    with pytest.raises(rcontainer.ConfigError):
        box.exec([])
    with pytest.raises(rcontainer.ConfigError):
        box.exec(["true"], cwd="relative/dir")
    with pytest.raises(rcontainer.ConfigError):
        box.exec(["true"], env={"A=B": "x"})
    with pytest.raises(rcontainer.ConfigError):
        box.exec(["true"], tty=True, stdout=rcontainer.PIPE)
    with pytest.raises(rcontainer.ConfigError):
        box.exec(["true"], tty_size=(24, 80))


def test_exec_into_a_paused_stopped_or_deleted_container_raises(kw):
    c = Container.create(["sleep", "600"], **kw)
    try:
        c.start()
        c.pause()
        with pytest.raises(rcontainer.StateError, match="paused"):
            c.exec(["true"])
        c.resume()
        c.kill(signal.SIGKILL)
        c.wait(timeout=10)
        with pytest.raises(rcontainer.StateError, match="stopped"):
            c.exec(["true"])
    finally:
        c.delete(force=True)
    with pytest.raises(rcontainer.NotFoundError):
        c.exec(["true"])


def test_the_process_is_killed_and_reaped_on_exit_and_when_collected(box):
    with box.exec(["sleep", "600"], stdout=rcontainer.PIPE) as p:
        pid = p.pid
        assert alive(pid)
    assert not exists(pid) and p.stdout.closed
    assert p.poll().signal == signal.SIGKILL
    p = box.exec(["sleep", "600"])
    pid = p.pid
    del p
    gc.collect()
    assert not exists(pid), "a collected Process must not leave its process (or a zombie) behind"


def test_deleting_the_container_ends_its_processes(kw):
    c = Container.create(["sleep", "600"], **kw)
    c.start()
    p = c.exec(["sleep", "600"])
    c.delete(force=True)
    assert p.wait(timeout=10).signal == signal.SIGKILL
