"""Language models: whole-model gradient checks (state, dropout, tying), presets, saving and loading."""

from __future__ import annotations

import numpy as np
import pytest

import course
from course import backend
from course.gradcheck import check_model
from course.models.rnnlm import (
    PRESETS,
    BetterRnnlm,
    GRURnnlm,
    RecurrentLanguageModel,
    Rnnlm,
    SimpleRnnlm,
    from_preset,
    get_preset,
)

V, N, T = 13, 3, 5


def _batch(xp, rng, masked=True):
    xs = xp.asarray(rng.integers(0, V, (N, T)))
    ts = rng.integers(0, V, (N, T))
    if masked:
        ts[1, 2] = -1
    return xs, xp.asarray(ts)


def _roughen(model, rng, scale=0.6):
    """Weights large enough that every gradient entry is far above finite-difference noise."""
    for p in model.params:
        p[...] = backend.to_device(rng.standard_normal(p.shape) * scale, like=p)


def _carry_random_state(model, xp, rng):
    for layer in model.rnn_layers:
        H = layer.params[1].shape[0]
        c = _arr(xp, rng, N, H) if layer.has_cell else None
        layer.set_state(_arr(xp, rng, N, H), c)


def _arr(xp, rng, *shape):
    return xp.asarray(rng.standard_normal(shape))


