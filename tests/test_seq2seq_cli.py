"""`attnclf seq2seq` end to end through Typer's runner: train on a pairs file and on generated
dates with a tiny budget, translate with alignments, evaluate; bad input as one error line."""

from __future__ import annotations

import json

import pytest
from helpers import assert_one_line_error
from typer.testing import CliRunner

from attnclf.cli import app

runner = CliRunner()
TINY = ("--epochs", 2, "--hidden", 8, "--embedding", 8, "--batch-size", 16, "--quiet")


def run(*args, input: str | None = None):
    return runner.invoke(app, ["seq2seq", *[str(a) for a in args]], input=input)


NUMBERS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


@pytest.fixture(scope="module")
def pairs_file(tmp_path_factory):
    """Digits spelt out -> the digits: "one two" -> "1 2"."""
    path = tmp_path_factory.mktemp("pairs") / "pairs.tsv"
    lines = []
    for i in range(60):
        digits = [(i * 7 + k * 3) % 10 for k in range(1 + i % 3)]
        source = " ".join(NUMBERS[d] for d in digits)
        lines.append(f"{source}\t{' '.join(map(str, digits))}\tattribution #{i}\n")
    path.write_text("".join(lines[:30]) + "\n" + "".join(lines[30:]), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def file_model(pairs_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("models") / "numbers"
    result = run("train", "--data", pairs_file, "--out", out, "--validation-size", 6, *TINY)
    assert result.exit_code == 0, result.output
    assert "validation exact match" in result.stdout and str(out) in result.stdout
    return out


def test_train_on_a_pairs_file_saves_a_model_folder(file_model):
    config = json.loads((file_model / "config.json").read_text())
    assert config["format"] == "attnclf-seq2seq"
    assert config["tokens"]["kind"] == "word" and config["tokens"]["lowercase"] is True
    assert config["model"]["hidden_size"] == 8 and config["model"]["attention"] == "additive"
    assert config["data"]["pairs"] == 60 and config["data"]["blank_lines"] == 1
    assert config["data"]["train_pairs"] == 54 and config["data"]["validation_pairs"] == 6
    assert len(config["metrics"]["history"]) == 2
    assert config["training"]["epochs"] == 2
    vocab = json.loads((file_model / "vocab.json").read_text())
    assert "seven" in vocab["source"] and "7" in vocab["target"]


def test_train_on_dates_with_a_tiny_budget(tmp_path):
    out = tmp_path / "dates"
    result = run(
        "train", "--task", "dates", "--train-size", 200, "--validation-size", 20, "--out", out,
        "--attention", "multiplicative", *TINY,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["tokens"]["kind"] == "char" and config["tokens"]["lowercase"] is False
    assert config["data"] == {
        "task": "dates", "seed": 0, "train_size": 200, "validation_size": 20,
        "train_pairs": 200, "validation_pairs": 20, "tokens": "char", "lowercase": False,
    }  # fmt: skip
    assert config["model"]["attention"] == "multiplicative"
    result = run("evaluate", out, "--task", "dates", "--size", 30, "--json")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert metrics["examples"] == 30 and 0 <= metrics["exact_match"] <= 1
    assert metrics["data"] == "30 held-out generated dates"


def test_translate_prints_one_output_a_line_and_writes_the_alignments(file_model, tmp_path):
    png, page = tmp_path / "align.png", tmp_path / "align.html"
    result = run("translate", file_model, "one two", "seven", "--png", png, "--html", page)
    assert result.exit_code == 0, result.output
    assert result.stdout.count("\n") == 2
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = page.read_text()
    assert "Content-Security-Policy" in html and "<script" not in html
    assert html.count("<table>") == 2 and "seven" in html


def test_translate_json_beam_file_and_stdin(file_model, tmp_path):
    result = run("translate", file_model, "three four", "--json", "--beam", 3)
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)
    assert row["source_tokens"] == ["three", "four"]
    assert len(row["alignment"]) == len(row["output_tokens"]) + row["ended"]
    texts = tmp_path / "texts.txt"
    texts.write_text("one\n\nnine eight\n")
    result = run("translate", file_model, "--file", texts)
    assert result.exit_code == 0 and result.stdout.count("\n") == 2
    result = run("translate", file_model, input="two\nthree\nfour\n")
    assert result.exit_code == 0 and result.stdout.count("\n") == 3


def test_evaluate_prints_metrics_and_json(file_model, pairs_file):
    result = run("evaluate", file_model, "--data", pairs_file)
    assert result.exit_code == 0, result.output
    for word in ("exact match", "token accuracy", "BLEU", "sources/s"):
        assert word in result.stdout
    result = run("evaluate", file_model, "--data", pairs_file, "--json", "--limit", 10)
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert metrics["examples"] == 10 and metrics["beam"] == 1
    assert {"exact_match", "token_accuracy", "bleu", "bleu_signature"} <= set(metrics)
    result = run("evaluate", file_model, "--data", pairs_file, "--json", "--beam", 2)
    assert json.loads(result.stdout)["beam"] == 2


def test_help_lists_every_command():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "seq2seq" in result.stdout
    result = run("--help")
    for command in ("train", "translate", "evaluate"):
        assert command in result.stdout
        assert run(command, "--help").exit_code == 0


# --- bad input: one line, exit status 2, no traceback ---------------------------------------


def test_train_needs_exactly_one_of_task_and_data(tmp_path, pairs_file):
    assert_one_line_error(run("train", "--out", tmp_path / "m"), "--task dates or --data")
    both = run("train", "--task", "dates", "--data", pairs_file, "--out", tmp_path / "m")
    assert_one_line_error(both, "give one of")
    assert_one_line_error(run("train", "--task", "poems"), "--task 'poems'")


def test_bad_options_and_files(tmp_path, pairs_file):
    assert_one_line_error(run("train", "--data", tmp_path / "missing.tsv"), "no such file")
    bad = tmp_path / "bad.tsv"
    bad.write_text("one\t1\ntwo 2\n")
    assert_one_line_error(run("train", "--data", bad), f"{bad}:2: no tab")
    assert_one_line_error(run("train", "--data", pairs_file, "--tokens", "bytes"), "--tokens")
    assert_one_line_error(
        run("train", "--data", pairs_file, "--attention", "dot"), "--attention 'dot'"
    )


def test_a_wrong_model_folder_is_one_line(tmp_path, file_model):
    assert_one_line_error(run("translate", tmp_path / "nothing", "x"), "is not a folder")
    assert_one_line_error(run("translate", tmp_path, "x"), "no config.json")
    assert_one_line_error(run("evaluate", tmp_path, "--task", "dates"), "no config.json")
    result = run("translate", file_model, "   ")
    assert_one_line_error(result, "nothing to translate")


def test_drawing_a_model_without_attention_is_one_line(pairs_file, tmp_path):
    out = tmp_path / "none"
    result = run("train", "--data", pairs_file, "--out", out, "--attention", "none", *TINY)
    assert result.exit_code == 0, result.output
    assert run("translate", out, "one").exit_code == 0
    assert_one_line_error(run("translate", out, "one", "--png", tmp_path / "a.png"), "no attention")


def test_ctrl_c_keeps_the_model_trained_so_far(pairs_file, tmp_path, monkeypatch):
    """Ctrl-C in the first step of epoch 2: that step ends, the run stops, the model of epoch 1
    is saved and works; exit status 130."""
    import signal

    from attnclf.seq2seq import train as train_module

    real, calls = train_module.sequence_loss, []

    def interrupting(logits, target):
        calls.append(1)
        if len(calls) == 6:  # 4 training steps and 1 validation batch in epoch 1, then this
            signal.raise_signal(signal.SIGINT)
        return real(logits, target)

    monkeypatch.setattr(train_module, "sequence_loss", interrupting)
    out = tmp_path / "stopped"
    result = run(
        "train", "--data", pairs_file, "--out", out, "--validation-size", 6, "--epochs", 5,
        "--hidden", 8, "--embedding", 8, "--batch-size", 16, "--quiet",
    )  # fmt: skip
    assert result.exit_code == 130, result.output
    assert "interrupted at epoch 2, step 1; saved the model so far" in result.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["metrics"]["interrupted"] == "epoch 2, step 1"
    assert len(config["metrics"]["history"]) == 1 and config["metrics"]["best_epoch"] == 1
    assert run("translate", out, "one two").exit_code == 0
