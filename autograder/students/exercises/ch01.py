"""Chapter 1 (review): Sigmoid, Affine, SoftmaxWithLoss, Adam.

Each check takes the student's class, runs it on random shapes against
numerical gradients and the course's reference, and raises AssertionError
with a message a student can act on.
"""

from __future__ import annotations

import math

from autograder.students.checks import assert_gradients_ok, assert_same_as_reference, host_rng
from course import backend
from course import layers as ref_layers
from course import optim as ref_optim


def _shapes(seed: int, count: int = 3) -> list[tuple[int, int, int]]:
    rng = host_rng(seed)
    return [tuple(int(v) for v in rng.integers(1, 8, 3)) for _ in range(count)]


def sigmoid(Sigmoid: type, seed: int = 11) -> None:
    """Sigmoid layer: values, gradient, agreement with the reference."""
    rng = host_rng(seed)
    for n, d, _ in _shapes(seed):
        x = rng.standard_normal((n, d)) * 3
        assert_gradients_ok(Sigmoid(), x, what=f"Sigmoid on shape {(n, d)}")
        assert_same_as_reference(lambda: (Sigmoid(), ref_layers.Sigmoid()), (x,), rng.standard_normal((n, d)))
    out = Sigmoid().forward(backend.host().array([-30.0, 0.0, 30.0]))
    if abs(float(out[1]) - 0.5) > 1e-12 or not (
        0 <= float(out[0]) < 1e-12 and 1 - 1e-12 < float(out[2]) <= 1
    ):
        raise AssertionError(f"Sigmoid([-30, 0, 30]) should be about [0, 0.5, 1]; got {out}.")


def affine(Affine: type, seed: int = 12) -> None:
    """Affine layer: dW, db, dx on random shapes, agreement with the reference."""
    rng = host_rng(seed)
    for n, d, h in _shapes(seed):
        W, b, x = rng.standard_normal((d, h)), rng.standard_normal(h), rng.standard_normal((n, d))
        layer = Affine(W.copy(), b.copy())
        if len(layer.params) != 2 or len(layer.grads) != 2:
            raise AssertionError("Affine must have params [W, b] and grads [dW, db].")
        assert_gradients_ok(layer, x, what=f"Affine with N={n}, D={d}, H={h}")

        def make(W=W, b=b):
            return Affine(W.copy(), b.copy()), ref_layers.Affine(W.copy(), b.copy())

        assert_same_as_reference(make, (x,), rng.standard_normal((n, h)))
    # The optimizer holds the grads list: backward must write into it.
    layer = Affine(rng.standard_normal((3, 2)), rng.standard_normal(2))
    held = list(layer.grads)
    layer.forward(rng.standard_normal((4, 3)))
    layer.backward(rng.standard_normal((4, 2)))
    if any(a is not b for a, b in zip(held, layer.grads, strict=True)) or float(abs(held[0]).sum()) == 0:
        raise AssertionError("Affine.backward must write into self.grads in place: self.grads[0][...] = dW")


def softmax_with_loss(SoftmaxWithLoss: type, seed: int = 13) -> None:
    """Softmax-with-loss: labels and one-hot targets, stability, gradient."""
    rng = host_rng(seed)
    np = backend.host()
    for n, c, _ in _shapes(seed):
        c = c + 1
        x = rng.standard_normal((n, c)) * 2
        labels = rng.integers(0, c, n)
        assert_gradients_ok(SoftmaxWithLoss(), x, labels, what=f"SoftmaxWithLoss, labels, N={n}, C={c}")
        assert_gradients_ok(SoftmaxWithLoss(), x, np.eye(c)[labels], what="SoftmaxWithLoss, one-hot")
        assert_same_as_reference(lambda: (SoftmaxWithLoss(), ref_layers.SoftmaxWithLoss()), (x, labels))
    big = np.array([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 0.0]])
    loss = float(SoftmaxWithLoss().forward(big, np.array([0, 1])))
    if not math.isfinite(loss) or loss > 1e-6:
        raise AssertionError(
            f"Scores of ±1000 with the right labels should give a loss of about 0, got {loss}: "
            "subtract the row maximum before exp (softmax is unchanged by it)."
        )


def adam(Adam: type, seed: int = 14) -> None:
    """Adam: several steps on random parameters equal the reference's."""
    rng = host_rng(seed)
    for lr, b1, b2 in [(0.001, 0.9, 0.999), (0.05, 0.8, 0.99)]:
        shapes = [(3, 4), (4,), (2, 2, 2)]
        mine = [rng.standard_normal(s) for s in shapes]
        theirs = [p.copy() for p in mine]
        student, reference = Adam(lr=lr, beta1=b1, beta2=b2), ref_optim.Adam(lr=lr, beta1=b1, beta2=b2)
        held = list(mine)
        for step in range(1, 5):
            grads = [rng.standard_normal(s) for s in shapes]
            student.update(mine, [g.copy() for g in grads])
            reference.update(theirs, grads)
            if any(a is not b for a, b in zip(held, mine, strict=True)):
                raise AssertionError("Adam.update must change the parameter arrays in place (p -= ...).")
            for i, (a, b) in enumerate(zip(mine, theirs, strict=True)):
                if a.shape != b.shape or float(abs(a - b).max()) > 1e-9 * (1 + float(abs(b).max())):
                    raise AssertionError(
                        f"After step {step} (lr={lr}, beta1={b1}, beta2={b2}) params[{i}] differs from "
                        "Adam's update rule. Check the bias correction and where epsilon goes."
                    )
