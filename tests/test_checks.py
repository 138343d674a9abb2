"""The graded tests' building blocks: warnings never cost points, re-exported references score nothing."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from autograder import checks
from course.layers.basic import Affine
from course.text import cos_similarity


def test_a_warning_inside_graded_goes_to_stdout_and_is_not_an_error(capsys):
    with checks.graded():
        big = np.exp(np.float32(1000.0))  # overflow: a RuntimeWarning, which this suite makes an error
        print("a library wrote this to stderr", file=sys.stderr)
    out, err = capsys.readouterr()
    assert np.isinf(big)
    assert err == "", "nbgrader gives 0 points to a test cell that writes to stderr"
    assert "note (not penalised): your code raised RuntimeWarning: overflow" in out
    assert "a library wrote this to stderr" in out


def test_graded_lets_a_failing_check_fail(capsys):
    with pytest.raises(AssertionError, match="wrong"), checks.graded():
        raise AssertionError("wrong")


class OwnAffine:
    def __init__(self, W, b):
        self.params = [W, b]

    def forward(self, x):
        return x @ self.params[0] + self.params[1]

    def backward(self, dout):
        return dout @ self.params[0].T


class Reexport(Affine):
    pass


class Borrowed(OwnAffine):
    forward = Affine.forward


def own_cosine(x, y):
    return float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y)))


@pytest.mark.parametrize(
    "answer, message",
    [
        (Affine, "is the course's reference imported"),
        (Reexport, "subclasses the course's reference"),
        (Borrowed, "comes from the course package"),
    ],
)
def test_a_reexported_class_is_refused(answer, message):
    with pytest.raises(AssertionError, match=message):
        checks.assert_own_code(answer, Affine, ("forward", "backward"))


def test_own_code_passes_and_a_missing_method_is_named():
    checks.assert_own_code(OwnAffine, Affine, ("forward", "backward"))
    checks.assert_own_code(own_cosine, cos_similarity)
    with pytest.raises(AssertionError, match="is the course's reference imported"):
        checks.assert_own_code(cos_similarity, cos_similarity)
    with pytest.raises(AssertionError, match="missing"):
        checks.assert_own_code(OwnAffine, Affine, ("forward", "backward", "update"))


class Disguised(OwnAffine):
    """Looks like its own code but runs the reference inside."""

    def forward(self, x):
        return Affine(*self.params).forward(x)


def _layer_inputs():
    rng = np.random.default_rng(0)
    return rng.standard_normal((3, 2)), rng.standard_normal(2), rng.standard_normal((4, 3))


def test_forbid_reference_catches_an_answer_that_calls_the_reference():
    W, b, x = _layer_inputs()
    refused = pytest.raises(AssertionError, match=r"runs the course's reference Affine\.(__init__|forward)")
    with refused, checks.forbid_reference(Affine):
        Disguised(W, b).forward(x)


def test_forbid_reference_lets_own_code_and_the_checks_run():
    W, b, x = _layer_inputs()
    student, reference = OwnAffine(W, b), Affine(W.copy(), b.copy())
    with checks.forbid_reference(Affine):
        student.forward(x)
        # The checks (code in autograder/) may run the reference to compare with it.
        checks.assert_gradients_ok(reference, x)
