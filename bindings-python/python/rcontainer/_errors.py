"""Exception classes of rcontainer, and the mapping from the core's error kinds to them."""

from __future__ import annotations

import errno as _errno
from typing import Any, Optional


class ContainerError(Exception):
    """Base class of every error rcontainer raises."""


class ConfigError(ContainerError, ValueError):
    """The configuration is invalid (a bad argument, spec field or id); nothing was created."""


class StateError(ContainerError):
    """The call is not allowed in the container's current lifecycle state (e.g. start() twice)."""


class NotFoundError(StateError, LookupError):
    """The container does not exist (any more): it was deleted. Also: an image that neither the
    store nor the registry has (pull(), run(image=...), remove_image())."""


class ContainerExistsError(ContainerError, FileExistsError):
    """A container with that id exists already under the same state root (errno EEXIST)."""


class ContainerOSError(ContainerError, OSError):
    """A system call failed while setting up or managing the container; ``errno`` says which errno.

    Raised as a subclass that also derives from the matching builtin class, so that
    ``except FileNotFoundError`` catches an exec of a missing command, as with subprocess.
    """


class ContainerTimeoutError(ContainerError, TimeoutError):
    """A wait ran out of time (errno ETIMEDOUT). From run(), ``stdout`` and ``stderr`` hold
    the output read so far, and ``stdout_truncated``/``stderr_truncated`` whether it was cut at
    ``max_output``."""

    stdout: Optional[bytes] = None
    stderr: Optional[bytes] = None
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    #: From run() and run_async(): the run's CompletedContainer (``timed_out=True``).
    result: "Optional[Any]" = None


class UnsupportedError(ContainerError, NotImplementedError):
    """The request is valid but this build or kernel cannot do it."""


def _os_subclasses() -> "dict[int, type]":
    out = {}
    for builtin in (
        BlockingIOError, ChildProcessError, BrokenPipeError, ConnectionAbortedError, ConnectionRefusedError,
        ConnectionResetError, FileExistsError, FileNotFoundError, InterruptedError, IsADirectoryError,
        NotADirectoryError, PermissionError, ProcessLookupError,
    ):
        cls = type(builtin.__name__.replace("Error", "") + "ContainerOSError", (ContainerOSError, builtin),
                   {"__doc__": f"A ContainerOSError that is also a {builtin.__name__}.", "__module__": __name__})
        for code in range(1, 200):
            probe = OSError(code, "")
            if type(probe) is builtin:
                out[code] = cls
    return out


_BY_ERRNO = _os_subclasses()


def _from_core(kind: str, errno: Optional[int], message: str) -> BaseException:
    """Builds the exception for an error of the native core (kind, errno, message)."""
    if kind == "invalid_config":
        return ConfigError(message)
    if kind == "not_found":
        return NotFoundError(message)
    if kind == "already_exists":
        return ContainerExistsError(_errno.EEXIST, message)
    if kind == "wrong_state":
        return StateError(message)
    if kind == "timeout":
        return ContainerTimeoutError(_errno.ETIMEDOUT, message)
    if kind == "unsupported":
        return UnsupportedError(message)
    code = errno if errno is not None else _errno.EIO
    return _BY_ERRNO.get(code, ContainerOSError)(code, message)


__all__ = [
    "ContainerError", "ConfigError", "StateError", "NotFoundError", "ContainerExistsError",
    "ContainerOSError", "ContainerTimeoutError", "UnsupportedError",
]
