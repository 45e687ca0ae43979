"""rcontainer.run(): output, options, defaults."""

import os
import re
import signal

import pytest

import rcontainer


def test_run_captures_exit_code_stdout_stderr(kw):
    r = rcontainer.run(["sh", "-c", "echo out; echo err >&2; exit 3"], capture_output=True, **kw)
    assert (r.returncode, r.stdout, r.stderr, r.oom_killed) == (3, b"out\n", b"err\n", False)
    assert r.args == ["sh", "-c", "echo out; echo err >&2; exit 3"]
    with pytest.raises(rcontainer.CalledProcessError) as e:
        r.check_returncode()
    assert e.value.returncode == 3


def test_run_defaults_match_the_command_line(kw):
    # hostname = id, pid 1, only lo, Docker's capability set, no_new_privs, seccomp, read-only /usr.
    script = "hostname; echo $$; ls /sys/class/net; grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status; touch /usr/x 2>/dev/null || echo ro"
    r = rcontainer.run(["sh", "-c", script], capture_output=True, text=True, **kw)
    lines = r.stdout.split("\n")
    assert r.returncode == 0, r.stderr
    assert lines[0] == r.id and r.id.startswith("rc-")
    assert lines[1] == "1"
    assert lines[2] == "lo"
    assert lines[3].split() == ["CapEff:", "00000000a80425fb"]  # docker's default set
    assert lines[4].split() == ["NoNewPrivs:", "1"]
    assert lines[5].split() == ["Seccomp:", "2"]  # docker's default profile
    assert lines[6] == "ro"


def test_run_options(kw, tmp_path):
    (tmp_path / "f").write_text("from host\n")
    r = rcontainer.run(
        ["sh", "-c", 'hostname; echo "$FOO $BAR"; pwd; id -u; id -g'],
        capture_output=True, text=True, hostname="box", env={"FOO": "1"}, cwd="/tmp", user=(1000, 1001), **kw,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:5] == ["box", "1 ", "/tmp", "1000", "1001"]
    r = rcontainer.run(["sh", "-c", "cat /data/f; touch /data/g 2>/dev/null || echo ro"], capture_output=True, text=True,
                       mounts=[(tmp_path, "/data", True)], **kw)
    assert r.stdout == "from host\nro\n", r.stderr
    r = rcontainer.run(["sh", "-c", "echo $BAR; id -u"], capture_output=True, env=["BAR=2"], user="7", **kw)
    assert r.stdout == b"2\n7\n"
    r = rcontainer.run(["cat", "/data/f"], capture_output=True, mounts=[f"{tmp_path}:/data"], **kw)
    assert r.stdout == b"from host\n"
    oci_mount = {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]}
    r = rcontainer.run(["sh", "-c", "grep /scratch /proc/mounts | cut -d' ' -f3"], capture_output=True, mounts=[oci_mount], **kw)
    assert r.stdout == b"tmpfs\n"


def test_network_and_namespaces(kw):
    host_ifaces = sorted(os.listdir("/sys/class/net"))
    r = rcontainer.run(["ls", "/sys/class/net"], capture_output=True, text=True, network="host", **kw)
    assert sorted(r.stdout.split()) == host_ifaces
    # Only a mount namespace (plus the private network one): the host's pid namespace and hostname.
    r = rcontainer.run(["sh", "-c", "echo $$; hostname"], capture_output=True, text=True, namespaces=["mount"], **kw)
    pid, hostname = r.stdout.split()
    assert pid != "1" and hostname == os.uname().nodename


def test_user_namespace(kw):
    r = rcontainer.run(["sh", "-c", "id -u; cat /proc/self/uid_map"], capture_output=True, text=True,
                       uid_map="0:100000:65536", **kw)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split("\n")
    assert lines[0] == "0" and lines[1].split() == ["0", "100000", "65536"]
    r = rcontainer.run(["id", "-u"], capture_output=True, uid_map=[(0, 200000, 1000)], gid_map=["0:200000:1000"], **kw)
    assert r.stdout == b"0\n", r.stderr


def test_whole_oci_spec(kw):
    spec = {
        "ociVersion": "1.0.2",
        "process": {"args": ["sh", "-c", "hostname; echo $X"], "cwd": "/", "user": {"uid": 0, "gid": 0},
                    "env": ["PATH=/usr/bin:/bin", "X=from-spec"]},
        "hostname": "spec-host",
        "linux": {"namespaces": [{"type": "mount"}, {"type": "uts"}, {"type": "pid"}]},
    }
    r = rcontainer.run(None, capture_output=True, spec=spec, **kw)
    assert (r.returncode, r.stdout) == (0, b"spec-host\nfrom-spec\n"), r.stderr
    import json
    r = rcontainer.run(["hostname"], capture_output=True, spec=json.dumps(spec), hostname="override", **kw)
    assert r.stdout == b"override\n"


