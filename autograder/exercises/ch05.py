"""Chapter 5 (recurrent networks): RNN, TimeRNN, bptt_positions, eval_perplexity."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import Any

from autograder.checks import (
    assert_gradients_ok,
    assert_grads_written_in_place,
    assert_own_code,
    assert_same_as_reference,
    copies,
    forbid_reference,
    recurrent_weights,
)
from course import backend
from course import train as ref_train
from course.layers import recurrent as ref_cells
from course.layers import time as ref_time
from course.models.rnnlm import BetterRnnlm, SimpleRnnlm


def _rng(seed: int) -> Any:
    return backend.host().random.default_rng(seed)


def _sizes(rng: Any, count: int = 3) -> list[tuple[int, ...]]:
    """(N, T, D, H) shapes, each from 1 to 5."""
    return [tuple(int(v) for v in rng.integers(1, 6, 4)) for _ in range(count)]


def rnn_cell(RNN: type, seed: int = 51) -> None:
    """The one-step RNN cell: gradients, agreement with the reference, grads in place."""
    assert_own_code(RNN, ref_cells.RNN, ("forward", "backward"))
    rng = _rng(seed)
    with forbid_reference(ref_cells.RNN):
        for N, _, D, H in _sizes(rng):
            Wx, Wh, b = recurrent_weights(rng, D, H)
            x, h = rng.standard_normal((N, D)), rng.standard_normal((N, H))
            assert_gradients_ok(RNN(*copies(Wx, Wh, b)), x, h, what=f"RNN with N={N}, D={D}, H={H}")

            def make(Wx=Wx, Wh=Wh, b=b):
                return RNN(*copies(Wx, Wh, b)), ref_cells.RNN(*copies(Wx, Wh, b))

            assert_same_as_reference(make, (x, h), rng.standard_normal((N, H)), what="RNN")
        Wx, Wh, b = recurrent_weights(rng, 3, 4)

        inputs = (
            rng.standard_normal((2, 3)),
            rng.standard_normal((2, 4)),
        )
        douts = (rng.standard_normal((2, 4)),)
        assert_grads_written_in_place(RNN(Wx, Wh, b), "RNN", inputs, douts)


@contextlib.contextmanager
def _reference_cell_for(answer: type, name: str, reference: type) -> Iterator[None]:
    """Judge a Time layer alone: if it builds cells by the global ``name``, use the reference cell.

    A bug in your RNN cell then costs only the RNN exercise.
    """
    globs = getattr(getattr(answer, "forward", None), "__globals__", {})
    before = globs.get(name)
    swap = isinstance(before, type) and before is not reference
    if swap:
        globs[name] = reference
    try:
        yield
    finally:
        if swap:
            globs[name] = before


def _own_methods(reference: type, methods: tuple[str, ...]) -> type:
    """A stand-in holding only the exercise's methods, for forbid_reference.

    The shared base class (state handling) is given code a student's class may use.
    """
    return type(reference.__name__, (), {m: vars(reference)[m] for m in methods})


def time_rnn(TimeRNN: type, seed: int = 52) -> None:
    """TimeRNN: BPTT gradients (inputs, weights, initial state), state handling, agreement."""
    assert_own_code(TimeRNN, ref_time.TimeRNN, ("forward", "backward"))
    rng = _rng(seed)
    np = backend.host()
    with (
        _reference_cell_for(TimeRNN, "RNN", ref_cells.RNN),
        forbid_reference(_own_methods(ref_time.TimeRNN, ("forward", "backward"))),
    ):
        for N, T, D, H in [*_sizes(rng), (2, 1, 3, 2)]:
            Wx, Wh, b = recurrent_weights(rng, D, H)
            xs, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
            what = f"TimeRNN with N={N}, T={T}, D={D}, H={H}"
            assert_gradients_ok(TimeRNN(*copies(Wx, Wh, b)), xs, what=what)
            layer = ref_time.WithInitialState(TimeRNN(*copies(Wx, Wh, b)))
            assert_gradients_ok(layer, xs, h0, what=what + " from a given initial state (dh)")

            def make(Wx=Wx, Wh=Wh, b=b):
                return TimeRNN(*copies(Wx, Wh, b)), ref_time.TimeRNN(*copies(Wx, Wh, b))

            assert_same_as_reference(make, (xs,), rng.standard_normal((N, T, H)), what="TimeRNN")

        # Stateful: the second block starts where the first ended; dh is the initial state's gradient.
        Wx, Wh, b = recurrent_weights(rng, 3, 4)
        mine = TimeRNN(*copies(Wx, Wh, b), stateful=True)
        ref = ref_time.TimeRNN(*copies(Wx, Wh, b), stateful=True)
        first, second = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 5, 3))
        mine.forward(first)
        ref.forward(first)
        got, want = mine.forward(second), ref.forward(second)
        if not np.allclose(got, want, atol=1e-10):
            raise AssertionError(
                "A stateful TimeRNN must start each forward from the last hidden state of the previous "
                "one (self.h); the second block differs. Use self._initial(self.h, ...) and "
                "self._keep_state(h_T)."
            )
        dhs = rng.standard_normal((2, 5, 4))
        mine.backward(dhs)
        ref.backward(dhs)
        if getattr(mine, "dh", None) is None or not np.allclose(mine.dh, ref.dh, atol=1e-10):
            raise AssertionError(
                "After backward, self.dh must hold the gradient with respect to the initial state (N, H)."
            )
        stateless = TimeRNN(*copies(Wx, Wh, b))
        once, twice = stateless.forward(first), stateless.forward(first)
        if not np.allclose(once, twice):
            raise AssertionError("A TimeRNN with stateful=False must start every forward from zeros.")

        inputs = (rng.standard_normal((2, 3, 3)),)
        douts = (rng.standard_normal((2, 3, 4)),)
        assert_grads_written_in_place(TimeRNN(*copies(Wx, Wh, b)), "TimeRNN", inputs, douts)


def bptt_positions(fn: Callable, seed: int = 53) -> None:
    """The positions of truncated-BPTT blocks: every stream, offset and wrap-around."""
    assert_own_code(fn, ref_train.bptt_positions)
    rng = _rng(seed)
    np = backend.host()
    cases = [(20, 2, 3, 0), (20, 2, 3, 3), (20, 2, 3, 9), (10, 1, 4, 8), (17, 5, 2, 4), (7, 7, 1, 6)]
    cases += [
        (int(L), int(n), int(t), int(t) * int(k))
        for L, n, t, k in zip(
            rng.integers(30, 300, 4), rng.integers(1, 9, 4), rng.integers(1, 12, 4), rng.integers(0, 40, 4),
            strict=True,
        )
    ]  # fmt: skip
    with forbid_reference(ref_train.bptt_positions):
        for length, N, T, time_idx in cases:
            got = np.asarray(backend.to_host(fn(length, N, T, time_idx)))
            want = ref_train.bptt_positions(length, N, T, time_idx)
            call = f"bptt_positions({length}, {N}, {T}, {time_idx})"
            if got.shape != want.shape:
                raise AssertionError(f"{call} must have shape (N, T) = {want.shape}; got {got.shape}.")
            if got.dtype.kind not in "iu":
                raise AssertionError(
                    f"{call} must be integer positions (to index the corpus); got {got.dtype}."
                )
            if not np.array_equal(got, want):
                raise AssertionError(
                    f"{call} gives\n{got}\nbut row n must read positions n * (length // N) + time_idx + "
                    f"(0 .. T-1), modulo the length:\n{want}"
                )


class _KnownLossModel:
    """A stand-in language model whose perplexity is known exactly.

    The loss of predicting label y is 0.01 * (y + 1), so the perplexity of a
    corpus is exp(mean over its L - 1 targets): every prediction must count
    exactly once. A forward with dropout on (train_flg=True) or from a state
    that was not reset costs 100 extra per token, which no right answer sees.
    """

    def __init__(self) -> None:
        np = backend.host()
        self.params = [np.zeros(1)]
        self.grads = [np.zeros(1)]
        self.dirty = True  # as if a training run had left its state behind

    def reset_state(self) -> None:
        self.dirty = False

    def forward(self, xs: Any, ts: Any, train_flg: bool = True) -> float:
        if xs.shape != ts.shape or xs.ndim != 2:
            raise AssertionError(
                f"The model received inputs {xs.shape} and labels {ts.shape}: both must be (N, T)."
            )
        valid = ts != -1
        per_token = 0.01 * (ts + 1) + (100.0 if (train_flg or self.dirty) else 0.0)
        return float((per_token * valid).sum() / max(int(valid.sum()), 1))


def eval_perplexity(fn: Callable, seed: int = 54) -> None:
    """Perplexity over a whole corpus: every prediction once, padding ignored, dropout off."""
    assert_own_code(fn, ref_train.eval_perplexity)
    rng = _rng(seed)
    with forbid_reference(ref_train.eval_perplexity):
        for length, N, T in [(2, 1, 1), (11, 4, 5), (37, 3, 4), (30, 5, 3), (100, 10, 35), (9, 20, 2)]:
            corpus = rng.integers(0, 50, length)
            model = _KnownLossModel()
            got = float(fn(model, corpus, batch_size=N, time_size=T))
            want = math.exp(float((0.01 * (corpus[1:] + 1)).mean()))
            if got > 1e30 or not math.isfinite(got):
                raise AssertionError(
                    f"For a corpus of {length} ids with batch_size={N}, time_size={T} the perplexity is "
                    f"{got}: evaluate with dropout off (forward_eval(model, xs, ts)) and call "
                    "model.reset_state() before the first block."
                )
            if abs(got - want) > 1e-9 * want:
                raise AssertionError(
                    f"For a corpus of {length} ids with batch_size={N}, time_size={T} the perplexity "
                    f"should be {want:.6f}, got {got:.6f}: each of the {length - 1} next-word predictions "
                    "must count exactly once (padding labelled -1, losses weighted by their token counts)."
                )
        # Real models: the streams' hidden states must carry from block to block.
        V = 9
        for make, what in (
            (lambda: SimpleRnnlm(V, 4, 5, dtype="float64"), "SimpleRnnlm"),
            (lambda: BetterRnnlm(V, 4, 4, dropout_ratio=0.5, dtype="float64"), "BetterRnnlm with dropout"),
        ):
            model = make()
            for p in model.params:
                p[...] = rng.standard_normal(p.shape)
            for length, N, T in ((23, 3, 4), (40, 2, 7)):
                corpus = rng.integers(0, V, length)
                model.predict(corpus[None, :5])  # leave a state behind: it must be reset first
                got = float(fn(model, corpus, batch_size=N, time_size=T))
                if any(layer.h is not None for layer in model.rnn_layers):
                    raise AssertionError("Call model.reset_state() when done, so training starts afresh.")
                want = ref_train.eval_perplexity(model, corpus, batch_size=N, time_size=T)
                if abs(got - want) > 1e-6 * want:
                    raise AssertionError(
                        f"{what}: for a corpus of {length} ids, batch_size={N}, time_size={T} the perplexity "
                        f"should be {want:.6f}, got {got:.6f}. Stream b must be the predictions b*L to "
                        "(b+1)*L-1 with L = ceil((len(corpus)-1) / batch_size), read time_size steps at a "
                        "time with the hidden state carried on, from a reset state, with dropout off."
                    )
