"""The date generator, the pair reader, tokens and vocabularies of attnclf.seq2seq."""

from __future__ import annotations

import datetime
import re

import numpy as np
import pytest

from attnclf.errors import AttnclfError
from attnclf.seq2seq.data import file_data, held_out_dates, prepare_pairs
from attnclf.seq2seq.dates import (
    FIRST_YEAR,
    LAST_YEAR,
    NUMERIC_FORMATS,
    WEEKDAYS,
    WORD_FORMATS,
    date_pairs,
    date_splits,
    ordinal,
)
from attnclf.seq2seq.pairs import (
    BOS_ID,
    EOS_ID,
    SPECIALS,
    TokenConfig,
    build_vocab,
    collate_pairs,
    detokenize,
    encode_pairs,
    read_pairs,
    tokenize,
)

# Independent readers of the generated dates: strptime patterns, after ordinal suffixes are
# dropped. "%y" is mapped to 1950-2049 by hand (strptime's own pivot is 1969).
PATTERNS = [
    "%A, %B %d %Y",
    "%A, %B %d, %Y",
    "%A %d %B %Y",
    "%A, %d %B %Y",
    "%A the %d of %B, %Y",
    "%a, %d %b %Y",
    "%a %b %d %Y",
    "%B %d, %Y",
    "%B %d %Y",
    "%b %d, %Y",
    "%b. %d, %Y",
    "%d %B %Y",
    "%d %b %Y",
    "%d %b %y",
    "%d-%b-%Y",
    "the %d of %B %Y",
    "the %d of %b %Y",
    "%B %Y, the %d",
    "%m/%d/%y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y%m%d",
    "%Y.%m.%d",
]


def readings(source: str) -> set[datetime.date]:
    """Every date the source can be read as, under any pattern."""
    text = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", source, flags=re.IGNORECASE)
    found = set()
    for pattern in PATTERNS:
        try:
            parsed = datetime.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
        if "%y" in pattern:
            year = parsed.year % 100
            parsed = parsed.replace(year=(1900 if year >= 50 else 2000) + year)
        found.add(parsed)
    return found


def test_ordinals():
    assert [ordinal(d) for d in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 31)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "31st",
    ]  # fmt: skip


def test_dates_are_seeded_distinct_and_valid_iso():
    pairs = date_pairs(3000, seed=7)
    assert pairs == date_pairs(3000, seed=7)
    assert pairs != date_pairs(3000, seed=8)
    assert len({source for source, _ in pairs}) == len(pairs)
    for _, target in pairs:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", target)
        assert FIRST_YEAR <= datetime.date.fromisoformat(target).year <= LAST_YEAR


def test_every_source_reads_as_its_target_and_nothing_else():
    for source, target in date_pairs(3000, seed=1):
        assert readings(source) == {datetime.date.fromisoformat(target)}, source


def test_day_names_agree_with_the_date_and_every_format_and_case_appears():
    pairs = date_pairs(4000, seed=2)
    for source, target in pairs:
        named = [day for day in WEEKDAYS if day[:3].lower() in source.lower()]
        if named:
            assert named == [WEEKDAYS[datetime.date.fromisoformat(target).weekday()]], source
    sources = [s for s, _ in pairs]
    assert any(s.isupper() for s in sources) and any(s.islower() for s in sources)
    assert any("/" in s for s in sources) and any("." in s and s[0].isdigit() for s in sources)
    assert any(s.lower().startswith("the ") for s in sources)
    assert len(WORD_FORMATS) + len(NUMERIC_FORMATS) >= 25


def test_splits_are_consecutive_runs_of_one_stream_and_never_overlap():
    train, validation, test = date_splits(500, 100, 100, seed=3)
    assert len(train) == 500 and len(validation) == len(test) == 100
    sources = [s for s, _ in train + validation + test]
    assert len(set(sources)) == 700
    assert date_pairs(200, seed=3) == train[:200]
    trained = {"task": "dates", "seed": 3, "train_size": 500, "validation_size": 100}
    assert held_out_dates(100, trained) == test


# --- tokens and vocabularies ----------------------------------------------------------------


