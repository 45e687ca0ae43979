#!/usr/bin/env python3
"""Runs a command on a new pseudo-terminal, as a user's terminal would: the pty is its stdio and
controlling terminal, of a given size. Prints everything the terminal showed, then exits with the
command's status.

usage: pty.py ROWS COLS [--resize-after TEXT ROWS COLS] [--type-after TEXT KEYS] -- CMD [ARGS...]
  --resize-after TEXT R C  once TEXT has been shown, resize the terminal to R x C (the command
                           then gets SIGWINCH, as from a window manager)
  --type-after TEXT KEYS   once TEXT has been shown, type KEYS (Python escapes: \\x03 is Ctrl-C)
Times out after 60 s (status 124).
"""
import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import time


def main():
    args = sys.argv[1:]
    rows, cols = int(args[0]), int(args[1])
    args = args[2:]
    actions = []
    while args and args[0] != "--":
        if args[0] == "--resize-after":
            actions.append(("resize", args[1], (int(args[2]), int(args[3]))))
            args = args[4:]
        elif args[0] == "--type-after":
            actions.append(("type", args[1], args[2].encode().decode("unicode_escape").encode("latin-1")))
            args = args[3:]
        else:
            sys.exit(f"pty.py: unknown option {args[0]}")
    cmd = args[1:]
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def session():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    p = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, preexec_fn=session)
    os.close(slave)
    seen = b""
    deadline = time.time() + 60
    while time.time() < deadline:
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            try:
                data = os.read(master, 4096)
            except OSError:
                break
            if not data:
                break
            seen += data
        elif p.poll() is not None:
            break
        for a in list(actions):
            kind, marker, value = a
            if marker.encode() in seen:
                actions.remove(a)
                if kind == "resize":
                    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", value[0], value[1], 0, 0))
                else:
                    os.write(master, value)
    else:
        p.kill()
        sys.stdout.write(seen.decode(errors="replace"))
        sys.exit(124)
    status = p.wait(timeout=30)
    sys.stdout.write(seen.decode(errors="replace"))
    sys.exit(status if status >= 0 else 128 - status)


if __name__ == "__main__":
    main()
