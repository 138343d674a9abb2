"""Chapter 7 (generation and seq2seq): next_id_distribution, Encoder, Decoder, PeekyDecoder."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from autograder.instructors import remote
from autograder.instructors.protocol import Handle
from autograder.students.checks import (
    assert_gradients_ok,
    assert_grads_written_in_place,
    assert_same_as_reference,
    host_rng,
)
from course import backend
from course import generate as ref_generate
from course.models import seq2seq as ref


def next_id_distribution(fn: Callable, seed: int = 71) -> None:
    rng = host_rng(seed)
    np = backend.host()
    for V in (2, 5, 40):
        scores = rng.standard_normal(V) * 3
        cases = [
            {"temperature": t, "top_k": k, "skip_ids": s}
            for t in (0.5, 1.0, 2.0)
            for k in (None, 1, 3)
            for s in (None, [0])
            if not (s and V <= 2 and k == 1)
        ]
        for case in cases:
            got = np.asarray(fn(scores.copy(), **case), dtype=float)
            want = ref_generate.next_id_distribution(scores.copy(), **case)
            if got.shape != want.shape or not np.allclose(got, want, atol=1e-9):
                raise AssertionError(
                    f"For {case} on {V} scores the distribution differs from the expected one."
                )
    p = np.asarray(fn(np.array([1000.0, 0.0, -1000.0]), temperature=0.5), dtype=float)
    if p.shape != (3,) or not np.all(np.isfinite(p)) or abs(float(p.sum()) - 1) > 1e-9:
        raise AssertionError("Scores of ±1000 must still give a finite distribution summing to 1.")


def _copy_weights(student: Any, reference: Any) -> tuple[Any, Any]:
    for mine, theirs in zip(student.params, reference.params, strict=True):
        mine[...] = theirs
    return student, reference


def _questions(rng: Any, n: int, t: int, V: int, pad: bool) -> Any:
    x = rng.integers(1, V, (n, t))
    if pad:
        lengths = rng.integers(1, t + 1, n)
        x[backend.host().arange(t)[None, :] >= lengths[:, None]] = 0
    return x


V, D, H = 6, 3, 4  # small sizes keep the numerical gradients quick
# Entries checked numerically per array (each costs two forward passes in the subject);
# the comparison with the reference covers every entry.
COORDS = 16


def encoder(Encoder: type, seed: int = 72) -> None:
    rng = host_rng(seed)

    def make(pad: int | None) -> tuple[Any, Any]:
        return _copy_weights(Encoder(V, D, H, pad_id=pad), ref.Encoder(V, D, H, pad_id=pad))

    for pad in (None, 0):
        x = _questions(rng, 3, 5, V, pad is not None)
        assert_gradients_ok(make(pad)[0], x, what=f"Encoder with pad_id={pad}", max_coords=COORDS)
        assert_same_as_reference(lambda pad=pad: make(pad), (x,), rng.standard_normal((3, H)), what="Encoder")
    x = _questions(rng, 2, 4, V, True)
    assert_grads_written_in_place(make(0)[0], "Encoder", (x,), (rng.standard_normal((2, H)),))


def _check_decoder(student: Any, reference: type, name: str, rng: Any) -> None:
    def make() -> tuple[Any, Any]:
        return _copy_weights(student(V, D, H), reference(V, D, H))

    for n, t in ((1, 2), (3, 4)):
        xs, h = rng.integers(0, V, (n, t)), rng.standard_normal((n, H))
        assert_gradients_ok(make()[0], xs, h, what=f"{name} with N={n}, T={t}", max_coords=COORDS)
        assert_same_as_reference(make, (xs, h), rng.standard_normal((n, t, V)), what=name)
    xs, h = rng.integers(0, V, (2, 3)), rng.standard_normal((2, H))
    assert_grads_written_in_place(make()[0], name, (xs, h), (rng.standard_normal((2, 3, V)),))


def decoder(Decoder: type, seed: int = 73) -> None:
    _check_decoder(Decoder, ref.Decoder, "Decoder", host_rng(seed))


def alone(PeekyDecoder: type) -> type:
    """PeekyDecoder with the course's Decoder.forward in place of the inherited one.

    The peeky parts are tested alone (the notebook's visible test uses it too):
    a bug in your Decoder costs only that exercise.
    """
    return type("PeekyDecoder", (PeekyDecoder,), {"forward": ref.Decoder.forward})


@contextlib.contextmanager
def _on_course_forward(PeekyDecoder: Any) -> Iterator[Any]:
    """PeekyDecoder with the course's Decoder.forward, as :func:`alone` gives it; in its subject when judged.

    The forward it inherits from the student's Decoder is another exercise's answer.
    """
    subject = remote.of(PeekyDecoder)
    if subject is None:
        yield alone(PeekyDecoder)
        return
    # The course's function, as a handle in the subject, becomes the class's forward there.
    forward = subject.call("course.models.seq2seq:Decoder.__dict__.get", None, ("forward",), {})
    target = PeekyDecoder._target
    subject.request({"op": "set", "target": target, "attr": "forward", "value": Handle(forward._handle)})
    yield PeekyDecoder


def peeky_decoder(PeekyDecoder: type, seed: int = 74) -> None:
    with _on_course_forward(PeekyDecoder) as isolated:
        _check_decoder(isolated, ref.PeekyDecoder, "PeekyDecoder", host_rng(seed))
