"""rcontainer: run Linux processes in containers (namespaces, cgroups) from Python.

>>> import rcontainer
>>> r = rcontainer.run(["sh", "-c", "hostname; id -u"], capture_output=True, hostname="demo")
>>> r.returncode, r.stdout
(0, b'demo\\n0\\n')

Without ``rootfs=`` a container sees the embedded default root: a read-only view of the host's
/usr, /bin, /lib* and /etc with a fresh /proc, /dev, /tmp and /run; it gets Docker's defaults
(capability set, no_new_privileges) and private pid, mount, network, ipc, uts and cgroup
namespaces, as ``rcontainer run -- CMD`` does. As an ordinary user, containers run rootless: in a
user namespace where the caller is root, state under DEFAULT_ROOT (the user's own), and limits only
where cgroup v2 delegates a subtree to the user (else a limit raises UnsupportedError saying why).

A container can also run an image, as ``docker run IMAGE`` does: ``run(image="busybox")``
gives it a copy-on-write root over the image's layers and the image's command, environment,
working directory and user (pulled when the store lacks it); pull(), import_image(), images(),
remove_image() and prune() manage the image store.

>>> rcontainer.run(["sh", "-c", "echo $$"], image="busybox", capture_output=True).stdout
b'1\\n'

Blocking calls release the GIL; a Container may be used from several threads at once. A live
container's limits can be changed (Container.limit), its usage read (Container.stats) and its
processes frozen (pause/resume). Container.exec() runs another command inside a running container
and returns a Process (like subprocess.Popen); ``tty=True`` gives a container or a process a
terminal of its own, whose master is ``.pty`` (a file object) and whose size ``.resize()`` sets.
A container whose Container object is garbage-collected (or still alive at interpreter exit) is
killed and deleted; so is (killed and reaped) a Process.
"""

from __future__ import annotations

import asyncio
import atexit
import errno as _errno
import functools
import io
import json
import os
import re
import selectors
import signal as _signal
import subprocess
import sys
import time
import warnings
import weakref
from dataclasses import dataclass, field
from typing import IO, Any, Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Set, Tuple, Union

from . import _native
from ._errors import (
    ConfigError,
    ContainerError,
    ContainerExistsError,
    ContainerOSError,
    ContainerTimeoutError,
    NotFoundError,
    StateError,
    UnsupportedError,
)

__version__: str = _native.__version__

#: The default state root (one directory per container), as runc's ``--root``.
DEFAULT_ROOT: str = _native.DEFAULT_ROOT
#: The default image store, used when ``store=`` is None and $RCONTAINER_STORE is unset (the
#: command's and every interface's: ``rcontainer pull`` fills the same store).
DEFAULT_STORE: str = _native.DEFAULT_STORE
#: As subprocess.PIPE: give the container a pipe; the Container gets the other end.
PIPE: int = subprocess.PIPE
#: As subprocess.DEVNULL: connect the stream to /dev/null.
DEVNULL: int = subprocess.DEVNULL
#: As subprocess.STDOUT (for ``stderr=``): send stderr where stdout goes.
STDOUT: int = subprocess.STDOUT

__all__ = [
    "Container", "Process", "ExitStatus", "State", "Stats", "CompletedContainer", "run", "run_async", "DEFAULT_MAX_OUTPUT",
    "create_async", "AsyncContainer",
    "Image", "PruneReport", "pull", "import_image", "images", "remove_image", "prune",
    "PIPE", "DEVNULL", "STDOUT", "DEFAULT_ROOT", "DEFAULT_STORE",
    "ContainerError", "ConfigError", "StateError", "NotFoundError", "ContainerExistsError",
    "ContainerOSError", "ContainerTimeoutError", "UnsupportedError", "CalledProcessError",
]


class ExitStatus(NamedTuple):
    """How a container's process ended: ``code`` when it exited, ``signal`` when a signal killed
    it, ``oom_killed`` when the kernel's OOM killer did (needs a memory limit)."""

    code: Optional[int]
    signal: Optional[int]
    oom_killed: bool = False

    @property
    def returncode(self) -> int:
        """subprocess's convention: the exit code, or -N when killed by signal N."""
        if self.code is not None:
            return self.code
        if self.signal is not None:
            return -self.signal
        return 255

    @property
    def exit_code(self) -> int:
        """The shell's convention: the exit code, or 128 + N when killed by signal N."""
        if self.code is not None:
            return self.code
        if self.signal is not None:
            return 128 + self.signal
        return 255

    @property
    def success(self) -> bool:
        """Whether the process exited with code 0."""
        return self.code == 0


@dataclass(frozen=True)
class Stats:
    """A snapshot of a container's cgroup accounting, from Container.stats(). Sizes are in bytes,
    times in nanoseconds, counts cover every process of the container.

    - ``memory_usage``: memory charged now; ``memory_peak``: the highest charge seen (0 when the
      kernel does not report it); ``memory_limit``: the limit in force, None when unlimited.
    - ``cpu_usage_ns``: CPU time used on all CPUs; ``cpu_user_ns`` and ``cpu_system_ns``: its
      user-mode and kernel-mode parts.
    - ``pids_current``: processes now; ``pids_limit``: the limit, None when unlimited.
    - ``oom_kills``: how many processes the kernel's OOM killer ended in the container.
    """

    memory_usage: int
    memory_peak: int
    memory_limit: Optional[int]
    cpu_usage_ns: int
    cpu_user_ns: int
    cpu_system_ns: int
    pids_current: int
    pids_limit: Optional[int]
    oom_kills: int


@dataclass(frozen=True)
class State:
    """A container's OCI state: ``status`` is one of "created", "running", "paused", "stopped"."""

    id: str
    status: str
    pid: int
    bundle: str
    rootfs: str
    created: str
    annotations: Dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Image:
    """An image in the store, as pull(), import_image() and images() return it.

    - ``name``: how to name it to run(image=...) or remove_image(): "busybox:latest",
      "127.0.0.1:5000/tools/busybox:1.36" (Docker's short form; "repository@sha256:..." for an
      image pulled by digest).
    - ``repository`` ("busybox"), ``tag`` ("latest"; None for an image named by digest).
    - ``digest``: its manifest's digest ("sha256:...", what a registry names it by).
    - ``id``: its config's digest ("sha256:...", Docker's image id; ``short_id`` is the 12 hex
      digits ``rcontainer images`` shows).
    - ``size``: the bytes of its layers as stored (compressed); ``created``: the config's
      creation date (RFC 3339), if any.
    """

    name: str
    repository: str
    tag: Optional[str]
    digest: str
    id: str
    size: int
    created: Optional[str] = None

    @property
    def short_id(self) -> str:
        """The first 12 hex digits of ``id``, as ``rcontainer images`` and docker show it."""
        return self.id.split(":", 1)[-1][:12]


@dataclass(frozen=True)
class PruneReport:
    """What prune() (and remove_image()) removed from the store: ``blobs`` (manifests, configs,
    compressed layers), unpacked ``layers``, ``containers``' copy-on-write roots left behind,
    and the ``bytes`` freed."""

    blobs: int
    layers: int
    containers: int
    bytes: int


class CalledProcessError(ContainerError, subprocess.CalledProcessError):
    """Raised by run(check=True) when the container's process did not exit with code 0; also a
    subprocess.CalledProcessError (``returncode``, ``cmd``, ``stdout``, ``stderr``)."""

    oom_killed: bool = False


