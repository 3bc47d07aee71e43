"""Property-based tests: the tokenizer and every reader take any text without a traceback.

Each reader round-trips what `csv.writer` or `json.dumps` wrote; blank rows are skipped and
counted; mistakes in the user's data are one-line AttnclfErrors naming the file and line."""

from __future__ import annotations

import builtins
import csv
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attnclf.config import DataConfig, TextConfig
from attnclf.data.splits import load_dataset
from attnclf.errors import AttnclfError
from attnclf.text.tokens import PAD, UNK, Encoder, Vocab, tokenize, truncate

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

ARABIC = "هذا الفيلم رائع جدا، لا تفوته!"
HEBREW = "הסרט הזה היה משעמם מאוד?"
EMOJI = "loved it 😍🔥👍🏽 family 👨‍👩‍👧 flag 🇫🇷"
CONTROL = "a\x00b\x07c\x1bd\x7fe\u200bf\u200eg\u202eh\ufeffi"
SPECIAL = [ARABIC, HEBREW, EMOJI, CONTROL, "", " ", "\t\n\r\x0b\x0c", "\u00a0\u2003\u3000"]

# texts worth a row: any Unicode, plus the hand-picked awkward ones
texts = st.one_of(
    st.text(),
    st.sampled_from(SPECIAL),
    st.text(alphabet=st.sampled_from(list("\"',\t\n\r;\\ \u2028\u2029\x85abüج"))),
)
labels = st.sampled_from(["pos", "neg", "neutral", "1", "-1", "a b", "é", '"q"', "x,y", "t\tz"])


# --- tokenize, truncate, Vocab ----------------------------------------------------------------


@SETTINGS
@given(st.one_of(texts, st.sampled_from(SPECIAL)))
def test_tokenize_never_raises_and_gives_lowercase_words_without_whitespace(text):
    tokens = tokenize(text)
    assert isinstance(tokens, list)
    for token in tokens:
        assert token, "no empty tokens"
        assert token == token.lower()
        assert not any(ch.isspace() for ch in token)


@pytest.mark.parametrize("text", SPECIAL)
def test_tokenize_special_texts(text):
    tokens = tokenize(text)
    if not text.strip() or text == CONTROL:
        assert tokens == [] or text == CONTROL
    if text == ARABIC:
        assert "الفيلم" in tokens
    if text == HEBREW:
        assert tokens[:2] == ["הסרט", "הזה"] and tokens[-1] == "?"
    if text == EMOJI:
        assert tokens[:2] == ["loved", "it"] and "family" in tokens


def test_a_one_megabyte_review_tokenizes_quickly_and_is_truncated():
    review = ("A long, long review of the film! It's well-made <br /> and moving? " * 16_000)[
        :1_000_000
    ]
    start = time.perf_counter()
    tokens = tokenize(review)
    assert time.perf_counter() - start < 5
    assert len(tokens) > 100_000
    vocab = Vocab.build([tokens], size=50)
    for how in ("head", "tail", "head+tail"):
        encoder = Encoder(vocab, TextConfig(max_len=200, truncation=how))
        kept, truncated = encoder.tokens(review)
        assert truncated and len(kept) == 200
        assert len(encoder.encode(review)) == 200
    short, truncated = Encoder(vocab, TextConfig(max_len=200)).tokens("short review")
    assert short == ["short", "review"] and not truncated


@SETTINGS
@given(
    st.lists(st.sampled_from(list("abcdefgh")), max_size=40),
    st.integers(min_value=-3, max_value=50),
    st.sampled_from(["head", "tail", "head+tail"]),
)
def test_truncate_keeps_at_most_max_len_in_order(tokens, max_len, how):
    tokens = [f"{t}{i}" for i, t in enumerate(tokens)]  # distinct, so order is checkable
    kept = truncate(tokens, max_len, how)
    assert len(kept) <= max(max_len, 0)
    if len(tokens) <= max_len:
        assert kept == tokens
        return
    assert len(kept) == max(max_len, 0)
    if max_len <= 0:
        return
    positions = [tokens.index(t) for t in kept]
    assert positions == sorted(positions)
    n = len(kept)
    if how == "head":
        assert kept == tokens[:n]
    elif how == "tail":
        assert kept == tokens[len(tokens) - n :]
    else:
        head = max_len // 4
        assert kept[:head] == tokens[:head]
        assert kept[head:] == tokens[len(tokens) - (n - head) :]


