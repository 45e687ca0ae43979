"""Fixtures: a private state root per session, and a leak check after every test."""

import gc
import os
import shutil
import tempfile

import pytest

NEEDS_ROOT = "creating containers needs root (namespaces, mounts): run bindings-python/test.sh as root"


def pytest_report_header(config):
    return "rcontainer tests: real containers, as root" if os.geteuid() == 0 else "rcontainer tests: NOT root, container tests skip"


@pytest.fixture(scope="session")
def state_root():
    """A private state root for the session, under /run like the default one (a root under a 0700
    directory such as pytest's tmp_path is not reachable from inside a user namespace)."""
    if os.geteuid() != 0:
        pytest.skip(NEEDS_ROOT)
    root = tempfile.mkdtemp(prefix="rcontainer-pytest-", dir="/run")
    os.chmod(root, 0o711)
    yield root
    gc.collect()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def kw(state_root):
    """create() keywords every test passes: the private state root."""
    yield {"root": state_root}
    gc.collect()
    left = [n for n in os.listdir(state_root) if not n.startswith(".")]
    assert left == [], f"state dirs left behind: {left}"
