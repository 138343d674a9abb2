"""Text helpers for word vectors: from raw text to ids, counts, PPMI, SVD and neighbours.

The count-based pipeline of the course::

    corpus, word_to_id, id_to_word = preprocess("You say goodbye and I say hello.")
    C = create_co_matrix(corpus, len(word_to_id), window_size=1)   # (V, V) sparse counts
    W = ppmi(C)                                                     # (V, V) sparse PPMI
    word_vecs = reduce_dims(W, 2)                                   # (V, k) dense vectors
    most_similar("you", word_to_id, id_to_word, word_vecs)

and the data preparation of word2vec (``create_contexts_target``,
``convert_one_hot``). Shapes: V vocabulary, D vector size, N examples,
C = 2 * window_size context words.

Counting, PPMI and SVD run on the host with SciPy's sparse matrices (a full
Penn Treebank co-occurrence matrix is 10,000 x 10,000 but only 1% non-zero).
The similarity helpers and the word2vec helpers accept NumPy or CuPy arrays.

Unknown words: ``most_similar`` and ``analogy`` print a message naming the
word (and close spellings that are in the vocabulary) and return an empty
list, so a typo in a notebook cell never ends in a long traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import scipy.sparse as sparse
from scipy.sparse.linalg import eigsh, svds
from threadpoolctl import threadpool_limits

from course import backend, validate
from course.answers import model_answer

Array = Any
Neighbours = list[tuple[str, float]]


# --------------------------------------------------------------------------
# From text to ids
# --------------------------------------------------------------------------


@model_answer("build_vocab", chapter="ch02", twins=("course.datasets.corpus:_first_appearance_vocab",))
def build_vocab(words: Sequence[str]) -> tuple[Array, dict[str, int], dict[int, str]]:
    """Give every distinct word an id, in order of first appearance.

    Returns (corpus, word_to_id, id_to_word): corpus is a (N,) int64 host
    array of the ids of ``words``; the first word gets id 0.
    """
    np = backend.host()
    # dict.fromkeys keeps the first occurrence of each word, in order.
    vocab = list(dict.fromkeys(words))
    word_to_id = {w: i for i, w in enumerate(vocab)}
    id_to_word = dict(enumerate(vocab))
    corpus = np.fromiter(map(word_to_id.__getitem__, words), dtype=np.int64, count=len(words))
    return corpus, word_to_id, id_to_word


@model_answer("preprocess", chapter="ch02", twins=("course.datasets.corpus:_first_appearance_vocab",))
def preprocess(text: str) -> tuple[Array, dict[str, int], dict[int, str]]:
    """Lower-case ``text``, split it into words (a full stop is a word) and number them.

    Returns (corpus, word_to_id, id_to_word): corpus (N,) int64 host array of
    word ids in text order; ids follow first appearance.

    Example: ``preprocess("You say goodbye and I say hello.")`` gives the
    corpus [0 1 2 3 4 1 5 6] with word_to_id["say"] == 1.
    """
    if not isinstance(text, str):
        raise TypeError(f"preprocess expects a str of text, got {type(text).__name__}.")
    words = text.lower().replace(".", " .").split()
    return build_vocab(words)


# --------------------------------------------------------------------------
# Counts and PPMI
# --------------------------------------------------------------------------


def check_corpus(corpus: Any, where: str) -> Array:
    """corpus as a (N,) int64 host array; a clear ValueError naming ``where`` if it is not word ids."""
    np = backend.host()
    corpus = np.asarray(backend.to_host(corpus))
    if corpus.ndim != 1 or (corpus.size and corpus.dtype.kind not in "iu"):
        raise ValueError(
            f"{where}: corpus must be a 1-D array of integer word ids (as returned by "
            f"preprocess or ptb.load_data), got dtype {corpus.dtype} and shape {corpus.shape}."
        )
    return corpus.astype(np.int64, copy=False)


@model_answer("create_co_matrix", chapter="ch02")
def create_co_matrix(corpus: Array, vocab_size: int, window_size: int = 1, dense: bool = False) -> Any:
    """Count how often each pair of words appears within ``window_size`` of each other.

    corpus: (N,) word ids. Returns C (V, V) with C[i, j] = number of times word j
    appears at most ``window_size`` positions before or after word i (so C is
    symmetric). Returns a SciPy CSR sparse array of int64 counts, or a dense
    NumPy array with ``dense=True`` (handy for the small examples).
    """
    np = backend.host()
    corpus = check_corpus(corpus, "create_co_matrix")
    if int(window_size) < 1:
        raise ValueError(f"window_size must be at least 1, got {window_size}.")
    V = int(vocab_size)
    if corpus.size and (corpus.min() < 0 or corpus.max() >= V):
        raise ValueError(
            f"create_co_matrix: word ids must lie in [0, vocab_size={V}); found ids from "
            f"{corpus.min()} to {corpus.max()}. Pass vocab_size=len(word_to_id)."
        )
    # One loop over the distances, none over the corpus: the words d apart are
    # corpus[:-d] and corpus[d:] side by side, and each pair counts for both words.
    rows, cols = [], []
    for d in range(1, int(window_size) + 1):
        left, right = corpus[:-d], corpus[d:]
        rows += [left, right]
        cols += [right, left]
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    # A COO matrix may list the same (row, col) many times; CSR adds the repeats up.
    ones = np.ones(rows.size, dtype=np.int64)
    counts = sparse.coo_array((ones, (rows, cols)), shape=(V, V)).tocsr()
    return counts.toarray() if dense else counts


def ppmi(C: Any, alpha: float = 1.0) -> Any:
    """Positive pointwise mutual information of a co-occurrence matrix.

    PPMI[i, j] = max(0, log2(C[i, j] * N / (S_row[i] * S_col[j]))) where N is the
    total count and S_row, S_col the row and column sums; a pair never seen
    (C[i, j] = 0) gets exactly 0, with no warning and no eps.

    alpha: context-distribution smoothing (Levy, Goldberg & Dagan, 2015). The
    context's probability S_col[j] / N becomes S_col[j] ** alpha / sum(S_col ** alpha):
    with alpha < 1 (0.75 is usual) rare context words look less rare, which
    tames PMI's favour for them. alpha = 1 is plain PPMI, the book's.

    C: (V, V) counts, SciPy sparse (the result is a CSR float32 array with the
    same non-zero pattern or fewer; only the non-zero counts are ever visited,
    so a 10,000-word vocabulary takes milliseconds) or a dense NumPy/CuPy array
    (the result is :func:`ppmi_dense`'s, dense and of the same module).
    """
    alpha = float(alpha)
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"ppmi: alpha must be in (0, 1], got {alpha}.")
    if sparse.issparse(C):
        return _ppmi_sparse(C, alpha)
    if alpha == 1.0:
        return ppmi_dense(C)
    # Smoothing is rare on the small dense examples: compute it on the host, hand it back dense.
    dense = _ppmi_sparse(sparse.csr_array(backend.to_host(C)), alpha).toarray()
    return backend.to_device(dense, like=C)


@model_answer("ppmi", chapter="ch02", twins=("course.text:ppmi", "course.text:_ppmi_sparse"))
def ppmi_dense(C: Array) -> Array:
    """Positive pointwise mutual information of a dense co-occurrence matrix.

    C: (V, V) non-negative counts (NumPy or CuPy). Returns a (V, V) float32
    array of the same module with
    PPMI[i, j] = max(0, log2(C[i, j] * N / (S_row[i] * S_col[j]))), where N is
    the total count, S_row[i] the sum of row i and S_col[j] the sum of column j.
    A pair never seen (C[i, j] = 0) gets exactly 0, also in a row or column of
    zeros, with no warning and no eps.
    """
    xp = backend.array_module(C)
    Cf = xp.asarray(C).astype(xp.float64)
    if Cf.ndim != 2:
        raise ValueError(f"ppmi expects a 2-D (V, V) count matrix, got shape {Cf.shape}.")
    if Cf.size and float(Cf.min()) < 0:
        raise ValueError("ppmi: counts must be non-negative; pass the output of create_co_matrix.")
    total = Cf.sum()
    seen = Cf > 0
    # Where a count is 0 the ratio is set to 1 (log 1 = 0) before the log runs.
    denom = xp.where(seen, Cf.sum(axis=1, keepdims=True) * Cf.sum(axis=0, keepdims=True), 1.0)
    ratio = xp.where(seen, Cf * total / denom, 1.0)
    return xp.maximum(xp.log2(ratio), 0.0).astype(xp.float32)


def _ppmi_sparse(C: Any, alpha: float = 1.0) -> Any:
    np = backend.host()
    C = sparse.csr_array(C, dtype=np.float64)
    C.sum_duplicates()
    if C.nnz and C.data.min() < 0:
        raise ValueError("ppmi: counts must be non-negative; pass the output of create_co_matrix.")
    C.eliminate_zeros()
    total = C.sum()
    row_sums = np.asarray(C.sum(axis=1)).ravel()
    col_sums = np.asarray(C.sum(axis=0)).ravel()
    if alpha != 1.0:
        # Smoothed context counts, rescaled to the same total: P(j) = S_col[j]^a / sum(S_col^a).
        smoothed = col_sums**alpha
        col_sums = smoothed * (total / smoothed.sum())
    rows = np.repeat(np.arange(C.shape[0]), np.diff(C.indptr))
    pmi = np.log2(C.data * total / (row_sums[rows] * col_sums[C.indices]))
    out = sparse.csr_array(
        (np.maximum(pmi, 0.0).astype(np.float32), C.indices.copy(), C.indptr.copy()), shape=C.shape
    )
    out.eliminate_zeros()
    return out


def reduce_dims(W: Any, k: int, seed: int = 0, power: float = 0.0, add_context: bool = False) -> Array:
    """Dense k-dimensional word vectors from a (V, V) matrix by truncated SVD, W ~ U S V^T.

    W: (V, V) SciPy sparse or dense array (e.g. the PPMI matrix). Returns
    (V, k) float32 on the host. By default that is U, the book's choice: the
    left singular vectors of the k largest singular values, largest first,
    each with the sign that makes its largest-magnitude entry positive (so the
    result does not flip between runs). Two refinements (Levy, Goldberg &
    Dagan, 2015), each off by default:

    * power p, eigenvalue weighting: U * S**p. p = 1 keeps the SVD's own
      scale, p = 0.5 splits it evenly between word and context vectors, and
      p = 0 (the default) weights every direction alike.
    * add_context: return U S**p + V S**p, word plus context vectors (V the
      right singular vectors, signs matched to U's), as word2vec users often
      add W_in and W_out.

    Sparse input uses ARPACK, which computes only the k vectors needed
    (``scipy.sparse.linalg.eigsh`` when W is symmetric, as a PPMI matrix is,
    else ``svds``), in float32; dense input (the small examples) uses a full SVD.
    """
    np = backend.host()
    k = int(k)
    if sparse.issparse(W):
        shape = W.shape
    else:
        W = np.asarray(backend.to_host(W), dtype=np.float64)
        shape = W.shape
    if len(shape) != 2 or not 1 <= k <= min(shape):
        raise ValueError(f"reduce_dims: k must be between 1 and {min(shape)} for a matrix of shape {shape}.")
    U, S, Vt = _truncated_svd(W, k, seed)
    order = np.argsort(-S, kind="stable")[:k]
    U, S, V = U[:, order], S[order], Vt[order].T
    signs = np.sign(U[np.abs(U).argmax(axis=0), np.arange(k)])
    signs = np.where(signs == 0, 1.0, signs)
    vecs = U * signs
    if add_context:
        vecs = vecs + V * signs
    if power:
        vecs = vecs * S ** float(power)
    return vecs.astype(np.float32)


def _truncated_svd(W: Any, k: int, seed: int) -> tuple[Array, Array, Array]:
    """U (V, k'), S (k',), Vt (k', V) with k' >= k, in no particular order."""
    np = backend.host()
    shape = W.shape
    if sparse.issparse(W) and k < min(shape) - 1:
        W = sparse.csr_array(W, dtype=np.float32)
        start = np.random.default_rng(seed).uniform(-1.0, 1.0, min(shape)).astype(np.float32)
        # ARPACK's dense steps are small: one BLAS thread is as fast, and does not
        # slow to a crawl when other programs share the cores.
        with threadpool_limits(limits=1, user_api="blas"):
            if _is_symmetric(W):
                # A symmetric matrix's singular vectors are its eigenvectors and its
                # singular values the |eigenvalues|: one product per step, not two.
                # The right vector of a negative eigenvalue is its eigenvector negated.
                eigvals, U = eigsh(W, k=k, which="LM", v0=start)
                return U, np.abs(eigvals), (U * np.where(eigvals < 0, -1.0, 1.0)).T
            return svds(W, k=k, v0=start)
    dense_W = W.toarray() if sparse.issparse(W) else W
    return np.linalg.svd(dense_W, full_matrices=False)


def _is_symmetric(W: Any) -> bool:
    return W.shape[0] == W.shape[1] and (W != W.T).nnz == 0


# --------------------------------------------------------------------------
# Similarity, neighbours, analogies
# --------------------------------------------------------------------------


def normalize(x: Array, eps: float = 1e-8) -> Array:
    """Scale vectors to unit length along the last axis: (D,) or (V, D) -> same shape.

    Zero vectors stay zero (``eps`` keeps the division finite).
    """
    xp = backend.array_module(x)
    x = xp.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(xp.float64)
    return x / (xp.sqrt((x * x).sum(axis=-1, keepdims=True)) + eps)


@model_answer("cos_similarity", chapter="ch02", twins=("course.text:normalize",))
def cos_similarity(x: Array, y: Array, eps: float = 1e-8) -> float:
    """Cosine similarity of two vectors x (D,) and y (D,): x·y / (|x| |y|), a float in [-1, 1].

    ``eps`` is added to each length, so a zero vector has similarity 0 with
    anything (and no division by zero).
    """
    nx = x / ((x * x).sum() ** 0.5 + eps)
    ny = y / ((y * y).sum() ** 0.5 + eps)
    return float((nx * ny).sum())


def find_word(word: str, word_to_id: Mapping[str, int]) -> int | None:
    """The id of ``word``, or None after printing that it is unknown (with close spellings)."""
    if word in word_to_id:
        return int(word_to_id[word])
    close = difflib.get_close_matches(str(word), list(word_to_id), n=3)
    hint = f" Did you mean {', '.join(repr(w) for w in close)}?" if close else ""
    print(f"{word!r} is not in the vocabulary ({len(word_to_id):,} words).{hint}")
    return None


def _ranked(sims: Array, exclude: Iterable[int], top: int, id_to_word: Any) -> Neighbours:
    """The ``top`` highest similarities, excluding some ids, as (word, similarity) pairs."""
    xp = backend.array_module(sims)
    sims = sims.astype(xp.float64)
    sims[xp.asarray(list(exclude))] = -xp.inf
    top = max(0, min(int(top), sims.size - len(set(exclude))))
    if top == 0:
        return []
    best = xp.argpartition(-sims, top - 1)[:top]
    best = best[xp.argsort(-sims[best], kind="stable")]
    ids, values = backend.to_host(best).tolist(), backend.to_host(sims[best]).tolist()
    return [(id_to_word[i], float(v)) for i, v in zip(ids, values, strict=True)]


def print_neighbours(title: str, neighbours: Neighbours) -> None:
    """Print ``title`` and one "word  similarity" line per pair."""
    width = max((len(w) for w, _ in neighbours), default=0)
    print(title)
    for word, sim in neighbours:
        print(f"  {word:<{width}}  {sim:.3f}")


@model_answer("most_similar", chapter="ch02", twins=("course.text:analogy", "course.text:_ranked"))
def most_similar(
    query: str,
    word_to_id: Mapping[str, int],
    id_to_word: Any,
    word_matrix: Array,
    top: int = 5,
    verbose: bool = True,
) -> Neighbours:
    """The ``top`` words whose vectors have the highest cosine similarity to ``query``'s.

    word_matrix: (V, D) word vectors (NumPy or CuPy), row i for word id i;
    id_to_word: a dict or list from id to word. Returns a list of
    (word, similarity) pairs, most similar first, without the query itself,
    and prints them when ``verbose``. An unknown query prints a message and
    returns an empty list.
    """
    qid = find_word(query, word_to_id)
    if qid is None:
        return []
    xp = backend.array_module(word_matrix)
    vecs = normalize(word_matrix)
    # One matrix-vector product: the cosine similarity of the query with every word.
    sims = (vecs @ vecs[qid]).astype(xp.float64)
    sims[qid] = -xp.inf  # a word is not its own neighbour
    top = max(0, min(int(top), sims.size - 1))
    best = xp.argsort(-sims, kind="stable")[:top]
    ids, values = backend.to_host(best).tolist(), backend.to_host(sims[best]).tolist()
    neighbours = [(id_to_word[i], float(v)) for i, v in zip(ids, values, strict=True)]
    if verbose:
        print_neighbours(f"[query] {query}", neighbours)
    return neighbours


def analogy(
    a: str,
    b: str,
    c: str,
    word_to_id: Mapping[str, int],
    id_to_word: Any,
    word_matrix: Array,
    top: int = 5,
    answer: str | None = None,
    verbose: bool = True,
) -> Neighbours:
    """Solve "a is to b as c is to ?" by vector arithmetic: the words closest to b - a + c.

    Vectors are unit-normalised first and a, b, c themselves are never
    answers (the usual 3CosAdd rule). word_matrix: (V, D). Returns a list of
    (word, cosine similarity) pairs, best first, printed when ``verbose``;
    with ``answer`` the printout also gives that word's rank and similarity.
    An unknown word prints a message and returns an empty list.
    """
    _check_word_matrix("analogy", word_to_id, word_matrix)
    validate.check_count(top, "analogy", "top", minimum=0)
    ids = [find_word(w, word_to_id) for w in (a, b, c)]
    if any(i is None for i in ids):
        return []
    vecs = normalize(word_matrix)
    query = normalize(vecs[ids[1]] - vecs[ids[0]] + vecs[ids[2]])
    sims = vecs @ query
    neighbours = _ranked(sims, ids, top, id_to_word)
    if verbose:
        print_neighbours(f"[analogy] {a}:{b} = {c}:?", neighbours)
        if answer is not None:
            _print_answer(answer, sims, ids, word_to_id)
    return neighbours


def _print_answer(answer: str, sims: Array, exclude: list[int], word_to_id: Mapping[str, int]) -> None:
    aid = find_word(answer, word_to_id)
    if aid is None:
        return
    xp = backend.array_module(sims)
    sims = sims.astype(xp.float64)
    sims[xp.asarray(exclude)] = -xp.inf
    rank = int((sims > sims[aid]).sum()) + 1
    print(f"  ==> {answer}: {float(sims[aid]):.3f} (rank {rank})")


def analogy_accuracy(
    questions: Sequence[tuple[str, str, str, str]], word_to_id: Mapping[str, int], word_matrix: Array
) -> tuple[float, list[int]]:
    """Share of analogy questions (a, b, c, d) whose best 3CosAdd answer is d.

    All questions are answered at once: the (M, D) query matrix times the
    (D, V) normalised vectors. Returns (accuracy, predicted ids (M,)).
    Every word must be in the vocabulary (a ValueError lists the missing ones).
    """
    missing = sorted({w for q in questions for w in q if w not in word_to_id})
    if missing:
        raise ValueError(f"analogy_accuracy: words not in the vocabulary: {', '.join(missing)}.")
    if not questions:
        raise ValueError("analogy_accuracy: no questions given.")
    _check_word_matrix("analogy_accuracy", word_to_id, word_matrix)
    xp = backend.array_module(word_matrix)
    ids = xp.asarray([[word_to_id[w] for w in q] for q in questions])
    vecs = normalize(word_matrix)
    queries = normalize(vecs[ids[:, 1]] - vecs[ids[:, 0]] + vecs[ids[:, 2]])
    sims = (queries @ vecs.T).astype(xp.float64)
    rows = xp.arange(len(questions))[:, None]
    sims[rows, ids[:, :3]] = -xp.inf
    predicted = sims.argmax(axis=1)
    accuracy = float((predicted == ids[:, 3]).mean())
    return accuracy, backend.to_host(predicted).tolist()


# --------------------------------------------------------------------------
# word2vec data
# --------------------------------------------------------------------------


@model_answer("create_contexts_target", chapter="ch03")
def create_contexts_target(corpus: Array, window_size: int = 1) -> tuple[Array, Array]:
    """Training pairs for word2vec: every word with the words around it.

    corpus: (N,) word ids (NumPy or CuPy). Returns (contexts, target):
    contexts (N - 2w, 2w) with the w words before and the w words after each
    target, in text order; target (N - 2w,) the middle words, where
    w = window_size.
    """
    xp = backend.array_module(corpus)
    corpus = xp.asarray(corpus)
    w = int(window_size)
    if w < 1:
        raise ValueError(f"window_size must be at least 1, got {window_size}.")
    if corpus.ndim != 1 or corpus.shape[0] <= 2 * w:
        raise ValueError(
            f"create_contexts_target: need a 1-D corpus longer than 2 * window_size = {2 * w} "
            f"words, got shape {corpus.shape}."
        )
    # Every context at once: the target positions down the rows, the offsets
    # -w..-1, 1..w across the columns, and one fancy index picks the words.
    offsets = xp.concatenate([xp.arange(-w, 0), xp.arange(1, w + 1)])
    centres = xp.arange(w, corpus.shape[0] - w)
    return corpus[centres[:, None] + offsets], corpus[w:-w]


@model_answer("convert_one_hot", chapter="ch03", twins=("course.models.word2vec:as_one_hot",))
def convert_one_hot(corpus: Array, vocab_size: int) -> Array:
    """One-hot rows from word ids: (N,) -> (N, V) or (N, C) -> (N, C, V), int32.

    Works for NumPy and CuPy ids; memory grows as N * V, so this is for the
    small examples (the fast models use ids and Embedding layers instead).
    """
    xp = backend.array_module(corpus)
    corpus = xp.asarray(corpus)
    V = int(vocab_size)
    if corpus.size and (int(corpus.min()) < 0 or int(corpus.max()) >= V):
        raise ValueError(f"convert_one_hot: ids must lie in [0, {V}); got {corpus.min()}..{corpus.max()}.")
    one_hot = xp.zeros((*corpus.shape, V), dtype=xp.int32)
    flat = one_hot.reshape(-1, V)
    flat[xp.arange(corpus.size), corpus.reshape(-1)] = 1
    return one_hot


# --------------------------------------------------------------------------
# Input checks around the chapters' answers above, which the notebooks show
# exactly as written (see course.validate.guarded).
# --------------------------------------------------------------------------


def _check_words(words: Sequence[str]) -> None:
    if isinstance(words, str) or not isinstance(words, Sequence):
        raise validate.InputTypeError(
            f"build_vocab expects a list of words, got {type(words).__name__}; split the text first, "
            "e.g. build_vocab(text.lower().split()) (or use preprocess(text))."
        )


def _check_word_matrix(who: str, word_to_id: Mapping[str, int], word_matrix: Array) -> None:
    """word_matrix (V, D) with one row per word of the vocabulary."""
    validate.check_numeric(word_matrix, who, "word_matrix", "(V, D): one vector per word")
    validate.check_ndim(word_matrix, 2, who, "word_matrix", "(V, D): one vector per word")
    if word_matrix.shape[0] != len(word_to_id):
        raise validate.ShapeError(
            f"{who}: word_matrix has {word_matrix.shape[0]} rows but the vocabulary has {len(word_to_id)} "
            "words; pass the (V, D) matrix whose row i is the vector of word id i (e.g. model.word_vecs, "
            "not W_out of a Simple model, which is (D, V))."
        )


def _check_most_similar(
    query: str,
    word_to_id: Mapping[str, int],
    id_to_word: Any,
    word_matrix: Array,
    top: int = 5,
    verbose: bool = True,
) -> None:
    _check_word_matrix("most_similar", word_to_id, word_matrix)
    validate.check_count(top, "most_similar", "top", minimum=0)


def _check_vector_pair(x: Array, y: Array, eps: float = 1e-8) -> None:
    for name, v in (("x", x), ("y", y)):
        validate.check_numeric(v, "cos_similarity", name, "(D,): one vector")
    if x.shape != y.shape or x.ndim != 1:
        raise validate.ShapeError(
            f"cos_similarity: x and y must be two vectors of the same length (D,), got {tuple(x.shape)} and "
            f"{tuple(y.shape)}. Pass single rows, e.g. cos_similarity(W[i], W[j])."
        )


def _check_ids_corpus(who: str) -> Any:
    def check(corpus: Array, *args: Any, **kwargs: Any) -> None:
        ids = corpus if backend.is_array(corpus) else backend.host().asarray(corpus)  # a list works too
        if ids.dtype.kind not in "iu":
            raise validate.InputTypeError(
                f"{who}: corpus must hold integer word ids (as returned by preprocess), got dtype "
                f"{ids.dtype}."
            )

    return check


build_vocab = validate.guarded(build_vocab, lambda words: _check_words(words))
most_similar = validate.guarded(most_similar, _check_most_similar)
cos_similarity = validate.guarded(cos_similarity, _check_vector_pair)
create_contexts_target = validate.guarded(create_contexts_target, _check_ids_corpus("create_contexts_target"))
convert_one_hot = validate.guarded(convert_one_hot, _check_ids_corpus("convert_one_hot"))
