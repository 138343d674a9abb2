"""Chapter 2 (count-based word vectors): preprocess, create_co_matrix, cos_similarity, most_similar, ppmi.

Each check takes the student's function (a proxy of it when judged, see
:mod:`autograder.instructors.remote`), runs it on random corpora and vectors against the
course's reference, and raises AssertionError with a message a student can
act on.
"""

from __future__ import annotations

import contextlib
import io
import math
from typing import Any

import scipy.sparse as sparse

from autograder.instructors import remote
from autograder.students.checks import course_version, host_rng
from course import backend
from course import text as ref

WORDS = ("the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "to", "big", "red", "car", "it", ".")


def _random_corpus(rng: Any, n: int, vocab: int) -> Any:
    """(n,) int64 ids using exactly ``vocab`` distinct words when n allows."""
    np = backend.host()
    ids = rng.integers(0, vocab, n)
    ids[: min(n, vocab)] = rng.permutation(vocab)[: min(n, vocab)]
    return ids.astype(np.int64)


def _sparse_as_dense(C: Any) -> Any:
    """A SciPy sparse result (or its proxy, when judged) as a dense host array; None for anything else."""
    if sparse.issparse(C):
        return sparse.csr_array(C).toarray()
    kind = getattr(sparse, type(C).__name__, None)
    if (
        remote.of(C) is not None
        and isinstance(kind, type)
        and issubclass(kind, sparse.sparray | sparse.spmatrix)
    ):
        return backend.host().asarray(C.toarray())
    return None


def _int_keyed(like: Any, mapping: dict[int, str]) -> Any:
    """``mapping`` as the student's code will receive it, int keys kept.

    Judged, a dict crosses to the subject as data, with its keys as strings; a
    ``UserDict`` built there keeps them ints.
    """
    if remote.of(like) is None:
        return mapping
    return course_version(like, "collections:UserDict")(list(mapping.items()))


def preprocess(preprocess: Any, build_vocab: Any, seed: int = 21) -> None:
    """build_vocab and preprocess: ids in order of first appearance, same as the reference."""
    np = backend.host()
    rng = host_rng(seed)
    for n in (1, 5, 30):
        words = [WORDS[i] for i in rng.integers(0, len(WORDS), n)]
        got = build_vocab(words)
        want = ref.build_vocab(words)
        if not isinstance(got, tuple | list) or len(got) != 3:
            raise AssertionError("build_vocab must return the triple (corpus, word_to_id, id_to_word).")
        corpus, word_to_id, id_to_word = got
        if not isinstance(corpus, np.ndarray) or corpus.dtype.kind not in "iu" or corpus.shape != (n,):
            raise AssertionError(
                f"build_vocab: corpus must be a NumPy array of {n} integer ids; got {corpus!r}."
            )
        if not isinstance(word_to_id, dict) or dict(word_to_id) != want[1]:
            raise AssertionError(
                f"build_vocab({words}): word_to_id should be the dict {want[1]} (ids in order of first "
                f"appearance, from 0); got {word_to_id!r}."
            )
        # Judged, a returned dict's int keys arrive as strings: compare them as ints.
        if not isinstance(id_to_word, dict) or {int(i): w for i, w in id_to_word.items()} != want[2]:
            raise AssertionError(f"build_vocab: id_to_word should be the dict {want[2]}; got {id_to_word!r}.")
        if not np.array_equal(corpus, want[0]):
            raise AssertionError(f"build_vocab({words}): corpus should be {want[0]}; got {corpus}.")
    for sentence in (
        "You say goodbye and I say hello.",
        "The cat sat.  The DOG sat on the mat.\nA cat ran",
        "one",
    ):
        got, want = preprocess(sentence), ref.preprocess(sentence)
        if not isinstance(got, tuple | list) or len(got) != 3:
            raise AssertionError("preprocess must return (corpus, word_to_id, id_to_word).")
        corpus = np.asarray(got[0])
        if (
            not isinstance(got[1], dict)
            or dict(got[1]) != want[1]
            or corpus.shape != want[0].shape
            or not np.array_equal(corpus, want[0])
        ):
            raise AssertionError(
                f"preprocess({sentence!r}) should give the corpus {want[0].tolist()} with "
                f"word_to_id {want[1]}; got {corpus.tolist()} and {got[1]!r}. "
                "Lower-case the text and make each full stop a word of its own."
            )


def create_co_matrix(create_co_matrix: Any, seed: int = 22) -> None:
    """Co-occurrence counts on random corpora and windows, dense and sparse."""
    np = backend.host()
    rng = host_rng(seed)
    for n, vocab, window in [(1, 3, 1), (2, 2, 3), (7, 4, 1), (40, 8, 2), (60, 12, 3)]:
        corpus = _random_corpus(rng, n, vocab)
        want = ref.create_co_matrix(corpus, vocab, window_size=window, dense=True)
        got = create_co_matrix(corpus.copy(), vocab, window_size=window, dense=True)
        if not isinstance(got, np.ndarray) or got.shape != (vocab, vocab):
            raise AssertionError(
                f"create_co_matrix(..., dense=True) must return a dense ({vocab}, {vocab}) NumPy array; "
                f"got {type(got).__name__} of shape {getattr(got, 'shape', None)}."
            )
        if not np.array_equal(got, want):
            raise AssertionError(
                f"create_co_matrix(corpus={corpus.tolist()}, vocab_size={vocab}, "
                f"window_size={window}) should be\n{want}\ngot\n{got}"
            )
        default = _sparse_as_dense(create_co_matrix(corpus.copy(), vocab, window_size=window))
        if default is None:
            raise AssertionError(
                "create_co_matrix must return a SciPy sparse matrix unless dense=True "
                "(a 10,000-word vocabulary would need 800 MB dense): sparse.csr_array(C)."
            )
        if default.shape != want.shape or not np.array_equal(default, want):
            raise AssertionError(f"The sparse result differs from the dense one for window {window}.")


def cos_similarity(cos_similarity: Any, seed: int = 23) -> None:
    """Cosine similarity of random vectors, of scaled copies and of a zero vector."""
    np = backend.host()
    rng = host_rng(seed)
    for d in (1, 3, 10):
        x, y = rng.standard_normal(d), rng.standard_normal(d)
        got, want = cos_similarity(x.copy(), y.copy()), ref.cos_similarity(x, y)
        if not isinstance(got, float | np.floating) or abs(float(got) - want) > 1e-6:
            raise AssertionError(f"cos_similarity({x}, {y}) should be the float {want:.6f}; got {got!r}.")
    x = rng.standard_normal(4)
    if abs(float(cos_similarity(x, 3 * x)) - 1) > 1e-6 or abs(float(cos_similarity(x, -x)) + 1) > 1e-6:
        raise AssertionError("A vector has similarity 1 with 3x and -1 with -x; divide by both lengths.")
    counts = np.array([0, 2, 1, 0]), np.array([1, 1, 0, 0])
    want = ref.cos_similarity(*counts)
    if abs(float(cos_similarity(*counts)) - want) > 1e-6:
        raise AssertionError(f"cos_similarity of the integer count rows {counts} should be {want:.6f}.")
    zero = float(cos_similarity(np.zeros(3), np.ones(3)))
    if not math.isfinite(zero) or abs(zero) > 1e-6:
        raise AssertionError(
            f"The similarity of a zero vector should be 0 (add eps to the lengths), got {zero}."
        )


def most_similar(most_similar: Any, seed: int = 24) -> None:
    """Neighbours of random vectors: order, values, the query left out, top, verbose, unknown words."""
    np = backend.host()
    rng = host_rng(seed)
    for V, D, top in ((6, 3, 3), (12, 4, 5), (5, 2, 10)):
        vocab = [f"w{i}" for i in rng.permutation(V)]
        word_to_id = {w: i for i, w in enumerate(vocab)}
        id_to_word = dict(enumerate(vocab))
        vecs = rng.standard_normal((V, D)).astype(np.float32)
        query = vocab[int(rng.integers(V))]
        with contextlib.redirect_stdout(io.StringIO()):
            want = ref.most_similar(query, word_to_id, id_to_word, vecs, top=top)
        words = [w for w, _ in want]
        # Judged, the student's prints go to its own process's log and this sees none.
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            got = most_similar(
                query, word_to_id, _int_keyed(most_similar, id_to_word), vecs.copy(), top=top, verbose=False
            )
        if printed.getvalue():
            raise AssertionError("most_similar(..., verbose=False) must not print anything.")
        if not isinstance(got, list) or not all(isinstance(p, tuple | list) and len(p) == 2 for p in got):
            raise AssertionError(f"most_similar must return a list of (word, similarity) pairs; got {got!r}.")
        if [w for w, _ in got] != words:
            raise AssertionError(
                f"most_similar({query!r}, top={top}) on {V} words should give the words "
                f"{words}; got {got!r}. Rank by cosine similarity, most similar first, "
                "without the query itself."
            )
        if any(abs(float(s) - t) > 1e-5 for (_, s), (_, t) in zip(got, want, strict=True)):
            raise AssertionError(
                f"most_similar: the similarities should be {[round(t, 4) for _, t in want]}; "
                f"got {[round(float(s), 4) for _, s in got]}."
            )
        as_list = most_similar(query, word_to_id, vocab, vecs.copy(), top=top, verbose=False)
        if not isinstance(as_list, list) or [p[0] for p in as_list] != words:
            raise AssertionError("most_similar must also accept id_to_word as a list of words.")
    with contextlib.redirect_stdout(io.StringIO()):
        unknown = most_similar("no-such-word", word_to_id, vocab, vecs)
    if unknown != []:
        raise AssertionError(f"An unknown query should return an empty list; got {unknown!r}.")


def ppmi(ppmi_dense: Any, seed: int = 25) -> None:
    """PPMI of symmetric and asymmetric counts, with rows and columns of zeros."""
    np = backend.host()
    rng = host_rng(seed)
    corpus = _random_corpus(rng, 50, 9)
    symmetric = ref.create_co_matrix(corpus, 9, window_size=2, dense=True)
    asymmetric = rng.integers(0, 4, (6, 6)) * (rng.random((6, 6)) < 0.6)
    asymmetric[2] = 0  # a word seen with nothing
    asymmetric[:, 4] = 0
    asymmetric[0, 1] = 7
    for name, C in (("a symmetric co-occurrence matrix", symmetric), ("asymmetric counts", asymmetric)):
        result = ppmi_dense(C.copy())
        if not isinstance(result, np.ndarray):
            raise AssertionError(f"ppmi_dense must return a NumPy array for NumPy counts; got {result!r}.")
        got = result.astype(np.float64)
        want = ref.ppmi_dense(C).astype(np.float64)
        if got.shape != want.shape:
            raise AssertionError(f"ppmi_dense must return a {want.shape} array; got shape {got.shape}.")
        if not np.isfinite(got).all():
            raise AssertionError(
                f"ppmi_dense gives NaN or inf on {name}: a count of 0 (also in a row of zeros) "
                "must give exactly 0. Compute the log only where C > 0."
            )
        err = float(np.abs(got - want).max())
        if err > 1e-4:
            i, j = np.unravel_index(np.abs(got - want).argmax(), want.shape)
            raise AssertionError(
                f"ppmi_dense on {name}: entry [{i}, {j}] should be {want[i, j]:.4f}, "
                f"got {got[i, j]:.4f}. Use the row sum of i and the column sum of j, the total "
                "count, log2, and max(0, .)."
            )
