"""Terminals: a container created with tty=True, and a process exec'd with tty=True, get a pty of
the container's own devpts; the caller holds its master (`.pty`, a file object), types into it,
reads the output and resizes it (`.resize()`, seen by `stty size` inside)."""

import select
import time

import pytest

import rcontainer
from rcontainer import Container


def read_until(f, needle=None, timeout=20):
    """What the pty master `f` gives until `needle` (bytes) shows up, or until end of file
    (needle None: the terminal was closed)."""
    out = b""
    deadline = time.monotonic() + timeout
    while needle is None or needle not in out:
        left = deadline - time.monotonic()
        assert left > 0, f"timed out waiting for {needle!r}; got {out!r}"
        r, _, _ = select.select([f], [], [], left)
        if not r:
            continue
        chunk = f.read(4096)
        if not chunk:
            assert needle is None, f"end of file before {needle!r}; got {out!r}"
            break
        out += chunk
    return out


def test_a_container_with_a_terminal(kw):
    script = "tty; stty size; read line; echo got:$line; stty size; exit 4"
    with Container.create(["sh", "-c", script], tty=True, tty_size=(24, 81), **kw) as c:
        assert c.pty is not None and c.pty.isatty()
        assert c.stdin is None and c.stdout is None
        c.start()
        out = read_until(c.pty, b"24 81")
        assert b"/dev/pts/0" in out
        c.resize(30, 100)
        c.pty.write(b"hello\n")
        out += c.pty.read()  # to the end: the terminal closes when the container exits
        assert b"got:hello" in out and b"30 100" in out, out
        assert c.wait(timeout=20).code == 4
        assert c.pty.read() == b""  # stays at end of file
    assert c.pty.closed


def test_exec_with_a_terminal(kw):
    with Container.create(["sleep", "600"], **kw) as c:
        c.start()
        assert c.pty is None
        with pytest.raises(rcontainer.UnsupportedError):
            c.resize(24, 80)
        p = c.exec(["sh", "-c", "tty; stty size; read line; echo got:$line; stty size"], tty=True, tty_size=(10, 40))
        assert p.pty is not None and p.stdout is None
        out = read_until(p.pty, b"10 40")
        assert b"/dev/pts/" in out
        p.resize(12, 50)
        p.pty.write(b"typed\n")
        out += read_until(p.pty)
        assert b"got:typed" in out and b"12 50" in out, out
        assert p.wait(timeout=20).code == 0
        p.close()
        assert p.pty.closed
        # Without tty=True there is no terminal to resize.
        q = c.exec(["true"])
        assert q.pty is None
        with pytest.raises(rcontainer.UnsupportedError):
            q.resize(24, 80)
        q.wait(timeout=20)


def test_terminal_arguments_are_checked(kw):
    with pytest.raises(rcontainer.ConfigError, match="tty"):
        Container.create(["true"], tty=True, stdout=rcontainer.PIPE, **kw)
    with pytest.raises(rcontainer.ConfigError, match="tty_size"):
        Container.create(["true"], tty_size=(24, 80), **kw)
    with pytest.raises(rcontainer.ConfigError, match="tty_size"):
        Container.create(["true"], tty=True, tty_size=(0, 80), **kw)
    with pytest.raises(rcontainer.ConfigError, match="terminal"):
        rcontainer.run(["true"], tty=True, **kw)
    with Container.create(["sleep", "600"], tty=True, **kw) as c:
        with pytest.raises(rcontainer.ConfigError):
            c.resize(0, 80)
        with pytest.raises(rcontainer.ConfigError):
            c.resize(24, 70000)
