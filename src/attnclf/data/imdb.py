"""The IMDB movie-review archive `aclImdb_v1.tar.gz` (Maas et al. 2011) and its extracted
`aclImdb/` folder: the labelled train and test reviews, and the 50,000 unlabelled ones. The
archive is parsed once, then read from a cache keyed by its content; its bytes that are not
UTF-8 become U+FFFD, as the published archive is read by everyone."""

from __future__ import annotations

import gzip
import json
import tarfile
import zlib
from pathlib import Path

from ..errors import AttnclfError, first_line
from ..runtime.files import atomic_write
from .download import cache_home, file_digest
from .examples import RawSplit

IMDB_LABELS = {"neg": "negative", "pos": "positive"}
PARSED_CACHE_VERSION = 1


def read_imdb_archive(path: Path) -> tuple[RawSplit, RawSplit]:
    """The labelled train and test reviews of the archive, parsed once and then read from a cache
    keyed by the archive's content."""
    cache = cache_home() / "parsed" / f"imdb-{file_digest(path, 'sha256')[:24]}.json.gz"
    if cache.exists():
        try:
            with gzip.open(cache, "rt", encoding="utf-8") as handle:
                stored = json.load(handle)
            if stored.get("version") == PARSED_CACHE_VERSION:
                return RawSplit(**stored["train"]), RawSplit(**stored["test"])
        except (OSError, ValueError, KeyError, TypeError, EOFError):
            pass  # a damaged cache is rebuilt below
    splits = {"train": RawSplit(), "test": RawSplit()}
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                parts = member.name.split("/")
                if (
                    len(parts) == 4
                    and parts[1] in splits
                    and parts[2] in IMDB_LABELS
                    and parts[3].endswith(".txt")
                    and member.isfile()
                ):
                    review = tar.extractfile(member)
                    assert review is not None
                    text = review.read().decode("utf-8", errors="replace")
                    splits[parts[1]].add(text, IMDB_LABELS[parts[2]])
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        raise AttnclfError(
            f"{path} is not a readable .tar.gz archive ({first_line(error)}); download it again "
            "or point --data at the extracted aclImdb/ folder"
        ) from None
    if not splits["train"].texts or not splits["test"].texts:
        raise AttnclfError(
            f"{path} holds no aclImdb/train/{{pos,neg}} and aclImdb/test/{{pos,neg}} reviews; "
            "is it the IMDB archive aclImdb_v1.tar.gz?"
        )
    payload = {"version": PARSED_CACHE_VERSION, **{k: vars(v) for k, v in splits.items()}}
    try:
        atomic_write(cache, lambda tmp: _write_gzip_json(tmp, payload))
    except OSError:
        pass  # a read-only cache only costs the next run a few seconds
    return splits["train"], splits["test"]


def _write_gzip_json(path: Path, payload: dict) -> None:
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as handle:
        json.dump(payload, handle)


def find_imdb_root(path: Path) -> Path | None:
    """The aclImdb/ folder: named so or holding imdb.vocab, with train/ and test/ pos and neg."""
    for root in (path, path / "aclImdb"):
        official = root.name == "aclImdb" or (root / "imdb.vocab").is_file()
        splits = all((root / s / c).is_dir() for s in ("train", "test") for c in IMDB_LABELS)
        if official and splits:
            return root
    return None


def read_imdb_folder(root: Path) -> tuple[RawSplit, RawSplit]:
    splits = []
    for split in ("train", "test"):
        raw = RawSplit()
        for folder, label in IMDB_LABELS.items():
            for file in sorted((root / split / folder).glob("*.txt")):
                raw.add(file.read_text(encoding="utf-8", errors="replace"), label)
        splits.append(raw)
    return splits[0], splits[1]


def read_unlabelled(path: Path) -> list[str]:
    """IMDB's 50,000 unlabelled reviews (train/unsup/) of the archive or the aclImdb/ folder at
    `path`, for unsupervised training (word2vec); no other source has any: []. The archive's
    are read once, then from a cache keyed by its content."""
    if path.is_dir():
        root = find_imdb_root(path)
        if root is None:
            return []
        return [
            file.read_text(encoding="utf-8", errors="replace")
            for file in sorted((root / "train" / "unsup").glob("*.txt"))
        ]
    if not (path.name.endswith((".tar.gz", ".tgz", ".tar"))):
        return []
    cache = cache_home() / "parsed" / f"imdb-unsup-{file_digest(path, 'sha256')[:24]}.json.gz"
    if cache.exists():
        try:
            with gzip.open(cache, "rt", encoding="utf-8") as handle:
                stored = json.load(handle)
            if stored.get("version") == PARSED_CACHE_VERSION:
                return list(stored["texts"])
        except (OSError, ValueError, KeyError, TypeError, EOFError):
            pass  # a damaged cache is rebuilt below
    texts = []
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                parts = member.name.split("/")
                if (
                    len(parts) == 4
                    and parts[1:3] == ["train", "unsup"]
                    and parts[3].endswith(".txt")
                    and member.isfile()
                ):
                    review = tar.extractfile(member)
                    assert review is not None
                    texts.append(review.read().decode("utf-8", errors="replace"))
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        raise AttnclfError(
            f"{path} is not a readable .tar.gz archive ({first_line(error)}); download it again"
        ) from None
    payload = {"version": PARSED_CACHE_VERSION, "texts": texts}
    try:
        atomic_write(cache, lambda tmp: _write_gzip_json(tmp, payload))
    except OSError:
        pass
    return texts
