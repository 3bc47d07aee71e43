"""What real clients, a fuzzer and hostile input found (issue 34, items 5-7): predictions stay
aligned with their lines, labels are not silently multiplied, and every mistake in a path or a
file is one `error:` line, found before any work, never a traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import make_reviews
from helpers import assert_one_line_error
from helpers import run_cli as run

from attnclf.config import DataConfig, TextConfig
from attnclf.data.splits import load_dataset
from attnclf.errors import AttnclfError
from attnclf.inference.classifier import Prediction, TextClassifier
from attnclf.models import build_model, get_family, model_config
from attnclf.runtime.files import atomic_write
from attnclf.text.tokens import Vocab
from attnclf.training.self_training import read_unlabelled_file

# Every line break str.splitlines knows besides "\n" and "\r\n"; real reviews hold them.
OTHER_BREAKS = ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\r"]


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """A tiny untrained model folder: enough to label texts, made in well under a second."""
    torch.manual_seed(0)
    vocab = Vocab(["<pad>", "<unk>", "great", "film", "awful", "plot"])
    name = "self-attention"
    config = model_config(name, **{**get_family(name).tiny, "vocab_size": len(vocab)})
    classifier = TextClassifier(
        name, build_model(name, config), vocab, TextConfig(), ["neg", "pos"], {}, "cpu"
    )
    return classifier.save(tmp_path_factory.mktemp("hostile") / "model")


def write_csv_text(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


# --- 5. predictions stay aligned with their input ---------------------------------------------


def lines_with_other_breaks() -> list[str]:
    return [f"great film{brk}awful plot {i}" for i, brk in enumerate(OTHER_BREAKS)]


def test_predict_file_gives_one_row_per_line_in_order(model, tmp_path):
    lines = lines_with_other_breaks()
    path = tmp_path / "texts.txt"
    path.write_bytes(("\n".join(lines[:4]) + "\n\n" + "\r\n".join(lines[4:]) + "\r\n").encode())
    result = run("predict", model, "--file", path, "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]  # breaks escaped, too
    assert [row["text"] for row in rows] == lines
    result = run("predict", model, "--file", path)
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == len(result.stdout.split("\n")) - 1 == len(lines)


def test_predict_stdin_gives_one_row_per_line_in_order(model):
    lines = lines_with_other_breaks()
    result = run("predict", model, "--json", input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["text"] for line in result.stdout.splitlines()] == lines


def test_a_wordless_line_gets_a_row_that_says_so(model, tmp_path):
    path = tmp_path / "texts.txt"
    path.write_text("great film\n...\nawful plot\n")
    result = run("predict", model, "--file", path, "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["text"] for row in rows] == ["great film", "...", "awful plot"]
    assert rows[0]["label"] in ("neg", "pos") and "error" not in rows[0]
    assert rows[1]["label"] is None and rows[1]["probability"] is None
    assert "no words" in rows[1]["error"]
    assert "1 of 3 texts" in result.stderr and "no words" in result.stderr
    result = run("predict", model, "--file", path)
    assert result.exit_code == 0, result.output
    table = result.stdout.splitlines()
    assert len(table) == 3 and table[1].startswith("\t\t...") and "no words" in table[1]
    assert table[2].split("\t")[0] in ("neg", "pos")


def test_self_training_reads_one_unlabelled_text_a_line(tmp_path):
    lines = lines_with_other_breaks()
    path = tmp_path / "unlabelled.txt"
    path.write_bytes(("\r\n".join(lines) + "\n\n").encode())
    assert read_unlabelled_file(path) == [line.strip() for line in lines]


# --- 6. labels are one class per value, and missing ones are counted -------------------------


def test_numeric_labels_written_several_ways_are_one_class(tmp_path):
    labels = [1, 1.0, True, "1", "1.0", " 1 ", 0, 0.0, False, "0", "0.00", "-0"]
    data = [{"text": text, "label": labels[i % len(labels)]} for i, (text, _) in enumerate(
        make_reviews(48)
    )]  # fmt: skip
    data += [{"text": "great film", "label": float("nan")}, {"text": "awful", "label": "NaN"}]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in data))  # NaN as JSON's NaN
    dataset = load_dataset(DataConfig(source=str(path)))
    assert dataset.label_names == ["0", "1"]
    assert dataset.skipped == {"NaN label": 2}
    assert "2 rows skipped (2 NaN label)" in dataset.describe()


def test_a_nan_label_in_a_csv_is_skipped_not_a_class(tmp_path):
    rows = "".join(f"{text},{label}\n" for text, label in make_reviews(40))
    path = write_csv_text(tmp_path / "d.csv", "text,label\n" + rows + "great film,NaN\nx,nan\n")
    dataset = load_dataset(DataConfig(source=str(path)))
    assert dataset.label_names == ["neg", "pos"]
    assert dataset.skipped == {"NaN label": 2}


def test_ordinary_labels_keep_their_names(tmp_path):
    labels = ["Positive", "neg ative", "007", "1e", "inf", "ten"]
    rows = "".join(f"{text},{labels[i % 6]}\n" for i, (text, _) in enumerate(make_reviews(60)))
    path = write_csv_text(tmp_path / "d.csv", "text,label\n" + rows)
    names = load_dataset(DataConfig(source=str(path))).label_names
    assert sorted(names) == sorted(["Positive", "neg ative", "7", "1e", "inf", "ten"])


def test_train_states_skipped_labels_and_keeps_string_label_names(tmp_path):
    rows = "".join(f"{text},{label}\n" for text, label in make_reviews(60))
    path = write_csv_text(tmp_path / "d.csv", "text,label\n" + rows + "great film,NaN\n")
    out = tmp_path / "m"
    result = run("train", "--model", "nbsvm", "--data", path, "--out", out)
    assert result.exit_code == 0, result.output
    data_line = [line for line in result.stderr.splitlines() if line.startswith("data: ")]
    assert len(data_line) == 1 and "1 row skipped (1 NaN label)" in data_line[0]
    config = json.loads((out / "config.json").read_text())
    assert config["labels"] == ["neg", "pos"] and config["data"]["skipped"] == {"NaN label": 1}


# --- 7. paths are checked before any work; every mistake is one line ------------------------


@pytest.fixture
def a_file(tmp_path) -> Path:
    path = tmp_path / "taken"
    path.write_text("not a folder")
    return path


def unwritable_places(a_file: Path) -> list[tuple[Path, str]]:
    places = [(a_file, "is a file"), (a_file / "sub" / "dir", "under")]
    if Path("/proc/self").exists():
        places.append((Path("/proc/attnclf-test"), "cannot write"))
    return places


def test_train_and_compare_check_out_before_reading_data(a_file, tmp_path):
    missing = tmp_path / "no-such-data.csv"  # the --out mistake is found first
    for command in ("train", "compare"):
        for out, fragment in unwritable_places(a_file):
            result = run(command, "--data", missing, "--out", out)
            assert_one_line_error(result, "--out", str(out), fragment)


def test_ensemble_checks_out_before_loading_models(a_file, tmp_path):
    for out, fragment in unwritable_places(a_file):
        result = run("ensemble", tmp_path / "nothing1", tmp_path / "nothing2", "--out", out)
        assert_one_line_error(result, "--out", str(out), fragment)


def test_export_checks_onnx_before_exporting(model, a_file, tmp_path):
    assert_one_line_error(run("export", model, "--onnx", tmp_path), "--onnx", "is a folder")
    result = run("export", model, "--onnx", a_file / "m.onnx")
    assert_one_line_error(result, "--onnx", "under")


def test_explain_html_or_png_into_a_folder_is_one_line(model, tmp_path):
    for option in ("--html", "--png"):
        result = run("explain", model, "great film", option, tmp_path)
        assert_one_line_error(result, option, "is a folder")


def test_predict_out_into_a_folder_is_one_line(model, tmp_path):
    source = write_csv_text(tmp_path / "in.csv", "text\ngreat film\n")
    result = run("predict", model, "--data", source, "--out", tmp_path)
    assert_one_line_error(result, "--out", "is a folder")


def test_check_writable_creates_nothing(tmp_path):
    from attnclf.runtime.files import check_writable

    target = tmp_path / "a" / "b"
    check_writable(target, "--out", folder=True)
    check_writable(tmp_path / "x.onnx", "--onnx", folder=False)
    assert list(tmp_path.iterdir()) == []


def test_a_deeply_nested_jsonl_line_is_one_line_naming_it(model, tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    rows = "".join(json.dumps({"text": t, "label": lab}) + "\n" for t, lab in make_reviews(8))
    path = tmp_path / "d.jsonl"
    path.write_text(rows + f'{{"text": "a", "label": {deep}}}\n')
    with pytest.raises(AttnclfError, match=r"d\.jsonl:9: .*nested"):
        load_dataset(DataConfig(source=str(path)))
    assert_one_line_error(run("train", "--data", path), "d.jsonl:9", "nested")
    path.write_text('{"text": "great film"}\n' + deep + "\n")
    result = run("predict", model, "--data", path, "--out", tmp_path / "o.jsonl")
    assert result.exit_code == 0, result.output
    assert "d.jsonl:2: skipped:" in result.stderr and "nested" in result.stderr


def test_predict_data_at_the_edge_of_the_depth_json_reads_has_no_traceback(tmp_path):
    # a row read just under the depth limit is written from deeper in the stack
    from attnclf.inference.batch_files import predict_file

    class Sure:  # the rows are the point here, not the model: no forward pass
        label_names = ["neg", "pos"]

        def predict(self, texts: list[str]) -> list[Prediction]:
            return [
                Prediction(t, "pos", 0.9, {"neg": 0.1, "pos": 0.9}, [], None, False) for t in texts
            ]

    classifier = Sure()
    source, out = tmp_path / "d.jsonl", tmp_path / "o.jsonl"
    limit = sys.getrecursionlimit()
    for depth in range(limit - 150, limit + 5):
        nested = "[" * depth + "]" * depth
        source.write_text(f'{{"text": "great film", "x": {nested}}}\n{{"text": "film"}}\n')
        report = predict_file(classifier, source, out)
        assert report.written + len(report.skipped) == 2


def test_a_huge_integer_label_is_one_line(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "a", "label": ' + "9" * 5000 + "}\n")
    with pytest.raises(AttnclfError, match=r"d\.jsonl:1: "):
        load_dataset(DataConfig(source=str(path)))


def test_an_unterminated_quote_names_the_line_it_opens_on(tmp_path):
    rows = "".join(f"{text},{label}\n" for text, label in make_reviews(6))
    path = write_csv_text(tmp_path / "q.csv", "text,label\n" + rows + '"never closed,pos\nx,neg\n')
    with pytest.raises(AttnclfError, match=r"q\.csv:8: .*quote.*never closed"):
        load_dataset(DataConfig(source=str(path)))
    opened_later = '"one\ntwo",pos\nfine,neg\n"a","b\nc\n'
    write_csv_text(path, "text,label\n" + opened_later)
    with pytest.raises(AttnclfError, match=r"q\.csv:5: .*never closed"):
        load_dataset(DataConfig(source=str(path)))


def test_an_unterminated_quote_in_predict_data_names_its_line(model, tmp_path):
    source = write_csv_text(tmp_path / "in.csv", 'text\ngreat film\n"awful\nplot\n')
    result = run("predict", model, "--data", source, "--out", tmp_path / "o.csv")
    assert result.exit_code == 0, result.output
    assert "in.csv:3: skipped:" in result.stderr and "never closed" in result.stderr
    assert "wrote 1 predictions" in result.stderr


@pytest.mark.parametrize(
    "content",
    [
        "text,label\ngreat film,pos\n".encode("utf-16"),  # with a byte-order mark
        "text,label\ngreat film,pos\n".encode("utf-16-le"),  # without one: NUL bytes
        bytes(range(256)) * 4,
    ],
    ids=["utf-16", "utf-16-le", "binary"],
)
def test_a_file_that_is_not_utf8_is_the_same_line_for_train_and_predict(model, tmp_path, content):
    source = tmp_path / "in.csv"
    source.write_bytes(content)
    assert_one_line_error(run("train", "--data", source), "in.csv:1: not UTF-8", "UTF-8")
    result = run("predict", model, "--data", source, "--out", tmp_path / "o.csv")
    assert_one_line_error(result, "in.csv:1: not UTF-8", "UTF-8")
    assert "\x00" not in result.stderr


# --- a killed writer leaves no temporary file forever ----------------------------------------

WRITER = """
import sys, time
from pathlib import Path
from attnclf.runtime.files import atomic_write

def write(tmp):
    tmp.write_text("half")
    print("writing", flush=True)
    time.sleep(60)

atomic_write(Path(sys.argv[1]), write)
"""


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def start_writer(target: Path) -> subprocess.Popen:
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout is not None and writer.stdout.readline() == "writing\n"
    return writer


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL, and a PID looked up with kill(pid, 0)")
def test_a_killed_writer_leaves_no_temporary_file_behind(tmp_path):
    target = tmp_path / "model.onnx"
    writer = start_writer(target)
    try:
        assert len(temporaries(tmp_path)) == 1
        atomic_write(target, lambda tmp: tmp.write_text("whole"))  # a live writer's file stays
        assert len(temporaries(tmp_path)) == 1
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
    assert len(temporaries(tmp_path)) == 1  # what SIGKILL leaves
    atomic_write(target, lambda tmp: tmp.write_text("again"))
    assert temporaries(tmp_path) == [] and target.read_text() == "again"
