# Type stubs of the native module (kept current by tests/test_stubs.py). Private: use the rcontainer package.
from typing import Dict, List, Optional, Tuple, Union

__version__: str
DEFAULT_ROOT: str

_Status = Tuple[Optional[int], Optional[int], bool]

class NativeContainer:
    @property
    def id(self) -> str: ...
    @property
    def pid(self) -> int: ...
    def start(self) -> None: ...
    def wait(self, timeout: Optional[float] = None) -> _Status: ...
    def try_wait(self) -> Optional[_Status]: ...
    def kill(self, sig: int) -> None: ...
    def kill_all(self, sig: int) -> None: ...
    def limit(
        self,
        memory: Union[int, str, None] = None,
        memory_swap: Union[int, str, None] = None,
        cpus: Optional[float] = None,
        pids: Optional[int] = None,
    ) -> None: ...
    def stats(self) -> Dict[str, Optional[int]]: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def delete(self, force: bool = False) -> None: ...
    def fileno(self) -> int: ...
    def dup_pidfd(self) -> int: ...
    def state(self) -> Dict[str, object]: ...

def create(
    id: str,
    root: Optional[str],
    args: Optional[List[str]],
    rootfs: Optional[str],
    hostname: Optional[str],
    env: List[Tuple[str, str]],
    cwd: Optional[str],
    user: Optional[Tuple[int, int]],
    namespaces: Optional[List[Tuple[str, Optional[str]]]],
    uid_map: List[str],
    gid_map: List[str],
    mounts: List[Union[str, Tuple[str, str, bool]]],
    network: str,
    memory: Union[int, str, None],
    cpus: Optional[float],
    pids: Optional[int],
    stdin: Optional[int],
    stdout: Optional[int],
    stderr: Optional[int],
    spec: Optional[str],
) -> NativeContainer: ...
