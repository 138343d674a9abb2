"""Any UTF-8 text file as a language-model corpus, by character or by word.

``load_corpus(path, level="char")`` reads a text, optionally cleans it, and
returns a :class:`Corpus`: the ids (L,) of its tokens and the two
vocabulary maps. Character level needs no tokenizer, so it works for
Chinese or Japanese as well as for English; word level splits on white
space and marks each line end with ``<eos>``, as the Penn Treebank does.

The cleaning helpers remove what downloaded novels tend to carry besides
the story: blank lines, indentation, notes in 【】 or [] brackets, lines
with a web address, and lines that are only a note in parentheses such as
（本章完）.

Two tiny texts written for the course ship with it: ``sample_path("chinese")``
and ``sample_path("english")``.
"""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from course import backend, validate

Array = Any

_SAMPLES = Path(__file__).with_name("samples")
_LEVELS = ("char", "word")

# A bracketed note on one line, at most 80 characters long: 【…】 〖…〗 […] ［…］.
_BRACKETED = re.compile(r"【[^】\n]{0,80}】|〖[^〗\n]{0,80}〗|\[[^\]\n]{0,80}\]|［[^］\n]{0,80}］")
_URL_LINE = re.compile(r"^.*(?:https?://|www\.)\S+.*$", re.MULTILINE)
_NOTE_LINE = re.compile(r"^[ \t\u3000]*[（(][^）)\n]{0,40}[）)][ \t\u3000]*$", re.MULTILINE)
_EDGE_CHARS = " \t\u3000\xa0"
_BLANK_LINES = re.compile(r"\n[ \t\u3000\xa0]*(?=\n)")


@dataclass
class Corpus:
    """A text as token ids and its vocabulary.

    ids: (L,) int32 token ids, in text order. word_to_id / id_to_word: the
    vocabulary of V tokens, numbered in order of first appearance.
    level: "char" or "word". unk: the token standing for rare words, if any.
    """

    ids: Array
    word_to_id: dict[str, int]
    id_to_word: dict[int, str]
    level: str
    unk: str | None = None
    eos: str | None = None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def vocab_size(self) -> int:
        """V, the number of distinct tokens."""
        return len(self.word_to_id)

    def tokens(self, text: str) -> list[str]:
        """``text`` split into tokens the way this corpus was."""
        return _tokenize(text, self.level, self.eos)

    def encode(self, text: str) -> Array:
        """Ids (L,) of a text; unknown tokens become ``unk`` or raise a KeyError naming them."""
        np = backend.host()
        tokens = self.tokens(text)
        unk_id = self.word_to_id.get(self.unk) if self.unk is not None else None
        unknown = sorted(set(tokens) - self.word_to_id.keys())
        if unknown and unk_id is None:
            raise KeyError(
                f"Tokens not in the vocabulary: {unknown[:10]}{' ...' if len(unknown) > 10 else ''}; "
                "use tokens from the training text."
            )
        ids = map(self.word_to_id.get, tokens, itertools.repeat(unk_id))
        return np.fromiter(ids, dtype=np.int32, count=len(tokens))

    def decode(self, ids: Array) -> str:
        """The text of ids (L,): characters joined as they are, words with spaces and line breaks."""
        np = backend.host()
        flat = np.asarray(backend.to_host(ids)).reshape(-1)
        if flat.size and (flat.dtype.kind not in "iu" or validate.outside(flat, self.vocab_size)):
            raise validate.IdRangeError(
                f"Corpus.decode: ids must be integers in 0..{self.vocab_size - 1}; got {flat.dtype} values "
                f"from {flat.min()} to {flat.max()}. Decode ids of this corpus's vocabulary."
            )
        words = list(map(self.id_to_word.__getitem__, flat.tolist()))
        if self.level == "char":
            return "".join(words)
        text = " ".join(words)
        return text.replace(f" {self.eos} ", "\n").replace(f" {self.eos}", "\n") if self.eos else text


# ---------------------------------------------------------------------- reading