@SETTINGS
@given(
    st.lists(st.lists(st.one_of(st.text(min_size=1, max_size=6), st.just(UNK), st.just(PAD)))),
    st.lists(st.text(min_size=1, max_size=6)),
    st.integers(min_value=0, max_value=30),
)
def test_vocab_encode_decode_is_consistent(corpus, query, size):
    vocab = Vocab.build(corpus, size=size)
    assert vocab.tokens[:2] == [PAD, UNK]
    assert len(vocab.tokens) == len(set(vocab.tokens)) <= max(size, 2)
    ids = vocab.encode(query)
    assert len(ids) == len(query)
    assert all(0 <= i < len(vocab) for i in ids)
    decoded = vocab.decode(ids)
    assert decoded == [t if t in vocab.index else UNK for t in query]
    assert list(vocab.encode(vocab.tokens[2:])) == list(range(2, len(vocab)))
    with tempfile.TemporaryDirectory() as folder:
        vocab.save(Path(folder) / "vocab.json")
        assert Vocab.load(Path(folder) / "vocab.json").tokens == vocab.tokens


# --- readers: round trips ---------------------------------------------------------------------

rows_strategy = st.lists(st.tuples(texts, labels), min_size=0, max_size=30)
BASE = [(f"base review {i}", "pos" if i % 2 else "neg") for i in range(8)]


def _expected(rows: list[tuple[str, str]]) -> tuple[Counter, Counter]:
    kept, skipped = Counter(), Counter()
    for text, label in rows:
        if not text.strip():
            skipped["empty text"] += 1
        elif not label.strip():
            skipped["empty label"] += 1
        else:
            kept[(text, label.strip())] += 1
    return kept, skipped


def _all_pairs(dataset) -> Counter:
    return Counter(
        (text, dataset.label_names[int(label)])
        for split in (dataset.train, dataset.validation, dataset.test)
        for text, label in zip(split.texts, split.labels, strict=True)
    )


def _write_table(path: Path, rows, bom: bool = False) -> Path:
    if path.suffix == ".jsonl":
        body = "".join(json.dumps({"text": t, "label": lab}) + "\n" for t, lab in rows)
        path.write_text(("\ufeff" if bom else "") + body, encoding="utf-8")
        return path
    with open(path, "w", newline="", encoding="utf-8-sig" if bom else "utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t" if path.suffix == ".tsv" else ",")
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


@SETTINGS
@given(
    rows=rows_strategy,
    blanks=st.lists(st.tuples(st.sampled_from(["", " ", "\n\t", "\u3000"]), labels), max_size=3),
    no_label=st.lists(
        st.tuples(st.just("has text"), st.sampled_from(["", "  ", "\t"])), max_size=3
    ),
    suffix=st.sampled_from([".csv", ".tsv", ".jsonl"]),
    bom=st.booleans(),
    duplicate=st.booleans(),
    seed=st.integers(0, 3),
)
def test_tables_round_trip_and_count_skipped_rows(
    tmp_path, rows, blanks, no_label, suffix, bom, duplicate, seed
):
    data = BASE + rows + blanks + no_label + (BASE[:2] if duplicate else [])
    rng = __import__("random").Random(seed)
    rng.shuffle(data)
    path = _write_table(Path(tempfile.mkdtemp(dir=tmp_path)) / f"data{suffix}", data, bom)
    dataset = load_dataset(DataConfig(source=str(path), seed=seed))
    kept, skipped = _expected(data)
    assert _all_pairs(dataset) == kept  # duplicates are kept, each as an example
    assert dataset.skipped == dict(skipped)


@SETTINGS
@given(
    rows=st.lists(st.tuples(texts, st.just("only")), max_size=10),
    suffix=st.sampled_from([".csv", ".tsv", ".jsonl"]),
)
def test_a_single_class_is_a_one_line_error(tmp_path, rows, suffix):
    data = [(f"text {i}", "only") for i in range(6)] + rows
    path = _write_table(Path(tempfile.mkdtemp(dir=tmp_path)) / f"one{suffix}", data)
    with pytest.raises(AttnclfError, match="only one class") as caught:
        load_dataset(DataConfig(source=str(path)))
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)


def test_blank_labels_leaving_a_single_class_is_an_error(tmp_path):
    data = [(f"text {i}", "pos" if i % 2 else " ") for i in range(10)]
    path = _write_table(tmp_path / "blank.csv", data)
    with pytest.raises(AttnclfError, match="only one class"):
        load_dataset(DataConfig(source=str(path)))


@SETTINGS
@given(
    good=st.lists(st.tuples(st.text(min_size=1).filter(str.strip), labels), max_size=8),
    bad=st.sampled_from([b"\xff", b"\xc3\x28", b"\xe2\x82", b"\xed\xa0\x80", b"\x80abc", b"\xfe"]),
    suffix=st.sampled_from([".csv", ".tsv", ".jsonl"]),
    bom=st.booleans(),
)
def test_invalid_utf8_is_an_error_naming_file_and_line(tmp_path, good, bad, suffix, bom):
    path = _write_table(Path(tempfile.mkdtemp(dir=tmp_path)) / f"bad{suffix}", BASE + good, bom)
    content = path.read_bytes()
    line = content.count(b"\n") + 1  # the bad bytes open a new, last line
    path.write_bytes(content + bad + b"," + b"pos\n")
    with pytest.raises(AttnclfError, match="not UTF-8") as caught:
        load_dataset(DataConfig(source=str(path)))
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}:") and "\n" not in message


