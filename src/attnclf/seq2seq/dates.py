"""A seeded generator of human-readable dates and their ISO form: the toy translation task on
which an attention model learns in minutes and its alignments can be read by eye.

"Tuesday, March 3rd 2011", "3/3/11", "03 Mar 2011", "the 3rd of march 2011", "03.03.2011" ->
"2011-03-03". Every format reads one way only: slashes are month/day/year (US), dots
day.month.year, two-digit years are 1950-2049, and day names agree with the date. Words come
title-cased, lower-cased or upper-cased.

Splits are cut from one stream of distinct sources: the first `train` go to training, the next
`validation` to validation, the next ones to testing. The stream depends on the seed alone, so
a test set drawn later never repeats a source seen in training.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Callable, Iterator

FIRST_YEAR, LAST_YEAR = 1950, 2049
# English names written out: the calendar module's follow the locale, which data must not.
MONTHS = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def ordinal(day: int) -> str:
    """1 -> "1st", 2 -> "2nd", 11 -> "11th", 23 -> "23rd"."""
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _fields(d: datetime.date) -> dict[str, str]:
    return {
        "weekday": WEEKDAYS[d.weekday()],
        "wd": WEEKDAYS[d.weekday()][:3],
        "month": MONTHS[d.month - 1],
        "mon": MONTHS[d.month - 1][:3],
        "d": str(d.day),
        "dd": f"{d.day:02d}",
        "dth": ordinal(d.day),
        "m": str(d.month),
        "mm": f"{d.month:02d}",
        "yyyy": str(d.year),
        "yy": f"{d.year % 100:02d}",
    }


# Formats with words, which also come lower- and upper-cased, then numeric ones.
WORD_FORMATS = [
    "{weekday}, {month} {dth} {yyyy}",
    "{weekday}, {month} {d}, {yyyy}",
    "{weekday} {d} {month} {yyyy}",
    "{weekday}, {dth} {month} {yyyy}",
    "{weekday} the {dth} of {month}, {yyyy}",
    "{wd}, {d} {mon} {yyyy}",
    "{wd} {mon} {d} {yyyy}",
    "{month} {d}, {yyyy}",
    "{month} {dth}, {yyyy}",
    "{month} {dth} {yyyy}",
    "{mon} {d}, {yyyy}",
    "{mon}. {dth}, {yyyy}",
    "{d} {month} {yyyy}",
    "{dth} {month} {yyyy}",
    "{dd} {mon} {yyyy}",
    "{d} {mon} {yy}",
    "{dd}-{mon}-{yyyy}",
    "the {dth} of {month} {yyyy}",
    "the {dth} of {mon} {yyyy}",
    "{month} {yyyy}, the {dth}",
]
NUMERIC_FORMATS = [
    "{m}/{d}/{yy}",
    "{mm}/{dd}/{yy}",
    "{m}/{d}/{yyyy}",
    "{mm}/{dd}/{yyyy}",
    "{dd}.{mm}.{yyyy}",
    "{d}.{m}.{yyyy}",
    "{yyyy}-{mm}-{dd}",
    "{yyyy}/{mm}/{dd}",
    "{yyyy}{mm}{dd}",
    "{yyyy}.{mm}.{dd}",
]
_CASES: list[tuple[float, Callable[[str], str]]] = [
    (0.6, lambda s: s),
    (0.25, str.lower),
    (0.15, str.upper),
]


def iso(d: datetime.date) -> str:
    return d.isoformat()  # "2011-03-03"


def random_date(rng: random.Random) -> datetime.date:
    first = datetime.date(FIRST_YEAR, 1, 1).toordinal()
    last = datetime.date(LAST_YEAR, 12, 31).toordinal()
    return datetime.date.fromordinal(rng.randint(first, last))


def human_date(d: datetime.date, rng: random.Random) -> str:
    """`d` written in one of the formats, picked at random (a third of the time a numeric one)."""
    fields = _fields(d)
    if rng.random() < 1 / 3:
        return rng.choice(NUMERIC_FORMATS).format(**fields)
    text = rng.choice(WORD_FORMATS).format(**fields)
    pick, total = rng.random(), 0.0
    for share, case in _CASES:
        total += share
        if pick < total:
            return case(text)
    return text


def date_stream(seed: int) -> Iterator[tuple[str, str]]:
    """(human date, ISO date) pairs whose human forms never repeat; the same for the same seed."""
    rng = random.Random(f"attnclf-dates-{seed}")
    seen: set[str] = set()
    while True:
        d = random_date(rng)
        source = human_date(d, rng)
        if source not in seen:
            seen.add(source)
            yield source, iso(d)


def date_pairs(count: int, seed: int = 0, skip: int = 0) -> list[tuple[str, str]]:
    """`count` pairs of the stream for `seed`, after its first `skip`."""
    stream = date_stream(seed)
    for _ in range(skip):
        next(stream)
    return [next(stream) for _ in range(count)]


def date_splits(
    train: int, validation: int, test: int = 0, seed: int = 0
) -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[tuple[str, str]]]:
    """Disjoint train, validation and test pairs: consecutive runs of one stream."""
    pairs = date_pairs(train + validation + test, seed)
    return pairs[:train], pairs[train : train + validation], pairs[train + validation :]