def test_rootfs(kw, tmp_path):
    busybox = "/bin/busybox"
    if not os.path.exists(busybox):
        pytest.skip("needs /bin/busybox (apt-get install busybox-static) for a root filesystem")
    root = tmp_path / "rootfs"
    (root / "bin").mkdir(parents=True)
    for d in ("proc", "dev", "sys", "tmp"):
        (root / d).mkdir()
    import shutil
    shutil.copy(busybox, root / "bin" / "busybox")
    os.symlink("busybox", root / "bin" / "sh")
    r = rcontainer.run(["/bin/sh", "-c", "/bin/busybox ls /bin; echo hi > /tmp/x && /bin/busybox cat /tmp/x"],
                       capture_output=True, rootfs=root, **kw)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [b"busybox", b"sh", b"hi"]


def test_limits_are_accepted(kw):
    # Effects are checked by the cgroup tests of the core; here: the arguments get through.
    r = rcontainer.run(["true"], memory="64M", cpus=0.5, pids=64, **kw)
    assert r.returncode == 0
    r = rcontainer.run(["true"], memory=64 << 20, **kw)
    assert r.returncode == 0


def test_input_text_and_timeout(kw):
    r = rcontainer.run(["tr", "a-z", "A-Z"], input="hello", capture_output=True, text=True, **kw)
    assert r.stdout == "HELLO"
    with pytest.raises(rcontainer.ContainerTimeoutError) as e:
        rcontainer.run(["sh", "-c", "echo partial; exec sleep 30"], capture_output=True, timeout=0.5, **kw)
    assert isinstance(e.value, TimeoutError) and e.value.stdout == b"partial\n"
    # The run's result as well, as execa's timedOut: how it ended and the partial output.
    r = e.value.result
    assert (r.timed_out, r.returncode, r.stdout, r.id) == (True, -9, b"partial\n", e.value.result.id) and r.id.startswith("rc-")
    assert rcontainer.run(["true"], **kw).timed_out is False


def test_check_raises_called_process_error(kw):
    with pytest.raises(rcontainer.CalledProcessError) as e:
        rcontainer.run(["sh", "-c", "echo no >&2; exit 4"], check=True, capture_output=True, **kw)
    import subprocess
    assert isinstance(e.value, subprocess.CalledProcessError) and isinstance(e.value, rcontainer.ContainerError)
    assert (e.value.returncode, e.value.stderr, e.value.oom_killed) == (4, b"no\n", False)


def test_killed_by_signal(kw):
    # Not a pid namespace's init (which SIGKILL from inside cannot kill): the host's pid namespace.
    r = rcontainer.run(["sh", "-c", "kill -9 $$"], namespaces=["mount"], **kw)
    assert r.returncode == -signal.SIGKILL


def test_large_output_no_deadlock(kw):
    n = 10 * 1024 * 1024
    r = rcontainer.run(["sh", "-c", f"head -c {n} /dev/zero; head -c {n} /dev/zero >&2; echo end"], capture_output=True, timeout=60, **kw)
    assert r.returncode == 0
    assert len(r.stdout) == n + 4 and r.stdout.endswith(b"end\n")
    assert len(r.stderr) == n
    data = os.urandom(n)
    r = rcontainer.run(["cat"], input=data, capture_output=True, timeout=60, **kw)
    assert r.stdout == data


def test_default_state_root():
    if os.geteuid() != 0:
        pytest.skip("needs root")
    r = rcontainer.run(["true"])
    assert r.returncode == 0
    assert not os.path.exists(os.path.join(rcontainer.DEFAULT_ROOT, r.id))


