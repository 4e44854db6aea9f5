"""The first program call tunes glibc's malloc to keep freed blocks (unless told not to)."""
import platform
import subprocess
import sys

import pytest

CHECK = "import numpy as np, tensorc as tc\n" \
        "from tensorc.runtime import memory\n" \
        "tc.compile('Y[i] = 2 * x[i]')(x=np.ones(3))\n" \
        "print(memory.keep_freed_memory())"


def run(env_extra: dict, monkeypatch) -> str:
    for name in ("TENSORC_MALLOC", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env_extra.items():
        monkeypatch.setenv(name, value)
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True,
                          check=True)
    return done.stdout.strip()


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="only glibc's malloc is tuned")
def test_malloc_is_tuned_on_glibc(monkeypatch):
    assert run({}, monkeypatch) == "True"


@pytest.mark.parametrize("env", [{"TENSORC_MALLOC": "default"},
                                 {"MALLOC_MMAP_THRESHOLD_": "1048576"},
                                 {"MALLOC_TRIM_THRESHOLD_": "1048576"}])
def test_malloc_is_left_alone_when_asked(monkeypatch, env):
    assert run(env, monkeypatch) == "False"
