"""Word vectors on the full Penn Treebank: quality and speed, side by side with gensim.

One run measures, on the same corpus and the same test sets:

1. the count-based pipeline (co-occurrence with window 2, PPMI, truncated SVD
   to 100 dimensions): the book's recipe and each refinement of
   ``course.text`` (context-distribution smoothing ``alpha``, eigenvalue
   weighting ``power``, word + context vectors ``add_context``);
2. gensim's Word2Vec CBOW (window 5, 100 dimensions, 5 negatives, its
   default subsampling ``sample=1e-3``, workers=2, min_count=1);
3. the course's CBOW (``SparseCBOW``) trained with the course's default
   recipe (``course.word2vec_training.RECIPE``), same window, dimension and
   negatives;
4. with ``--candidates``: the recipes that were tried for that default,
   each trained for the same epochs (the table behind the choice);
5. with ``--skip-gram``: gensim's and the course's skip-gram as well.

Quality after epochs 1, 5 and 10 (those up to ``--epochs``): Spearman
correlation with WordSim-353 and SimLex-999, 3CosAdd accuracy on the Google
analogies, all restricted to PTB's vocabulary (pairs / questions covered in
brackets), and accuracy on the course's own 66 questions
(``ptb_analogies.txt``). Speed: seconds per epoch, and the ratio of the
course's mean CBOW epoch to gensim's.

Run (PTB from $COURSE_DATA_DIR/ptb; the test sets from the installed gensim)::

    COURSE_DATA_DIR=../shared/data python benchmarks/word_vectors.py
    COURSE_DATA_DIR=../shared/data python benchmarks/word_vectors.py --candidates --skip-gram
    COURSE_DATA_DIR=../shared/data python benchmarks/word_vectors.py --epochs 5 --no-gensim

gensim is a benchmark-only dependency (``pip install -e .[bench]``); without
it the gensim part is skipped with a note (the test sets then come from
$COURSE_DATA_DIR/word_benchmarks, the cache, or a verified download).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

import course
from course import text, word_eval
from course.datasets import ptb
from course.models import SparseCBOW, SparseSkipGram
from course.word2vec_training import RECIPE, Word2VecRecipe, train_word2vec

ANALOGIES = Path(__file__).with_name("ptb_analogies.txt")
CHECKPOINTS = (1, 5, 10)
COLUMNS = ("ws353", "simlex", "google", "own")

# Recipes tried for the course's default (--candidates), each adding one change to the one before.
_SGD = Word2VecRecipe(lr=0.025, sample=0.0, context_step=False, shrink_window=False)
CANDIDATES: dict[str, Word2VecRecipe] = {
    "LazyAdam 0.003, batch 100, all words (before)": Word2VecRecipe(
        optimizer="lazyadam", lr=0.003, final_lr=1.0, batch_size=100, sample=0.0, shrink_window=False
    ),
    "LazyAdam 0.003 decaying, batch 500, subsampling": Word2VecRecipe(
        optimizer="lazyadam", lr=0.003, batch_size=500, shrink_window=False
    ),
    "SGD 0.025 decaying, batch 500, all words": _SGD,
    "  + subsampling": _SGD.with_(sample=1e-3),
    "  + whole step per context word": _SGD.with_(sample=1e-3, context_step=True),
    "  + shrinking window": _SGD.with_(sample=1e-3, context_step=True, shrink_window=True),
    "  + rate 0.05, word2vec's for CBOW (the default)": RECIPE,
    "the default with batches of 2000": RECIPE.with_(batch_size=2000),
}


def read_analogies(path: Path = ANALOGIES) -> list[tuple[str, str, str, str]]:
    """The questions of an analogy file: one "a b c d" per line; '#' and ':' lines skipped."""
    questions = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if parts and not parts[0].startswith(("#", ":")):
            if len(parts) != 4:
                raise ValueError(f"{path}: expected four words per line, got {line!r}")
            questions.append(tuple(parts))
    return questions


class Judge:
    """Scores word vectors on every test set and prints one table row per call."""

    def __init__(self, word_to_id: dict[str, int], own: list) -> None:
        self.word_to_id, self.own = word_to_id, own
        self.sets = word_eval.load_sets()

    def header(self) -> None:
        sets = {**self.sets, "own": self.own}
        sizes = {"ws353": 2, "simlex": 2, "google": 4, "own": 4}  # words per item
        covered = "  ".join(
            f"{k} ({len(word_eval.in_vocab(sets[k], self.word_to_id, n))}/{len(sets[k])})"
            for k, n in sizes.items()
        )
        print(f"  test sets restricted to PTB's vocabulary: {covered}")
        print(f"  {'':<72} {'ws353':>7} {'simlex':>7} {'google':>7} {'own':>7}  time")

    def row(self, label: str, vecs, seconds: float | None = None) -> dict[str, float]:
        scores = word_eval.evaluate(self.word_to_id, vecs, self.own, self.sets)
        values = {k: scores[k].value for k in COLUMNS}
        time_note = f"  {seconds:.2f} s" if seconds is not None else ""
        print(f"  {label:<72} " + " ".join(f"{values[k]:7.3f}" for k in COLUMNS) + time_note, flush=True)
        return values


def count_based(corpus, V: int, judge: Judge) -> dict[str, dict[str, float]]:
    """The book's PPMI + SVD and each refinement; returns the scores by setting."""
    print("\n=== count-based: co-occurrence (window 2) + PPMI + SVD (100 dims) ===")
    start = time.perf_counter()
    C = text.create_co_matrix(corpus, V, window_size=2)
    ppmi = {1.0: text.ppmi(C)}
    ppmi[0.75] = text.ppmi(C, alpha=0.75)
    print(f"  co-occurrence + both PPMI matrices: {time.perf_counter() - start:.2f} s")
    judge.header()
    settings = {
        "book: PPMI + SVD, U": (1.0, 0.0, False),
        "alpha 0.75": (0.75, 0.0, False),
        "power 0.5 (U S^0.5)": (1.0, 0.5, False),
        "power 1 (U S)": (1.0, 1.0, False),
        "add context (U + V)": (1.0, 0.0, True),
        "alpha 0.75, power 0.5": (0.75, 0.5, False),
        "alpha 0.75, power 0.5, add context": (0.75, 0.5, True),
    }
    results = {}
    for label, (alpha, power, add_context) in settings.items():
        start = time.perf_counter()
        vecs = text.reduce_dims(ppmi[alpha], 100, power=power, add_context=add_context)
        results[label] = judge.row(label, vecs, time.perf_counter() - start)
    return results


