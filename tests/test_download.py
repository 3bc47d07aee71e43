"""Download faults against a local HTTP server on 127.0.0.1: dropped connections, resumes with
Range, servers that ignore Range, checksum mismatches, unwritable caches and full disks."""

from __future__ import annotations

import errno
import hashlib
import http.server
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from attnclf.data import download
from attnclf.errors import AttnclfError

PAYLOAD = np.random.default_rng(1).bytes(400_000)
MD5 = hashlib.md5(PAYLOAD).hexdigest()
MAX_REQUESTS = 10


@dataclass
class Behaviour:
    honour_range: bool = True
    cut_after: list[int] = field(default_factory=list)  # per request: bytes sent before closing
    chunked: bool = False
    ranges: list[str | None] = field(default_factory=list)  # the Range header of each request
    statuses: list[int] = field(default_factory=list)


class Handler(http.server.BaseHTTPRequestHandler):
    behaviour: Behaviour
    timeout = 10

    def log_message(self, *args) -> None:  # keep the test output quiet
        pass

    def do_GET(self) -> None:
        b = self.behaviour
        if len(b.ranges) >= MAX_REQUESTS:
            self.send_error(503)
            return
        header = self.headers.get("Range")
        b.ranges.append(header)
        start = 0
        if header and b.honour_range:
            start = int(header.removeprefix("bytes=").split("-")[0])
        if start >= len(PAYLOAD):
            b.statuses.append(416)
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(PAYLOAD)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = PAYLOAD[start:]
        status = 206 if start else 200
        b.statuses.append(status)
        self.send_response(status)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        cut = b.cut_after.pop(0) if b.cut_after else None
        if b.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        sent = body if cut is None else body[:cut]
        if b.chunked:
            # announce the whole body as one chunk, then send only part of it
            self.wfile.write(f"{len(body):x}\r\n".encode() + sent)
            if cut is None:
                self.wfile.write(b"\r\n0\r\n\r\n")
        else:
            self.wfile.write(sent)
        self.wfile.flush()
        self.close_connection = True


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Behaviour]]:
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")
    behaviour = Behaviour()
    handler = type("BoundHandler", (Handler,), {"behaviour": behaviour})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/aclImdb_v1.tar.gz", behaviour
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def part_of(cache: Path) -> Path:
    return cache / (download.IMDB_FILENAME + ".part")


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_the_default_is_the_official_address():
    assert download.IMDB_URL == "http://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
    assert download.download_imdb.__defaults__[1:] == (download.IMDB_URL, download.IMDB_MD5)


def test_a_clean_download(tmp_path, server):
    url, behaviour = server
    path = download.download_imdb(cache_dir=tmp_path, url=url, md5=MD5)
    assert path.read_bytes() == PAYLOAD
    assert behaviour.ranges == [None] and behaviour.statuses == [200]
    assert sorted(p.name for p in tmp_path.iterdir()) == [download.IMDB_FILENAME]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_interrupted_download_keeps_the_part_and_the_next_call_resumes(
    tmp_path, server, chunked
):
    url, behaviour = server
    behaviour.cut_after, behaviour.chunked = [150_000], chunked
    with pytest.raises(AttnclfError) as caught:
        download.download_imdb(cache_dir=tmp_path, url=url, md5=MD5)
    message = one_line(caught)
    assert "stopped after" in message and str(part_of(tmp_path)) in message
    assert "kept and running again resumes it" in message
    assert not (tmp_path / download.IMDB_FILENAME).exists()  # never the final name
    kept = part_of(tmp_path).read_bytes()
    assert 0 < len(kept) <= 150_000 and PAYLOAD.startswith(kept)

    path = download.download_imdb(cache_dir=tmp_path, url=url, md5=MD5)
    assert path.read_bytes() == PAYLOAD
    assert behaviour.ranges == [None, f"bytes={len(kept)}-"]
    assert behaviour.statuses == [200, 206]
    assert not part_of(tmp_path).exists()


def test_a_server_that_ignores_range_restarts_from_zero(tmp_path, server):
    url, behaviour = server
    behaviour.honour_range, behaviour.cut_after = False, [100_000]
    with pytest.raises(AttnclfError, match="stopped after"):
        download.download_imdb(cache_dir=tmp_path, url=url, md5=MD5)
    assert part_of(tmp_path).stat().st_size > 0
    path = download.download_imdb(cache_dir=tmp_path, url=url, md5=MD5)
    assert path.read_bytes() == PAYLOAD  # not the old part plus the whole file
    assert behaviour.ranges[1] is not None and behaviour.statuses == [200, 200]


def test_a_part_file_that_is_already_whole_is_fetched_again_after_416(tmp_path, server):
    url, behaviour = server
    part_of(tmp_path).write_bytes(PAYLOAD + b"extra bytes from some other file")
    path = download.download_imdb(cache_dir=tmp_path, url=url, md5=MD5)
    assert path.read_bytes() == PAYLOAD
    assert behaviour.statuses == [416, 200]