MODELS = {
    "SimpleRnnlm": lambda: SimpleRnnlm(V, 4, 5),
    "Rnnlm": lambda: Rnnlm(V, 4, 5),
    "BetterRnnlm": lambda: BetterRnnlm(V, 6, 6, dropout_ratio=0.3),
    "BetterRnnlm-untied-3-layers": lambda: BetterRnnlm(
        V, 4, 5, dropout_ratio=0.2, num_layers=3, tie_weights=False
    ),
    "GRURnnlm": lambda: GRURnnlm(V, 4, 5),
    "GRURnnlm-tied-dropout": lambda: GRURnnlm(V, 5, 5, dropout_ratio=0.3, num_layers=2, tie_weights=True),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_model_gradcheck_with_carried_state_masking_and_dropout(xp, rng, name):
    course.seed(7)
    model = MODELS[name]()
    _roughen(model, rng)
    _carry_random_state(model, xp, rng)
    report = check_model(model, *_batch(xp, rng))
    report.assert_ok()
    assert set(report.errors) == set(model.param_names)


def test_tied_matrix_is_listed_once_and_gets_both_gradients(xp, rng):
    course.seed(1)
    model = BetterRnnlm(V, 4, 4, dropout_ratio=0.0)
    ids = [id(p) for p in model.params]
    assert len(ids) == len(set(ids))
    assert model.params[0] is model.embed.params[0] is model.affine.params[0]
    assert "affine.W" not in model.param_names and "affine.b" in model.param_names
    xs, ts = _batch(xp, rng, masked=False)
    model.forward(xs, ts)
    model.backward()
    # The embedding alone would leave rows of unused words at zero; the output use fills them.
    unused = sorted(set(range(V)) - set(backend.to_host(xs).ravel().tolist()))
    assert unused and float(abs(model.grads[0][unused]).sum()) > 0
    untied = BetterRnnlm(V, 4, 4, dropout_ratio=0.0, tie_weights=False)
    untied.params[0][...] = model.params[0]
    untied.rnn_layers[0].params[0][...] = model.rnn_layers[0].params[0]
    for a, b in zip(untied.params[1:7], model.params[1:7], strict=True):
        a[...] = b
    untied.affine.params[0][...] = model.params[0].T
    untied.affine.params[1][...] = model.affine.params[1]
    untied.forward(xs, ts)
    untied.backward()
    both = backend.to_host(untied.embed.grads[0]) + backend.to_host(untied.affine.grads[0]).T
    np.testing.assert_allclose(backend.to_host(model.grads[0]), both, rtol=1e-5, atol=1e-7)


def test_tying_needs_equal_sizes():
    with pytest.raises(ValueError, match="must equal hidden_size"):
        BetterRnnlm(V, 4, 5)


def test_predict_shapes_and_dropout_switch(xp, rng):
    course.seed(2)
    model = BetterRnnlm(V, 6, 6, dropout_ratio=0.5)
    xs, _ = _batch(xp, rng)
    a = backend.to_host(model.predict(xs))
    model.reset_state()
    b = backend.to_host(model.predict(xs))
    assert a.shape == (N, T, V)
    np.testing.assert_allclose(a, b, rtol=1e-6)  # no dropout at prediction: repeatable
    model.reset_state()
    c = backend.to_host(model.predict(xs, train_flg=True))
    assert not np.allclose(a, c)


def test_models_are_stateful_across_calls_until_reset(xp, rng):
    model = Rnnlm(V, 4, 5)
    xs, _ = _batch(xp, rng)
    first = backend.to_host(model.predict(xs))
    second = backend.to_host(model.predict(xs))
    assert not np.allclose(first, second)
    model.reset_state()
    np.testing.assert_allclose(backend.to_host(model.predict(xs)), first, rtol=1e-6)


def test_float32_by_default(xp):
    model = BetterRnnlm(V, 4, 4)
    assert all(p.dtype == xp.float32 for p in model.params)
    assert all(g.dtype == xp.float32 for g in model.grads)


def test_save_and_load_round_trip_as_float32(xp, rng, tmp_path):
    model = GRURnnlm(V, 4, 5, num_layers=2)
    path = tmp_path / "params.npz"
    model.save_params(path)
    with np.load(path, allow_pickle=False) as data:
        assert sorted(data.files) == sorted(model.param_names)
        assert all(data[k].dtype == np.float32 for k in data.files)
    other = GRURnnlm(V, 4, 5, num_layers=2)
    other.load_params(path)
    for a, b in zip(model.params, other.params, strict=True):
        np.testing.assert_array_equal(backend.to_host(a), backend.to_host(b))
    third = GRURnnlm(V, 4, 5, num_layers=2)
    third.load_params(tmp_path / "params")  # the .npz suffix may be left out
    np.testing.assert_array_equal(backend.to_host(third.params[0]), backend.to_host(model.params[0]))


def test_default_file_name_and_generate_method(xp, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = Rnnlm(V, 4, 5)
    model.save_params()
    assert (tmp_path / "Rnnlm.npz").exists()
    Rnnlm(V, 4, 5).load_params()
    ids = model.generate([1, 2], 6, greedy=True)
    assert len(ids) == 8 and ids[:2] == [1, 2]


def test_loading_other_shapes_names_the_parameter(tmp_path):
    path = tmp_path / "small.npz"
    Rnnlm(V, 4, 5).save_params(path)
    with pytest.raises(ValueError, match=r"'embed.W' has shape \(13, 4\) in .* but \(13, 6\)"):
        Rnnlm(V, 6, 5).load_params(path)
    with pytest.raises(ValueError, match="does not hold the parameters"):
        SimpleRnnlm(V, 4, 5).load_params(path)


def test_loading_a_missing_file_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="No parameter file"):
        Rnnlm(V, 4, 5).load_params(tmp_path / "nothing.npz")


def test_loading_never_unpickles(tmp_path):
    model = Rnnlm(V, 4, 5)
    arrays = {name: backend.to_host(p) for name, p in zip(model.param_names, model.params, strict=True)}
    arrays["lstm.b"] = np.array([{"a": 1}], dtype=object)
    path = tmp_path / "objects.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=r"'lstm\.b' .* Python objects"):
        model.load_params(path)


def test_presets_hold_the_classic_configurations():
    small, medium, large = PRESETS["small"], PRESETS["medium"], PRESETS["large"]
    assert (small.num_layers, small.hidden_size, small.dropout_ratio, small.time_size) == (2, 200, 0.0, 20)
    assert (medium.hidden_size, medium.dropout_ratio) == (650, 0.5)
    assert (large.hidden_size, large.dropout_ratio) == (1500, 0.65)
    assert small.lr == 20.0 and small.max_grad == pytest.approx(0.25) and small.max_epoch == 13
    assert [small.lr_at(e) for e in (1, 4, 5, 6)] == [20.0, 20.0, 10.0, 5.0]


def test_presets_build_models(xp):
    model = from_preset("small", 50)
    assert isinstance(model, BetterRnnlm) and len(model.rnn_layers) == 2 and not model.dropouts
    assert model.rnn_layers[0].params[1].shape == (200, 800)
    assert float(abs(backend.to_host(model.params[1])).max()) <= 0.1
    medium = BetterRnnlm.from_preset("medium", 50, hidden_size=8, wordvec_size=8)
    assert len(medium.dropouts) == 3 and medium.dropouts[0].dropout_ratio == 0.5
    assert isinstance(RecurrentLanguageModel.from_preset("book", 50), Rnnlm)


def test_unknown_preset_lists_the_names():
    with pytest.raises(ValueError, match="small, medium, large"):
        get_preset("huge")