def train_ours(corpus, V: int, args, recipe: Word2VecRecipe, judge: Judge, label: str, skip_gram=False):
    """Train the course's model, scoring at the checkpoints; returns ({epoch: scores}, epoch times)."""
    course.seed(args.seed)
    Model = SparseSkipGram if skip_gram else SparseCBOW
    model = Model(V, args.hidden, args.window, corpus, sample_size=args.negative)
    times, scores = [], {}

    def on_epoch(epoch: int, seconds: float, loss: float) -> None:
        times.append(seconds)
        if epoch in CHECKPOINTS or epoch == args.epochs:
            scores[epoch] = judge.row(f"{label}, epoch {epoch} (loss {loss:.3f})", model.word_vecs, seconds)
            if args.in_out:
                W_in, W_out = model.params
                judge.row("    input + output vectors", W_in + W_out)

    train_word2vec(model, corpus, args.epochs, recipe, on_epoch=on_epoch)
    print(f"  {label}: epochs took {', '.join(f'{t:.2f}' for t in times)} s")
    return scores, times


class _EpochTimer:
    """A gensim callback that times each epoch and scores the vectors at the checkpoints."""

    def __init__(self, judge: Judge, words: list[str], label: str, last: int) -> None:
        self.judge, self.words, self.label, self.last = judge, words, label, last
        self.times, self.scores, self._start = [], {}, 0.0

    def on_epoch_begin(self, model) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, model) -> None:
        self.times.append(time.perf_counter() - self._start)
        epoch = len(self.times)
        if epoch in CHECKPOINTS or epoch == self.last:
            # Words gensim never saw (with --words) get zero vectors, so the table rows align.
            ids = np.array([model.wv.key_to_index.get(w, -1) for w in self.words])
            vecs = np.where(ids[:, None] >= 0, model.wv.vectors[np.maximum(ids, 0)], 0.0)
            self.scores[epoch] = self.judge.row(f"{self.label}, epoch {epoch}", vecs, self.times[-1])

    def on_train_begin(self, model) -> None:
        pass

    def on_train_end(self, model) -> None:
        pass


