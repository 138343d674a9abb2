"""Chapter 7 (generation and seq2seq): next_id_distribution, Encoder, Decoder, PeekyDecoder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from autograder.checks import assert_gradients_ok, assert_own_code, assert_same_as_reference, forbid_reference
from course import backend
from course import generate as ref_generate
from course.models import seq2seq as ref


def _rng(seed: int) -> Any:
    return backend.host().random.default_rng(seed)


def next_id_distribution(fn: Callable, seed: int = 71) -> None:
    assert_own_code(fn, ref_generate.next_id_distribution)
    rng = _rng(seed)
    np = backend.host()
    with forbid_reference(ref_generate.next_id_distribution):
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
        p = np.asarray(fn(np.array([1000.0, 0.0, -1000.0]), temperature=0.5))
        if not np.all(np.isfinite(p)) or abs(float(p.sum()) - 1) > 1e-9:
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


def encoder(Encoder: type, seed: int = 72) -> None:
    assert_own_code(Encoder, ref.Encoder, ("forward", "backward"))
    rng = _rng(seed)

    def make(pad: int | None) -> tuple[Any, Any]:
        return _copy_weights(Encoder(V, D, H, pad_id=pad), ref.Encoder(V, D, H, pad_id=pad))

    with forbid_reference(ref.Encoder):
        for pad in (None, 0):
            x = _questions(rng, 3, 5, V, pad is not None)
            assert_gradients_ok(make(pad)[0], x, what=f"Encoder with pad_id={pad}")
            assert_same_as_reference(
                lambda pad=pad: make(pad), (x,), rng.standard_normal((3, H)), what="Encoder"
            )


def _check_decoder(student: type, reference: type, name: str, rng: Any) -> None:
    def make() -> tuple[Any, Any]:
        return _copy_weights(student(V, D, H), reference(V, D, H))

    for n, t in ((1, 2), (3, 4)):
        xs, h = rng.integers(0, V, (n, t)), rng.standard_normal((n, H))
        assert_gradients_ok(make()[0], xs, h, what=f"{name} with N={n}, T={t}")
        assert_same_as_reference(make, (xs, h), rng.standard_normal((n, t, V)), what=name)


def decoder(Decoder: type, seed: int = 73) -> None:
    assert_own_code(Decoder, ref.Decoder, ("forward", "backward"))
    with forbid_reference(ref.Decoder):
        _check_decoder(Decoder, ref.Decoder, "Decoder", _rng(seed))


def alone(PeekyDecoder: type) -> type:
    """PeekyDecoder with the course's Decoder.forward in place of the inherited one.

    The peeky parts are judged alone: a bug in your Decoder costs only that exercise.
    """
    return type("PeekyDecoder", (PeekyDecoder,), {"forward": ref.Decoder.forward})


def peeky_decoder(PeekyDecoder: type, seed: int = 74) -> None:
    assert_own_code(PeekyDecoder, ref.PeekyDecoder, ("_step_input", "_scores", "backward"))
    isolated = alone(PeekyDecoder)
    with forbid_reference(ref.PeekyDecoder):
        _check_decoder(isolated, ref.PeekyDecoder, "PeekyDecoder", _rng(seed))
