"""The graded tests' building blocks: warnings never cost points, the course's parts stand in by name."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from autograder.students import checks


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


class Cell:
    """A stand-in for a student's buggy cell."""


class TimeLayer:
    """A student's Time layer that builds cells by the global name ``Cell``."""

    def forward(self):
        return Cell


def test_course_in_place_of_swaps_the_global_name_for_the_check_only():
    from course.layers.recurrent import RNN

    with checks.course_in_place_of(TimeLayer, "Cell", "course.layers.recurrent:RNN"):
        assert TimeLayer().forward() is RNN
    assert TimeLayer().forward() is Cell


def test_course_version_is_the_course_definition_in_process():
    from course.models.rnnlm import SimpleRnnlm

    assert checks.course_version(TimeLayer, "course.models.rnnlm:SimpleRnnlm") is SimpleRnnlm


def test_a_layer_that_replaces_its_grads_is_named():
    class Replacing:
        def __init__(self):
            self.params, self.grads = [np.ones(2)], [np.zeros(2)]

        def forward(self, x):
            return x * self.params[0]

        def backward(self, dout):
            self.grads[0] = dout.copy()  # a new array: an optimizer holding the old one sees nothing
            return dout * self.params[0]

    with pytest.raises(AssertionError, match=r"replaced the arrays in self\.grads"):
        checks.assert_grads_written_in_place(Replacing(), "Replacing", (np.ones(2),), (np.ones(2),))
