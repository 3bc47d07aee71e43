"""Shared fixtures: the real IMDB archive when it is there, and an isolated cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
IMDB_ARCHIVE = Path(
    os.environ.get("ATTNCLF_TEST_IMDB", REPO.parent / "shared" / "data" / "aclImdb_v1.tar.gz")
)


@pytest.fixture(scope="session")
def imdb_archive() -> Path:
    if not IMDB_ARCHIVE.exists():
        pytest.skip(
            f"the real IMDB archive is not at {IMDB_ARCHIVE}; "
            "set ATTNCLF_TEST_IMDB to a local aclImdb_v1.tar.gz to run this test"
        )
    return IMDB_ARCHIVE


@pytest.fixture(scope="session")
def session_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the whole session, so the archive is parsed once."""
    return tmp_path_factory.mktemp("attnclf-home")


@pytest.fixture(autouse=True)
def isolated_home(session_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ATTNCLF_HOME", str(session_home))
    monkeypatch.delenv("ATTNCLF_DATA", raising=False)
    return session_home


POSITIVE = ["wonderful", "superb", "great", "moving", "brilliant", "delightful"]
NEGATIVE = ["awful", "boring", "dreadful", "terrible", "dull", "clumsy"]
FILLER = ["the", "film", "plot", "actor", "scene", "was", "and", "a", "story", "it", "music"]


def make_reviews(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """Short reviews whose label is told by one sentiment word among filler words."""
    import random

    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = "pos" if i % 2 == 0 else "neg"
        words = [rng.choice(FILLER) for _ in range(rng.randint(4, 14))]
        words.insert(
            rng.randrange(len(words) + 1), rng.choice(POSITIVE if label == "pos" else NEGATIVE)
        )
        rows.append((" ".join(words).capitalize() + ".", label))
    return rows


def write_reviews_csv(path: Path, n: int) -> Path:
    """`n` reviews of `make_reviews` as a CSV with text and label columns."""
    import csv

    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(make_reviews(n))
    return path


@pytest.fixture
def sentiment_csv(tmp_path: Path) -> Path:
    return write_reviews_csv(tmp_path / "reviews.csv", 400)