@dataclass
class CompletedContainer:
    """What run() returns, like subprocess.CompletedProcess."""

    args: List[str]
    returncode: int
    stdout: Any = None
    stderr: Any = None
    oom_killed: bool = False
    id: str = ""
    #: The output was longer than run()'s ``max_output``: only its first ``max_output`` bytes are kept.
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    #: Killed at run()'s timeout (only on ContainerTimeoutError.result: a timeout raises).
    timed_out: bool = False

    def check_returncode(self) -> None:
        """Raises CalledProcessError if the return code is not 0."""
        if self.returncode != 0:
            e = CalledProcessError(self.returncode, self.args, self.stdout, self.stderr)
            e.oom_killed = self.oom_killed
            raise e


# ---------------------------------------------------------------------------------------------
# Argument conversion (shapes only; values are checked by the core)

PathLike = Union[str, "os.PathLike[str]"]


def _new_id() -> str:
    return "rc-" + os.urandom(6).hex()


def _args(args: Any) -> Optional[List[str]]:
    if args is None:
        return None
    if isinstance(args, (str, bytes, os.PathLike)):
        args = [args]
    return [os.fsdecode(a) for a in args]


def _path(p: Any) -> Optional[str]:
    return None if p is None else os.fsdecode(p)


def _env(env: Any) -> List[Tuple[str, str]]:
    if env is None:
        return []
    if isinstance(env, Mapping):
        return [(str(k), str(v)) for k, v in env.items()]
    out = []
    for kv in env:
        k, sep, v = str(kv).partition("=")
        if not sep or not k:
            raise ConfigError(f"invalid configuration: env = {kv!r}: expected KEY=VALUE")
        out.append((k, v))
    return out


def _user_name(user: Any) -> Optional[str]:
    """``user`` when it names a user or group ("nobody", "app:staff"): the core looks the names up
    in the container's /etc/passwd and /etc/group, as docker run -u does."""
    if isinstance(user, str) and _user(user) is None:
        return user
    return None


def _user(user: Any) -> Optional[Tuple[int, int]]:
    if user is None:
        return None
    if isinstance(user, bool):
        raise TypeError("user must be a uid, a (uid, gid) pair or 'UID[:GID]'")
    if isinstance(user, int):
        return (user, user)
    if isinstance(user, str):
        u, _, g = user.partition(":")
        try:
            return (int(u), int(g or u))
        except ValueError:
            return None  # a name: looked up in the container's /etc/passwd (see _user_name)
    uid, gid = user
    return (int(uid), int(gid))


def _namespaces(ns: Any) -> Optional[List[Tuple[str, Optional[str]]]]:
    if ns is None:
        return None
    if isinstance(ns, str):
        ns = [ns]
    if isinstance(ns, Mapping):
        return [(str(k), _path(v)) for k, v in ns.items()]
    return [(str(n), None) for n in ns]


def _id_maps(m: Any) -> List[str]:
    if m is None:
        return []
    if isinstance(m, str):
        return [m]
    m = list(m)
    if len(m) == 3 and all(isinstance(x, int) for x in m):
        m = [m]
    return [x if isinstance(x, str) else ":".join(str(int(v)) for v in x) for x in m]


def _mounts(mounts: Any) -> List[Union[str, Tuple[str, str, bool]]]:
    out: List[Union[str, Tuple[str, str, bool]]] = []
    for m in mounts or ():
        if isinstance(m, Mapping):
            out.append(json.dumps(dict(m), default=os.fspath))
        elif isinstance(m, str):
            parts = m.split(":")
            if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] not in ("ro", "rw")):
                raise ConfigError(f"invalid configuration: mounts = {m!r}: expected SOURCE:DEST or SOURCE:DEST:ro")
            out.append((os.path.abspath(parts[0]), parts[1], len(parts) == 3 and parts[2] == "ro"))
        else:
            t = tuple(m)
            if len(t) not in (2, 3):
                raise ConfigError(f"invalid configuration: mounts = {m!r}: expected (source, destination[, readonly])")
            out.append((os.path.abspath(os.fsdecode(t[0])), os.fsdecode(t[1]), bool(t[2]) if len(t) == 3 else False))
    return out


def _int(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        try:
            return int(v.__index__())
        except AttributeError:
            raise TypeError(f"{what} must be an int, not {type(v).__name__}") from None
    return int(v)


def _size(v: Any) -> Union[int, str, None]:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bytes):
        return v.decode()
    return _int(v, "a size")


def _spec(spec: Any) -> Optional[str]:
    if spec is None or isinstance(spec, str):
        return spec
    if isinstance(spec, bytes):
        return spec.decode()
    if isinstance(spec, Mapping):
        return json.dumps(spec, default=os.fspath)
    raise TypeError(f"spec must be an OCI config as a dict or JSON text, not {type(spec).__name__}")


def _tty_size(tty: Any, size: Any) -> Optional[Tuple[int, int]]:
    if size is None:
        return None
    if not tty:
        raise ConfigError(f"invalid configuration: tty_size = {size!r}: only with tty=True")
    try:
        rows, cols = size
        return (_int(rows, "tty_size rows"), _int(cols, "tty_size columns"))
    except (TypeError, ValueError):
        raise ConfigError(f"invalid configuration: tty_size = {size!r}: expected (rows, columns)") from None


def _no_stdio_with_tty(tty: Any, stdin: Any, stdout: Any, stderr: Any) -> None:
    if tty and (stdin is not None or stdout is not None or stderr is not None):
        raise ConfigError("invalid configuration: with tty=True the terminal is stdin, stdout and stderr: leave them None")


def _credentials(credentials: Any) -> Optional[Tuple[str, str]]:
    """(user, password) for a registry; never put into a message (it holds a password)."""
    if credentials is None:
        return None
    if isinstance(credentials, (str, bytes)) or not isinstance(credentials, Sequence) or len(credentials) != 2 \
            or not all(isinstance(x, str) for x in credentials) or not credentials[0]:
        raise ConfigError("invalid configuration: credentials must be a (user, password) pair of strings, the user not empty")
    return (credentials[0], credentials[1])


def _entrypoint(entrypoint: Any, args: Optional[List[str]]) -> Tuple[Optional[str], Optional[List[str]]]:
    """``entrypoint=`` as the core takes it (docker run --entrypoint: one executable, "" clears
    the image's): a list's first word is the entrypoint, the rest go before ``args``."""
    if entrypoint is None or isinstance(entrypoint, (str, bytes, os.PathLike)):
        return _path(entrypoint), args
    words = _args(entrypoint) or []
    if not words:
        return "", args
    rest = words[1:] + (args or [])
    return words[0], (rest or None)


_RT_SIGNAL = re.compile(r"SIGRT(MIN|MAX)(?:([+-])(\d+))?")


def _signal_number(text: str) -> Optional[int]:
    """A signal as an image's StopSignal names it ("SIGINT", "INT", "2", "SIGRTMIN+3"), or None."""
    t = text.strip().upper()
    if t.isdigit():
        n = int(t)
        return n if 0 < n < _signal.NSIG else None
    if not t.startswith("SIG"):
        t = "SIG" + t
    m = _RT_SIGNAL.fullmatch(t)
    if m:
        base = int(_signal.SIGRTMIN if m.group(1) == "MIN" else _signal.SIGRTMAX)
        n = base + (int(m.group(3)) if m.group(2) == "+" else -int(m.group(3)) if m.group(2) else 0)
        return n if int(_signal.SIGRTMIN) <= n <= int(_signal.SIGRTMAX) else None
    try:
        return int(_signal.Signals[t])
    except KeyError:
        return None


