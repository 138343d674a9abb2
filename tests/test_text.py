"""course.text: preprocessing, co-occurrence counts, PPMI, SVD, neighbours, analogies, word2vec data."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.sparse as sparse

from course import backend, text

SENTENCE = "You say goodbye and I say hello."


def _random_corpus(rng, n=60, vocab=9):
    return rng.integers(0, vocab, n)


# --------------------------------------------------------------------------
# preprocess
# --------------------------------------------------------------------------


def test_preprocess_numbers_words_in_order_of_first_appearance():
    corpus, word_to_id, id_to_word = text.preprocess(SENTENCE)
    assert corpus.tolist() == [0, 1, 2, 3, 4, 1, 5, 6]
    assert [id_to_word[i] for i in range(7)] == ["you", "say", "goodbye", "and", "i", "hello", "."]
    assert all(word_to_id[w] == i for i, w in id_to_word.items())


def test_build_vocab_keeps_first_appearance_and_maps_every_word():
    words = ["b", "a", "b", "c", "a"]
    corpus, word_to_id, id_to_word = text.build_vocab(words)
    assert word_to_id == {"b": 0, "a": 1, "c": 2}
    assert [id_to_word[i] for i in corpus] == words


def test_preprocess_rejects_non_text():
    with pytest.raises(TypeError, match="str"):
        text.preprocess(["a", "b"])


# --------------------------------------------------------------------------
# co-occurrence matrix
# --------------------------------------------------------------------------


def _brute_force_counts(corpus, vocab_size, window):
    C = np.zeros((vocab_size, vocab_size), dtype=np.int64)
    for i, w in enumerate(corpus):
        for d in range(1, window + 1):
            if i - d >= 0:
                C[w, corpus[i - d]] += 1
            if i + d < len(corpus):
                C[w, corpus[i + d]] += 1
    return C


@pytest.mark.parametrize("window", [1, 2, 3])
def test_co_matrix_equals_a_brute_force_count(window):
    corpus, word_to_id, _ = text.preprocess("the cat sat on the mat . the dog sat on the cat .")
    V = len(word_to_id)
    C = text.create_co_matrix(corpus, V, window_size=window)
    assert sparse.issparse(C) and C.format == "csr" and C.shape == (V, V)
    expected = _brute_force_counts(corpus.tolist(), V, window)
    np.testing.assert_array_equal(C.toarray(), expected)
    np.testing.assert_array_equal(text.create_co_matrix(corpus, V, window, dense=True), expected)


def test_co_matrix_of_the_book_sentence():
    corpus, word_to_id, _ = text.preprocess(SENTENCE)
    C = text.create_co_matrix(corpus, len(word_to_id), dense=True)
    # "say" (id 1) has "you", "goodbye", "i" and "hello" as neighbours.
    assert C[1].tolist() == [1, 0, 1, 0, 1, 1, 0]
    np.testing.assert_array_equal(C, C.T)


def test_co_matrix_random_corpora_match_brute_force(rng):
    for _ in range(5):
        corpus = _random_corpus(rng)
        C = text.create_co_matrix(corpus, 9, window_size=2, dense=True)
        np.testing.assert_array_equal(C, _brute_force_counts(corpus.tolist(), 9, 2))


def test_co_matrix_rejects_ids_outside_the_vocabulary():
    with pytest.raises(ValueError, match="vocab_size"):
        text.create_co_matrix(np.array([0, 1, 5]), 3)
    with pytest.raises(ValueError, match="window_size"):
        text.create_co_matrix(np.array([0, 1, 2]), 3, window_size=0)
    with pytest.raises(ValueError, match="integer word ids"):
        text.create_co_matrix(np.array([0.0, 1.0]), 3)


# --------------------------------------------------------------------------
# PPMI
# --------------------------------------------------------------------------


def _ppmi_by_definition(C):
    """max(0, log2(P(i, j) / (P(i) P(j)))) cell by cell, 0 where the count is 0."""
    C = np.asarray(C, dtype=float)
    total = C.sum()
    out = np.zeros_like(C)
    for i in range(C.shape[0]):
        for j in range(C.shape[1]):
            if C[i, j] > 0:
                p_ij = C[i, j] / total
                p_i = C[i, :].sum() / total
                p_j = C[:, j].sum() / total
                out[i, j] = max(0.0, math.log2(p_ij / (p_i * p_j)))
    return out


def test_ppmi_equals_the_definition_on_a_small_corpus():
    corpus, word_to_id, _ = text.preprocess(SENTENCE)
    C = text.create_co_matrix(corpus, len(word_to_id), window_size=1)
    expected = _ppmi_by_definition(C.toarray())
    sparse_out = text.ppmi(C)
    assert sparse.issparse(sparse_out) and sparse_out.dtype == np.float32
    np.testing.assert_allclose(sparse_out.toarray(), expected, rtol=1e-6, atol=1e-6)
    dense_out = text.ppmi(C.toarray())
    assert isinstance(dense_out, np.ndarray) and dense_out.dtype == np.float32
    np.testing.assert_allclose(dense_out, expected, rtol=1e-6, atol=1e-6)
    # The book's value for PPMI("you", "say") (a familiar anchor): 1.807.
    assert dense_out[0, 1] == pytest.approx(1.807, abs=1e-3)


def test_ppmi_of_asymmetric_counts_with_empty_rows_gives_no_warning(rng):
    C = rng.integers(0, 4, (6, 5)) * (rng.random((6, 5)) < 0.5)
    C[2] = 0  # a word that never co-occurs
    C[:, 4] = 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dense_out = text.ppmi(C)
        sparse_out = text.ppmi(sparse.csr_array(C))
    expected = _ppmi_by_definition(C)
    np.testing.assert_allclose(dense_out, expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(sparse_out.toarray(), expected, rtol=1e-6, atol=1e-6)
    assert np.isfinite(dense_out).all() and (dense_out[2] == 0).all()


def test_ppmi_rejects_negative_counts():
    with pytest.raises(ValueError, match="non-negative"):
        text.ppmi(np.array([[1, -1], [0, 2]]))


def test_ppmi_dense_runs_on_the_array_module(xp):
    C = xp.asarray([[0, 2, 1], [2, 0, 0], [1, 0, 3]])
    out = text.ppmi(C)
    assert backend.array_module(out) is xp
    np.testing.assert_allclose(backend.to_host(out), _ppmi_by_definition(backend.to_host(C)), rtol=1e-6)


def test_ppmi_smoothing_alpha_follows_the_definition_and_alpha_one_is_plain(rng):
    C = rng.integers(0, 5, (7, 7)) * (rng.random((7, 7)) < 0.6)
    C = C + C.T
    alpha = 0.75
    # Definition: P(j) = S_col[j]^a / sum(S_col^a) replaces S_col[j] / N.
    Cf = C.astype(float)
    total, p_row = Cf.sum(), Cf.sum(axis=1) / Cf.sum()
    p_col = Cf.sum(axis=0) ** alpha / (Cf.sum(axis=0) ** alpha).sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log2((Cf / total) / (p_row[:, None] * p_col[None, :]))
    expected = np.where(Cf > 0, np.maximum(pmi, 0.0), 0.0)
    smoothed = text.ppmi(sparse.csr_array(C), alpha=alpha)
    np.testing.assert_allclose(smoothed.toarray(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(text.ppmi(C, alpha=alpha), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(text.ppmi(sparse.csr_array(C), alpha=1.0).toarray(), text.ppmi(C))
    # Smoothing lifts rare contexts' probability, so it lowers PMI where the context is rare.
    rare = np.argmin(Cf.sum(axis=0))
    assert (smoothed.toarray()[:, rare] <= _ppmi_by_definition(C)[:, rare] + 1e-6).all()
    with pytest.raises(ValueError, match="alpha"):
        text.ppmi(C, alpha=0.0)


def test_ppmi_smoothing_keeps_the_array_module(xp):
    C = xp.asarray([[0, 2, 1], [2, 0, 0], [1, 0, 3]])
    out = text.ppmi(C, alpha=0.75)
    assert backend.array_module(out) is xp and out.shape == (3, 3)
    np.testing.assert_allclose(
        backend.to_host(out), text.ppmi(sparse.csr_array(backend.to_host(C)), alpha=0.75).toarray()
    )


# --------------------------------------------------------------------------
# SVD
# --------------------------------------------------------------------------


def _same_subspace(U, V):
    """Columns equal up to sign."""
    overlap = np.abs(U.T.astype(float) @ V.astype(float))
    np.testing.assert_allclose(overlap, np.eye(U.shape[1]), atol=1e-4)


def _distinct_spectrum_matrix(rng, n, symmetric):
    Q1, _ = np.linalg.qr(rng.standard_normal((n, n)))
    Q2 = Q1 if symmetric else np.linalg.qr(rng.standard_normal((n, n)))[0]
    s = np.linspace(10.0, 1.0, n)
    return (Q1 * s) @ Q2.T


@pytest.mark.parametrize("symmetric", [True, False])
def test_reduce_dims_sparse_matches_a_full_svd(rng, symmetric):
    M = _distinct_spectrum_matrix(rng, 40, symmetric)
    U = text.reduce_dims(sparse.csr_array(M), 5)
    assert U.shape == (40, 5) and U.dtype == np.float32
    _same_subspace(U, np.linalg.svd(M)[0][:, :5])


def test_reduce_dims_dense_and_deterministic_signs(rng):
    M = _distinct_spectrum_matrix(rng, 7, symmetric=True)
    U = text.reduce_dims(M, 2)
    _same_subspace(U, np.linalg.svd(M)[0][:, :2])
    largest = U[np.abs(U).argmax(axis=0), np.arange(2)]
    assert (largest > 0).all()
    np.testing.assert_array_equal(text.reduce_dims(M, 2), U)


def _symmetric_with_negative_eigenvalues(rng, n):
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    eig = np.linspace(10.0, 1.0, n) * np.where(np.arange(n) % 3 == 1, -1.0, 1.0)
    return (Q * eig) @ Q.T


@pytest.mark.parametrize("power", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("add_context", [False, True])
def test_reduce_dims_weighting_and_context_vectors_match_a_full_svd(rng, power, add_context):
    M = _symmetric_with_negative_eigenvalues(rng, 30)
    U, S, Vt = np.linalg.svd(M)
    k = 6
    plain = text.reduce_dims(M, k)
    signs = np.sign((plain[:, :k] * U[:, :k]).sum(axis=0))  # the sign rule's choice per column
    expected = U[:, :k] * signs
    if add_context:
        expected = expected + Vt[:k].T * signs
    expected = expected * S[:k] ** power
    np.testing.assert_allclose(
        text.reduce_dims(M, k, power=power, add_context=add_context), expected, atol=1e-5
    )
    # ARPACK's eigenvectors of a symmetric sparse matrix give the same vectors.
    got = text.reduce_dims(sparse.csr_array(M), k, power=power, add_context=add_context)
    np.testing.assert_allclose(got, expected, atol=1e-4 * S[0] ** power)  # float32 ARPACK


def test_reduce_dims_defaults_are_the_plain_left_vectors(rng):
    M = _distinct_spectrum_matrix(rng, 12, symmetric=False)
    np.testing.assert_array_equal(
        text.reduce_dims(M, 3), text.reduce_dims(M, 3, power=0.0, add_context=False)
    )


def test_reduce_dims_rejects_bad_k():
    with pytest.raises(ValueError, match="k must be between"):
        text.reduce_dims(np.eye(3), 4)


# --------------------------------------------------------------------------
# similarity, neighbours, analogies
# --------------------------------------------------------------------------


def test_cos_similarity_and_normalize(xp):
    x, y = xp.asarray([1.0, 0.0]), xp.asarray([1.0, 1.0])
    assert text.cos_similarity(x, y) == pytest.approx(1 / math.sqrt(2))
    assert text.cos_similarity(x, -x) == pytest.approx(-1.0)
    assert text.cos_similarity(x, xp.zeros(2)) == 0.0
    rows = text.normalize(xp.asarray([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(backend.to_host(rows), [[0.6, 0.8], [0.0, 0.0]], atol=1e-7)


VOCAB = ["man", "woman", "king", "queen", "apple", "pear"]


def _toy_vectors(xp):
    # gender on axis 0, royalty on axis 1, fruit on axis 2.
    vecs = [[1, 0, 0], [-1, 0, 0], [1, 1, 0], [-1, 1, 0], [0, 0, 1], [0.1, 0, 1]]
    word_to_id = {w: i for i, w in enumerate(VOCAB)}
    return word_to_id, dict(enumerate(VOCAB)), xp.asarray(vecs, dtype=xp.float32)


def test_most_similar_ranks_by_cosine_and_prints(xp, capsys):
    word_to_id, id_to_word, vecs = _toy_vectors(xp)
    result = text.most_similar("pear", word_to_id, id_to_word, vecs, top=4)
    host = backend.to_host(vecs).astype(float)
    sims = [(w, text.cos_similarity(host[i], host[5])) for i, w in enumerate(VOCAB) if w != "pear"]
    expected = sorted(sims, key=lambda p: -p[1])[:4]
    assert [w for w, _ in expected] == ["apple", "man", "king", "queen"]  # no ties
    assert [w for w, _ in result] == [w for w, _ in expected]
    for (_, got), (_, want) in zip(result, expected, strict=True):
        assert got == pytest.approx(want, abs=1e-6)
    out = capsys.readouterr().out
    assert "[query] pear" in out and "apple" in out
    assert text.most_similar("apple", word_to_id, list(VOCAB), vecs, top=1, verbose=False)[0][0] == "pear"
    assert capsys.readouterr().out == ""


def test_unknown_word_prints_a_message_with_suggestions(capsys):
    word_to_id, id_to_word, vecs = _toy_vectors(np)
    assert text.most_similar("quen", word_to_id, id_to_word, vecs) == []
    out = capsys.readouterr().out
    assert "'quen' is not in the vocabulary" in out and "'queen'" in out
    assert text.analogy("man", "kinng", "woman", word_to_id, id_to_word, vecs) == []
    assert "'kinng' is not in the vocabulary" in capsys.readouterr().out


def test_analogy_solves_by_vector_arithmetic_and_excludes_the_question(xp, capsys):
    word_to_id, id_to_word, vecs = _toy_vectors(xp)
    result = text.analogy("man", "king", "woman", word_to_id, id_to_word, vecs, top=2, answer="queen")
    assert result[0][0] == "queen"
    unit = {w: v / np.linalg.norm(v) for w, v in zip(VOCAB, backend.to_host(vecs).astype(float), strict=True)}
    query = unit["king"] - unit["man"] + unit["woman"]
    assert result[0][1] == pytest.approx(query @ unit["queen"] / np.linalg.norm(query), abs=1e-6)
    assert not {"man", "king", "woman"} & {w for w, _ in result}
    out = capsys.readouterr().out
    assert "man:king = woman:?" in out and "==> queen" in out and "rank 1" in out


def test_analogy_accuracy_counts_correct_answers(xp):
    word_to_id, _, vecs = _toy_vectors(xp)
    good = ("man", "king", "woman", "queen")
    bad = ("man", "king", "woman", "pear")
    accuracy, predicted = text.analogy_accuracy([good, bad], word_to_id, vecs)
    assert accuracy == 0.5 and predicted == [word_to_id["queen"]] * 2
    with pytest.raises(ValueError, match="banana"):
        text.analogy_accuracy([("man", "king", "woman", "banana")], word_to_id, vecs)


# --------------------------------------------------------------------------
# word2vec data
# --------------------------------------------------------------------------


@pytest.mark.parametrize("window", [1, 2, 3])
def test_contexts_and_target_match_a_loop(xp, rng, window):
    corpus = rng.integers(0, 20, 15)
    contexts, target = text.create_contexts_target(xp.asarray(corpus), window_size=window)
    expected_ctx, expected_tgt = [], []
    for i in range(window, len(corpus) - window):
        expected_tgt.append(corpus[i])
        expected_ctx.append([corpus[i + d] for d in range(-window, window + 1) if d != 0])
    assert backend.array_module(contexts) is xp
    np.testing.assert_array_equal(backend.to_host(contexts), expected_ctx)
    np.testing.assert_array_equal(backend.to_host(target), expected_tgt)


def test_contexts_target_of_the_book_sentence():
    corpus, _, _ = text.preprocess(SENTENCE)
    contexts, target = text.create_contexts_target(corpus)
    assert contexts.tolist()[:2] == [[0, 2], [1, 3]] and target.tolist() == [1, 2, 3, 4, 1, 5]


def test_contexts_target_rejects_short_corpus():
    with pytest.raises(ValueError, match="longer than"):
        text.create_contexts_target(np.array([1, 2]), window_size=1)


def test_convert_one_hot(xp):
    ids = xp.asarray([[0, 2], [1, 1]])
    one_hot = text.convert_one_hot(ids, 3)
    assert one_hot.shape == (2, 2, 3) and one_hot.dtype == xp.int32
    np.testing.assert_array_equal(backend.to_host(one_hot), np.eye(3, dtype=int)[backend.to_host(ids)])
    np.testing.assert_array_equal(
        backend.to_host(text.convert_one_hot(xp.asarray([2, 0]), 3)), [[0, 0, 1], [1, 0, 0]]
    )
    with pytest.raises(ValueError, match="ids must lie"):
        text.convert_one_hot(xp.asarray([3]), 3)
