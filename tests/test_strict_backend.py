"""The strict stand-in for CuPy: each of CuPy's rules raises, and the course never trips one.

Every rule is shown twice: the mistake raises under the strict backend (as it
would on a GPU), and the course's own code doing the same job passes. The
mistakes are those learners meet when they move the book's code to CuPy: a
host mask in device arithmetic, ``np.add.at`` in Embedding's backward, a
device scalar used as a Python index in ``most_similar``, ``float()`` at
every step, plotting device arrays, a host batch fed to device weights.
"""

from __future__ import annotations

import copy
import pickle

import matplotlib.pyplot as plt
import numpy as np
import pytest

import course
from course import backend, strict, text
from course.layers import Affine, Embedding, TimeSoftmaxWithLoss
from course.models import Rnnlm
from course.optim import SGD, clip_grads_sparse


@pytest.fixture
def sx():
    """The strict module, made the backend in use."""
    module = course.use("strict")
    course.seed(0)
    yield module
    course.use("numpy")


# --- what a device array is ----------------------------------------------------------


def test_device_arrays_are_their_own_type_and_refuse_implicit_conversion(sx):
    a = sx.arange(6, dtype=sx.float32).reshape(2, 3)
    assert type(a) is strict.ndarray and not isinstance(a, np.ndarray)
    with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
        np.asarray(a)
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.array([a, a])
    host = a.get()
    assert type(host) is np.ndarray and host.tolist() == [[0, 1, 2], [3, 4, 5]]
    host[0, 0] = 99  # .get() is a copy, and asarray copies the other way
    assert float(a[0, 0]) == 0
    back = sx.asarray(host)
    host[0, 1] = -1
    assert float(back[0, 1]) == 1
    assert type(backend.to_host(a)) is np.ndarray and type(sx.asnumpy(a)) is np.ndarray


def test_reductions_and_scalar_indexing_stay_on_the_device(sx):
    a = sx.arange(6).reshape(2, 3)
    for value in (a.sum(), a[1, 2], sx.max(a), a.argmax(), (a > 2).any()):
        assert type(value) is strict.ndarray and value.ndim == 0
    assert int(a.sum()) == 15 and float(a[1, 2]) == 5.0 and bool((a > 2).any())


def test_non_numeric_device_arrays_are_refused(sx):
    with pytest.raises(ValueError, match="Unsupported dtype"):
        sx.asarray(["you", "say"])


def test_copies_and_pickles_stay_device_arrays(sx):
    a = sx.ones(3)
    for twin in (copy.copy(a), copy.deepcopy(a), pickle.loads(pickle.dumps(a))):
        assert type(twin) is strict.ndarray and twin.tolist() == [1.0, 1.0, 1.0]


# --- no host/device mixing ------------------------------------------------------------


@pytest.mark.parametrize(
    "mix",
    [
        lambda d, h: d + h,
        lambda d, h: h * d,
        lambda d, h: d.__imul__(h),
        lambda d, h: np.add(d, h),
        lambda d, h: np.maximum(h, d),
        lambda d, h: d @ h.T,
        lambda d, h: np.concatenate([d, h]),
        lambda d, h: np.where(h > 0, d, 0),
        lambda d, h: d.dot(h.T),
    ],
    ids=["add", "rmul", "imul", "np.add", "np.maximum", "matmul", "concatenate", "where", "dot"],
)
def test_host_arrays_do_not_mix_with_device_arrays(sx, mix):
    device, host = sx.ones((2, 3)), np.ones((2, 3))
    with pytest.raises(TypeError, match=r"Unsupported type <class 'numpy\.ndarray'>"):
        mix(device, host)


def test_ufuncs_take_device_arrays_and_scalars_only(sx):
    a = sx.ones(3)
    assert (sx.exp(a) * np.float32(2) + 1).shape == (3,)  # NumPy scalars are scalars
    with pytest.raises(TypeError, match=r"Unsupported type <class 'list'>"):
        sx.power([1.0, 2.0], 2)