def test_invalid_utf8_in_a_class_folder_names_the_file(tmp_path):
    for i in range(4):
        for label in ("neg", "pos"):
            (tmp_path / "d" / label).mkdir(parents=True, exist_ok=True)
            (tmp_path / "d" / label / f"{i}.txt").write_text(f"{label} review {i}")
    bad = tmp_path / "d" / "pos" / "latin1.txt"
    bad.write_bytes("first line\ncaf\u00e9 cr\u00e8me".encode("latin-1"))
    with pytest.raises(AttnclfError, match=rf"{bad}:2: not UTF-8.*re-save"):
        load_dataset(DataConfig(source=str(tmp_path / "d")))


@SETTINGS
@given(
    texts=st.lists(texts.filter(str.strip), min_size=0, max_size=12),
    blanks=st.integers(0, 2),
)
def test_class_folders_round_trip(tmp_path, texts, blanks):
    root = Path(tempfile.mkdtemp(dir=tmp_path)) / "classes"
    data = BASE + [(t, ("a", "b", "c")[i % 3]) for i, t in enumerate(texts)]
    for i, (text, label) in enumerate(data):
        (root / label).mkdir(parents=True, exist_ok=True)
        (root / label / f"{i}.txt").write_bytes(text.encode("utf-8", "surrogatepass"))
    for i in range(blanks):
        (root / "pos" / f"blank{i}.txt").write_text(" \n")
    dataset = load_dataset(DataConfig(source=str(root)))
    # a file is read with newline translation off, so "\r\n" stays as written
    assert _all_pairs(dataset) == Counter(data)
    assert dataset.skipped == ({"empty text": blanks} if blanks else {})


def test_a_one_megabyte_review_in_a_csv_is_read_whole(tmp_path):
    review = 'A very long review, with "quotes" and\nnewlines. ' * 21_000
    assert len(review) > 1_000_000
    path = _write_table(tmp_path / "long.csv", BASE + [(review, "pos")])
    dataset = load_dataset(DataConfig(source=str(path)))
    assert (review, "pos") in _all_pairs(dataset)


@pytest.mark.parametrize("n_classes", [3, 4])
@pytest.mark.parametrize("limit", [None, 5])
def test_a_class_with_one_example_among_several_still_loads(tmp_path, n_classes, limit):
    names = [f"c{i}" for i in range(n_classes - 1)]
    data = [(f"text {i} {name}", name) for i in range(6) for name in names]
    data.append(("the only rare one", "rare"))
    path = _write_table(tmp_path / "rare.csv", data)
    dataset = load_dataset(DataConfig(source=str(path), limit=limit))
    assert "rare" in dataset.label_names
    if limit is None:
        assert _all_pairs(dataset) == Counter(data)


@pytest.mark.parametrize(
    "line, match",
    [
        ('{"text": 5, "label": "pos"}', "the text .* is a int, not a string"),
        ('{"text": ["a"], "label": "pos"}', "the text .* is a list"),
        ('{"text": "ok", "label": ["pos"]}', "the label .* is a list"),
        ('{"text": "ok", "label": {"a": 1}}', "the label .* is a dict"),
        ("[1, 2]", "expected a JSON object"),
        ('{"text": "unterminated', "not a JSON object"),
    ],
)
def test_jsonl_values_of_the_wrong_type_are_one_line_errors(tmp_path, line, match):
    path = tmp_path / "odd.jsonl"
    body = "".join(json.dumps({"text": t, "label": lab}) + "\n" for t, lab in BASE)
    path.write_text(body + line + "\n", encoding="utf-8")
    with pytest.raises(AttnclfError, match=rf"^{path}:{len(BASE) + 1}: {match}"):
        load_dataset(DataConfig(source=str(path)))


def test_jsonl_lone_surrogates_and_numeric_labels(tmp_path):
    path = tmp_path / "odd.jsonl"
    data = [{"text": f"text {i} \ud800", "label": i % 2} for i in range(8)]
    path.write_text("".join(json.dumps(row) + "\n" for row in data), encoding="utf-8")
    dataset = load_dataset(DataConfig(source=str(path)))
    assert dataset.label_names == ["0", "1"]
    assert all(text.endswith("\ufffd") for text in dataset.train.texts)
    assert all(text.encode("utf-8") for text in dataset.train.texts)  # no lone surrogates


def test_unreadable_file_is_a_one_line_error(tmp_path, monkeypatch):
    path = _write_table(tmp_path / "locked.csv", BASE)

    real_open = builtins.open

    def refuse(file, *args, **kwargs):
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", refuse)
    with pytest.raises(AttnclfError, match=rf"^cannot read {path} \(Permission denied\)"):
        load_dataset(DataConfig(source=str(path)))
