"""Any UTF-8 text as a corpus: character and word level, Chinese, cleaning, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from course.datasets.corpus import (
    clean_text,
    corpus_from_text,
    drop_blank_lines,
    drop_note_lines,
    drop_url_lines,
    load_corpus,
    load_sample,
    read_text,
    remove_bracketed,
    sample_path,
    strip_lines,
)


def test_char_level_chinese_needs_no_tokenizer():
    corpus = corpus_from_text("我爱北京，北京爱我。")
    assert corpus.level == "char"
    assert [corpus.id_to_word[i] for i in range(corpus.vocab_size)] == ["我", "爱", "北", "京", "，", "。"]
    np.testing.assert_array_equal(corpus.ids, [0, 1, 2, 3, 4, 2, 3, 1, 0, 5])
    assert corpus.ids.dtype == np.int32
    assert corpus.decode(corpus.ids) == "我爱北京，北京爱我。"
    np.testing.assert_array_equal(corpus.encode("北京我"), [2, 3, 0])


def test_char_level_keeps_line_breaks_and_characters_outside_the_bmp():
    text = "a😀\nb😀"
    corpus = corpus_from_text(text)
    assert corpus.decode(corpus.ids) == text and "\n" in corpus.word_to_id and len(corpus) == 5


def test_word_level_marks_line_ends_like_ptb():
    corpus = corpus_from_text("the cat sat\nthe dog sat\n", level="word")
    words = [corpus.id_to_word[i] for i in corpus.ids]
    assert words == ["the", "cat", "sat", "<eos>", "the", "dog", "sat", "<eos>"]
    assert corpus.word_to_id == {"the": 0, "cat": 1, "sat": 2, "<eos>": 3, "dog": 4}
    assert corpus.decode(corpus.ids) == "the cat sat\nthe dog sat\n"
    assert corpus_from_text("A b", level="word", lower=True).word_to_id == {"a": 0, "b": 1}


def test_rare_tokens_become_unk():
    corpus = corpus_from_text("a b a c a b d", level="word", min_count=2, eos=None)
    assert corpus.word_to_id == {"a": 0, "b": 1, "<unk>": 2}
    assert [corpus.id_to_word[i] for i in corpus.ids] == ["a", "b", "a", "<unk>", "a", "b", "<unk>"]
    np.testing.assert_array_equal(corpus.encode("a zebra"), [0, 2])
    assert corpus.unk == "<unk>"


def test_unknown_tokens_without_unk_are_named():
    corpus = corpus_from_text("abc")
    with pytest.raises(KeyError, match="'z'"):
        corpus.encode("az")


def test_clean_text_removes_web_junk_of_downloaded_novels():
    raw = (
        "第一章　开始\r\n\r\n"
        "　　他走进屋里。【求收藏！求推荐票！】他坐下了。\n"
        "   \n"
        "[广告] 最新章节请访问 www.example.com 阅读\n"
        "〖本书首发〗外面下着雨。\n"
        "（本章完）\n"
        "(未完待续)\n"
        "她说：“你好（真的）。”\n"
    )
    assert clean_text(raw) == "第一章　开始\n他走进屋里。他坐下了。\n外面下着雨。\n她说：“你好（真的）。”"


def test_cleaning_helpers_one_by_one():
    assert drop_blank_lines("\n\na\n \n\u3000\nb\n\n") == "a\nb"
    assert remove_bracketed("x【a】y[b]z［c］〖d〗") == "xyz"
    assert remove_bracketed("a【unclosed\nb】") == "a【unclosed\nb】"  # never across lines
    assert drop_url_lines("keep\nsee https://x.org now\nalso keep") == "keep\n\nalso keep"
    assert drop_note_lines("（本章完）\n(to be continued)\ntext (aside) here") == "\n\ntext (aside) here"
    assert strip_lines("\u3000\u3000indented  \n\tb") == "indented\nb"


def test_load_corpus_reads_and_cleans_a_file(tmp_path):
    path = tmp_path / "novel.txt"
    path.write_text("\ufeff甲乙【广告】\r\n\r\n乙丙\n", encoding="utf-8")  # with a byte-order mark
    corpus = load_corpus(path)
    assert corpus.decode(corpus.ids) == "甲乙\n乙丙"
    raw = load_corpus(path, clean=False)
    assert "【" in raw.word_to_id and "\ufeff" not in raw.word_to_id


def test_missing_file_and_folder_are_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="No text file at"):
        read_text(tmp_path / "none.txt")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        read_text(tmp_path)


def test_undecodable_file_suggests_the_encoding(tmp_path):
    path = tmp_path / "gbk.txt"
    path.write_bytes("你好，世界".encode("gb18030"))
    with pytest.raises(ValueError, match=r"not valid utf-8 text: byte 0 .*encoding='gb18030'"):
        load_corpus(path)
    assert (
        load_corpus(path, encoding="gb18030").decode(load_corpus(path, encoding="gb18030").ids)
        == "你好，世界"
    )


def test_empty_text_is_explained(tmp_path):
    path = tmp_path / "junk.txt"
    path.write_text("【广告】\n\n", encoding="utf-8")
    with pytest.raises(ValueError, match="nothing to build a corpus"):
        load_corpus(path)


def test_bad_level_is_explained():
    with pytest.raises(ValueError, match="'char' or 'word'"):
        corpus_from_text("abc", level="sentence")


def test_shipped_samples_load_clean():
    chinese = load_sample("chinese")
    text = chinese.decode(chinese.ids)
    assert "小林" in text and "【" not in text and "www." not in text and "本章完" not in text
    assert 100 < chinese.vocab_size < len(chinese)
    english = load_sample("english", level="word")
    assert english.word_to_id["<eos>"] >= 0 and "river" in english.word_to_id
    with pytest.raises(ValueError, match="choose one of"):
        sample_path("klingon")
