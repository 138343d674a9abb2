"""Which code in ``course/`` is a chapter's model answer.

An exercise's model answer is marked where it is defined::

    @model_answer("affine", chapter="ch01", methods=("forward", "backward"), derivation=True)
    class Affine: ...

``exercise`` is the grade id of the notebook's solution cell; ``methods`` are
the methods the student writes (empty for a function: its whole body);
``derivation`` says the student derives a backward pass (its final formulas
sit in a collapsed hint, never in visible text); ``twins`` name other
definitions of the course that compute the same answer (a fast version): they
are withheld too while the answer is judged.

``course sync`` renders each solution cell from its answer; the grader stubs
the answer and its twins while judging it. A model answer is what a good
student writes from the chapter's text: fast versions live under their own
names and are proven equal to it by the tests.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Answer:
    """One exercise's model answer: where it lives and what the student writes."""

    exercise: str  # grade id of the solution cell
    chapter: str  # "ch01" ... "ch09"
    reference: str  # "course.module:Name"
    methods: tuple[str, ...]  # methods the student writes; () for a function
    derivation: bool  # a backward pass derived by the student
    twins: tuple[str, ...]  # "course.module:Name" definitions that compute the same answer


_ANSWERS: dict[str, Answer] = {}


def model_answer(
    exercise: str,
    *,
    chapter: str,
    methods: Sequence[str] = (),
    derivation: bool = False,
    twins: Sequence[str] = (),
) -> Callable[[T], T]:
    """Mark a class or function as the model answer of ``exercise``; returns it unchanged."""

    def mark(obj: T) -> T:
        answer = Answer(
            exercise=exercise,
            chapter=chapter,
            reference=f"{obj.__module__}:{obj.__qualname__}",
            methods=tuple(methods),
            derivation=derivation,
            twins=tuple(twins),
        )
        known = _ANSWERS.get(exercise)
        if known is not None and known.reference != answer.reference:
            raise ValueError(
                f"exercise {exercise!r} has two model answers: {known.reference} and {answer.reference}"
            )
        _ANSWERS[exercise] = answer
        return obj

    return mark


@functools.cache
def _import_course() -> None:
    """Import every module of the course, so that every answer is registered."""
    import course  # noqa: PLC0415 - this module is imported by course's own modules

    for info in pkgutil.walk_packages(course.__path__, "course."):
        if not info.name.startswith("course.widgets"):  # no answers there; needs a display
            importlib.import_module(info.name)


def answers() -> dict[str, Answer]:
    """Every model answer of the course, by exercise (solution cell grade id)."""
    _import_course()
    return dict(_ANSWERS)


def answer(exercise: str) -> Answer:
    """The model answer of one exercise; KeyError names the known ones."""
    found = answers()
    if exercise not in found:
        raise KeyError(
            f"no model answer is marked for exercise {exercise!r}; known: {', '.join(sorted(found))}"
        )
    return found[exercise]