def test_a_host_mask_in_the_loss_raises_and_the_course_loss_does_not(sx):
    # The book's seq2seq on a GPU: `ls *= mask` with the mask built on the host.
    losses = sx.ones((2, 3))
    mask = np.array([[True, True, False], [True, False, False]])
    with pytest.raises(TypeError, match=r"numpy\.ndarray"):
        losses *= mask
    scores = backend.randn(2, 3, 5)
    ts = sx.asarray([[1, 2, -1], [3, -1, -1]])
    loss = TimeSoftmaxWithLoss(ignore_label=-1).forward(scores, ts)
    assert type(loss) is strict.ndarray and np.isfinite(float(loss))


def test_host_index_arrays_are_copied_to_the_device_as_cupy_does(sx):
    # CuPy's _prepare_slice_list turns host masks and index arrays into device arrays,
    # so indexing with them works; only arithmetic with them raises (above).
    a = sx.arange(5)
    assert a[np.array([True, False, True, False, False])].tolist() == [0, 2]
    assert a[np.array([4, 0])].tolist() == [4, 0]
    a[np.array([0, 1])] = np.array([7, 8])
    assert a.tolist() == [7, 8, 2, 3, 4]


def test_a_host_batch_fed_to_device_weights_raises(sx):
    layer = Affine(backend.randn(3, 2), backend.zeros(2))
    with pytest.raises(TypeError, match=r"numpy\.ndarray"):
        layer.forward(np.ones((4, 3), dtype=np.float32))
    assert type(layer.forward(sx.ones((4, 3), dtype=sx.float32))) is strict.ndarray


# --- scatter-add: the book's Embedding backward ----------------------------------------


def test_ufunc_at_exists_only_where_cupy_has_it(sx):
    target = sx.zeros(4)
    idx = sx.asarray([0, 0, 3])
    np.add.at(target, idx, sx.asarray([1.0, 2.0, 3.0]))  # dispatches to the device, as on CuPy >= 12
    assert target.tolist() == [3.0, 0.0, 0.0, 3.0]
    with pytest.raises(NotImplementedError, match=r"multiply\.at"):
        np.multiply.at(target, idx, 2.0)
    with pytest.raises(TypeError, match=r"numpy\.ndarray"):
        np.add.at(np.zeros(4), np.array([0, 1]), sx.ones(2))  # host gradient, device rows


def test_embedding_backward_accumulates_repeated_ids_on_the_device(sx):
    W = backend.randn(5, 3)
    layer = Embedding(W)
    ids = sx.asarray([1, 1, 4])
    layer.forward(ids)
    layer.backward(sx.ones((3, 3), dtype=sx.float32))
    dW = backend.to_host(layer.grads[0])
    np.testing.assert_array_equal(dW[1], [2, 2, 2])
    np.testing.assert_array_equal(dW[4], [1, 1, 1])
    assert dW[[0, 2, 3]].sum() == 0


# --- device values are not Python values -----------------------------------------------


def test_a_device_scalar_is_not_a_python_index(sx):
    # The book's most_similar on a GPU: `id_to_word[i]` for i from a device argsort.
    order = (-sx.asarray([0.1, 0.9, 0.5])).argsort()
    words = ["you", "say", "goodbye"]
    with pytest.raises(TypeError, match="Python index"):
        words[order[0]]
    with pytest.raises(TypeError, match="unhashable"):
        {0: "you"}[order[0]]
    with pytest.raises(TypeError):
        range(sx.asarray(3))
    assert words[int(order[0])] == "say"  # the explicit conversion works


def test_most_similar_runs_on_device_vectors(sx, capsys):
    word_to_id = {"you": 0, "say": 1, "goodbye": 2, "hello": 3}
    id_to_word = {i: w for w, i in word_to_id.items()}
    W = sx.asarray([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.95, 0.0]])
    text.most_similar("you", word_to_id, id_to_word, W, top=2)
    shown = capsys.readouterr().out
    assert "hello" in shown and "say" in shown and "goodbye" not in shown


