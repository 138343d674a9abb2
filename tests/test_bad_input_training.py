"""Optimizers, clipping, trainers and models given what a student gets wrong.

A bad learning rate, threshold or gradient list stops with one clear error
before any parameter moves; nothing is updated halfway.
"""

from __future__ import annotations

import numpy as np
import pytest

from course import optim, validate
from course.generate import generate
from course.models import CBOW, Rnnlm, SimpleCBOW, SkipGram, TwoLayerNet
from course.models.attention_seq2seq import AttentionSeq2seq
from course.models.seq2seq import Seq2seq
from course.train import RnnlmTrainer, Trainer, bptt_positions, eval_perplexity

R = np.random.default_rng(11)


def f(*shape):
    return R.standard_normal(shape)


ALL = [optim.SGD, optim.Momentum, optim.Nesterov, optim.AdaGrad, optim.RMSprop, optim.Adam, optim.LazyAdam]


# ---------------------------------------------------------------- learning rates and thresholds


@pytest.mark.parametrize("make", ALL, ids=lambda c: c.__name__)
@pytest.mark.parametrize("lr", [-0.1, 0, float("nan"), float("inf")])
def test_a_learning_rate_must_be_finite_and_positive(make, lr):
    with pytest.raises(validate.InputError, match=r"lr \(the learning rate\) must be > 0"):
        make(lr=lr)


def test_a_learning_rate_changed_later_is_checked_at_the_update():
    opt = optim.Adam()
    opt.lr = -1.0
    p = [f(2)]
    before = p[0].copy()
    with pytest.raises(validate.InputError, match="a negative one would climb the loss"):
        opt.update(p, [f(2)])
    np.testing.assert_array_equal(p[0], before)


def test_a_learning_rate_given_as_text_is_a_type_error():
    with pytest.raises(TypeError, match="must be a number, got str"):
        optim.SGD(lr="0.1")


@pytest.mark.parametrize(
    "make,phrase",
    [
        (lambda: optim.Momentum(momentum=1.0), r"momentum must be in \[0, 1\)"),
        (lambda: optim.RMSprop(decay_rate=1.5), r"decay_rate must be in \[0, 1\)"),
        (lambda: optim.Adam(beta1=-0.1), r"beta1 must be in \[0, 1\)"),
        (lambda: optim.Adam(beta2=1.0), r"beta2 must be in \[0, 1\)"),
    ],
)
def test_decay_rates_outside_zero_one_are_refused(make, phrase):
    with pytest.raises(validate.InputError, match=phrase):
        make()


@pytest.mark.parametrize("max_norm", [0, 0.0, -1, float("nan"), float("inf")])
def test_clip_grads_refuses_a_threshold_that_would_zero_or_flip_the_gradients(max_norm):
    grads = [f(3), f(2, 2)]
    before = [g.copy() for g in grads]
    with pytest.raises(
        validate.InputError, match="0 would zero every gradient and a negative value would flip"
    ):
        optim.clip_grads(grads, max_norm)
    for g, g0 in zip(grads, before, strict=True):
        np.testing.assert_array_equal(g, g0)


def test_clip_grads_wants_a_list_of_arrays():
    with pytest.raises(TypeError, match="grads must be a list of gradient arrays"):
        optim.clip_grads(f(3), 1.0)


@pytest.mark.parametrize("max_grad", [-1, 0])
def test_fit_refuses_a_clipping_threshold_that_would_flip_or_zero_the_gradients(max_grad):
    model = TwoLayerNet(2, 4, 3)
    before = [p.copy() for p in model.params]
    trainer = Trainer(model, optim.SGD(lr=0.1))
    with pytest.raises(validate.InputError, match="max_grad must be > 0"):
        trainer.fit(
            f(30, 2), R.integers(0, 3, 30), max_epoch=1, batch_size=10, max_grad=max_grad, progress=False
        )
    for p, p0 in zip(model.params, before, strict=True):
        np.testing.assert_array_equal(p, p0)


# ---------------------------------------------------------------- params and grads lists


@pytest.mark.parametrize("make", ALL, ids=lambda c: c.__name__)
def test_fewer_grads_than_params_updates_nothing(make):
    params = [f(2, 2), f(3)]
    before = [p.copy() for p in params]
    with pytest.raises(validate.InputError, match=r"got 2 params but 1 grads.*Nothing was updated"):
        make().update(params, [f(2, 2)])
    for p, p0 in zip(params, before, strict=True):
        np.testing.assert_array_equal(p, p0)


@pytest.mark.parametrize("make", ALL, ids=lambda c: c.__name__)
def test_a_gradient_of_the_wrong_shape_is_not_broadcast_into_the_update(make):
    params = [f(2, 2), f(3)]
    before = [p.copy() for p in params]
    with pytest.raises(validate.ShapeError, match=r"grads\[0\] has shape \(1, 2\) but params\[0\] has shape"):
        make().update(params, [f(1, 2), f(3)])
    for p, p0 in zip(params, before, strict=True):
        np.testing.assert_array_equal(p, p0)