def read_text(path: str | os.PathLike, encoding: str = "utf-8") -> str:
    """The text of a file, with clear errors for a missing file or a wrong encoding.

    A UTF-8 byte-order mark is dropped; line ends become ``\\n``.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"No text file at {str(p)!r}. Check the path (relative to {os.getcwd()!r}).")
    if p.is_dir():
        raise IsADirectoryError(f"{str(p)!r} is a folder; give the path of a text file inside it.")
    raw = p.read_bytes()
    codec = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{str(p)!r} is not valid {encoding} text: byte {exc.start} "
            f"({raw[exc.start : exc.start + 4]!r}) cannot be decoded. If the file uses another encoding "
            "(Chinese downloads are often GB18030), pass it, e.g. encoding='gb18030', or convert the "
            "file: iconv -f GB18030 -t UTF-8 in.txt > out.txt"
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


# --------------------------------------------------------------------- cleaning


def drop_blank_lines(text: str) -> str:
    """Remove empty or white-space-only lines (and leading/trailing blank lines)."""
    return _BLANK_LINES.sub("", text).strip("\n")


def remove_bracketed(text: str) -> str:
    """Remove notes in 【】, 〖〗, [] or ［］ brackets (each within one line, at most 80 characters)."""
    return _BRACKETED.sub("", text)


def drop_url_lines(text: str) -> str:
    """Remove every line that contains a web address (http://, https:// or www.)."""
    return _URL_LINE.sub("", text)


def drop_note_lines(text: str) -> str:
    """Remove lines that are nothing but a short note in parentheses, such as （本章完）."""
    return _NOTE_LINE.sub("", text)


def strip_lines(text: str) -> str:
    """Remove spaces, tabs and ideographic spaces (indentation) at both ends of every line.

    Line by line with ``str.strip``: time linear in the length of the text,
    however long a run of spaces is (a regular expression anchored at line
    ends would rescan a long run once per position, quadratic time).
    """
    return "\n".join(line.strip(_EDGE_CHARS) for line in text.split("\n"))


def clean_text(text: str, brackets: bool = True, urls: bool = True, notes: bool = True) -> str:
    """The story without the web junk: the helpers above, then no blank lines.

    brackets: drop 【…】-style notes; urls: drop lines with a web address;
    notes: drop lines that are only a parenthesized note. Indentation and
    blank lines always go.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if urls:
        text = drop_url_lines(text)
    if brackets:
        text = remove_bracketed(text)
    if notes:
        text = drop_note_lines(text)
    return drop_blank_lines(strip_lines(text))


# ------------------------------------------------------------------ vocabulary


def _tokenize(text: str, level: str, eos: str | None) -> list[str]:
    if level == "char":
        return list(text)
    if eos:
        text = text.replace("\n", f" {eos} ")
    return text.split()


def _first_appearance_vocab(text: str, level: str, eos: str | None) -> tuple[list[str], Array]:
    """(vocabulary in order of first appearance, ids (L,)) without a Python loop over the text."""
    np = backend.host()
    if level == "char":
        # Every character as its code point: one array op instead of a list of strings.
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        uniq, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        return [chr(c) for c in uniq[order]], rank[inverse.reshape(-1)].astype(np.int32)
    tokens = _tokenize(text, level, eos)
    vocab = list(dict.fromkeys(tokens))
    index = {w: i for i, w in enumerate(vocab)}
    ids = np.fromiter(map(index.__getitem__, tokens), dtype=np.int32, count=len(tokens))
    return vocab, ids


def corpus_from_text(
    text: str,
    level: str = "char",
    min_count: int = 1,
    lower: bool = False,
    unk: str = "<unk>",
    eos: str | None = "<eos>",
) -> Corpus:
    """A Corpus of ``text`` (no cleaning; see :func:`clean_text`).

    level: "char" (every character is a token, line breaks included) or
    "word" (white-space separated, each line end marked with ``eos``).
    Tokens seen fewer than ``min_count`` times become ``unk``.
    """
    if level not in _LEVELS:
        raise ValueError(f"level must be 'char' or 'word', got {level!r}.")
    if lower:
        text = text.lower()
    word_eos = eos if level == "word" else None
    vocab, ids = _first_appearance_vocab(text, level, word_eos)
    if len(ids) == 0:
        raise ValueError("The text is empty (after cleaning): there is nothing to build a corpus from.")
    used_unk = unk if unk in vocab else None
    if min_count > 1:
        vocab, ids, used_unk = _replace_rare(vocab, ids, min_count, unk)
    return Corpus(
        ids=ids,
        word_to_id={w: i for i, w in enumerate(vocab)},
        id_to_word=dict(enumerate(vocab)),
        level=level,
        unk=used_unk,
        eos=word_eos,
    )


def _replace_rare(
    vocab: list[str], ids: Array, min_count: int, unk: str
) -> tuple[list[str], Array, str | None]:
    """Map tokens seen fewer than min_count times to ``unk`` (appended to the vocabulary if new)."""
    np = backend.host()
    counts = np.bincount(ids, minlength=len(vocab))
    keep = counts >= min_count
    if unk in vocab:
        keep[vocab.index(unk)] = True
    if keep.all():
        return vocab, ids, unk if unk in vocab else None
    kept = [w for w, k in zip(vocab, keep, strict=True) if k]
    if unk not in kept:
        kept.append(unk)
    new_id = np.full(len(vocab), kept.index(unk), dtype=np.int32)
    new_id[keep] = np.arange(int(keep.sum()), dtype=np.int32)
    return kept, new_id[ids], unk


def load_corpus(
    path: str | os.PathLike,
    level: str = "char",
    clean: bool = True,
    min_count: int = 1,
    encoding: str = "utf-8",
    lower: bool = False,
    unk: str = "<unk>",
    eos: str | None = "<eos>",
) -> Corpus:
    """Read a UTF-8 text file into a Corpus (cleaned with :func:`clean_text` unless ``clean=False``).

    Example: ``corpus = load_corpus("novel.txt", level="char")``;
    ``corpus.ids`` (L,) feeds ``RnnlmTrainer.fit(corpus.ids[:-1], corpus.ids[1:])``.
    """
    text = read_text(path, encoding=encoding)
    if clean:
        text = clean_text(text)
    return corpus_from_text(text, level=level, min_count=min_count, lower=lower, unk=unk, eos=eos)


def sample_path(name: str = "chinese") -> Path:
    """Path of a sample text shipped with the course: "chinese" or "english"."""
    path = _SAMPLES / f"{name}_sample.txt"
    if not path.exists():
        names = sorted(p.stem.removesuffix("_sample") for p in _SAMPLES.glob("*_sample.txt"))
        raise ValueError(f"No sample text called {name!r}; choose one of {names}.")
    return path


def load_sample(name: str = "chinese", level: str = "char", **options: Any) -> Corpus:
    """A Corpus of a shipped sample text (cleaned), e.g. ``load_sample("chinese")``."""
    return load_corpus(sample_path(name), level=level, **options)
