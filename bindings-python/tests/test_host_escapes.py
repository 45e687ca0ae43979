"""Escapes towards the host that go through the Python host itself: its terminal and its binary.

The terminal: a process whose controlling terminal is a pty (made here) calls rcontainer.run()
with inherited stdio; the container tries to push a command line into that terminal's input with
TIOCSTI. The input queue must stay empty."""

import fcntl
import os
import select
import struct
import subprocess
import sys
import termios

INJECT = r"""
import fcntl, termios
for fd in (0, 1, 2):
    for steal in (False, True):
        try:
            if steal:
                fcntl.ioctl(fd, termios.TIOCSCTTY, 1)
            for c in b"echo INJECTED\n":
                fcntl.ioctl(fd, termios.TIOCSTI, bytes([c]))
            print("fd", fd, "steal", steal, "INJECTED-OK", flush=True)
        except OSError as e:
            print("fd", fd, "steal", steal, "refused", e.errno, flush=True)
"""


def _run_on_pty(code):
    """Runs `python -c code` with a new pty as its stdio and controlling terminal; returns its
    exit status, what it printed, and the bytes left in the terminal's input queue."""
    master, slave = os.openpty()

    def become_session_leader_of_the_pty():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    p = subprocess.Popen([sys.executable, "-c", code], stdin=slave, stdout=slave, stderr=slave, preexec_fn=become_session_leader_of_the_pty)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                out += os.read(master, 4096)
            except OSError:
                break
        elif p.poll() is not None:
            break
    p.wait(timeout=60)
    pending = struct.unpack("i", fcntl.ioctl(slave, termios.FIONREAD, b"\0\0\0\0"))[0]
    os.close(master)
    os.close(slave)
    return p.returncode, out.decode(errors="replace"), pending


def test_run_with_inherited_stdio_does_not_hand_the_terminal_to_the_container(kw):
    code = (
        "import rcontainer\n"
        f"r = rcontainer.run(['python3', '-c', {INJECT!r}], root={kw['root']!r})\n"
        "print('returncode', r.returncode, flush=True)\n"
        f"r = rcontainer.run(['sh', '-c', 'exit 7'], root={kw['root']!r})\n"
        "print('exit7', r.returncode, flush=True)\n"
    )
    rc, out, pending = _run_on_pty(code)
    assert rc == 0, out
    assert "fd 0 steal False" in out, f"the injection did not run:\n{out}"
    assert "INJECTED-OK" not in out, f"TIOCSTI reached the caller's terminal:\n{out}"
    assert pending == 0, f"input was pushed into the caller's terminal:\n{out}"
    assert "exit7 7" in out, out


def test_the_container_cannot_run_the_host_python_through_proc_self_exe(kw):
    """The host program here is python itself: a container naming /proc/self/exe must not run
    it (the exec stub runs instead, and exits 127)."""
    import rcontainer

    r = rcontainer.run(["/proc/self/exe", "-c", "print('HOST PYTHON RAN')"], capture_output=True, text=True, **kw)
    assert "HOST PYTHON RAN" not in r.stdout, r
    assert r.returncode == 127, r