def test_char_and_word_tokens():
    chars = TokenConfig("char", lowercase=False)
    assert tokenize("  3  Mar\t2011 ", chars) == list("3 Mar 2011")
    assert detokenize(tokenize("3 Mar 2011", chars), chars) == "3 Mar 2011"
    words = TokenConfig("word", lowercase=True)
    assert tokenize("Don't go, Tom!", words) == ["don't", "go", ",", "tom", "!"]
    assert detokenize(["va", "!"], words) == "va !"


def test_vocabulary_has_the_four_specials_first_and_is_stable():
    vocab = build_vocab([list("banana"), list("cab")], size=10)
    assert vocab.tokens[:4] == SPECIALS
    assert vocab.tokens[4:] == ["a", "b", "n", "c"]  # by count, ties alphabetical
    assert build_vocab([list("banana")], size=6).tokens == SPECIALS + ["a", "n"]


def test_batches_shift_the_target_behind_a_start_token():
    tokens = TokenConfig("char")
    tokenized = [(list("abc"), list("xy")), (list("a"), list("xyz"))]
    sv = build_vocab([s for s, _ in tokenized], 50)
    tv = build_vocab([t for _, t in tokenized], 50)
    encoded = encode_pairs(tokenized, sv, tv)
    assert encoded.targets[0][-1] == EOS_ID and len(encoded.targets[1]) == 4
    batch = collate_pairs(encoded, np.array([0, 1]))
    assert batch.source.shape == (2, 3) and batch.source_lengths.tolist() == [3, 1]
    assert batch.target_out.shape == batch.target_in.shape == (2, 4)
    assert batch.target_in[:, 0].tolist() == [BOS_ID, BOS_ID]
    assert batch.target_in[:, 1:].tolist() == batch.target_out[:, :-1].tolist()
    assert batch.target_out[0].tolist()[2:] == [EOS_ID, 0]
    assert tokens.kind == "char"


def test_prepare_skips_and_counts_pairs_that_are_too_long():
    train = [("a b c", "x"), ("a " * 30, "y"), ("b", "z " * 30)]
    data = prepare_pairs(train, [("a", "x")], "word", max_len=10)
    assert len(data.train) == 1 and data.description["train_skipped_longer_than_10"] == 2
    assert data.tokens.max_output_len >= 2
    with pytest.raises(AttnclfError, match="raise --max-len"):
        prepare_pairs(train[1:], [], "word", max_len=10)


# --- the pair file --------------------------------------------------------------------------


def write(tmp_path, data: bytes | str, name: str = "pairs.tsv"):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def test_reads_pairs_ignoring_extra_columns_and_counting_blank_lines(tmp_path):
    path = write(
        tmp_path,
        "\ufeffGo.\tVa !\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272\r\n"
        "\n   \nHi.\tSalut !\n",
    )
    read = read_pairs(path)
    assert read.pairs == [("Go.", "Va !"), ("Hi.", "Salut !")]
    assert read.blank_lines == 2 and read.extra_columns == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("Go.\tVa !\nno tab here\n", "pairs.tsv:2: no tab"),
        ("Go.\tVa !\n\t\tSalut\n", "pairs.tsv:2: the source (column) is empty"),
        ("Go.\t  \n", "pairs.tsv:1: the target (column) is empty"),
        (b"Go.\tVa !\nCaf\xe9\tcaf\xe9\n", "pairs.tsv:2: not UTF-8"),
        ("\n\n", "holds no source<TAB>target lines"),
    ],
)
def test_bad_lines_are_one_line_errors_naming_file_and_line(tmp_path, content, message):
    path = write(tmp_path, content)
    with pytest.raises(AttnclfError, match=re.escape(message)) as error:
        read_pairs(path)
    assert "\n" not in str(error.value)


def test_a_missing_file_says_what_data_takes(tmp_path):
    with pytest.raises(AttnclfError, match="no such file.*source<TAB>target"):
        read_pairs(tmp_path / "missing.tsv")


def test_file_data_holds_out_a_tenth_at_most(tmp_path):
    lines = "".join(f"{i} plus one\t{i + 1}\n" for i in range(50))
    data = file_data(write(tmp_path, lines), validation_size=3, seed=0)
    assert len(data.train) == 47 and len(data.validation) == 3
    assert data.tokens.kind == "word" and data.tokens.lowercase
    small = file_data(write(tmp_path, "a\tb\nc\td\n", "small.tsv"), validation_size=100)
    assert len(small.train) == 2 and len(small.validation) == 0
