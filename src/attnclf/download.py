"""Fetch the IMDB archive from its official address into the cache, once, with a progress bar
and a checksum check. A partial download is kept as `.part`, resumed next time, never used."""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from .errors import AttnclfError

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
    """The path of the cached archive, downloading it first if it is not there yet."""
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
    actual = file_digest(partial, "md5")
    if actual != md5:
        partial.unlink(missing_ok=True)
        raise AttnclfError(
            f"the download of {url} is corrupt: md5 {actual}, expected {md5}; run again to retry"
        )
    os.replace(partial, target)
    return target


def _fetch(url: str, partial: Path) -> None:
    offset = partial.stat().st_size if partial.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        response = urllib.request.urlopen(request, timeout=30)
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise AttnclfError(
            f"cannot download IMDB from {url} ({reason}); without a network, point --data "
            "(or $ATTNCLF_DATA) at a local aclImdb_v1.tar.gz or its extracted aclImdb/ folder"
        ) from None
    with response:
        resumed = offset and response.status == 206
        total = int(response.headers.get("Content-Length") or 0) + (offset if resumed else 0)
        mode = "ab" if resumed else "wb"
        try:
            with (
                open(partial, mode) as out,
                tqdm(
                    total=total or None,
                    initial=offset if resumed else 0,
                    unit="B",
                    unit_scale=True,
                    desc="downloading IMDB",
                ) as bar,
            ):
                for chunk in iter(lambda: response.read(1 << 16), b""):
                    out.write(chunk)
                    bar.update(len(chunk))
        except OSError as error:
            raise AttnclfError(
                f"cannot write {partial} ({error.strerror}); free some space or set $ATTNCLF_HOME"
            ) from None