def _warn(message: str) -> None:
    """A RuntimeWarning attributed to the caller's code (the first frame outside this module)."""
    level, frame = 2, sys._getframe(1)
    while frame.f_back is not None and frame.f_globals.get("__name__") == __name__:
        frame, level = frame.f_back, level + 1
    warnings.warn(message, RuntimeWarning, stacklevel=level)


def _roots(root: Any) -> List[str]:
    """The state roots whose containers keep their image layers in a prune."""
    if root is None:
        return [DEFAULT_ROOT]
    if isinstance(root, (str, bytes, os.PathLike)):
        return [os.fsdecode(root)]
    return [os.fsdecode(r) for r in root]


class _Pty(io.FileIO):
    """The master side of a terminal given to a container or an exec'd process: read() gives
    what it writes to the terminal (its echo of the input included), write() types. Once every
    process holding the terminal has closed it, read() returns b"" (end of file) where the
    kernel reports EIO."""

    def read(self, size: Optional[int] = -1) -> Optional[bytes]:  # type: ignore[override]
        if size is None or size < 0:
            return self.readall()
        try:
            return super().read(size)  # None: non-blocking and nothing there yet
        except OSError as e:
            if e.errno == _errno.EIO:
                return b""
            raise

    def readall(self) -> bytes:
        chunks = []
        while True:
            b = self.read(1 << 16)
            if b is None:
                return b"".join(chunks) if chunks else None  # type: ignore[return-value]
            if not b:
                return b"".join(chunks)
            chunks.append(b)

    def readinto(self, buffer: Any) -> Optional[int]:  # type: ignore[override]
        try:
            return super().readinto(buffer)
        except OSError as e:
            if e.errno == _errno.EIO:
                return 0
            raise


def _pty(fd: Optional[int]) -> Optional[IO[bytes]]:
    return None if fd is None else _Pty(fd, "r+b", closefd=True)  # type: ignore[return-value]


class _Stdio:
    """Resolves subprocess-style stdio arguments into fds for create()."""

    def __init__(self) -> None:
        self.child_fds: List[int] = []  # closed once the container holds them
        self.parent: List[Optional[IO[bytes]]] = [None, None, None]

    def close_child_ends(self) -> None:
        for fd in self.child_fds:
            os.close(fd)
        self.child_fds = []

    def close_all(self) -> None:
        self.close_child_ends()
        for f in self.parent:
            if f is not None:
                f.close()

    def resolve(self, index: int, value: Any, stdout_fd: Optional[int] = None) -> Optional[int]:
        if value is None:
            return None
        if value == PIPE and isinstance(value, int):
            r, w = os.pipe()
            child, ours = (r, w) if index == 0 else (w, r)
            self.child_fds.append(child)
            self.parent[index] = open(ours, "wb" if index == 0 else "rb")
            return child
        if value == DEVNULL and isinstance(value, int):
            fd = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
            self.child_fds.append(fd)
            return fd
        if value == STDOUT and isinstance(value, int):
            if index != 2:
                raise ConfigError("invalid configuration: STDOUT is only valid for stderr")
            return stdout_fd if stdout_fd is not None else 1
        if isinstance(value, int) and not isinstance(value, bool):
            if value < 0:
                raise ConfigError(f"invalid configuration: {('stdin', 'stdout', 'stderr')[index]} = {value}: not a file descriptor")
            return value
        if hasattr(value, "fileno"):
            return int(value.fileno())
        raise TypeError(f"{('stdin', 'stdout', 'stderr')[index]} must be None, PIPE, DEVNULL, a file descriptor or a file object")


# Live containers of this process, deleted at interpreter exit if still there.
_live: "weakref.WeakSet[Container]" = weakref.WeakSet()
_owner_pid = os.getpid()


@atexit.register
def _delete_live_containers() -> None:
    if os.getpid() != _owner_pid:
        return
    for c in list(_live):
        try:
            c.delete(force=True)
        except Exception:
            pass


def _status(t: Tuple[Optional[int], Optional[int], bool]) -> ExitStatus:
    return ExitStatus(t[0], t[1], t[2])


