# Type stubs of the rcontainer package (kept current by tests/test_stubs.py).
import os
import subprocess
import asyncio
from typing import IO, Any, Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple, TypedDict, Union

from typing_extensions import Unpack

from ._errors import ConfigError as ConfigError
from ._errors import ContainerError as ContainerError
from ._errors import ContainerExistsError as ContainerExistsError
from ._errors import ContainerOSError as ContainerOSError
from ._errors import ContainerTimeoutError as ContainerTimeoutError
from ._errors import NotFoundError as NotFoundError
from ._errors import StateError as StateError
from ._errors import UnsupportedError as UnsupportedError

_PathLike = Union[str, os.PathLike[str]]
_Stdio = Union[None, int, IO[Any]]
_IdMap = Union[str, Tuple[int, int, int]]
_Mount = Union[str, Tuple[_PathLike, _PathLike], Tuple[_PathLike, _PathLike, bool], Mapping[str, Any]]

class _CreateKwargs(TypedDict, total=False):
    """Container.create()'s keyword options, as run() and run_async() take them."""

    rootfs: Optional[_PathLike]
    hostname: Optional[str]
    env: Union[Mapping[str, str], Iterable[str], None]
    cwd: Optional[_PathLike]
    user: Union[int, str, Tuple[int, int], None]
    namespaces: Union[Iterable[str], Mapping[str, Optional[_PathLike]], None]
    uid_map: Union[_IdMap, Iterable[_IdMap], None]
    gid_map: Union[_IdMap, Iterable[_IdMap], None]
    mounts: Optional[Iterable[_Mount]]
    network: str
    memory: Union[int, str, None]
    memory_swap: Union[int, str, None]
    cpus: Optional[float]
    pids: Optional[int]
    stdin: _Stdio
    stdout: _Stdio
    stderr: _Stdio
    spec: Union[Mapping[str, Any], str, None]
    root: Optional[_PathLike]
    name: Optional[str]
    sandbox: bool
    image: Optional[str]
    entrypoint: Union[str, Sequence[str], None]
    read_only: bool
    store: Optional[_PathLike]
    plain_http: bool
    credentials: Optional[Tuple[str, str]]

__version__: str
DEFAULT_ROOT: str
"""The default state root (one directory per container), as runc's --root."""
DEFAULT_STORE: str
"""The default image store (when store= is None and $RCONTAINER_STORE is unset)."""
PIPE: int
"""As subprocess.PIPE: give the container a pipe; the Container gets the other end."""
DEVNULL: int
"""As subprocess.DEVNULL: connect the stream to /dev/null."""
STDOUT: int
"""As subprocess.STDOUT (for stderr=): send stderr where stdout goes."""

class ExitStatus(NamedTuple):
    """How a container's process ended."""

    code: Optional[int]
    signal: Optional[int]
    oom_killed: bool = ...
    @property
    def returncode(self) -> int: ...
    @property
    def exit_code(self) -> int: ...
    @property
    def success(self) -> bool: ...

class Stats:
    """A snapshot of a container's cgroup accounting (bytes, nanoseconds, counts)."""

    memory_usage: int
    memory_peak: int
    memory_limit: Optional[int]
    cpu_usage_ns: int
    cpu_user_ns: int
    cpu_system_ns: int
    pids_current: int
    pids_limit: Optional[int]
    oom_kills: int
    def __init__(
        self,
        memory_usage: int,
        memory_peak: int,
        memory_limit: Optional[int],
        cpu_usage_ns: int,
        cpu_user_ns: int,
        cpu_system_ns: int,
        pids_current: int,
        pids_limit: Optional[int],
        oom_kills: int,
    ) -> None: ...

class State:
    """A container's OCI state."""

    id: str
    status: str
    pid: int
    bundle: str
    rootfs: str
    created: str
    annotations: Dict[str, str]
    def __init__(self, id: str, status: str, pid: int, bundle: str, rootfs: str, created: str, annotations: Dict[str, str] = ...) -> None: ...

class Image:
    """An image in the store (pull(), import_image(), images())."""

    name: str
    repository: str
    tag: Optional[str]
    digest: str
    id: str
    size: int
    created: Optional[str]
    def __init__(
        self, name: str, repository: str, tag: Optional[str], digest: str, id: str, size: int, created: Optional[str] = ...
    ) -> None: ...
    @property
    def short_id(self) -> str: ...

