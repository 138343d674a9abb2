"""Public word-vector test sets: human similarity ratings and analogy questions.

Three files, each checked against its SHA-256 before use:

* ``wordsim353.tsv``: WordSim-353 (Finkelstein et al., 2002), 353 word pairs
  rated 0-10 for relatedness by people;
* ``simlex999.txt``: SimLex-999 (Hill, Reichart & Korhonen, 2015), 999 pairs
  rated 0-10 for similarity proper (cup/coffee are related, not similar);
* ``questions-words.txt``: the Google analogy questions (Mikolov et al.,
  2013), 19,544 lines "a b c d" in 14 sections such as ``capital-world``.

The gensim package ships exact copies of the three in ``gensim/test/test_data``
(its own tests use them), so the course never stores them. Where a file comes
from, in order:

1. ``$COURSE_DATA_DIR/word_benchmarks/<file>`` (or the ``data_dir`` argument);
2. the download cache ``data/word_benchmarks/`` of the source checkout;
3. the installed gensim package (``pip install gensim``);
4. a download from gensim's repository at the release the checksums were
   taken from (4.4.0), saved into the cache.

Loaders lower-case every word, as the Penn Treebank is lower case.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from course.datasets.ptb import DATA_DIR_ENV, _verified, default_cache_dir, download

FOLDER = "word_benchmarks"
FILES = {
    "wordsim353": "wordsim353.tsv",
    "simlex999": "simlex999.txt",
    "google": "questions-words.txt",
}
# SHA-256 of the files as shipped in gensim 4.4.0 (gensim/test/test_data/).
SHA256 = {
    "wordsim353": "f92a022fc2537793a15bc3a8c162ebcd74990e033a228bb6388cb71e4c0b1e1d",
    "simlex999": "d5e0501971478a511430ee880bd0121e94ac701ba86d90544d83e6d2ba3db05d",
    "google": "8c29b3332afc46f3fb8be04cb5297bf96f39aa7131272dff57869b4485b22a36",
}
BASE_URL = "https://raw.githubusercontent.com/piskvorky/gensim/4.4.0/gensim/test/test_data/"

Pair = tuple[str, str, float]
Question = tuple[str, str, str, str]


def _key(name: str) -> str:
    key = str(name).lower()
    if key not in FILES:
        raise ValueError(f"Unknown word test set {name!r}: choose one of {', '.join(FILES)}.")
    return key


def gensim_test_data() -> Path | None:
    """The folder of test files inside the installed gensim package, or None without gensim."""
    spec = importlib.util.find_spec("gensim")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "test" / "test_data"


def find_file(
    name: str,
    *,
    data_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> Path:
    """The path of a verified test file (``"wordsim353"``, ``"simlex999"`` or ``"google"``)."""
    key = _key(name)
    filename, expected = FILES[key], SHA256[key]
    data_dir = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV) or None
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    candidates = [cache / FOLDER / filename]
    if data_dir is not None:
        candidates.insert(0, Path(data_dir) / FOLDER / filename)
    shipped = gensim_test_data()
    if shipped is not None:
        candidates.append(shipped / filename)
    for path in candidates:
        if path.is_file():
            return _verified(path, expected)
    hint = (
        f"Fix: pip install gensim (it ships {filename}), put the file into {cache / FOLDER}, "
        f"or set {DATA_DIR_ENV} to a folder that contains {FOLDER}/{filename}."
    )
    return download(BASE_URL + filename, cache / FOLDER / filename, expected, progress=progress, hint=hint)


def _lines(path: Path) -> list[list[str]]:
    """The fields of each line, '#' comment lines and blank lines left out."""
    with open(path, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t" if "\t" in line else None) for line in f]
    return [row for row in rows if row and row[0] and not row[0].startswith("#")]


def load_similarity(name: str = "wordsim353", **where) -> list[Pair]:
    """Human-rated word pairs (w1, w2, score), lower case; keyword arguments as :func:`find_file`."""
    if _key(name) == "google":
        raise ValueError("'google' holds analogy questions: use load_analogies.")
    path = find_file(name, **where)
    return [(w1.lower(), w2.lower(), float(score)) for w1, w2, score in _lines(path)]


def load_analogies(name: str = "google", **where) -> dict[str, list[Question]]:
    """Analogy questions per section: {section: [(a, b, c, d), ...]}, "a is to b as c is to d"."""
    if _key(name) != "google":
        raise ValueError(f"{name!r} holds similarity ratings: use load_similarity.")
    sections: dict[str, list[Question]] = {}
    current = "all"
    with open(find_file(name, **where), encoding="utf-8") as f:
        for line in f:
            parts = line.lower().split()
            if not parts:
                continue
            if parts[0] == ":":
                current = parts[1]
            elif len(parts) == 4:
                sections.setdefault(current, []).append(tuple(parts))
    return sections