class _Waitable:
    """What a Container and a Process share: waiting (blocking, polling, asyncio), stdio pipes,
    communicate() and close(). ``_native`` has wait(timeout), try_wait() and dup_pidfd()."""

    __slots__ = ()

    _native: Any
    stdin: Optional[IO[bytes]]
    stdout: Optional[IO[bytes]]
    stderr: Optional[IO[bytes]]
    pty: Optional[IO[bytes]]

    def _what(self) -> str:
        raise NotImplementedError

    def wait(self, timeout: Optional[float] = None) -> ExitStatus:
        """Waits until the process ends (at most ``timeout`` seconds, else ContainerTimeoutError, a
        TimeoutError) and returns its ExitStatus. Does not block other calls on this object
        (e.g. kill() from another thread)."""
        return _status(self._native.wait(timeout))

    def poll(self) -> Optional[ExitStatus]:
        """The ExitStatus if the process has ended, else None; never blocks."""
        t = self._native.try_wait()
        return None if t is None else _status(t)

    async def wait_async(self) -> ExitStatus:
        """Awaitable wait for asyncio: the event loop watches the pidfd (loop.add_reader), so no
        thread is used per process. Needs a selector event loop (the default on Linux)."""
        t = self._native.try_wait()
        if t is not None:
            return _status(t)
        loop = asyncio.get_running_loop()
        fut: "asyncio.Future[ExitStatus]" = loop.create_future()
        fd = self._native.dup_pidfd()  # our own fd: several waiters, or a concurrent delete(), are fine

        def ready() -> None:
            if fut.done():
                return
            try:
                t = self._native.try_wait()
            except BaseException as e:  # noqa: BLE001 - handed to the awaiting task
                fut.set_exception(e)
                return
            if t is not None:
                fut.set_result(_status(t))

        try:
            loop.add_reader(fd, ready)
            return await fut
        finally:
            loop.remove_reader(fd)
            os.close(fd)

    def communicate(self, input: Optional[bytes] = None, timeout: Optional[float] = None) -> Tuple[Optional[bytes], Optional[bytes]]:
        """As Popen.communicate: writes ``input`` to stdin (then closes it), reads stdout and
        stderr (those created with PIPE) to their end, concurrently, then waits for the process.
        Returns (stdout, stderr). On timeout raises ContainerTimeoutError (the process keeps
        running) with the output read so far in its ``stdout`` and ``stderr``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        out, err, _, _ = _communicate(self, input, deadline, timeout)
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            self.wait(remaining)
        except ContainerTimeoutError as e:
            e.stdout, e.stderr = out, err
            raise
        return out, err

    def resize(self, rows: int, cols: int) -> None:
        """Sets the size of the terminal (``rows`` lines of ``cols`` columns), as a terminal
        window's resize does: its foreground processes get SIGWINCH. Raises UnsupportedError
        without tty=True, ConfigError for a size outside 1..65535."""
        self._native.resize(_int(rows, "rows"), _int(cols, "cols"))

    def close(self) -> None:
        """Closes this object's ends of the PIPE streams and its copy of the pty master (the
        container or process stays)."""
        for f in (self.stdin, self.stdout, self.stderr, self.pty):
            if f is not None:
                try:
                    f.close()
                except OSError:
                    pass


class Container(_Waitable):
    """A container of this process. Make one with Container.create(); then start(), wait()
    (or ``await wait_async()``) and delete(). As a context manager it is deleted (force) on exit.
    A Container may be shared by threads; each method releases the GIL while it blocks.
    exec() runs more commands inside it.

    ``stdin``, ``stdout`` and ``stderr`` are file objects for the streams created with PIPE, else
    None; ``pty`` is the master of its terminal (created with tty=True), else None.
    """

    __slots__ = ("_native", "_stop_signal", "args", "stdin", "stdout", "stderr", "pty", "__weakref__")

    _native: Any
    _stop_signal: int
    args: List[str]
    stdin: Optional[IO[bytes]]
    stdout: Optional[IO[bytes]]
    stderr: Optional[IO[bytes]]
    pty: Optional[IO[bytes]]

    def __init__(self) -> None:
        raise TypeError("use rcontainer.Container.create(...) to make a container")

    @classmethod
    def create(
        cls,
        args: Optional[Sequence[PathLike]] = None,
        *,
        rootfs: Optional[PathLike] = None,
        hostname: Optional[str] = None,
        env: Union[Mapping[str, str], Iterable[str], None] = None,
        cwd: Optional[PathLike] = None,
        user: Union[int, str, Tuple[int, int], None] = None,
        namespaces: Union[Iterable[str], Mapping[str, Optional[PathLike]], None] = None,
        uid_map: Any = None,
        gid_map: Any = None,
        mounts: Optional[Iterable[Any]] = None,
        network: str = "none",
        memory: Union[int, str, None] = None,
        memory_swap: Union[int, str, None] = None,
        cpus: Optional[float] = None,
        pids: Optional[int] = None,
        stdin: Any = None,
        stdout: Any = None,
        stderr: Any = None,
        spec: Union[Mapping[str, Any], str, None] = None,
        root: Optional[PathLike] = None,
        name: Optional[str] = None,
        tty: bool = False,
        tty_size: Optional[Tuple[int, int]] = None,
        sandbox: bool = False,
        image: Optional[str] = None,
        entrypoint: Union[str, Sequence[str], None] = None,
        read_only: bool = False,
        store: Optional[PathLike] = None,
        plain_http: bool = False,
        credentials: Optional[Tuple[str, str]] = None,
    ) -> "Container":
        """Creates a container, set up up to the exec of ``args``, which start() releases.

        - ``args``: the command (argv; args[0] is looked up in PATH inside the container).
        - ``rootfs``: root filesystem directory (writable); default: the embedded default root.
        - ``hostname`` (default: the container id), ``env`` (dict or "K=V" strings, added to
          PATH and TERM), ``cwd``, ``user`` (uid, (uid, gid), "UID:GID", or names as docker run -u
          takes them, "nobody" or "app:staff", looked up in the container's /etc/passwd and /etc/group).
        - ``namespaces``: the namespace types to create, replacing the default list (pid, network,
          ipc, uts, mount, cgroup); a dict {type: path} joins the namespaces at those paths.
        - ``uid_map`` / ``gid_map``: "CONTAINER:HOST:SIZE" strings or (c, h, n) tuples; adds a user
          namespace (``gid_map`` defaults to ``uid_map``).
        - ``mounts``: bind mounts as (source, destination[, readonly]) or "SRC:DST[:ro]", or dicts
          {"destination", "source", "type", "options", "readonly"}: "type" defaults to a bind mount
          of the host path "source"; any other key is a ConfigError naming it.
        - ``network``: "none" (a private network namespace with only lo), "host", or the path
          of a network namespace to join.
        - ``sandbox=True``: the preset for code you do not trust: uid/gid 65534, no capabilities,
          a read-only root with a 64 MiB /tmp, only lo, 256M of memory (no swap), 1 CPU, 64
          processes; the arguments given here still win.
        - ``memory`` and ``memory_swap`` (memory plus swap, as Docker's --memory-swap; bytes,
          "32M", or -1 for no limit), ``cpus`` (e.g. 0.5), ``pids`` (-1: no limit): cgroup limits,
          with the same rules as the command's flags and the Node package.
        - ``stdin``/``stdout``/``stderr``: None (inherit), PIPE, DEVNULL, STDOUT (stderr only),
          a file descriptor or a file object, as with subprocess.
        - ``spec``: a whole OCI runtime config (dict or JSON text) for everything else; the other
          arguments given override it. Without a root in it, the embedded default root applies.
        - ``root``: the state root (default DEFAULT_ROOT: /run/rcontainer for root, an ordinary user's $XDG_RUNTIME_DIR/rcontainer or /tmp/rcontainer-UID); ``name``: the container id
          (default: generated, "rc-" and 12 hex digits).
        - ``tty=True``: a terminal of its own (a new pty of the container's devpts), as
          ``docker run -t``: it is the container's stdin, stdout, stderr and /dev/console (leave
          ``stdin``/``stdout``/``stderr`` None); its master is ``pty`` (a file object) and
          resize() sets its size; ``tty_size=(rows, columns)`` the initial one.
        - ``image``: a container from an image, as ``rcontainer run IMAGE`` and ``docker run``:
          its root is a copy-on-write overlay over the image's layers (what it writes goes to a
          directory of its own in the store, removed by delete(); the layers are never changed),
          and the image's config gives the defaults: ``args`` replace its Cmd (its Entrypoint
          stays), ``entrypoint`` replaces its Entrypoint (and drops its Cmd; "" clears it; a list
          is the entrypoint and its first arguments), ``env`` adds to or overrides its Env,
          ``cwd`` and ``user`` override its WorkingDir and User. The image is named as
          ``rcontainer`` and docker name it ("busybox", "busybox:1.36",
          "127.0.0.1:5000/app@sha256:...", or an image id) and pulled when the store lacks it.
          Its StopSignal becomes the container's ``stop_signal`` (what kill() sends by default).
          Not with ``rootfs``.
        - ``read_only=True``: a read-only root (with an image: its layers alone, no writable
          layer; mount a tmpfs where the program writes).
        - ``store``: the image store (default: $RCONTAINER_STORE, else DEFAULT_STORE, the
          command's); ``plain_http=True`` talks http to the registry (a local one you trust),
          ``credentials=(user, password)`` logs in to it (basic auth or its token service;
          default anonymous). These go with ``image`` only.

        Raises ConfigError (a ValueError) for bad configuration (also: no command, when neither
        ``args`` nor the image give one; a bad image reference), ContainerExistsError when the id
        is taken, ContainerOSError (an OSError with errno) when a system call fails; with an
        image, NotFoundError when neither the store nor the registry has it, a
        ContainerOSError (e.g. ConnectionRefusedError, PermissionError for refused credentials)
        when the registry cannot be reached or refuses.
        """
        cid = _new_id() if name is None else str(name)
        _no_stdio_with_tty(tty, stdin, stdout, stderr)
        size = _tty_size(tty, tty_size)
        creds = _credentials(credentials)
        entry, argv = _entrypoint(entrypoint, _args(args))
        stdio = _Stdio()
        try:
            fd_in = stdio.resolve(0, stdin)
            fd_out = stdio.resolve(1, stdout)
            fd_err = stdio.resolve(2, stderr, stdout_fd=fd_out)
            native = _native.create({
                "id": cid, "root": _path(root), "args": argv, "rootfs": _path(rootfs), "hostname": hostname,
                "env": _env(env), "cwd": _path(cwd), "user": _user(user), "user_name": _user_name(user),
                "namespaces": _namespaces(namespaces), "uid_map": _id_maps(uid_map), "gid_map": _id_maps(gid_map),
                "mounts": _mounts(mounts), "network": network, "memory": memory, "memory_swap": memory_swap,
                "cpus": None if cpus is None else float(cpus), "pids": None if pids is None else int(pids),
                "stdin": fd_in, "stdout": fd_out, "stderr": fd_err, "spec": _spec(spec),
                "tty": bool(tty), "tty_size": size, "sandbox": bool(sandbox), "read_only": bool(read_only),
                "image": None if image is None else str(image), "entrypoint": entry, "store": _path(store),
                "plain_http": bool(plain_http), "credentials": creds,
            })
        except BaseException:
            stdio.close_all()
            raise
        stdio.close_child_ends()
        self = object.__new__(cls)
        self._native = native
        self._stop_signal = _signal.SIGTERM
        self.args = native.args
        self.stdin, self.stdout, self.stderr = stdio.parent
        self.pty = None
        _live.add(self)
        try:
            if native.stop_signal is not None:
                sig = _signal_number(native.stop_signal)
                if sig is None:
                    raise ConfigError(f"invalid configuration: image {image!r}: StopSignal {native.stop_signal!r} is not a signal")
                self._stop_signal = sig
            self.pty = _pty(native.dup_pty())
        except BaseException:
            self.delete(force=True)
            self.close()
            raise
        for note in native.notes:
            _warn(note)
        return self

    def _what(self) -> str:
        return f"container {self.id!r}"

    @property
    def id(self) -> str:
        """The container id."""
        return self._native.id

    @property
    def pid(self) -> int:
        """Host pid of the container's init process."""
        return self._native.pid

    @property
    def stop_signal(self) -> int:
        """The signal kill() sends when given none: the image's StopSignal (e.g. SIGINT for an
        image that says so), else SIGTERM."""
        return self._stop_signal

    @property
    def state(self) -> State:
        """The current OCI state (status recomputed from the live process). Raises NotFoundError
        once the container is deleted."""
        return State(**self._native.state())

    def fileno(self) -> int:
        """The pidfd of the container's init: readable (pollable) once the process has ended.
        Valid until delete(); do not close it."""
        return self._native.fileno()

    def start(self) -> None:
        """Releases the container's process into exec; returns once it has exec'd. A missing
        command raises a ContainerOSError that is also a FileNotFoundError; a second start()
        raises StateError."""
        self._native.start()

    def kill(self, sig: Optional[int] = None, *, all: bool = False) -> None:
        """Sends signal ``sig`` to the container's init; by default ``stop_signal`` (the image's
        StopSignal, else SIGTERM), as ``rcontainer kill`` and ``docker stop`` do. As with any pid
        namespace init, signals it has no handler for are ignored, except SIGKILL.

        With ``all=True`` the signal goes to every process of the container (its cgroup), as
        ``runc kill --all``. A paused (frozen) process may act on a signal only once resumed.
        Raises StateError once the container has stopped."""
        sig = self._stop_signal if sig is None else int(sig)
        if all:
            self._native.kill_all(sig)
        else:
            self._native.kill(sig)

    def limit(
        self,
        memory: Union[int, str, None] = None,
        cpus: Optional[float] = None,
        pids: Optional[int] = None,
        memory_swap: Union[int, str, None] = None,
    ) -> None:
        """Changes the cgroup limits of the live (created, running or paused) container; the
        limits given as None stay as they are.

        - ``memory``: bytes or a size such as "32M" (as create()); -1 removes the limit.
          Lowering it below what the container uses now may fail (ContainerOSError, EBUSY).
        - ``cpus``: a number of CPUs such as 0.5 (CFS quota over a 100 ms period); 0 removes it.
        - ``pids``: the maximum number of processes; -1 removes it.
        - ``memory_swap``: memory plus swap, as runc's --memory-swap (bytes, "64M" or -1);
          must not be below ``memory``.

        Raises ConfigError (a ValueError) naming the field for a bad value, StateError once the
        container has stopped or was deleted."""
        self._native.limit(
            _size(memory), _size(memory_swap),
            None if cpus is None else float(cpus), None if pids is None else _int(pids, "pids"),
        )

    def stats(self) -> "Stats":
        """A snapshot of the container's cgroup accounting (memory, cpu, pids, OOM kills); see
        Stats. Works until delete() (also after the process stopped); then NotFoundError."""
        return Stats(**self._native.stats())

    def pause(self) -> None:
        """Freezes every process of the running container (cgroup freezer); returns once they
        are frozen. ``state.status`` is then "paused". StateError unless running."""
        self._native.pause()

    def resume(self) -> None:
        """Thaws a paused container; ``state.status`` is "running" again. StateError unless paused."""
        self._native.resume()

    def exec(
        self,
        args: Sequence[PathLike],
        *,
        env: Union[Mapping[str, str], Iterable[str], None] = None,
        cwd: Optional[PathLike] = None,
        user: Union[int, str, Tuple[int, int], None] = None,
        tty: bool = False,
        tty_size: Optional[Tuple[int, int]] = None,
        stdin: Any = None,
        stdout: Any = None,
        stderr: Any = None,
    ) -> "Process":
        """Runs ``args`` inside the created or running container, as ``docker exec`` does, and
        returns its Process once the command has exec'd (a Popen-like handle: wait(),
        communicate(), kill(), ...). It joins the container's namespaces and cgroup and gets its
        seccomp profile; it runs as the container's own process does (its environment, working
        directory, user, capabilities, no_new_privileges) except for what is given here:

        - ``env``: variables set or replaced in the container's environment (dict or "K=V").
        - ``cwd``: working directory; ``user``: uid, (uid, gid) or "UID:GID".
        - ``stdin``/``stdout``/``stderr``: as create()'s (None inherits this process's).
        - ``tty=True``: a terminal of its own (``docker exec -t``), its master ``Process.pty``;
          ``tty_size=(rows, columns)`` its initial size.

        Raises StateError when the container is paused or stopped (NotFoundError once deleted),
        ContainerOSError for a command that cannot be executed (a FileNotFoundError when it does
        not exist), ConfigError for bad arguments."""
        argv = _args(args) or []
        _no_stdio_with_tty(tty, stdin, stdout, stderr)
        size = _tty_size(tty, tty_size)
        stdio = _Stdio()
        try:
            fd_in = stdio.resolve(0, stdin)
            fd_out = stdio.resolve(1, stdout)
            fd_err = stdio.resolve(2, stderr, stdout_fd=fd_out)
            native = self._native.exec(argv, _env(env), _path(cwd), _user(user), bool(tty), size, fd_in, fd_out, fd_err)
        except BaseException:
            stdio.close_all()
            raise
        stdio.close_child_ends()
        p = object.__new__(Process)
        p._native = native
        p.args = argv
        p.container_id = self.id
        p.stdin, p.stdout, p.stderr = stdio.parent
        p.pty = None
        try:
            p.pty = _pty(native.dup_pty())
        except BaseException:
            p.close()
            raise
        return p

    def delete(self, force: bool = False) -> None:
        """Removes the container and its state. A created or running container needs
        ``force=True`` (it is killed first), else StateError. Deleting twice is harmless."""
        self._native.delete(bool(force))
        _live.discard(self)

    def __enter__(self) -> "Container":
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            self.delete(force=True)
        finally:
            self.close()

    def __repr__(self) -> str:
        return f"<rcontainer.Container id={self.id!r} pid={self.pid}>"


class Process(_Waitable):
    """A process exec'd into a container by Container.exec(), like subprocess.Popen: wait()
    (or ``await wait_async()``), poll(), communicate(), kill(), ``returncode``. Only this Python
    process can wait for it. As a context manager it is killed (if still running) and reaped on
    exit; so it is when the object is garbage-collected.

    ``stdin``, ``stdout`` and ``stderr`` are file objects for the streams created with PIPE, else
    None; ``pty`` is the master of its terminal (exec'd with tty=True), else None.
    """

    __slots__ = ("_native", "args", "container_id", "stdin", "stdout", "stderr", "pty", "__weakref__")

    _native: Any
    args: List[str]
    container_id: str
    stdin: Optional[IO[bytes]]
    stdout: Optional[IO[bytes]]
    stderr: Optional[IO[bytes]]
    pty: Optional[IO[bytes]]

    def __init__(self) -> None:
        raise TypeError("use Container.exec(...) to run a process in a container")

    def _what(self) -> str:
        return f"process {self.pid} of container {self.container_id!r}"

    @property
    def pid(self) -> int:
        """Host pid of the process."""
        return self._native.pid

    @property
    def returncode(self) -> Optional[int]:
        """None while the process runs; then its exit code, or -N when signal N killed it
        (subprocess's convention)."""
        s = self.poll()
        return None if s is None else s.returncode

    def fileno(self) -> int:
        """The process's pidfd: readable (pollable) once it has ended. Valid until it is
        reaped (wait() or poll() saw it end); do not close it."""
        return self._native.fileno()

    def kill(self, sig: int = _signal.SIGTERM) -> None:
        """Sends signal ``sig`` (default SIGTERM) to the process. Raises StateError once it
        has been reaped."""
        self._native.kill(int(sig))

    def __enter__(self) -> "Process":
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            if self.poll() is None:
                try:
                    self.kill(_signal.SIGKILL)
                except StateError:
                    pass
                self.wait()
        finally:
            self.close()

    def __repr__(self) -> str:
        return f"<rcontainer.Process pid={self.pid} container={self.container_id!r}>"


class _Captured(NamedTuple):
    """What was read of stdout and stderr (None where not a pipe), and whether each was cut at
    max_output."""

    stdout: Optional[bytes]
    stderr: Optional[bytes]
    stdout_truncated: bool = False
    stderr_truncated: bool = False


class _Capture:
    """The stdout and stderr pipes of a container or process being read: keeps at most
    ``max_output`` bytes of each (None: all); the rest is dropped, so the process never blocks
    on a full pipe and our memory stays bounded. Shared by the blocking and the asyncio reader."""

    def __init__(self, c: _Waitable, max_output: Optional[int]) -> None:
        def fd_of(f: Optional[IO[bytes]]) -> int:
            return f.fileno() if f is not None and not f.closed else -1

        self.c = c
        self.stdin_fd, self.out_fd, self.err_fd = fd_of(c.stdin), fd_of(c.stdout), fd_of(c.stderr)
        self.max_output = max_output
        self.chunks: Dict[int, List[bytes]] = {fd: [] for fd in (self.out_fd, self.err_fd) if fd >= 0}
        self.kept: Dict[int, int] = {fd: 0 for fd in self.chunks}
        self.cut: Set[int] = set()

    def add(self, fd: int, data: bytes) -> None:
        if self.max_output is not None and self.kept[fd] + len(data) > self.max_output:
            self.cut.add(fd)
            data = data[:max(0, self.max_output - self.kept[fd])]
        if data:
            self.chunks[fd].append(data)
            self.kept[fd] += len(data)

    def captured(self) -> _Captured:
        def get(fd: int) -> Optional[bytes]:
            return b"".join(self.chunks[fd]) if fd in self.chunks else None

        return _Captured(get(self.out_fd), get(self.err_fd), self.out_fd in self.cut, self.err_fd in self.cut)

    def timeout_error(self, timeout: Optional[float]) -> ContainerTimeoutError:
        e = ContainerTimeoutError(_errno.ETIMEDOUT, f"{self.c._what()} still running after {timeout} s")
        got = self.captured()
        e.stdout, e.stderr = got.stdout, got.stderr
        e.stdout_truncated, e.stderr_truncated = got.stdout_truncated, got.stderr_truncated
        return e

    def close_read_ends(self) -> None:
        for f in (self.c.stdout, self.c.stderr):
            if f is not None and not f.closed and f.fileno() in self.chunks:
                f.close()


def _communicate(
    c: _Waitable, input: Optional[bytes], deadline: Optional[float], timeout: Optional[float], max_output: Optional[int] = None
) -> _Captured:
    """Writes ``input`` to stdin (then closes it) and reads stdout and stderr to their end,
    concurrently, keeping at most ``max_output`` bytes of each (see _Capture). On timeout
    raises ContainerTimeoutError with what was read (``stdout``, ``stderr``, and
    ``stdout_truncated``/``stderr_truncated``)."""
    cap = _Capture(c, max_output)
    stdin_fd = cap.stdin_fd
    view = memoryview(input or b"")
    offset = 0
    with selectors.DefaultSelector() as sel:
        if stdin_fd >= 0:
            if view:
                os.set_blocking(stdin_fd, False)
                sel.register(stdin_fd, selectors.EVENT_WRITE)
            else:
                c.stdin.close()  # type: ignore[union-attr]
        for fd in cap.chunks:
            sel.register(fd, selectors.EVENT_READ)
        while sel.get_map():
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise cap.timeout_error(timeout)
            for key, _ in sel.select(remaining):
                if key.fd == stdin_fd:
                    try:
                        offset += os.write(stdin_fd, view[offset:offset + (1 << 20)])
                    except BlockingIOError:
                        continue
                    except BrokenPipeError:
                        offset = len(view)
                    if offset >= len(view):
                        sel.unregister(stdin_fd)
                        c.stdin.close()  # type: ignore[union-attr]
                else:
                    data = os.read(key.fd, 1 << 18)
                    if data:
                        cap.add(key.fd, data)
                    else:
                        sel.unregister(key.fd)
    cap.close_read_ends()
    return cap.captured()


async def _communicate_async(cap: _Capture, input: Optional[bytes]) -> None:
    """_communicate for asyncio: the event loop watches the pipes (add_reader/add_writer), so
    no thread is used; what was read stays in ``cap`` if the task is cancelled (a timeout)."""
    loop = asyncio.get_running_loop()
    c = cap.c
    done: "asyncio.Future[None]" = loop.create_future()
    readers: Set[int] = set()
    writers: Set[int] = set()
    view = memoryview(input or b"")
    offset = 0

    def finished(fd: int) -> None:
        if fd in readers:
            loop.remove_reader(fd)
            readers.discard(fd)
        if fd in writers:
            loop.remove_writer(fd)
            writers.discard(fd)
            c.stdin.close()  # type: ignore[union-attr]
        if not readers and not writers and not done.done():
            done.set_result(None)

    def on_read(fd: int) -> None:
        try:
            data = os.read(fd, 1 << 18)
        except BlockingIOError:
            return
        except OSError as e:
            finished(fd)
            if not done.done():
                done.set_exception(e)
            return
        if data:
            cap.add(fd, data)
        else:
            finished(fd)

    def on_write(fd: int) -> None:
        nonlocal offset
        try:
            offset += os.write(fd, view[offset:offset + (1 << 20)])
        except BlockingIOError:
            return
        except BrokenPipeError:
            offset = len(view)
        if offset >= len(view):
            finished(fd)

    if cap.stdin_fd >= 0:
        if view:
            os.set_blocking(cap.stdin_fd, False)
            writers.add(cap.stdin_fd)
            loop.add_writer(cap.stdin_fd, on_write, cap.stdin_fd)
        else:
            c.stdin.close()  # type: ignore[union-attr]
    for fd in cap.chunks:
        os.set_blocking(fd, False)
        readers.add(fd)
        loop.add_reader(fd, on_read, fd)
    if not readers and not writers:
        return
    try:
        await done
    finally:
        for fd in list(readers):
            loop.remove_reader(fd)
        for fd in list(writers):
            loop.remove_writer(fd)
        cap.close_read_ends()


#: run()'s default bound on captured output, per stream (16 MiB).
DEFAULT_MAX_OUTPUT = 16 << 20


def _run_setup(capture_output: bool, input: Union[bytes, str, None], max_output: Optional[int], create_kwargs: Dict[str, Any]) -> Optional[bytes]:
    """run()'s and run_async()'s checks; sets the PIPEs in ``create_kwargs``; returns the input as bytes."""
    if create_kwargs.get("tty"):
        raise ConfigError("invalid configuration: run() does not read a terminal: use Container.create(tty=True) and its pty")
    if max_output is not None and (isinstance(max_output, bool) or not isinstance(max_output, int) or max_output < 0):
        raise ConfigError(f"invalid configuration: max_output must be a number of bytes (an int >= 0) or None, got {max_output!r}")
    if capture_output:
        if create_kwargs.get("stdout") is not None or create_kwargs.get("stderr") is not None:
            raise ConfigError("invalid configuration: stdout and stderr arguments may not be used with capture_output")
        create_kwargs["stdout"] = PIPE
        create_kwargs["stderr"] = PIPE
    if input is not None:
        if create_kwargs.get("stdin") is not None:
            raise ConfigError("invalid configuration: stdin and input arguments may not both be used")
        create_kwargs["stdin"] = PIPE
        if isinstance(input, str):
            input = input.encode()
    return input


def _decoder(text: bool) -> Any:
    def decode(b: Optional[bytes]) -> Any:
        return b.decode("utf-8", "replace") if (text and b is not None) else b

    return decode


def _timed_out(e: ContainerTimeoutError, c: Container, status: ExitStatus, timeout: Optional[float], text: bool) -> ContainerTimeoutError:
    """The ContainerTimeoutError of a run whose container was killed at its timeout, with the
    run's result as well (``e.result``: how it ended, the partial output, ``timed_out=True``)."""
    e.strerror = f"{c._what()} timed out after {timeout} s and was killed"
    e.args = (e.errno, e.strerror)
    decode = _decoder(text)
    e.stdout, e.stderr = decode(e.stdout), decode(e.stderr)
    e.result = CompletedContainer(
        args=c.args, returncode=status.returncode, stdout=e.stdout, stderr=e.stderr, oom_killed=status.oom_killed, id=c.id,
        stdout_truncated=e.stdout_truncated, stderr_truncated=e.stderr_truncated, timed_out=True,
    )
    return e


def _completed(c: Container, status: ExitStatus, got: _Captured, text: bool, check: bool) -> CompletedContainer:
    decode = _decoder(text)
    result = CompletedContainer(
        args=c.args, returncode=status.returncode, stdout=decode(got.stdout), stderr=decode(got.stderr),
        oom_killed=status.oom_killed, id=c.id, stdout_truncated=got.stdout_truncated, stderr_truncated=got.stderr_truncated,
    )
    if check:
        result.check_returncode()
    return result


def run(
    args: Optional[Sequence[PathLike]] = None,
    *,
    capture_output: bool = False,
    timeout: Optional[float] = None,
    check: bool = False,
    input: Union[bytes, str, None] = None,
    text: bool = False,
    max_output: Optional[int] = DEFAULT_MAX_OUTPUT,
    **create_kwargs: Any,
) -> CompletedContainer:
    """Runs ``args`` in a new container and waits for it, like subprocess.run: create, start,
    read the output, wait, delete. ``create_kwargs`` are Container.create()'s (rootfs, image,
    env, memory, stdout=PIPE, ...). With ``image=`` the container runs the image (its command
    unless ``args`` are given; see Container.create()), pulled when the store lacks it.

    ``capture_output=True`` captures stdout and stderr (read concurrently: no deadlock), each up
    to ``max_output`` bytes (default 16 MiB; None: no bound): what comes after is read and
    dropped, and ``stdout_truncated``/``stderr_truncated`` say so. A container printing without
    end cannot exhaust this process's memory. ``input`` is written to stdin; ``text=True``
    decodes output (and encodes input) as UTF-8. With ``timeout`` (seconds) the container is
    killed and ContainerTimeoutError raised (a TimeoutError; its ``stdout``/``stderr`` and
    ``*_truncated`` hold what was read). With ``check=True`` a non-zero return code raises
    CalledProcessError. The container is deleted in every case. run_async() is the same for
    asyncio.
    """
    data = _run_setup(capture_output, input, max_output, create_kwargs)
    with Container.create(args, **create_kwargs) as c:
        c.start()
        deadline = None if timeout is None else time.monotonic() + timeout
        got: Optional[_Captured] = None
        try:
            got = _communicate(c, data, deadline, timeout, max_output)
            status = c.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
        except ContainerTimeoutError as e:
            if got is not None:  # the output had ended; the process had not
                e.stdout, e.stderr, e.stdout_truncated, e.stderr_truncated = got
            try:
                c.kill(_signal.SIGKILL)
            except ContainerError:
                pass
            raise _timed_out(e, c, c.wait(), timeout, text) from None
    return _completed(c, status, got, text, check)


async def run_async(
    args: Optional[Sequence[PathLike]] = None,
    *,
    capture_output: bool = False,
    timeout: Optional[float] = None,
    check: bool = False,
    input: Union[bytes, str, None] = None,
    text: bool = False,
    max_output: Optional[int] = DEFAULT_MAX_OUTPUT,
    **create_kwargs: Any,
) -> CompletedContainer:
    """run() for asyncio, as asyncio.create_subprocess_exec + communicate: the same arguments,
    result and errors. The event loop watches the pipes and the pidfd (no thread per
    container); creating, starting and deleting run in the loop's default executor. Many may
    run at once (asyncio.gather). Cancelling the task kills and deletes the container.
    """
    data = _run_setup(capture_output, input, max_output, create_kwargs)
    loop = asyncio.get_running_loop()
    c = await loop.run_in_executor(None, functools.partial(Container.create, args, **create_kwargs))
    try:
        await loop.run_in_executor(None, c.start)
        cap = _Capture(c, max_output)
        work = asyncio.gather(_communicate_async(cap, data), c.wait_async())
        try:
            _, status = await asyncio.wait_for(work, timeout)
        except asyncio.TimeoutError:
            try:
                c.kill(_signal.SIGKILL)
            except ContainerError:
                pass  # it had ended; a process it left held the output open
            raise _timed_out(cap.timeout_error(timeout), c, await c.wait_async(), timeout, text) from None
        return _completed(c, status, cap.captured(), text, check)
    finally:
        await _end_async(c)


async def _end_async(c: Container, transports: Sequence[asyncio.BaseTransport] = ()) -> None:
    """Container.__exit__ for asyncio: kills the container if it still runs and waits for it on
    the loop, closes the loop's pipe transports (first: they own the pipe fds, and closing those
    under them would leave the selector watching fd numbers that get reused), then deletes it
    in the default executor."""
    if c.poll() is None:
        try:
            c.kill(_signal.SIGKILL)
        except StateError:
            pass
        await c.wait_async()
    for t in transports:
        t.close()
    if transports:
        await asyncio.sleep(0)  # let the transports' close callbacks run
    await asyncio.get_running_loop().run_in_executor(None, c.__exit__, None, None, None)  # delete(force=True), close()


class AsyncContainer:
    """A started container whose PIPE streams are asyncio streams, as create_async() returns it
    (like asyncio.subprocess.Process): ``stdin`` an asyncio.StreamWriter, ``stdout``/``stderr``
    asyncio.StreamReaders (None where not PIPE); ``await wait()``, ``await communicate(input)``,
    ``kill()``. ``async with`` kills it if still running and deletes it; ``container`` is the
    underlying Container (stats, limit, exec...)."""

    container: Container
    stdin: Optional[asyncio.StreamWriter]
    stdout: Optional[asyncio.StreamReader]
    stderr: Optional[asyncio.StreamReader]

    def __init__(self, container: Container, stdin: Optional[asyncio.StreamWriter], stdout: Optional[asyncio.StreamReader],
                 stderr: Optional[asyncio.StreamReader]) -> None:
        self.container = container
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self._transports: List[asyncio.BaseTransport] = []

    @property
    def id(self) -> str:
        """The container id."""
        return self.container.id

    @property
    def pid(self) -> int:
        """Host pid of the container's init process."""
        return self.container.pid

    @property
    def returncode(self) -> Optional[int]:
        """None while it runs, then the exit code (-N for signal N)."""
        st = self.container.poll()
        return None if st is None else st.returncode

    async def wait(self) -> ExitStatus:
        """Waits for the container's process to end (the event loop watches its pidfd). As with
        asyncio subprocesses, read the pipes first or concurrently: a full pipe blocks it."""
        return await self.container.wait_async()

    async def communicate(self, input: Optional[bytes] = None) -> Tuple[Optional[bytes], Optional[bytes]]:
        """Writes ``input`` to stdin (then closes it), reads stdout and stderr to their end
        concurrently, and waits for the process; returns (stdout, stderr). Like asyncio's, it
        keeps all the output: for code you do not trust, run_async(max_output=...) bounds it."""
        async def feed() -> None:
            if self.stdin is None:
                return
            try:
                if input:
                    self.stdin.write(input)
                    await self.stdin.drain()
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.stdin.close()

        async def read(r: Optional[asyncio.StreamReader]) -> Optional[bytes]:
            return None if r is None else await r.read()

        _, out, err = await asyncio.gather(feed(), read(self.stdout), read(self.stderr))
        await self.wait()
        return out, err

    def kill(self, sig: int = _signal.SIGKILL) -> None:
        """Sends ``sig`` (default SIGKILL) to the container's process."""
        self.container.kill(sig)

    async def __aenter__(self) -> "AsyncContainer":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await _end_async(self.container, self._transports)


async def create_async(args: Optional[Sequence[PathLike]] = None, **create_kwargs: Any) -> AsyncContainer:
    """Creates and starts a container (Container.create()'s arguments) for asyncio, as
    asyncio.create_subprocess_exec does a process: its PIPE streams come back as asyncio streams
    (see AsyncContainer). Creating and starting run in the loop's default executor."""
    loop = asyncio.get_running_loop()
    c = await loop.run_in_executor(None, functools.partial(Container.create, args, **create_kwargs))
    transports: List[asyncio.BaseTransport] = []
    try:
        async def reader(f: Optional[IO[bytes]]) -> Optional[asyncio.StreamReader]:
            if f is None:
                return None
            r = asyncio.StreamReader(loop=loop)
            t, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(r, loop=loop), f)
            transports.append(t)
            return r

        stdin = None
        if c.stdin is not None:
            transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, c.stdin)
            transports.append(transport)
            stdin = asyncio.StreamWriter(transport, protocol, None, loop)
        stdout, stderr = await reader(c.stdout), await reader(c.stderr)
        await loop.run_in_executor(None, c.start)
    except BaseException:
        await _end_async(c, transports)
        raise
    p = AsyncContainer(c, stdin, stdout, stderr)
    p._transports = transports
    return p