def test_run_from_a_host_with_its_stdio_closed(kw, tmp_path):
    # A daemon runs with fds 0-2 closed: every new fd then comes out as 0, 1 or 2. The container's
    # stdio (here a file that lands on fd 0) is dup'ed onto 0-2 in the container: none of the
    # runtime's own fds may sit there.
    import subprocess
    import sys

    log, result = tmp_path / "log", tmp_path / "result"
    script = f"""
import os, rcontainer
for fd in (0, 1, 2):
    os.close(fd)
with open({str(log)!r}, "w") as f:
    assert f.fileno() == 0
    r = rcontainer.run(["sh", "-c", "echo hi; echo err >&2; exit 5"], stdin=rcontainer.DEVNULL, stdout=f, stderr=f, root={kw['root']!r})
with open({str(result)!r}, "w") as f:
    f.write(str(r.returncode))
"""
    p = subprocess.run([sys.executable, "-c", script], stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert result.read_text() == "5"
    assert log.read_text() == "hi\nerr\n"


def test_captured_output_is_bounded_and_the_cut_reported(kw):
    r = rcontainer.run(["sh", "-c", "head -c 5000 /dev/zero; echo err >&2; exit 2"], capture_output=True, max_output=1000, **kw)
    assert (r.returncode, len(r.stdout), r.stdout_truncated) == (2, 1000, True)
    assert (r.stderr, r.stderr_truncated) == (b"err\n", False)
    r = rcontainer.run(["head", "-c", "1000", "/dev/zero"], capture_output=True, max_output=1000, **kw)
    assert (len(r.stdout), r.stdout_truncated) == (1000, False)
    r = rcontainer.run(["head", "-c", "1000", "/dev/zero"], capture_output=True, max_output=None, **kw)
    assert (len(r.stdout), r.stdout_truncated) == (1000, False)
    for bad in (-1, 1.5, "10", True):
        with pytest.raises(rcontainer.ConfigError, match="max_output"):
            rcontainer.run(["true"], capture_output=True, max_output=bad, **kw)


def test_a_container_printing_without_end_cannot_exhaust_the_hosts_memory(kw):
    # `yes` for 2 s writes gigabytes: by default run() keeps 16 MiB of it (this process's peak
    # memory stays far below what was written), reports the cut, and the timeout says the
    # container was killed. Measured in a process of its own (ru_maxrss is a process's peak).
    import subprocess
    import sys

    script = f"""
import resource, rcontainer
try:
    rcontainer.run(["yes"], capture_output=True, timeout=2, root={kw['root']!r})
except rcontainer.ContainerTimeoutError as e:
    print(len(e.stdout), e.stdout_truncated, e.stderr_truncated, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    print(e)
"""
    p = subprocess.run([sys.executable, "-c", script], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    first, message = p.stdout.splitlines()[:2]
    size, out_cut, err_cut, peak_kib = first.split()
    assert (int(size), out_cut, err_cut) == (rcontainer.DEFAULT_MAX_OUTPUT, "True", "False"), p.stdout
    assert int(peak_kib) < 200 * 1024, f"peak memory {int(peak_kib) // 1024} MiB while capturing yes"
    assert "timed out after 2 s and was killed" in message, message


def test_a_mount_dict_is_a_bind_mount_by_default_and_unknown_keys_are_refused(kw, tmp_path):
    # Without "type" a dict is a bind mount of a host path (it failed with ENODEV); "readonly"
    # makes it read-only (it was silently ignored: a writable mount the caller thought read-only).
    (tmp_path / "f").write_text("from host\n")
    r = rcontainer.run(
        ["sh", "-c", "cat /rw/f; echo x > /rw/g; echo y > /ro/h 2>/dev/null || echo ro"], capture_output=True, text=True,
        mounts=[{"source": tmp_path, "destination": "/rw"}, {"source": str(tmp_path), "destination": "/ro", "readonly": True}], **kw,
    )
    assert (r.returncode, r.stdout) == (0, "from host\nro\n"), r.stderr
    assert (tmp_path / "g").read_text() == "x\n" and not (tmp_path / "h").exists()
    for bad, named in (
        ({"source": str(tmp_path), "destination": "/ro", "read_only": True}, "mounts[0].read_only"),
        ({"source": str(tmp_path), "destination": "/ro", "readonly": "yes"}, "mounts[0].readonly"),
        ({"destination": "/d"}, "mounts[0].source"),
        ({"source": str(tmp_path)}, "mounts[0].destination"),
    ):
        with pytest.raises(rcontainer.ConfigError, match=re.escape(named)):
            rcontainer.run(["true"], mounts=[bad], **kw)


def test_the_sandbox_preset(kw):
    # Core's preset, as the command's --sandbox: nobody, no capabilities, a read-only root with a
    # 64 MiB /tmp, only lo, 64 processes; an argument given with it wins.
    script = "id -u; grep CapEff /proc/self/status; touch /etc/x 2>/dev/null || echo ro; echo w > /tmp/w && echo tmp-ok; ls /sys/class/net; cat /sys/fs/cgroup/pids/pids.max"
    r = rcontainer.run(["sh", "-c", script], sandbox=True, capture_output=True, text=True, **kw)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:6] == ["65534", "CapEff:\t0000000000000000", "ro", "tmp-ok", "lo", "64"], r.stdout
    r = rcontainer.run(["sh", "-c", "id -u; cat /sys/fs/cgroup/pids/pids.max"], sandbox=True, user=(1000, 1000), pids=10, capture_output=True, text=True, **kw)
    assert r.stdout.split() == ["1000", "10"], r.stderr


def test_user_by_name_from_the_containers_passwd(kw):
    # As docker run -u: names come from the container's /etc/passwd and /etc/group (here the
    # embedded default root's, the host's /etc read-only); an unknown name is a ConfigError.
    r = rcontainer.run(["sh", "-c", "id -u; id -g"], user="nobody", capture_output=True, text=True, **kw)
    assert r.stdout.split() == ["65534", "65534"], r.stderr
    r = rcontainer.run(["id", "-g"], user="nobody:daemon", capture_output=True, text=True, **kw)
    assert r.stdout.strip() == "1", r.stderr
    with pytest.raises(rcontainer.ConfigError, match="no user \"no-such-user\" in the container's /etc/passwd"):
        rcontainer.run(["true"], user="no-such-user", **kw)
