"""The Penn Treebank loader: local files, the cache, and real downloads from a local HTTP server.

Nothing here reaches the internet: downloads come from a server on 127.0.0.1
that serves small files written by the tests, and every call names that
server (or a closed port) as the download address.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import socket
import threading
from pathlib import Path

import pytest

from course.datasets import ptb

TRAIN = " the cat sat on the mat \n the dog sat \n"
VALID = " the dog \n"
TEST = " mat cat \n"
FILES = {"ptb.train.txt": TRAIN, "ptb.valid.txt": VALID, "ptb.test.txt": TEST}


def _sha(data: str) -> str:
    return hashlib.sha256(data.encode()).hexdigest()


CHECKSUMS = {"train": _sha(TRAIN), "valid": _sha(VALID), "test": _sha(TEST)}


class _Handler(http.server.BaseHTTPRequestHandler):
    """/ok/<name> serves the file, /truncated/<name> stops halfway, /corrupt/<name> changes a byte."""

    def do_GET(self):
        _, mode, name = self.path.split("/", 2)
        body = FILES.get(name, "").encode()
        if mode not in ("ok", "truncated", "corrupt") or not body:
            self.send_error(404, "not here")
            return
        if mode == "corrupt":
            body = body.replace(b"cat", b"cot")
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "truncated":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def closed_port_url():
    """An address on 127.0.0.1 where nothing listens: a download there fails like no network."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.delenv("COURSE_PTB_URL", raising=False)


def _files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def _load(split, cache, url, **kw):
    return ptb.load_data(split, cache_dir=cache, base_url=url, checksums=CHECKSUMS, progress=False, **kw)


def test_download_then_load_from_the_cache(tmp_path, server, closed_port_url, no_env):
    corpus, word_to_id, id_to_word = _load("train", tmp_path, server + "/ok/")
    words = TRAIN.replace("\n", " <eos> ").split()
    assert [id_to_word[i] for i in corpus] == words
    assert list(word_to_id) == ["the", "cat", "sat", "on", "mat", "<eos>", "dog"]  # first appearance
    assert _files_under(tmp_path) == ["ptb/ptb.train.txt"]
    # With the files cached, no network is needed.
    again, _, _ = _load("train", tmp_path, closed_port_url)
    assert again.tolist() == corpus.tolist()


def test_valid_and_test_use_the_training_vocabulary(tmp_path, server, no_env):
    _, word_to_id, _ = _load("train", tmp_path, server + "/ok/")
    for split, content in (("valid", VALID), ("val", VALID), ("test", TEST)):
        corpus, w2i, id_to_word = _load(split, tmp_path, server + "/ok/")
        assert w2i == word_to_id
        assert [id_to_word[i] for i in corpus] == content.replace("\n", " <eos> ").split()


def test_bad_checksum_is_an_error_and_saves_nothing(tmp_path, server, no_env):
    with pytest.raises(ptb.DatasetError) as info:
        _load("train", tmp_path, server + "/corrupt/")
    message = str(info.value)
    assert "ptb.train.txt" in message and "SHA-256" in message and "COURSE_DATA_DIR" in message
    assert _files_under(tmp_path) == []


def test_interrupted_download_is_an_error_and_saves_nothing(tmp_path, server, no_env):
    with pytest.raises(ptb.DatasetError) as info:
        _load("train", tmp_path, server + "/truncated/")
    message = str(info.value)
    assert "ptb.train.txt" in message and "interrupted" in message and "nothing was saved" in message
    assert _files_under(tmp_path) == []


def test_missing_file_on_the_server_names_the_fix(tmp_path, server, no_env):
    with pytest.raises(ptb.DatasetError) as info:
        _load("train", tmp_path, server + "/missing/")
    message = str(info.value)
    assert "HTTP 404" in message and str(tmp_path / "ptb") in message and "COURSE_DATA_DIR" in message
    assert _files_under(tmp_path) == []


def test_no_network_and_no_copy_says_where_to_put_the_file(tmp_path, closed_port_url, no_env):
    with pytest.raises(ptb.DatasetError) as info:
        _load("train", tmp_path, closed_port_url)
    message = str(info.value)
    assert "ptb.train.txt" in message and f"put ptb.train.txt into {tmp_path / 'ptb'}" in message
    assert "COURSE_DATA_DIR" in message
    assert _files_under(tmp_path) == []


def test_course_data_dir_comes_first(tmp_path, closed_port_url, monkeypatch):
    data = tmp_path / "shared"
    (data / "ptb").mkdir(parents=True)
    for name, content in FILES.items():
        (data / "ptb" / name).write_text(content)
    monkeypatch.setenv("COURSE_DATA_DIR", str(data))
    cache = tmp_path / "cache"
    corpus, word_to_id, _ = _load("test", cache, closed_port_url)
    assert corpus.tolist() == [word_to_id[w] for w in ("mat", "cat", "<eos>")]
    assert not cache.exists()  # nothing copied or downloaded


def test_url_can_come_from_the_environment(tmp_path, server, monkeypatch):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.setenv("COURSE_PTB_URL", server + "/ok")
    corpus, _, _ = ptb.load_data("train", cache_dir=tmp_path, checksums=CHECKSUMS, progress=False)
    assert len(corpus) == len(TRAIN.split()) + 2


def test_a_damaged_local_copy_is_reported(tmp_path, closed_port_url, no_env):
    (tmp_path / "ptb").mkdir()
    damaged = tmp_path / "ptb" / "ptb.train.txt"
    damaged.write_text(TRAIN[:-5])
    with pytest.raises(ptb.DatasetError) as info:
        _load("train", tmp_path, closed_port_url)
    assert str(damaged) in str(info.value) and "Delete it" in str(info.value)


def test_the_real_checksums_are_the_default(tmp_path, server, no_env):
    # The small files do not match the Penn Treebank's digests: refused, nothing saved.
    with pytest.raises(ptb.DatasetError, match=ptb.SHA256["train"]):
        ptb.load_data("train", cache_dir=tmp_path, base_url=server + "/ok/", progress=False)
    assert _files_under(tmp_path) == []


def test_unknown_split_is_a_clear_error():
    with pytest.raises(ValueError, match="'train', 'valid' or 'test'"):
        ptb.load_data("training-set")


def _real_data_dir():
    folder = os.environ.get("COURSE_DATA_DIR")
    if not folder or not all((Path(folder) / "ptb" / n).is_file() for n in FILES):
        return None
    return folder


@pytest.mark.skipif(
    _real_data_dir() is None,
    reason="the Penn Treebank files are not in $COURSE_DATA_DIR/ptb (set COURSE_DATA_DIR=../shared/data)",
)
def test_real_penn_treebank_sizes(tmp_path, closed_port_url):
    folder = Path(_real_data_dir())
    where = {"cache_dir": tmp_path, "base_url": closed_port_url, "progress": False}
    corpus, word_to_id, id_to_word = ptb.load_data("train", **where)
    assert len(corpus) == 929_589 and len(word_to_id) == 10_000
    first_line = (folder / "ptb" / "ptb.train.txt").read_text().split("\n", 1)[0].split()
    assert [id_to_word[i] for i in range(len(first_line) + 1)] == [*first_line, "<eos>"]
    assert corpus.max() == 9_999
    valid, w2i_valid, _ = ptb.load_data("valid", **where)
    test, _, _ = ptb.load_data("test", **where)
    assert w2i_valid == word_to_id
    assert len(valid) == 73_760 and len(test) == 82_430
    assert _files_under(tmp_path) == []
