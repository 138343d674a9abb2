"""The backend switch, array helpers, seeding, and the import policy."""

from __future__ import annotations

import ast
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import course
from course import backend

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_numpy_is_the_default():
    assert backend.name() == "numpy"
    assert backend.xp() is np


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(ValueError, match="choose one of numpy, strict, cupy"):
        course.use("tensorflow")


@pytest.mark.skipif(backend.gpu_available(), reason="checks the error raised where CuPy cannot run")
def test_cupy_request_explains_why_it_cannot_run():
    with pytest.raises(backend.BackendError) as info:
        course.use("cupy")
    text = str(info.value)
    assert "not installed" in text or "CUDA device" in text
    assert "pip install" in text or "nvidia-smi" in text
    assert backend.name() == "numpy"  # a failed switch leaves the backend as it was


@pytest.mark.skipif(backend.gpu_available(), reason="checks the error raised where CuPy cannot run")
def test_environment_variable_selects_the_backend():
    env = dict(os.environ, COURSE_BACKEND="cupy")
    proc = subprocess.run(
        [sys.executable, "-c", "import course; print(course.backend.name())"],
        env=env, capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    # CuPy cannot run here: the import still works, on NumPy, with a warning that says why.
    assert proc.returncode == 0 and proc.stdout.strip() == "numpy"
    assert "COURSE_BACKEND" in proc.stderr and "CuPy" in proc.stderr
    assert "not installed" in proc.stderr or "CUDA" in proc.stderr
    env["COURSE_BACKEND"] = "numpy"
    ok = subprocess.run(
        [sys.executable, "-c", "import course; print(course.backend.name())"],
        env=env, capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert ok.stdout.strip() == "numpy"


def test_array_module_follows_the_arrays(xp):
    a = xp.ones(3)
    assert backend.array_module(a) is xp
    assert backend.array_module(np.ones(2), a) is xp
    assert backend.array_module(1.0, 2) is backend.xp()


def test_scatter_add_accumulates_repeated_indices(xp):
    target = xp.zeros((4, 2))
    idx = xp.asarray([0, 2, 0, 0])
    values = xp.asarray([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]])
    backend.scatter_add(target, idx, values)
    expected = np.array([[13.0, 16.0], [0, 0], [3.0, 4.0], [0, 0]])
    np.testing.assert_allclose(backend.to_host(target), expected)


def test_to_host_and_to_device_round_trip(xp):
    a = backend.to_device(np.arange(6.0).reshape(2, 3))
    assert backend.array_module(a) is xp
    back = backend.to_host(a)
    assert isinstance(back, np.ndarray)
    np.testing.assert_array_equal(back, np.arange(6.0).reshape(2, 3))


def test_seed_makes_random_numbers_repeat(xp):
    course.seed(7)
    first = backend.to_host(backend.randn(3, 4))
    drop = backend.to_host(backend.rng().random(5))
    course.seed(7)
    np.testing.assert_array_equal(first, backend.to_host(backend.randn(3, 4)))
    np.testing.assert_array_equal(drop, backend.to_host(backend.rng().random(5)))
    course.seed(8)
    assert not np.array_equal(first, backend.to_host(backend.randn(3, 4)))


def test_randn_dtype_and_scale(xp):
    w = backend.randn(200, 50, scale=0.01)
    assert w.dtype == xp.float32 and w.shape == (200, 50)
    assert 0.008 < float(w.std()) < 0.012


def test_rng_snapshot_restores_every_generator(xp):
    import random

    snap = backend.rng_snapshot()
    a = (random.random(), np.random.rand(), float(backend.rng().random()))
    backend.rng_restore(snap)
    b = (random.random(), np.random.rand(), float(backend.rng().random()))
    assert a == b


def _imports_numpy_or_cupy(path: pathlib.Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        for name in names:
            if name.split(".")[0] in ("numpy", "cupy"):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    return found


# The backend, and the strict stand-in for CuPy that computes with NumPy underneath.
ARRAY_MODULES = {ROOT / "course" / "backend.py", ROOT / "course" / "strict.py"}


def test_only_the_backend_imports_numpy_or_cupy():
    offenders = []
    for path in sorted((ROOT / "course").rglob("*.py")):
        if path not in ARRAY_MODULES:
            offenders += _imports_numpy_or_cupy(path)
    assert not offenders, "only course/backend.py and course/strict.py import numpy or cupy:\n" + "\n".join(
        offenders
    )


def test_import_policy_check_can_fail(tmp_path):
    bad = ROOT / "course" / "_policy_probe.py"
    try:
        bad.write_text("import numpy as np\n")
        assert _imports_numpy_or_cupy(bad) == ["course/_policy_probe.py:1 imports numpy"]
    finally:
        bad.unlink()


def test_gpu_check_says_plainly_when_there_is_no_cuda_device(tmp_path):
    # No nvidia-smi on PATH: the check stops at once, before installing anything, and fails.
    env = dict(os.environ, PATH=str(tmp_path))
    proc = subprocess.run(
        [sys.executable, str(ROOT / "quickstart.py"), "gpu-check"],
        env=env, capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "no CUDA device here" in proc.stderr and "nvidia-smi" in proc.stderr
    assert "Installing" not in proc.stdout
