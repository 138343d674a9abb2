"""Chapter 8 (attention): WeightSum, AttentionWeight, TimeAttention, AttentionDecoder, BidirectionalLSTM."""

from __future__ import annotations

from typing import Any

from autograder.students.checks import (
    assert_gradients_ok,
    assert_grads_written_in_place,
    assert_same_as_reference,
    copies,
    course_in_place_of,
    host_rng,
    recurrent_weights,
    right_padding,
    sizes,
)
from course import backend
from course.layers import attention as ref
from course.layers import bidirectional as ref_bi
from course.models import attention_seq2seq as ref_models

# Entries of a decoder's arrays checked numerically (each costs two forward passes in the
# subject); the comparison with the reference covers every entry.
COORDS = 16


def weight_sum(WeightSum: type, seed: int = 81) -> None:
    rng = host_rng(seed)
    for n, t, h in sizes(rng):
        hs, a = rng.standard_normal((n, t, h)), rng.random((n, t))
        assert_gradients_ok(WeightSum(), hs, a, what=f"WeightSum with N={n}, T={t}, H={h}")
        dc = rng.standard_normal((n, h))
        assert_same_as_reference(lambda: (WeightSum(), ref.WeightSum()), (hs, a), dc, what="WeightSum")


def attention_weight(AttentionWeight: type, seed: int = 82) -> None:
    rng = host_rng(seed)
    np = backend.host()
    for n, t, h in sizes(rng):
        hs, hd = rng.standard_normal((n, t, h)), rng.standard_normal((n, h))
        assert_gradients_ok(AttentionWeight(), hs, hd, what=f"AttentionWeight with N={n}, T={t}, H={h}")
        mask = right_padding(rng, n, t)
        assert_gradients_ok(AttentionWeight(), hs, hd, mask, what="AttentionWeight with a padding mask")
        da = rng.standard_normal((n, t))
        make = lambda: (AttentionWeight(), ref.AttentionWeight())  # noqa: E731
        assert_same_as_reference(make, (hs, hd, mask), da, what="AttentionWeight")
    a = AttentionWeight().forward(np.ones((1, 3, 2)) * 1e3, np.ones((1, 2)) * 1e3)
    if not np.all(np.isfinite(a)):
        raise AssertionError("AttentionWeight overflows for large scores: subtract the maximum first.")


def time_attention(TimeAttention: type, seed: int = 83) -> None:
    rng = host_rng(seed)
    for n, t, h in sizes(rng):
        ty = int(rng.integers(1, 5))
        enc, dec = rng.standard_normal((n, t, h)), rng.standard_normal((n, ty, h))
        mask = right_padding(rng, n, t)
        assert_gradients_ok(TimeAttention(), enc, dec, what=f"TimeAttention, N={n}, T={t}, Ty={ty}, H={h}")
        assert_gradients_ok(TimeAttention(), enc, dec, mask, what="TimeAttention with a padding mask")
        dcs = rng.standard_normal((n, ty, h))
        make = lambda: (TimeAttention(), ref.TimeAttention())  # noqa: E731
        assert_same_as_reference(make, (enc, dec, mask), dcs, what="TimeAttention")
        layer = TimeAttention()
        layer.forward(enc, dec, mask)
        weights = getattr(layer, "attention_weights", None)
        if weights is None or weights.shape != (n, ty, t):
            raise AssertionError(f"Keep the weights (N, Ty, T) = {(n, ty, t)} in self.attention_weights.")


def alone(AttentionDecoder: type) -> type:
    """AttentionDecoder with the course's TimeAttention inside.

    For the notebook's visible test: the decoder alone, so a bug in your TimeAttention
    costs only that exercise (the graded check gets the same with ``course_in_place_of``).
    """

    def build(self: Any, *args: Any, **kwargs: Any) -> None:
        AttentionDecoder.__init__(self, *args, **kwargs)
        self.attention = ref.TimeAttention()

    return type("AttentionDecoder", (AttentionDecoder,), {"__init__": build})


