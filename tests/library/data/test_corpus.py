"""minirnn.data's corpora by name: the data directory, the SHA-256 check, the download and the offline error.

The download is tested against a file:// URL and a server on 127.0.0.1, never the network."""
import hashlib
import http.server
import socket
import threading
from dataclasses import replace

import pytest

from minirnn.data import corpus as corpus_module
from minirnn.data import PAD, Vocab, corpus_path, data_directory, load_corpus

TEXT = "PREFACE\n\n\nSUPPOSING that Truth is a woman--what then?\n".encode("utf-8")


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    """A corpus named "tiny" whose URL is a local file; returns (its source file, the data directory)."""
    source = tmp_path / "source" / "tiny.txt"
    source.parent.mkdir()
    source.write_bytes(TEXT)
    monkeypatch.setitem(corpus_module.CORPORA, "tiny", corpus_module.Corpus(
        filename="tiny.txt", url=source.as_uri(), sha256=hashlib.sha256(TEXT).hexdigest(), size=len(TEXT)))
    return source, tmp_path / "data"


def use_url(monkeypatch, url):
    monkeypatch.setitem(corpus_module.CORPORA, "tiny", replace(corpus_module.CORPORA["tiny"], url=url))


# -- the course's corpus, as the notebook printed it --------------------------------------------------
def test_the_nietzsche_corpus_has_the_notebooks_length(nietzsche):
    assert len(nietzsche) == 600893


def test_the_nietzsche_vocabulary_with_padding_has_85_symbols_and_the_notebooks_first_ids(nietzsche):
    vocab = Vocab.from_text(nietzsche, padding=True)
    assert len(vocab) == 85 and vocab.chars[0] == PAD
    assert vocab.encode(nietzsche[:10]).tolist() == [40, 42, 29, 30, 25, 27, 29, 1, 1, 1]


# -- where corpora are kept ------------------------------------------------------------------------
def test_the_data_directory_is_the_one_minirnn_data_names(monkeypatch, tmp_path):
    monkeypatch.setenv("MINIRNN_DATA", str(tmp_path))
    assert data_directory() == tmp_path


def test_without_minirnn_data_the_data_directory_is_in_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("MINIRNN_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert data_directory() == tmp_path / "minirnn"


def test_a_corpus_found_in_the_directory_is_used_without_downloading(tiny, monkeypatch):
    source, directory = tiny
    directory.mkdir()
    (directory / "tiny.txt").write_bytes(TEXT)
    use_url(monkeypatch, "http://127.0.0.1:9/unreachable")
    assert load_corpus("tiny", directory=directory, download=False) == TEXT.decode()


def test_a_found_file_with_another_sha256_is_refused_saying_what_to_do(tiny):
    source, directory = tiny
    directory.mkdir()
    (directory / "tiny.txt").write_bytes(TEXT + b"!")
    with pytest.raises(ValueError, match="is not the tiny corpus: its sha256 is [0-9a-f]{64}, expected .*; "
                                         "delete it to download it again"):
        corpus_path("tiny", directory=directory)


def test_an_unknown_corpus_name_is_refused():
    with pytest.raises(ValueError, match=r"corpus must be one of \('nietzsche'"):
        corpus_path("shakespeare")


# -- the download ---------------------------------------------------------------------------------------
def test_a_missing_corpus_is_downloaded_into_the_directory_with_progress(tiny):
    source, directory = tiny
    seen = []
    path = corpus_path("tiny", directory=directory, progress=lambda received, total: seen.append((received, total)))
    assert path == directory / "tiny.txt" and path.read_bytes() == TEXT
    assert seen[-1] == (len(TEXT), len(TEXT))
    assert [p.name for p in directory.iterdir()] == ["tiny.txt"]            # no temporary left beside it


def test_the_download_works_over_http(tiny, monkeypatch):
    source, directory = tiny

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(source.parent), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        use_url(monkeypatch, f"http://127.0.0.1:{server.server_address[1]}/tiny.txt")
        assert load_corpus("tiny", directory=directory) == TEXT.decode()
    finally:
        server.shutdown()
        server.server_close()


def test_a_download_with_another_sha256_leaves_no_file(tiny):
    source, directory = tiny
    source.write_bytes(TEXT.replace(b"woman", b"women"))
    with pytest.raises(ValueError, match="whose sha256 is [0-9a-f]{64}, expected .*: not saved"):
        corpus_path("tiny", directory=directory)
    assert list(directory.iterdir()) == []


def test_a_download_longer_than_the_corpus_is_stopped(tiny):
    source, directory = tiny
    source.write_bytes(TEXT * 3)
    with pytest.raises(ValueError, match="sent more than the corpus's"):
        corpus_path("tiny", directory=directory)
    assert list(directory.iterdir()) == []


def test_offline_the_error_is_one_line_saying_where_to_put_the_file(tiny, monkeypatch):
    source, directory = tiny
    port = unused_port()
    use_url(monkeypatch, f"http://127.0.0.1:{port}/tiny.txt")
    with pytest.raises(FileNotFoundError) as caught:
        corpus_path("tiny", directory=directory)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"the tiny corpus is not in {directory} and could not be downloaded (")
    assert message.endswith(f"download http://127.0.0.1:{port}/tiny.txt to {directory / 'tiny.txt'} "
                            "(or set MINIRNN_DATA to the directory that holds tiny.txt)")


def test_without_download_a_missing_corpus_says_where_to_put_it(tiny):
    source, directory = tiny
    with pytest.raises(FileNotFoundError, match=f"the tiny corpus is not in {directory}: download "):
        corpus_path("tiny", directory=directory, download=False)
    assert not directory.exists()


def unused_port() -> int:
    """A port on 127.0.0.1 that nothing listens on: bound, then released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
