"""Word vectors on the full Penn Treebank: speed and quality, side by side with gensim.

Measures, in one run on the same corpus:

1. the count-based pipeline (co-occurrence with window 2, PPMI, truncated
   SVD to 100 dimensions), each stage timed;
2. CBOW with negative sampling (window 5, hidden 100, 5 negatives, batch
   100, LazyAdam), trained by ``course.train.Trainer``, each epoch timed;
3. gensim's Word2Vec on the same token stream (CBOW, negative=5, window=5,
   vector_size=100, sample=0, workers=2, min_count=1), each epoch timed,
   and the ratio of the two epoch times;

and prints the nearest neighbours of you, year, car and toyota and the
accuracy on the analogy questions of ``ptb_analogies.txt`` for each set
of vectors.

Run (the PTB files from $COURSE_DATA_DIR/ptb, else the cache / a download)::

    COURSE_DATA_DIR=../shared/data python benchmarks/word_vectors.py
    COURSE_DATA_DIR=../shared/data python benchmarks/word_vectors.py --epochs 5

gensim is a benchmark-only dependency (``pip install -e .[bench]``); without
it the gensim part is skipped with a note.
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
from course import text
from course.datasets import ptb
from course.models import SparseCBOW
from course.optim import LazyAdam
from course.train import Trainer

QUERIES = ("you", "year", "car", "toyota")
ANALOGIES = Path(__file__).with_name("ptb_analogies.txt")


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


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def report_quality(label, word_to_id, id_to_word, vecs, questions):
    print(f"\n--- {label}: nearest neighbours (cosine) ---")
    for query in QUERIES:
        pairs = text.most_similar(query, word_to_id, id_to_word, vecs, top=5, verbose=False)
        print(f"  {query:>7}: " + ", ".join(f"{w} {s:.2f}" for w, s in pairs))
    accuracy, _ = text.analogy_accuracy(questions, word_to_id, vecs)
    correct = round(accuracy * len(questions))
    print(f"  analogies: {correct}/{len(questions)} correct = {accuracy:.1%} (top-1, 3CosAdd)")
    return accuracy


def count_based(corpus, vocab_size, repeats):
    """Best-of-`repeats` time of each stage; returns the word vectors and the times."""
    best = {"co-occurrence": np.inf, "ppmi": np.inf, "svd": np.inf}
    for _ in range(repeats):
        C, t_co = timed(text.create_co_matrix, corpus, vocab_size, window_size=2)
        W, t_ppmi = timed(text.ppmi, C)
        vecs, t_svd = timed(text.reduce_dims, W, 100)
        for key, value in zip(best, (t_co, t_ppmi, t_svd), strict=True):
            best[key] = min(best[key], value)
    return vecs, C, W, best


def train_cbow(corpus, vocab_size, args):
    contexts, target = text.create_contexts_target(corpus, args.window)
    course.seed(args.seed)
    model = SparseCBOW(vocab_size, args.hidden, args.window, corpus, sample_size=args.negative)
    trainer = Trainer(model, LazyAdam())
    times = []
    for _ in range(args.epochs):
        _, seconds = timed(
            trainer.fit, contexts, target, max_epoch=1, batch_size=args.batch_size, progress=args.progress
        )
        times.append(seconds)
        print(
            f"  CBOW epoch {len(times)}: {seconds:.2f} s, mean loss {trainer.history.loss[-1000:].mean():.3f}"
        )
    return model, times


class _EpochTimer:
    """A gensim callback that times each epoch."""

    def __init__(self):
        self.times, self._start = [], 0.0

    def on_epoch_begin(self, model):
        self._start = time.perf_counter()

    def on_epoch_end(self, model):
        self.times.append(time.perf_counter() - self._start)

    def on_train_begin(self, model):
        pass

    def on_train_end(self, model):
        pass


def train_gensim(corpus, id_to_word, args):
    try:
        import gensim
        from gensim.models import Word2Vec
    except ImportError:
        print("\n(gensim is not installed: pip install gensim, or pip install -e .[bench]; skipped)")
        return None, []
    words = [id_to_word[i] for i in corpus.tolist()]
    # gensim truncates "sentences" longer than 10,000 tokens: feed the same
    # token stream (with <eos>) in 10,000-token pieces.
    sentences = [words[i : i + 10_000] for i in range(0, len(words), 10_000)]
    model = Word2Vec(
        vector_size=args.hidden,
        window=args.window,
        min_count=1,
        sg=0,
        hs=0,
        negative=args.negative,
        sample=0,
        workers=2,
        seed=args.seed,
    )
    model.build_vocab(sentences)
    print(
        f"\ngensim {gensim.__version__} Word2Vec (CBOW, negative={args.negative}, window={args.window}, "
        f"vector_size={args.hidden}, sample=0, workers=2, min_count=1)"
    )
    timer = _EpochTimer()
    model.train(sentences, total_examples=len(sentences), epochs=args.epochs, callbacks=[timer])
    for epoch, seconds in enumerate(timer.times, 1):
        print(f"  gensim epoch {epoch}: {seconds:.2f} s")
    times = timer.times
    return model, times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=1, help="CBOW (and gensim) epochs (default 1)")
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--negative", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3, help="count-based runs; the best time is kept")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-gensim", action="store_true", help="skip the gensim comparison")
    parser.add_argument("--progress", action="store_true", help="show the training progress bar")
    args = parser.parse_args(argv)

    print(
        f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs, "
        f"COURSE_DATA_DIR={os.environ.get('COURSE_DATA_DIR', '(not set)')}"
    )
    (corpus, word_to_id, id_to_word), t_load = timed(ptb.load_data, "train")
    V = len(word_to_id)
    print(f"Penn Treebank train: {len(corpus):,} tokens, {V:,} words (loaded in {t_load:.2f} s)")
    questions = read_analogies()
    print(f"analogy set: {len(questions)} questions from {ANALOGIES.name}")

    print("\n=== count-based: co-occurrence (window 2) + PPMI + SVD (100 dims) ===")
    vecs, C, _, best = count_based(corpus, V, args.repeats)
    total = sum(best.values())
    print(
        f"  co-occurrence {best['co-occurrence']:.3f} s ({C.nnz:,} non-zero pairs), "
        f"PPMI {best['ppmi']:.3f} s, SVD {best['svd']:.3f} s: total {total:.3f} s "
        f"(best of {args.repeats})"
    )
    report_quality("count-based (PPMI + SVD)", word_to_id, id_to_word, vecs, questions)

    print(
        f"\n=== CBOW + negative sampling: window {args.window}, hidden {args.hidden}, "
        f"{args.negative} negatives, batch {args.batch_size}, LazyAdam, {args.epochs} epoch(s) ==="
    )
    model, ours = train_cbow(corpus, V, args)
    report_quality(f"CBOW after {args.epochs} epoch(s)", word_to_id, id_to_word, model.word_vecs, questions)

    theirs = []
    if not args.no_gensim:
        gmodel, theirs = train_gensim(corpus, id_to_word, args)
        if gmodel is not None:
            gvecs = np.stack([gmodel.wv[id_to_word[i]] for i in range(V)])
            report_quality(f"gensim after {args.epochs} epoch(s)", word_to_id, id_to_word, gvecs, questions)

    print("\n=== summary ===")
    print(f"  count-based pipeline: {total:.3f} s")
    print(f"  CBOW epoch (course):  {np.mean(ours):.2f} s (each: {', '.join(f'{t:.2f}' for t in ours)})")
    if theirs:
        ratio = np.mean(ours) / np.mean(theirs)
        print(
            f"  CBOW epoch (gensim):  {np.mean(theirs):.2f} s (each: {', '.join(f'{t:.2f}' for t in theirs)})"
        )
        print(f"  ratio course / gensim: {ratio:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