def attention_decoder(AttentionDecoder: type, seed: int = 84) -> None:
    rng = host_rng(seed)
    # Judged alone: the TimeAttention the decoder builds is the course's, not the student's cell;
    # its TimeLSTM is the one the reference runs, so float32 rounding is the same on both sides.
    with (
        course_in_place_of(AttentionDecoder, "TimeAttention", "course.layers.attention:TimeAttention"),
        course_in_place_of(AttentionDecoder, "TimeLSTM", "course.layers.time_lstm:FusedTimeLSTM"),
    ):
        for n, t, _ in sizes(rng, 3, 2):
            V, D, H, ty = 7, 3, 4, int(rng.integers(1, 4))

            def make(V=V, D=D, H=H):
                student, reference = AttentionDecoder(V, D, H), ref_models.AttentionDecoder(V, D, H)
                for mine, theirs in zip(student.params, reference.params, strict=True):
                    mine[...] = theirs
                return student, reference

            xs = rng.integers(0, V, (n, ty))
            enc, h0 = rng.standard_normal((n, t, H)), rng.standard_normal((n, H))
            mask = right_padding(rng, n, t)
            decoder = make()[0]
            assert_gradients_ok(
                decoder, xs, enc, h0, mask, what=f"AttentionDecoder, N={n}, T={t}, T'={ty}", max_coords=COORDS
            )
            assert_same_as_reference(
                make, (xs, enc, h0, mask), rng.standard_normal((n, ty, V)), what="AttentionDecoder"
            )
        xs, enc, h0, mask = (
            rng.integers(0, 7, (2, 3)),
            rng.standard_normal((2, 4, 4)),
            rng.standard_normal((2, 4)),
            right_padding(rng, 2, 4),
        )
        assert_grads_written_in_place(
            AttentionDecoder(7, 3, 4),
            "AttentionDecoder",
            (xs, enc, h0, mask),
            (rng.standard_normal((2, 3, 7)),),
        )


def bidirectional_lstm(BidirectionalLSTM: type, seed: int = 85) -> None:
    """Gradients with and without lengths, agreement with the reference, grads written in place.

    A BidirectionalLSTM that builds its LSTMs by the name ``TimeLSTM`` gets the
    course's, so only a bug in this exercise counts here.
    """
    rng = host_rng(seed)
    with course_in_place_of(BidirectionalLSTM, "TimeLSTM", "course.layers.time_lstm:TimeLSTM"):
        for n, t, d, h in sizes(rng, 4):
            weights = [*recurrent_weights(rng, d, h, 4), *recurrent_weights(rng, d, h, 4)]
            xs, lengths = rng.standard_normal((n, t, d)), rng.integers(1, t + 1, n)
            what = f"BidirectionalLSTM with N={n}, T={t}, D={d}, H={h}"
            assert_gradients_ok(BidirectionalLSTM(*copies(*weights)), xs, what=what)
            assert_gradients_ok(
                BidirectionalLSTM(*copies(*weights)), xs, lengths, what=f"{what}, lengths {lengths.tolist()}"
            )
            dhs = rng.standard_normal((n, t, 2 * h))
            make = lambda w=weights: (  # noqa: E731
                BidirectionalLSTM(*copies(*w)),
                ref_bi.BidirectionalLSTM(*copies(*w)),
            )
            assert_same_as_reference(make, (xs,), dhs, what="BidirectionalLSTM")
            assert_same_as_reference(make, (xs, lengths), dhs, what="BidirectionalLSTM with lengths")
        weights = [*recurrent_weights(rng, 3, 2, 4), *recurrent_weights(rng, 3, 2, 4)]
        inputs = (rng.standard_normal((2, 4, 3)), rng.integers(1, 5, 2))
        douts = (rng.standard_normal((2, 4, 4)),)
        assert_grads_written_in_place(BidirectionalLSTM(*weights), "BidirectionalLSTM", inputs, douts)
