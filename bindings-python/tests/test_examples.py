"""The programs in examples/python run and print what they promise."""

import pathlib
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples" / "python"


@pytest.mark.parametrize("script", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_example_runs(script, state_root):  # state_root: skips unless root
    p = subprocess.run([sys.executable, str(EXAMPLES / script)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "OK" in p.stdout.splitlines()[-1], p.stdout


def test_the_readmes_first_example_runs(state_root):  # state_root: skips unless root
    import re

    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    first = re.findall(r"```python\n(.*?)```", readme, re.S)[0]
    p = subprocess.run([sys.executable, "-c", first], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.splitlines() == ["(0, '65534\\nlo\\n', False)", "timeout", "[(0, '0\\n', False), (0, '1\\n', False)]"], p.stdout
