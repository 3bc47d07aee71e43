"""Fetch the IMDB archive from its official address into the cache, once, with a progress bar
and a checksum check. A partial download is kept as `.part`, resumed next time, never used."""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from ..errors import AttnclfError, first_line

IMDB_URL = "http://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
IMDB_MD5 = "7c2ac02c03563afcf9b574c7e56c153a"
IMDB_FILENAME = "aclImdb_v1.tar.gz"


def cache_home() -> Path:
    """`$ATTNCLF_HOME`, or `~/.cache/attnclf`."""
    return Path(os.environ.get("ATTNCLF_HOME") or Path.home() / ".cache" / "attnclf")


def file_digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_imdb(cache_dir: Path | None = None, url: str = IMDB_URL, md5: str = IMDB_MD5) -> Path:
    """The path of the cached archive, downloading it first if it is not there yet.

    Faults end in a one-line AttnclfError, never a traceback: an unreachable server; a connection
    that drops or times out midway (the `.part` file is kept and the next call resumes it with an
    HTTP Range request; a server that answers 200 instead of 206, or a Content-Range that does not
    start where the `.part` ends, restarts it from zero); a checksum mismatch (the `.part` is
    removed, the message names it and the expected md5); a cache folder that cannot be created or
    written, or a full disk (the message names the path; what was written is kept for a resume).
    The archive's final name appears only after its md5 matched."""
    target = (cache_dir or cache_home()) / IMDB_FILENAME
    if target.exists():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise AttnclfError(
            f"cannot create the cache folder {target.parent} ({error.strerror}); "
            "set $ATTNCLF_HOME to a writable folder"
        ) from None
    partial = target.with_name(target.name + ".part")
    _fetch(url, partial)
    try:
        actual = file_digest(partial, "md5")
    except OSError as error:
        raise AttnclfError(f"cannot read {partial} ({error.strerror}); run again") from None
    if actual != md5:
        partial.unlink(missing_ok=True)
        raise AttnclfError(
            f"the download of {url} is corrupt: md5 {actual}, expected {md5}; removed {partial}, "
            "run again to download it afresh"
        )
    try:
        os.replace(partial, target)
    except OSError as error:
        raise AttnclfError(
            f"cannot rename {partial} to {target} ({error.strerror}); "
            "set $ATTNCLF_HOME to a writable folder"
        ) from None
    return target


def _fetch(url: str, partial: Path) -> None:
    """Append the rest of `url` to `partial` (all of it when the server ignores Range)."""
    offset = partial.stat().st_size if partial.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        response = urllib.request.urlopen(request, timeout=30)
    except urllib.error.HTTPError as error:
        if offset and error.code == 416:  # the range starts at or past the end: start again
            partial.unlink(missing_ok=True)
            return _fetch(url, partial)
        raise _unreachable(url, error.reason) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as error:
        raise _unreachable(url, getattr(error, "reason", None) or first_line(error)) from None
    with response:
        status = getattr(response, "status", None)  # None for file: URLs
        if offset and status == 206 and _range_start(response) != offset:
            response.close()
            partial.unlink(missing_ok=True)
            return _fetch(url, partial)
        resumed = bool(offset) and status == 206
        length = _content_length(response)
        start = offset if resumed else 0
        written = start
        try:
            with (
                open(partial, "ab" if resumed else "wb") as out,
                tqdm(
                    total=(start + length) or None,
                    initial=start,
                    unit="B",
                    unit_scale=True,
                    desc="downloading IMDB",
                ) as bar,
            ):
                while True:
                    try:
                        chunk = response.read(1 << 16)
                    except (OSError, http.client.HTTPException) as error:
                        raise _interrupted(url, partial, written, error) from None
                    if not chunk:
                        break
                    out.write(chunk)
                    written += len(chunk)
                    bar.update(len(chunk))
        except OSError as error:
            raise AttnclfError(
                f"cannot write {partial} ({error.strerror or first_line(error)}); free some "
                "space or set $ATTNCLF_HOME to a writable folder, then run again to resume"
            ) from None
    if length and written < start + length:
        raise _interrupted(url, partial, written, f"only {written} of {start + length} bytes")


def _content_length(response) -> int:
    try:
        return max(int(response.headers.get("Content-Length") or 0), 0)
    except ValueError:
        return 0


def _range_start(response) -> int | None:
    """Where a 206 response's body starts, from `Content-Range: bytes START-END/TOTAL`."""
    match = re.match(r"\s*bytes\s+(\d+)-", response.headers.get("Content-Range") or "")
    return int(match.group(1)) if match else None


def _unreachable(url: str, reason: object) -> AttnclfError:
    return AttnclfError(
        f"cannot download IMDB from {url} ({reason}); without a network, point --data "
        "(or $ATTNCLF_DATA) at a local aclImdb_v1.tar.gz or its extracted aclImdb/ folder"
    )


def _interrupted(url: str, partial: Path, written: int, reason: object) -> AttnclfError:
    if isinstance(reason, BaseException):
        reason = first_line(reason)
    return AttnclfError(
        f"the download of {url} stopped after {written} bytes ({reason}); the partial download "
        f"{partial} is kept and running again resumes it"
    )
