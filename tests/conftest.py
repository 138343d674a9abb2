"""Shared fixtures: every array test runs once per backend.

NumPy and the strict CPU stand-in for CuPy (``course.strict``) always run;
the CuPy cases are skipped, with the reason shown, where CuPy or a CUDA
device is missing.
"""

from __future__ import annotations

import os

import matplotlib
import pytest

import course
from course import backend

matplotlib.use("Agg")

_GPU = backend.gpu_available()
BACKENDS = [
    "numpy",
    "strict",
    pytest.param(
        "cupy",
        marks=pytest.mark.skipif(not _GPU, reason="CuPy backend: no CuPy or no CUDA device here"),
    ),
]


@pytest.fixture(params=BACKENDS)
def xp(request):
    """The array module under test, made the backend in use for the test."""
    module = course.use(request.param)
    course.seed(0)
    yield module
    course.use("numpy")


@pytest.fixture
def rng():
    """A host random generator for test data, independent of the course's."""
    return backend.host().random.default_rng(12345)


@pytest.fixture(autouse=True)
def _numpy_backend_after_each_test():
    yield
    course.use("numpy")


def pytest_report_header(config):
    data = os.environ.get("COURSE_DATA_DIR", "(not set)")
    gpu = ", cupy" if _GPU else " (cupy: no CUDA device)"
    return [f"course backends: numpy, strict{gpu}", f"COURSE_DATA_DIR: {data}"]
