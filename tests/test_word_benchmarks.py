"""Public word-vector test sets (course.datasets.word_benchmarks) and their scores (course.word_eval)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from course import backend, word_eval
from course.datasets import word_benchmarks
from course.datasets.ptb import DatasetError

SHIPPED = word_benchmarks.gensim_test_data()
needs_gensim = pytest.mark.skipif(
    SHIPPED is None or not (SHIPPED / "wordsim353.tsv").is_file(),
    reason="gensim (which ships the files) missing",
)


@needs_gensim
def test_the_files_shipped_with_gensim_are_found_verified_and_parsed(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    pairs = word_benchmarks.load_similarity("wordsim353", cache_dir=tmp_path)
    assert len(pairs) == 353 and pairs[0] == ("love", "sex", 6.77)
    assert len(word_benchmarks.load_similarity("simlex999", cache_dir=tmp_path)) == 999
    sections = word_benchmarks.load_analogies("google", cache_dir=tmp_path)
    assert len(sections) == 14 and sum(map(len, sections.values())) == 19_544
    assert sections["capital-common-countries"][0] == ("athens", "greece", "baghdad", "iraq")
    assert list(tmp_path.iterdir()) == []  # read in place, nothing copied


@needs_gensim
def test_a_local_copy_comes_first_and_a_damaged_one_is_refused(tmp_path):
    folder = tmp_path / "data" / word_benchmarks.FOLDER
    folder.mkdir(parents=True)
    shutil.copy(SHIPPED / "wordsim353.tsv", folder / "wordsim353.tsv")
    found = word_benchmarks.find_file("wordsim353", data_dir=tmp_path / "data", cache_dir=tmp_path)
    assert found == folder / "wordsim353.tsv"
    with open(folder / "wordsim353.tsv", "a") as f:
        f.write("extra\tline\t1.0\n")
    with pytest.raises(DatasetError, match="SHA-256"):
        word_benchmarks.find_file("wordsim353", data_dir=tmp_path / "data", cache_dir=tmp_path)


def test_unknown_sets_and_wrong_loaders_are_named():
    with pytest.raises(ValueError, match="wordsim353, simlex999, google"):
        word_benchmarks.find_file("men3000")
    with pytest.raises(ValueError, match="load_analogies"):
        word_benchmarks.load_similarity("google")
    with pytest.raises(ValueError, match="load_similarity"):
        word_benchmarks.load_analogies("simlex999")


def test_similarity_is_spearman_on_the_covered_pairs(xp):
    word_to_id = {"a": 0, "b": 1, "c": 2, "d": 3}
    vecs = xp.asarray([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [1.0, 1.0]])
    pairs = [("a", "b", 9.0), ("a", "d", 5.0), ("a", "c", 1.0), ("a", "zzz", 3.0)]
    score = word_eval.similarity(pairs, word_to_id, vecs)
    assert (score.value, score.covered, score.total) == (pytest.approx(1.0), 3, 4)
    reversed_ratings = [(w1, w2, -s) for w1, w2, s in pairs]
    assert word_eval.similarity(reversed_ratings, word_to_id, vecs).value == pytest.approx(-1.0)
    assert str(score) == "1.000 (3/4)"


def test_analogies_count_only_covered_questions_in_chunks(xp, monkeypatch):
    monkeypatch.setattr(word_eval, "_CHUNK", 2)
    word_to_id = {w: i for i, w in enumerate(["man", "woman", "king", "queen", "x"])}
    vecs = xp.asarray([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [1.0, 0.0, 1.0], [1.0, 1.0, 1.0], [-1.0, 0.2, 0.1]])
    questions = [("man", "woman", "king", "queen")] * 3 + [("man", "woman", "king", "x")]
    questions += [("man", "woman", "king", "missing")]
    score = word_eval.analogies(questions, word_to_id, vecs)
    assert (score.value, score.covered, score.total) == (pytest.approx(0.75), 4, 5)
    sets = {"ws353": [("man", "woman", 1.0)], "simlex": [], "google": questions}
    scores = word_eval.evaluate(word_to_id, backend.to_host(vecs), [("man", "woman", "king", "queen")], sets)
    assert set(scores) == {"ws353", "simlex", "google", "own"} and scores["own"].value == 1.0
    assert np.isnan(scores["simlex"].value) and scores["simlex"].covered == 0
