"""Every script in examples/ runs to completion, as the README tells a newcomer to run it,
and prints what says it worked."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.py"))
NEEDS = {"scale_out.py": "distributed", "train_digits.py": "sklearn"}
SAYS = {"conv_layer.py": "match the loop reference", "models.py": "forward of 4 images",
        "scale_out.py": "matches NumPy: True", "train_digits.py": "checkpoint written"}


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(script):
    if script.name in NEEDS:
        pytest.importorskip(NEEDS[script.name])
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300, cwd=script.parent.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    assert SAYS[script.name] in done.stdout