def test_a_checksum_mismatch_names_path_and_sum_and_removes_the_part(tmp_path, server):
    url, _ = server
    expected = "f" * 32
    with pytest.raises(AttnclfError) as caught:
        download.download_imdb(cache_dir=tmp_path, url=url, md5=expected)
    message = one_line(caught)
    assert f"md5 {MD5}, expected {expected}" in message
    assert str(part_of(tmp_path)) in message and url in message
    assert list(tmp_path.iterdir()) == []


def test_a_resumed_download_with_a_stale_part_fails_the_checksum_then_starts_afresh(
    tmp_path, server
):
    url, behaviour = server
    part_of(tmp_path).write_bytes(b"x" * 1000)  # not the start of this file
    with pytest.raises(AttnclfError, match="corrupt"):
        download.download_imdb(cache_dir=tmp_path, url=url, md5=MD5)
    assert list(tmp_path.iterdir()) == []
    assert download.download_imdb(cache_dir=tmp_path, url=url, md5=MD5).read_bytes() == PAYLOAD
    assert behaviour.ranges == ["bytes=1000-", None]


def test_the_final_name_appears_only_after_the_checksum(tmp_path, server, monkeypatch):
    url, _ = server
    seen = []
    real_digest = download.file_digest

    def digest(path: Path, algorithm: str) -> str:
        seen.append(sorted(p.name for p in tmp_path.iterdir()))
        return real_digest(path, algorithm)

    monkeypatch.setattr(download, "file_digest", digest)
    download.download_imdb(cache_dir=tmp_path, url=url, md5=MD5)
    assert seen == [[download.IMDB_FILENAME + ".part"]]


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="running as root: chmod 0o500 does not stop root from writing; "
    "test_an_unwritable_cache_simulated covers it",
)
def test_a_read_only_cache_folder_is_a_one_line_error(tmp_path, server):
    url, _ = server
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(AttnclfError, match="ATTNCLF_HOME") as caught:
            download.download_imdb(cache_dir=tmp_path / "cache", url=url, md5=MD5)
        assert str(tmp_path / "cache") in one_line(caught)
    finally:
        tmp_path.chmod(0o700)


def test_an_uncreatable_cache_simulated(tmp_path, server, monkeypatch):
    url, _ = server

    def refuse(self, *args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(AttnclfError) as caught:
        download.download_imdb(cache_dir=tmp_path / "cache", url=url, md5=MD5)
    message = one_line(caught)
    assert f"cannot create the cache folder {tmp_path / 'cache'} (Permission denied)" in message
    assert "ATTNCLF_HOME" in message


def test_an_unwritable_cache_simulated(tmp_path, server, monkeypatch):
    url, _ = server

    def refuse(path, *args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    monkeypatch.setattr(download, "open", refuse, raising=False)
    with pytest.raises(AttnclfError) as caught:
        download.download_imdb(cache_dir=tmp_path, url=url, md5=MD5)
    message = one_line(caught)
    assert f"cannot write {part_of(tmp_path)} (Permission denied)" in message
    assert "ATTNCLF_HOME" in message
    assert not (tmp_path / download.IMDB_FILENAME).exists()


def test_a_full_disk_keeps_what_was_written_and_a_rerun_resumes(tmp_path, server, monkeypatch):
    url, behaviour = server
    real_open = open

    class FillsUp:
        def __init__(self, handle, room: int):
            self.handle, self.room = handle, room

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, data: bytes) -> int:
            if len(data) > self.room:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self.room -= len(data)
            return self.handle.write(data)

    monkeypatch.setattr(
        download, "open", lambda p, mode: FillsUp(real_open(p, mode), 100_000), raising=False
    )
    with pytest.raises(AttnclfError) as caught:
        download.download_imdb(cache_dir=tmp_path, url=url, md5=MD5)
    message = one_line(caught)
    assert f"cannot write {part_of(tmp_path)} (No space left on device)" in message
    assert "free some space" in message
    kept = part_of(tmp_path).read_bytes()
    assert PAYLOAD.startswith(kept) and len(kept) > 0

    monkeypatch.undo()
    monkeypatch.setenv("no_proxy", "*")
    path = download.download_imdb(cache_dir=tmp_path, url=url, md5=MD5)
    assert path.read_bytes() == PAYLOAD
    assert behaviour.ranges == [None, f"bytes={len(kept)}-"]


def test_a_bad_content_range_restarts_from_zero(tmp_path, server, monkeypatch):
    url, behaviour = server
    part_of(tmp_path).write_bytes(PAYLOAD[:5000])
    real_start = download._range_start
    monkeypatch.setattr(download, "_range_start", lambda response: 1 + real_start(response))
    path = download.download_imdb(cache_dir=tmp_path, url=url, md5=MD5)
    assert path.read_bytes() == PAYLOAD
    assert behaviour.ranges == ["bytes=5000-", None]


def test_an_http_error_status_is_a_one_line_error(tmp_path, server):
    url, behaviour = server
    behaviour.ranges.extend([None] * MAX_REQUESTS)  # the server now answers 503
    with pytest.raises(AttnclfError, match="cannot download IMDB from .*--data") as caught:
        download.download_imdb(cache_dir=tmp_path, url=url, md5=MD5)
    one_line(caught)
    assert list(tmp_path.iterdir()) == []