def test_float_in_a_hot_loop_is_a_synchronization(sx):
    losses = sx.asarray([0.5, 0.25, 0.125])
    before = strict.synchronizations()
    total = sum(float(v) for v in losses)  # one host copy per step
    assert total == 0.875 and strict.synchronizations() - before == 3
    with strict.allow_synchronize(False), pytest.raises(strict.DeviceSynchronized, match="float"):
        for v in losses:
            float(v)
    with strict.allow_synchronize(False):
        total = losses.sum()  # kept on the device: no synchronization
    assert float(total) == 0.875
    with strict.allow_synchronize(False), pytest.raises(strict.DeviceSynchronized, match="bool"):
        if losses[0] > 0:
            pass


def _syncs_per_step(xp, T: int, N: int) -> int:
    model = Rnnlm(vocab_size=30, wordvec_size=8, hidden_size=8)
    optimizer = SGD(0.1)
    x = backend.rng().integers(0, 30, size=(N, T))
    t = backend.rng().integers(0, 30, size=(N, T))
    before = strict.synchronizations()
    model.forward(x, t)
    model.backward()
    clip_grads_sparse(model.grads, 0.25)  # the library's clipping, as the Trainer does
    optimizer.update(model.params, model.grads)
    return strict.synchronizations() - before


def test_a_training_step_synchronizes_a_fixed_number_of_times(sx):
    # Input checks and the clipping norm copy a few numbers per step; nothing copies per
    # time step, per row or per word, which is what makes float() in a hot loop slow.
    counts = {(T, N): _syncs_per_step(sx, T, N) for T, N in [(3, 2), (12, 2), (3, 16)]}
    assert len(set(counts.values())) == 1, counts
    assert next(iter(counts.values())) <= 8, counts


# --- plotting ----------------------------------------------------------------------


def test_plotting_a_device_array_raises_and_the_host_copy_plots(sx):
    losses = sx.asarray([3.0, 2.0, 1.5])
    fig, ax = plt.subplots()
    try:
        with pytest.raises(TypeError, match="Implicit conversion"):
            ax.plot(losses)
        (line,) = ax.plot(backend.to_host(losses))
        assert line.get_ydata().tolist() == [3.0, 2.0, 1.5]
    finally:
        plt.close(fig)


# --- where CuPy's semantics differ from NumPy's ------------------------------------------


def test_sorting_is_stable_and_knows_no_other_kind(sx):
    a = sx.asarray([2, 1, 2, 1, 0])
    assert sx.argsort(a).tolist() == [4, 1, 3, 0, 2]
    assert a.argsort(kind="stable").tolist() == [4, 1, 3, 0, 2]
    with pytest.raises(ValueError, match="kind can only be None or 'stable'"):
        sx.sort(a, kind="quicksort")
    with pytest.raises(ValueError, match="kind can only be None or 'stable'"):
        a.argsort(kind="heapsort")


def test_out_of_bounds_indices_wrap_around_as_on_cupy(sx):
    # NumPy raises IndexError here; CuPy wraps. Code must check its ids itself.
    a = sx.arange(3) * 10
    assert a[sx.asarray([1, 3])].tolist() == [10, 0]
    assert sx.take(a, sx.asarray([4, -1])).tolist() == [10, 20]
    with pytest.raises(TypeError):
        sx.take(a, sx.asarray([0]), mode="clip")  # CuPy's take has no mode


def test_the_course_refuses_out_of_range_ids_itself(sx):
    layer = Embedding(backend.randn(5, 3))
    with pytest.raises(ValueError, match=r"0\.\.4"):
        layer.forward(sx.asarray([1, 5]))


def test_the_device_random_generator_has_cupys_methods_only(sx):
    gen = backend.rng()
    assert type(gen.random((2, 2), dtype=sx.float32)) is strict.ndarray
    assert type(gen.integers(0, 5, size=3)) is strict.ndarray
    assert type(gen.standard_normal(3, dtype=sx.float32)) is strict.ndarray
    for missing in ("choice", "permutation", "shuffle"):
        assert not hasattr(gen, missing), missing