class PruneReport:
    """What prune() removed from the store."""

    blobs: int
    layers: int
    containers: int
    bytes: int
    def __init__(self, blobs: int, layers: int, containers: int, bytes: int) -> None: ...

class CalledProcessError(ContainerError, subprocess.CalledProcessError):
    """Raised by run(check=True) for a non-zero return code."""

    oom_killed: bool

class CompletedContainer:
    """What run() returns, like subprocess.CompletedProcess."""

    args: List[str]
    returncode: int
    stdout: Any
    stderr: Any
    oom_killed: bool
    id: str
    stdout_truncated: bool
    stderr_truncated: bool
    timed_out: bool
    def __init__(
        self,
        args: List[str],
        returncode: int,
        stdout: Any = ...,
        stderr: Any = ...,
        oom_killed: bool = ...,
        id: str = ...,
        stdout_truncated: bool = ...,
        stderr_truncated: bool = ...,
        timed_out: bool = ...,
    ) -> None: ...
    def check_returncode(self) -> None: ...

class Container:
    """A container of this process."""

    args: List[str]
    stdin: Optional[IO[bytes]]
    stdout: Optional[IO[bytes]]
    stderr: Optional[IO[bytes]]
    pty: Optional[IO[bytes]]
    def __init__(self) -> None: ...
    @classmethod
    def create(
        cls,
        args: Optional[Sequence[_PathLike]] = None,
        *,
        rootfs: Optional[_PathLike] = None,
        hostname: Optional[str] = None,
        env: Union[Mapping[str, str], Iterable[str], None] = None,
        cwd: Optional[_PathLike] = None,
        user: Union[int, str, Tuple[int, int], None] = None,
        namespaces: Union[Iterable[str], Mapping[str, Optional[_PathLike]], None] = None,
        uid_map: Union[_IdMap, Iterable[_IdMap], None] = None,
        gid_map: Union[_IdMap, Iterable[_IdMap], None] = None,
        mounts: Optional[Iterable[_Mount]] = None,
        network: str = "none",
        memory: Union[int, str, None] = None,
        memory_swap: Union[int, str, None] = None,
        cpus: Optional[float] = None,
        pids: Optional[int] = None,
        stdin: _Stdio = None,
        stdout: _Stdio = None,
        stderr: _Stdio = None,
        spec: Union[Mapping[str, Any], str, None] = None,
        root: Optional[_PathLike] = None,
        name: Optional[str] = None,
        tty: bool = False,
        tty_size: Optional[Tuple[int, int]] = None,
        sandbox: bool = False,
        image: Optional[str] = None,
        entrypoint: Union[str, Sequence[str], None] = None,
        read_only: bool = False,
        store: Optional[_PathLike] = None,
        plain_http: bool = False,
        credentials: Optional[Tuple[str, str]] = None,
    ) -> Container: ...
    @property
    def id(self) -> str: ...
    @property
    def pid(self) -> int: ...
    @property
    def stop_signal(self) -> int: ...
    @property
    def state(self) -> State: ...
    def fileno(self) -> int: ...
    def start(self) -> None: ...
    def wait(self, timeout: Optional[float] = None) -> ExitStatus: ...
    def poll(self) -> Optional[ExitStatus]: ...
    async def wait_async(self) -> ExitStatus: ...
    def kill(self, sig: Optional[int] = None, *, all: bool = False) -> None: ...
    def limit(
        self,
        memory: Union[int, str, None] = None,
        cpus: Optional[float] = None,
        pids: Optional[int] = None,
        memory_swap: Union[int, str, None] = None,
    ) -> None: ...
    def stats(self) -> Stats: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def exec(
        self,
        args: Sequence[_PathLike],
        *,
        env: Union[Mapping[str, str], Iterable[str], None] = None,
        cwd: Optional[_PathLike] = None,
        user: Union[int, str, Tuple[int, int], None] = None,
        tty: bool = False,
        tty_size: Optional[Tuple[int, int]] = None,
        stdin: _Stdio = None,
        stdout: _Stdio = None,
        stderr: _Stdio = None,
    ) -> Process: ...
    def resize(self, rows: int, cols: int) -> None: ...
    def delete(self, force: bool = False) -> None: ...
    def communicate(self, input: Optional[bytes] = None, timeout: Optional[float] = None) -> Tuple[Optional[bytes], Optional[bytes]]: ...
    def close(self) -> None: ...
    def __enter__(self) -> Container: ...
    def __exit__(self, *exc: Any) -> None: ...