def train_gensim(corpus, id_to_word, args, judge: Judge, skip_gram=False):
    """gensim's Word2Vec on the same token stream; returns ({epoch: scores}, epoch times) or None."""
    try:
        import gensim
        from gensim.models import Word2Vec
    except ImportError:
        print("\n(gensim is not installed: pip install gensim, or pip install -e .[bench]; skipped)")
        return None
    words = [id_to_word[i] for i in corpus.tolist()]
    # gensim truncates "sentences" longer than 10,000 tokens: feed the same
    # token stream (with <eos>) in 10,000-token pieces.
    sentences = [words[i : i + 10_000] for i in range(0, len(words), 10_000)]
    model = Word2Vec(
        vector_size=args.hidden,
        window=args.window,
        min_count=1,
        sg=int(skip_gram),
        hs=0,
        negative=args.negative,
        workers=2,
        seed=args.seed,
    )  # sample=1e-3, alpha=0.025 falling to 1e-4: gensim's defaults
    model.build_vocab(sentences)
    name = "skip-gram" if skip_gram else "CBOW"
    print(
        f"\ngensim {gensim.__version__} Word2Vec ({name}, negative={args.negative}, window={args.window}, "
        f"vector_size={args.hidden}, sample={model.sample}, alpha={model.alpha}, workers=2, min_count=1)"
    )
    timer = _EpochTimer(judge, [id_to_word[i] for i in range(len(id_to_word))], f"gensim {name}", args.epochs)
    model.train(sentences, total_examples=len(sentences), epochs=args.epochs, callbacks=[timer])
    return timer.scores, timer.times


def compare(label: str, ours, theirs) -> None:
    """Ours against gensim at each checkpoint, and the ratio of mean epoch times."""
    (our_scores, our_times), (their_scores, their_times) = ours, theirs
    print(f"\n=== {label}: course - gensim (>= 0: the course's vectors are at least as good) ===")
    for epoch in sorted(our_scores):
        if epoch in their_scores:
            diffs = {k: our_scores[epoch][k] - their_scores[epoch][k] for k in COLUMNS}
            print(f"  epoch {epoch:>2}: " + "  ".join(f"{k} {v:+.3f}" for k, v in diffs.items()))
    ratio = np.mean(our_times) / np.mean(their_times)
    print(
        f"  mean epoch: course {np.mean(our_times):.2f} s, gensim {np.mean(their_times):.2f} s, "
        f"ratio {ratio:.1f}x"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10, help="word2vec epochs (default 10)")
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--negative", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--candidates", action="store_true", help="also train every candidate recipe")
    parser.add_argument("--candidate-epochs", type=int, default=5, help="epochs of each candidate (5)")
    parser.add_argument("--skip-gram", action="store_true", help="also compare skip-gram")
    parser.add_argument("--in-out", action="store_true", help="also score input + output vectors")
    parser.add_argument("--no-count", action="store_true", help="skip the count-based part")
    parser.add_argument("--words", type=int, default=None, help="train on the first WORDS words only")
    parser.add_argument("--no-gensim", action="store_true", help="skip gensim")
    args = parser.parse_args(argv)

    print(
        f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs, "
        f"COURSE_DATA_DIR={os.environ.get('COURSE_DATA_DIR', '(not set)')}"
    )
    corpus, word_to_id, id_to_word = ptb.load_data("train")
    corpus = corpus[: args.words]
    V = len(word_to_id)
    print(f"Penn Treebank train: {len(corpus):,} tokens, {V:,} words")
    judge = Judge(word_to_id, read_analogies())
    if not args.no_count:
        count_based(corpus, V, judge)

    print(f"\n=== CBOW: window {args.window}, {args.hidden} dims, {args.negative} negatives ===")
    judge.header()
    theirs = None if args.no_gensim else train_gensim(corpus, id_to_word, args, judge)
    print(f"\ncourse SparseCBOW, default recipe: {RECIPE}")
    ours = train_ours(corpus, V, args, RECIPE, judge, "course CBOW")
    if theirs is not None:
        compare("CBOW", ours, theirs)

    if args.candidates:
        print(f"\n=== CBOW recipes tried, {args.candidate_epochs} epochs each ===")
        judge.header()
        short = argparse.Namespace(**{**vars(args), "epochs": args.candidate_epochs})
        if theirs is not None:
            train_gensim(corpus, id_to_word, short, judge)
        for label, recipe in CANDIDATES.items():
            train_ours(corpus, V, short, recipe, judge, label)

    if args.skip_gram:
        print("\n=== skip-gram ===")
        judge.header()
        sg_theirs = None if args.no_gensim else train_gensim(corpus, id_to_word, args, judge, skip_gram=True)
        print(f"\ncourse SparseSkipGram, default recipe: {RECIPE}")
        sg_ours = train_ours(corpus, V, args, RECIPE, judge, "course skip-gram", skip_gram=True)
        if sg_theirs is not None:
            compare("skip-gram", sg_ours, sg_theirs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