def test_numpy_names_cupy_lacks_are_missing(sx):
    for name in ("errstate", "insert", "nditer"):
        with pytest.raises(AttributeError, match=name):
            getattr(sx, name)
    assert sx.ndarray is strict.ndarray and sx.float32 is np.float32


def test_the_environment_variable_selects_the_strict_backend(tmp_path):
    import os
    import subprocess
    import sys

    env = dict(os.environ, COURSE_BACKEND="strict")
    code = "import course; from course import backend; print(backend.name(), type(backend.zeros(2)).__name__)"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.split() == ["strict", "ndarray"], proc.stderr


# --- host ids, device weights: what students pass ------------------------------------------


def _models(corpus):
    from course.models import (
        CBOW,
        BetterRnnlm,
        GRURnnlm,
        SimpleCBOW,
        SimpleSkipGram,
        SkipGram,
        SparseCBOW,
        SparseSkipGram,
    )
    from course.models.attention_seq2seq import AttentionSeq2seq
    from course.models.seq2seq import PeekySeq2seq, Seq2seq

    V = 12
    return {
        "Rnnlm": (Rnnlm(V, 4, 5), "lm"),
        "BetterRnnlm": (BetterRnnlm(V, 4, 4, dropout_ratio=0.3, tie_weights=True), "lm"),
        "GRURnnlm": (GRURnnlm(V, 4, 5), "lm"),
        "SimpleCBOW": (SimpleCBOW(V, 3, window_size=1), "w2v1"),
        "SimpleSkipGram": (SimpleSkipGram(V, 3, window_size=1), "w2v1"),
        "CBOW": (CBOW(V, 3, 1, corpus, sample_size=2), "w2v1"),
        "SkipGram": (SkipGram(V, 3, 1, corpus, sample_size=2), "w2v1"),
        "SparseCBOW": (SparseCBOW(V, 3, 1, corpus, sample_size=2), "w2v1"),
        "SparseSkipGram": (SparseSkipGram(V, 3, 1, corpus, sample_size=2), "w2v1"),
        "Seq2seq": (Seq2seq(V, 4, 5), "s2s"),
        "PeekySeq2seq": (PeekySeq2seq(V, 4, 5), "s2s"),
        "AttentionSeq2seq": (AttentionSeq2seq(V, 4, 5), "s2s"),
        "AttentionSeq2seq-bi": (AttentionSeq2seq(V, 4, 6, bidirectional=True), "s2s"),
    }


def test_every_model_takes_host_ids_with_device_weights(sx):
    # Ids and labels are small integer arrays that students build on the host; like CuPy's
    # indexing, the course copies them to the weights' device. Float data must be moved by hand.
    host = np.random.default_rng(0)
    corpus = host.integers(0, 12, 60)
    for name, (model, kind) in _models(corpus).items():
        if kind == "lm":
            args = (host.integers(0, 12, (2, 5)), host.integers(0, 12, (2, 5)))
        elif kind == "w2v1":
            args = (host.integers(0, 12, (3, 2)), host.integers(0, 12, 3))
        else:
            args = (host.integers(0, 12, (2, 4)), host.integers(0, 12, (2, 3)))
        assert type(model.params[0]) is strict.ndarray, name
        loss = model.forward(*args)
        model.backward()
        assert type(loss) is strict.ndarray and np.isfinite(float(loss)), name
        assert all(type(g) is strict.ndarray for g in model.grads), name


def test_gradient_checks_take_host_ids_for_a_device_model(sx):
    from course.gradcheck import check_model
    from course.models import BetterRnnlm

    model = BetterRnnlm(8, 3, 3, dropout_ratio=0.3, dtype="float64")
    ids = np.random.default_rng(1).integers(0, 8, (2, 5))
    assert check_model(model, ids[:, :-1], ids[:, 1:]).ok