class Process:
    """A process exec'd into a container by Container.exec(), like subprocess.Popen."""

    args: List[str]
    container_id: str
    stdin: Optional[IO[bytes]]
    stdout: Optional[IO[bytes]]
    stderr: Optional[IO[bytes]]
    pty: Optional[IO[bytes]]
    def __init__(self) -> None: ...
    @property
    def pid(self) -> int: ...
    @property
    def returncode(self) -> Optional[int]: ...
    def fileno(self) -> int: ...
    def wait(self, timeout: Optional[float] = None) -> ExitStatus: ...
    def poll(self) -> Optional[ExitStatus]: ...
    async def wait_async(self) -> ExitStatus: ...
    def kill(self, sig: int = ...) -> None: ...
    def resize(self, rows: int, cols: int) -> None: ...
    def communicate(self, input: Optional[bytes] = None, timeout: Optional[float] = None) -> Tuple[Optional[bytes], Optional[bytes]]: ...
    def close(self) -> None: ...
    def __enter__(self) -> Process: ...
    def __exit__(self, *exc: Any) -> None: ...

DEFAULT_MAX_OUTPUT: int

def run(
    args: Optional[Sequence[_PathLike]] = None,
    *,
    capture_output: bool = False,
    timeout: Optional[float] = None,
    check: bool = False,
    input: Union[bytes, str, None] = None,
    text: bool = False,
    max_output: Optional[int] = ...,
    **create_kwargs: Unpack[_CreateKwargs],
) -> CompletedContainer: ...

async def run_async(
    args: Optional[Sequence[_PathLike]] = None,
    *,
    capture_output: bool = False,
    timeout: Optional[float] = None,
    check: bool = False,
    input: Union[bytes, str, None] = None,
    text: bool = False,
    max_output: Optional[int] = ...,
    **create_kwargs: Unpack[_CreateKwargs],
) -> CompletedContainer: ...

class AsyncContainer:
    """A started container whose PIPE streams are asyncio streams (from create_async())."""

    container: Container
    stdin: Optional[asyncio.StreamWriter]
    stdout: Optional[asyncio.StreamReader]
    stderr: Optional[asyncio.StreamReader]
    def __init__(
        self,
        container: Container,
        stdin: Optional[asyncio.StreamWriter],
        stdout: Optional[asyncio.StreamReader],
        stderr: Optional[asyncio.StreamReader],
    ) -> None: ...
    @property
    def id(self) -> str: ...
    @property
    def pid(self) -> int: ...
    @property
    def returncode(self) -> Optional[int]: ...
    async def wait(self) -> ExitStatus: ...
    async def communicate(self, input: Optional[bytes] = None) -> Tuple[Optional[bytes], Optional[bytes]]: ...
    def kill(self, sig: int = ...) -> None: ...
    async def __aenter__(self) -> AsyncContainer: ...
    async def __aexit__(self, *exc: Any) -> None: ...

async def create_async(args: Optional[Sequence[_PathLike]] = None, **create_kwargs: Unpack[_CreateKwargs]) -> AsyncContainer: ...

def pull(
    reference: str,
    *,
    store: Optional[_PathLike] = None,
    plain_http: bool = False,
    credentials: Optional[Tuple[str, str]] = None,
) -> Image: ...
def import_image(path: _PathLike, name: Optional[str] = None, *, store: Optional[_PathLike] = None) -> List[Image]: ...
def images(store: Optional[_PathLike] = None) -> List[Image]: ...
def remove_image(
    reference: str, *, store: Optional[_PathLike] = None, root: Union[_PathLike, Sequence[_PathLike], None] = None
) -> Image: ...
def prune(*, store: Optional[_PathLike] = None, root: Union[_PathLike, Sequence[_PathLike], None] = None) -> PruneReport: ...