# ---------------------------------------------------------------------------------------------
# Images: the store the command's pull, import, images, rmi and prune use (rcontainer-image)


def _image(d: Dict[str, Any]) -> Image:
    return Image(**d)


def pull(
    reference: str,
    *,
    store: Optional[PathLike] = None,
    plain_http: bool = False,
    credentials: Optional[Tuple[str, str]] = None,
) -> Image:
    """Pulls an image from its registry into the store, as ``rcontainer pull`` and ``docker
    pull``: ``reference`` as Docker reads it ("busybox" is docker.io/library/busybox:latest;
    "127.0.0.1:5000/tools/busybox:1.36"; "repo@sha256:..."); a manifest list is resolved to this
    machine's platform. Every blob is checked against its digest and each layer unpacked once
    (layers already in the store are not fetched again). Returns the Image.

    ``store``: the image store (default: $RCONTAINER_STORE, else DEFAULT_STORE).
    ``plain_http=True``: http instead of https (a local registry you trust).
    ``credentials=(user, password)``: basic auth, or the token service the registry names;
    default anonymous. The GIL is released while it pulls.

    Raises ConfigError for a bad reference, NotFoundError when the registry has no such
    repository, tag or manifest, a ContainerOSError otherwise: PermissionError when the registry
    refuses the credentials, ConnectionRefusedError (or another errno) when it cannot be
    reached, EIO when what it serves does not match its digest. Messages name the reference.
    """
    return _image(_native.pull(str(reference), _path(store), bool(plain_http), _credentials(credentials)))


