"""Rootless (issue 17): the package used by an ordinary user. tests/rootless/run.sh runs this file
as a user of its own (it has no subordinate ids there, so only the user's own uid is mapped, and
the host's cgroup layout lets an ordinary user create none); as root every test here is skipped.
Each test checks what the container or the host sees."""

import asyncio
import os
import stat

import pytest

import rcontainer

pytestmark = pytest.mark.skipif(os.geteuid() == 0, reason="ordinary-user tests: tests/rootless/run.sh runs them as a user of its own")


def test_run_pid1_and_root_inside_is_the_caller_outside():
    r = rcontainer.run(["sh", "-c", "echo $$ $(id -u); cat /proc/self/uid_map"], capture_output=True)
    assert r.returncode == 0, r.stderr
    first, second = r.stdout.decode().splitlines()[:2]
    assert first == "1 0"
    assert second.split() == ["0", str(os.geteuid()), "1"]


def test_default_state_root_is_the_users_own():
    assert rcontainer.DEFAULT_ROOT != "/run/rcontainer"
    rcontainer.run(["true"])
    st = os.stat(rcontainer.DEFAULT_ROOT)
    assert st.st_uid == os.geteuid()
    assert stat.S_IMODE(st.st_mode) == 0o700
    assert [n for n in os.listdir(rcontainer.DEFAULT_ROOT) if not n.startswith(".")] == []


def test_lifecycle_create_start_kill_wait_delete():
    c = rcontainer.Container.create(["sleep", "60"], name="rl-py-life")
    try:
        assert c.state.status == "created"
        c.start()
        assert c.state.status == "running"
        c.kill(9)
        st = c.wait(timeout=10)
        assert st.signal == 9
    finally:
        c.delete(force=True)
    assert not os.path.exists(os.path.join(rcontainer.DEFAULT_ROOT, "rl-py-life"))


def test_network_none_has_only_lo():
    r = rcontainer.run(["cat", "/proc/net/dev"], capture_output=True)
    names = [line.split(":")[0].strip() for line in r.stdout.decode().splitlines()[2:]]
    assert names == ["lo"]


def test_a_limit_is_refused_saying_why():
    with pytest.raises(rcontainer.UnsupportedError, match="delegated"):
        rcontainer.run(["true"], memory="64M")
    assert [n for n in os.listdir(rcontainer.DEFAULT_ROOT) if not n.startswith(".")] == []


def test_an_unmapped_user_is_refused():
    with pytest.raises(rcontainer.ConfigError, match="not mapped"):
        rcontainer.run(["true"], user=1000)


def test_security_defaults_hold():
    r = rcontainer.run(["sh", "-c", "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status"], capture_output=True)
    out = r.stdout.decode().split()
    assert out == ["NoNewPrivs:", "1", "Seccomp:", "2"]


def test_run_async():
    r = asyncio.run(rcontainer.run_async(["sh", "-c", "exit 3"]))
    assert r.returncode == 3