def test_lazy_adam_checks_the_lists_before_its_row_updates():
    params = [f(4, 2), f(3)]
    with pytest.raises(validate.InputError, match="got 2 params but 1 grads"):
        optim.LazyAdam().update(params, [f(4, 2)], rows=[np.array([0]), None])


def test_one_optimizer_for_two_models_is_explained():
    opt = optim.Adam()
    opt.update([f(2)], [f(2)])
    with pytest.raises(validate.InputError, match="Use one optimizer per model"):
        opt.update([f(3)], [f(3)])


def test_single_arrays_instead_of_lists_are_explained():
    with pytest.raises(TypeError, match=r"lists of arrays.*\[W\], \[dW\]"):
        optim.SGD().update(f(2, 2), f(2, 2))


# ---------------------------------------------------------------- trainers


def test_fit_with_the_optimizer_class_instead_of_an_instance():
    with pytest.raises(TypeError, match=r"pass an instance such as SGD\(lr=0.1\)"):
        Trainer(TwoLayerNet(2, 4, 3), optim.SGD).fit(f(30, 2), R.integers(0, 3, 30), progress=False)


@pytest.mark.parametrize(
    "kwargs,phrase",
    [({"batch_size": 0}, "batch_size must be at least 1"), ({"max_epoch": 2.5}, "max_epoch must be a whole")],
)
def test_fit_sizes_are_checked_before_training(kwargs, phrase):
    args = {"max_epoch": 1, "batch_size": 10, "progress": False, **kwargs}
    with pytest.raises(ValueError, match=phrase):
        Trainer(TwoLayerNet(2, 4, 3), optim.SGD()).fit(f(30, 2), R.integers(0, 3, 30), **args)


def test_rnnlm_trainer_names_ids_past_the_vocabulary():
    corpus = R.integers(0, 10, 200)
    with pytest.raises(validate.IdRangeError, match=r"Rnnlm\.forward: xs must lie in 0\.\.4"):
        RnnlmTrainer(Rnnlm(5, 4, 4), optim.SGD()).fit(
            corpus[:-1], corpus[1:], batch_size=2, time_size=5, progress=False
        )


def test_rnnlm_trainer_wants_integer_ids():
    corpus = R.integers(0, 10, 200)
    with pytest.raises(TypeError, match="xs must be integer word ids"):
        RnnlmTrainer(Rnnlm(10, 4, 4), optim.SGD()).fit(corpus[:-1] * 1.0, corpus[1:], progress=False)


def test_bptt_and_perplexity_sizes():
    with pytest.raises(validate.InputError, match="batch_size must be between 1 and 5"):
        bptt_positions(5, 10, 3)
    with pytest.raises(validate.InputError, match="time_size must be at least 1"):
        eval_perplexity(Rnnlm(10, 4, 4), R.integers(0, 10, 50), time_size=0)


# ---------------------------------------------------------------- models


def test_language_model_batches():
    model = Rnnlm(10, 4, 4)
    xs = R.integers(0, 10, (2, 5))
    with pytest.raises(validate.ShapeError, match=r"xs must be \(N, T\).*ids\[None, :\]"):
        model.forward(xs[0], xs[0])
    with pytest.raises(validate.ShapeError, match=r"ts has shape \(5, 2\), expected the shape of xs"):
        model.forward(xs, xs.reshape(5, 2))
    with pytest.raises(validate.CallOrderError, match=r"Rnnlm\.backward was called before forward"):
        model.backward()


def test_word2vec_batches():
    corpus = np.array([0, 1, 2, 3, 4, 1])
    with pytest.raises(validate.IdRangeError, match=r"CBOW.forward: contexts must lie in 0\.\.4"):
        CBOW(5, 3, 1, corpus).forward(np.array([[0, 9]]), np.array([1]))
    with pytest.raises(TypeError, match="contexts must be integers"):
        CBOW(5, 3, 1, corpus).forward(np.array([[0.0, 1.0]]), np.array([1]))
    with pytest.raises(validate.CallOrderError, match=r"CBOW\.backward was called before forward"):
        CBOW(5, 3, 1, corpus).backward()
    with pytest.raises(validate.ShapeError, match=r"target must be \(N,\) word ids"):
        SkipGram(5, 3, 1, corpus).forward(np.array([[0, 2]]), np.array([[1]]))
    with pytest.raises(validate.IdRangeError, match="negative id would silently pick"):
        SimpleCBOW(5, 3).forward(np.array([[0, -1]]), np.array([1]))