def import_image(path: PathLike, name: Optional[str] = None, *, store: Optional[PathLike] = None) -> List[Image]:
    """Imports images without a registry, as ``rcontainer import``: ``path`` is an OCI image
    layout (a directory, e.g. ``skopeo copy ... oci:DIR``, or the same as a tar) or a ``docker
    save`` archive. Every blob is checked against its digest. The images get the names the
    archive gives them (a layout's bare tag takes the directory's or file's name as repository),
    or ``name`` for an archive of one image. Returns the Images imported.

    Raises ConfigError for an archive that is not one of those (or compressed: decompress it
    first), a ContainerOSError (e.g. FileNotFoundError) when it cannot be read.
    """
    return [_image(d) for d in _native.import_image(os.fsdecode(path), None if name is None else str(name), _path(store))]


def images(store: Optional[PathLike] = None) -> List[Image]:
    """The images of the store (default: $RCONTAINER_STORE, else DEFAULT_STORE), by name, as
    ``rcontainer images`` lists them."""
    return [_image(d) for d in _native.images(_path(store))]


def remove_image(
    reference: str,
    *,
    store: Optional[PathLike] = None,
    root: Union[PathLike, Sequence[PathLike], None] = None,
) -> Image:
    """Removes an image's name from the store, then what no other image and no container uses
    (blobs and unpacked layers), as ``rcontainer rmi``. ``reference`` is a name as run(image=...)
    takes it, or an image id. Layers of containers that still exist stay: those of the state
    ``root`` (or roots; default DEFAULT_ROOT) and any whose creating process still runs.
    Returns the Image removed. Raises NotFoundError when the store has no such image."""
    image, _ = _native.remove_image(str(reference), _path(store), _roots(root))
    return _image(image)


def prune(*, store: Optional[PathLike] = None, root: Union[PathLike, Sequence[PathLike], None] = None) -> PruneReport:
    """Removes from the store what no image and no container uses, as ``rcontainer prune``:
    blobs, unpacked layers, the copy-on-write roots of containers that no longer exist (in the
    state ``root`` or roots, default DEFAULT_ROOT, and whose creating process is gone), and what
    writers that died left half-written. Returns a PruneReport."""
    return PruneReport(**_native.prune(_path(store), _roots(root)))
