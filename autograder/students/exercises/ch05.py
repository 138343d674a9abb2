"""Chapter 5 (recurrent networks): RNN, TimeRNN, bptt_positions, eval_perplexity."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from autograder.students.checks import (
    assert_carries_state,
    assert_gradients_ok,
    assert_grads_written_in_place,
    assert_same_as_reference,
    copies,
    course_in_place_of,
    course_version,
    host_rng,
    recurrent_weights,
    sizes,
)
from course import backend
from course import train as ref_train
from course.layers import recurrent as ref_cells
from course.layers import time_rnn as ref_time
from course.models import rnnlm as ref_models


def rnn_cell(RNN: Any, seed: int = 51) -> None:
    """The one-step RNN cell: gradients, agreement with the reference, grads in place."""
    rng = host_rng(seed)
    Wx, Wh, b = recurrent_weights(rng, 3, 4)
    inputs = (rng.standard_normal((2, 3)), rng.standard_normal((2, 4)))
    douts = (rng.standard_normal((2, 4)),)
    assert_grads_written_in_place(RNN(*copies(Wx, Wh, b)), "RNN", inputs, douts)
    for N, _, D, H in sizes(rng, 4):
        Wx, Wh, b = recurrent_weights(rng, D, H)
        x, h = rng.standard_normal((N, D)), rng.standard_normal((N, H))
        assert_gradients_ok(RNN(*copies(Wx, Wh, b)), x, h, what=f"RNN with N={N}, D={D}, H={H}")

        def make(Wx=Wx, Wh=Wh, b=b):
            return RNN(*copies(Wx, Wh, b)), ref_cells.RNN(*copies(Wx, Wh, b))

        assert_same_as_reference(make, (x, h), rng.standard_normal((N, H)), what="RNN")


def time_rnn(TimeRNN: Any, seed: int = 52) -> None:
    """TimeRNN: BPTT gradients (inputs, weights, initial state), state handling, agreement.

    A TimeRNN that builds cells by the name ``RNN`` gets the course's cell, so a
    bug in your RNN cell costs only the RNN exercise.
    """
    with course_in_place_of(TimeRNN, "RNN", "course.layers.recurrent:RNN"):
        _time_rnn(TimeRNN, host_rng(seed))


def _time_rnn(TimeRNN: Any, rng: Any) -> None:
    np = backend.host()
    WithInitialState = course_version(TimeRNN, "course.layers.time_recurrent:WithInitialState")
    Wx, Wh, b = recurrent_weights(rng, 3, 4)
    inputs = (rng.standard_normal((2, 3, 3)),)
    douts = (rng.standard_normal((2, 3, 4)),)
    assert_grads_written_in_place(TimeRNN(*copies(Wx, Wh, b)), "TimeRNN", inputs, douts)
    for N, T, D, H in [*sizes(rng, 4), (2, 1, 3, 2)]:
        Wx, Wh, b = recurrent_weights(rng, D, H)
        xs, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
        what = f"TimeRNN with N={N}, T={T}, D={D}, H={H}"
        assert_gradients_ok(TimeRNN(*copies(Wx, Wh, b)), xs, what=what)
        layer = WithInitialState(TimeRNN(*copies(Wx, Wh, b)))
        assert_gradients_ok(layer, xs, h0, what=what + " from a given initial state (dh)")

        def make(Wx=Wx, Wh=Wh, b=b):
            return TimeRNN(*copies(Wx, Wh, b)), ref_time.TimeRNN(*copies(Wx, Wh, b))

        assert_same_as_reference(make, (xs,), rng.standard_normal((N, T, H)), what="TimeRNN")

    # Stateful: the second block starts where the first ended; dh is the initial state's gradient.
    Wx, Wh, b = recurrent_weights(rng, 3, 4)
    mine = TimeRNN(*copies(Wx, Wh, b), stateful=True)
    ref = ref_time.TimeRNN(*copies(Wx, Wh, b), stateful=True)
    assert_carries_state(mine, ref, "TimeRNN", rng)
    first = rng.standard_normal((2, 5, 3))
    stateless = TimeRNN(*copies(Wx, Wh, b))
    once, twice = stateless.forward(first), stateless.forward(first)
    if not np.allclose(once, twice):
        raise AssertionError("A TimeRNN with stateful=False must start every forward from zeros.")


def bptt_positions(fn: Callable, seed: int = 53) -> None:
    """The positions of truncated-BPTT blocks: every stream, offset and wrap-around."""
    rng = host_rng(seed)
    np = backend.host()
    cases = [(20, 2, 3, 0), (20, 2, 3, 3), (20, 2, 3, 9), (10, 1, 4, 8), (17, 5, 2, 4), (7, 7, 1, 6)]
    cases += [
        (int(L), int(n), int(t), int(t) * int(k))
        for L, n, t, k in zip(
            rng.integers(30, 300, 4), rng.integers(1, 9, 4), rng.integers(1, 12, 4), rng.integers(0, 40, 4),
            strict=True,
        )
    ]  # fmt: skip
    for length, N, T, time_idx in cases:
        got = np.asarray(backend.to_host(fn(length, N, T, time_idx)))
        want = ref_train.bptt_positions(length, N, T, time_idx)
        call = f"bptt_positions({length}, {N}, {T}, {time_idx})"
        if got.shape != want.shape:
            raise AssertionError(f"{call} must have shape (N, T) = {want.shape}; got {got.shape}.")
        if got.dtype.kind not in "iu":
            raise AssertionError(f"{call} must be integer positions (to index the corpus); got {got.dtype}.")
        if not np.array_equal(got, want):
            raise AssertionError(
                f"{call} gives\n{got}\nbut row n must read positions n * (length // N) + time_idx + "
                f"(0 .. T-1), modulo the length:\n{want}"
            )


_V = 9  # the vocabulary of the test models


def _model(fn: Any, name: str, rng: Any, **options: Any) -> tuple[Any, Any]:
    """The course's model ``name`` where ``fn`` runs, and a local twin with the same random weights.

    The model handed to your function is built where it runs (its subject when
    judged); the twin computes the expected perplexity here.
    """
    model = course_version(fn, f"course.models.rnnlm:{name}")(_V, 4, 4, dtype="float64", **options)
    twin = getattr(ref_models, name)(_V, 4, 4, dtype="float64", **options)
    # When judged, the first read of a method name refreshes the proxy's params from its subject
    # without sending the edits below first; read it now, so they reach the model.
    _ = model.predict
    for mine, theirs in zip(model.params, twin.params, strict=True):
        mine[...] = rng.standard_normal(mine.shape)  # sent to the model before its next call
        theirs[...] = mine
    return model, twin


def _bias_only(fn: Any, rng: Any) -> tuple[Any, Any]:
    """A SimpleRnnlm whose only nonzero weight is the output bias b: its loss is known exactly.

    Every hidden state is 0, so each prediction of label y costs logsumexp(b) - b[y],
    whatever the state, the inputs or the stream it is in.
    """
    np = backend.host()
    model = course_version(fn, "course.models.rnnlm:SimpleRnnlm")(_V, 3, 3, dtype="float64")
    bias = rng.standard_normal(_V) * 2.0
    names = list(model.param_names)  # read before the edits below (a read refreshes params when judged)
    for p, pname in zip(model.params, names, strict=True):
        p[...] = bias if pname == "affine.b" else 0.0
    costs = float(np.log(np.exp(bias).sum())) - bias
    return model, costs


def _check_perplexity(got: Any, want: float, what: str, hint: str) -> None:
    try:
        value = float(got)
    except (TypeError, ValueError):
        raise AssertionError(f"{what}: eval_perplexity must return a number; got {got!r}.") from None
    if not math.isfinite(value) or abs(value - want) > 1e-6 * want:
        raise AssertionError(f"{what}: the perplexity should be {want:.6f}, got {value:.6g}. {hint}")


def eval_perplexity(fn: Callable, seed: int = 54) -> None:
    """Perplexity over a whole corpus: every prediction once, padding ignored, state reset, dropout off.

    The models are the course's; an eval_perplexity that calls ``bptt_positions``
    gets the course's, so a bug there costs only that exercise.
    """
    with course_in_place_of(fn, "bptt_positions", "course.train:bptt_positions"):
        _eval_perplexity(fn, host_rng(seed))


def _eval_perplexity(fn: Callable, rng: Any) -> None:
    # A model whose perplexity is known: every next-word prediction must count exactly once.
    model, costs = _bias_only(fn, rng)
    for length, N, T in [(2, 1, 1), (11, 4, 5), (37, 3, 4), (30, 5, 3), (100, 10, 35), (9, 20, 2)]:
        corpus = rng.integers(0, _V, length)
        want = math.exp(float(costs[corpus[1:]].mean()))
        _check_perplexity(
            fn(model, corpus, batch_size=N, time_size=T),
            want,
            f"For a corpus of {length} ids with batch_size={N}, time_size={T}",
            f"Each of the {length - 1} next-word predictions must count exactly once: the last "
            "block's padding labelled -1, each block's loss weighted by its number of real labels.",
        )

    # Real models: the streams' hidden states carry on from block to block, from a reset state.
    cases = ((23, 3, 4), (40, 2, 7))
    model, twin = _model(fn, "SimpleRnnlm", rng)
    for fresh in (True, False):
        for length, N, T in cases:
            corpus = rng.integers(0, _V, length)
            if not fresh:
                model.predict(rng.integers(0, _V, (N, 3)))  # leave a state behind: it must be reset first
            want = ref_train.eval_perplexity(twin, corpus, batch_size=N, time_size=T)
            hint = (
                "Call model.reset_state() before the first block: the model still had the state of "
                "an earlier run."
                if not fresh
                else f"Stream b must be the predictions b*ℓ to (b+1)*ℓ-1 with ℓ = ceil({length - 1} / "
                f"batch_size), read time_size steps at a time with the hidden state carried on."
            )
            _check_perplexity(
                fn(model, corpus, batch_size=N, time_size=T),
                want,
                f"SimpleRnnlm, a corpus of {length} ids, batch_size={N}, time_size={T}",
                hint,
            )
            if any(layer.h is not None for layer in model.rnn_layers):
                raise AssertionError("Call model.reset_state() when done, so training starts afresh.")

    model, twin = _model(fn, "BetterRnnlm", rng, dropout_ratio=0.5, tie_weights=True)
    for length, N, T in cases:
        corpus = rng.integers(0, _V, length)
        model.predict(rng.integers(0, _V, (N, 3)))  # a state to reset
        want = ref_train.eval_perplexity(twin, corpus, batch_size=N, time_size=T)
        _check_perplexity(
            fn(model, corpus, batch_size=N, time_size=T),
            want,
            f"BetterRnnlm with dropout, a corpus of {length} ids, batch_size={N}, time_size={T}",
            "Evaluate with dropout off: forward_eval(model, xs, ts) calls forward with train_flg=False.",
        )