def test_seq2seq_batches():
    with pytest.raises(validate.IdRangeError, match=r"Seq2seq.forward: xs must lie in 0\.\.4"):
        Seq2seq(5, 4, 4).forward(np.array([[0, 9]]), np.array([[1, 2, 3]]))
    with pytest.raises(validate.ShapeError, match="T_out >= 2"):
        AttentionSeq2seq(5, 4, 4).forward(np.array([[0, 1]]), np.array([[1]]))
    with pytest.raises(validate.IdRangeError, match=r"start_id must lie in 0\.\.4"):
        Seq2seq(5, 4, 4).generate(np.array([[0, 1]]), 7, 3)


def test_generation_options():
    with pytest.raises(validate.InputError, match="temperature must be > 0"):
        generate(Rnnlm(10, 4, 4), [1], 3, temperature=-1.0)
    with pytest.raises(TypeError, match="length must be a whole number"):
        generate(Rnnlm(10, 4, 4), [1], 2.5)
    with pytest.raises(TypeError, match="skip_ids must be a list of word ids"):
        generate(Rnnlm(10, 4, 4), [1], 2, skip_ids=["<unk>"])


# ---------------------------------------------------------------- checked once, at the boundary


def test_fit_checks_the_whole_data_set_before_the_first_step():
    model = TwoLayerNet(2, 4, 3)
    t = R.integers(0, 3, 30)
    t[-1] = -1  # one bad label, in the last batch
    trainer = Trainer(model, optim.SGD(lr=0.1))
    with pytest.raises(validate.IdRangeError, match=r"TwoLayerNet\.forward: labels must lie in 0\.\.2"):
        trainer.fit(f(30, 2), t, max_epoch=1, batch_size=10, progress=False)
    assert len(trainer.history) == 0  # nothing trained on a data set that cannot work


def test_a_students_own_model_still_has_every_layer_checked_per_batch():
    from course.layers import Affine, SoftmaxWithLoss

    class MyNet:  # not a course model: its layers check each batch themselves
        def __init__(self):
            self.affine, self.loss = Affine(f(2, 3) * 0.1, np.zeros(3)), SoftmaxWithLoss()
            self.params, self.grads = self.affine.params, self.affine.grads

        def forward(self, x, t):
            return self.loss.forward(self.affine.forward(x), t)

        def backward(self, dout=1):
            self.affine.backward(self.loss.backward(dout))

    t = R.integers(0, 3, 30)
    t[-1] = 3
    trainer = Trainer(MyNet(), optim.SGD(lr=0.1))
    with pytest.raises(validate.IdRangeError, match=r"SoftmaxWithLoss\.forward: labels must lie in 0\.\.2"):
        trainer.fit(f(30, 2), t, max_epoch=1, batch_size=10, progress=False)


def test_a_layer_inside_a_course_model_is_checked_when_a_student_calls_it():
    model = CBOW(5, 3, 1, np.array([0, 1, 2, 3, 4, 1]))
    model.forward(np.array([[0, 2]]), np.array([1]))  # the model's own calls are trusted
    with pytest.raises(validate.IdRangeError, match=r"Embedding\.forward: word ids must lie in 0\.\.4"):
        model.in_layer.forward(np.array([7]))
    assert validate.checking()  # nothing left in a trusted state


def test_row_ids_outside_a_gradient_are_refused():
    params, grads = [f(4, 2)], [f(4, 2)]
    before = params[0].copy()
    with pytest.raises(validate.IdRangeError, match=r"rows\[0\] must lie in 0\.\.3"):
        optim.SGD().update(params, grads, rows=[np.array([1, 9])])
    np.testing.assert_array_equal(params[0], before)
    with pytest.raises(validate.IdRangeError, match="negative id"):
        optim.LazyAdam().update(params, grads, rows=[np.array([-1])])


def test_a_forward_that_returns_per_example_losses_is_explained():
    class PerExample:
        def __init__(self):
            self.params, self.grads = [np.ones(2)], [np.zeros(2)]

        def forward(self, x, t):
            return x.sum(axis=1)

        def backward(self, dout=1):
            return None

    with pytest.raises(validate.ShapeError, match=r"training needs one number.*loss\.mean\(\)"):
        Trainer(PerExample(), optim.SGD()).fit(f(20, 2), np.zeros(20, int), batch_size=10, progress=False)


@pytest.mark.parametrize(
    "make,phrase",
    [
        (lambda: Rnnlm(10, -4, 4), "wordvec_size must be at least 1"),
        (lambda: Rnnlm(10, 4, 4.5), "hidden_size must be a whole number"),
        (lambda: TwoLayerNet(2, 0, 3), "hidden_size must be at least 1"),
        (lambda: Seq2seq(5, 4, 4, pad_id=7), r"pad_id must be a character id in 0\.\.4"),
        (lambda: CBOW(0, 3, 1, np.array([0, 1])), "vocab_size must be at least 1"),
    ],
)
def test_model_sizes_are_checked_when_the_model_is_built(make, phrase):
    with pytest.raises(ValueError, match=phrase):
        make()
