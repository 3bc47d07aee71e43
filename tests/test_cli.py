"""Every command end to end: on a small slice of the real IMDB archive, and on bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from helpers import assert_one_line_error
from helpers import run_cli as run


@pytest.fixture(scope="module")
def imdb_model(imdb_archive, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "mh"
    result = run(
        "train",
        "--model",
        "multihead",
        "--data",
        imdb_archive,
        "--limit",
        300,
        "--epochs",
        1,
        "--out",
        out,
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    assert "test accuracy" in result.stdout and str(out) in result.stdout
    return out


def test_compare_on_a_slice_of_imdb(imdb_archive, tmp_path):
    out = tmp_path / "run"
    result = run(
        "compare",
        "--data",
        imdb_archive,
        "--limit",
        200,
        "--epochs",
        2,
        "--max-len",
        64,
        "--faithfulness",
        10,
        "--out",
        out,
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    assert "self-attention" in result.stdout and "multihead" in result.stdout
    assert "test accuracy" in result.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) >= {"settings", "data", "models"}
    assert metrics["data"]["labels"] == ["negative", "positive"]
    assert metrics["data"]["train"] + metrics["data"]["validation"] == 200
    assert metrics["data"]["test"] == 200
    assert metrics["settings"]["text"]["max_len"] == 64
    for name in ("self-attention", "multihead"):
        model = metrics["models"][name]
        assert 0 <= model["test_accuracy"] <= 1 and model["params"] > 0
        assert len(model["history"]) == 2
        assert (out / name / "config.json").exists() and (out / name / "model.safetensors").exists()
    report = (out / "report.md").read_text()
    assert "| self-attention |" in report and "## Data" in report
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "## Faithfulness of the explanations" in report
    assert "integrated_gradients" in report and "faithfulness" in metrics
    page = (out / "attention.html").read_text()
    assert "self-attention" in page and "multihead" in page and "<script" not in page


def test_evaluate_prints_metrics_and_json(imdb_model, imdb_archive):
    result = run("evaluate", imdb_model, "--data", imdb_archive, "--limit", 100)
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.stdout and "confusion" in result.stdout
    result = run("evaluate", imdb_model, "--data", imdb_archive, "--limit", 100, "--json")
    metrics = json.loads(result.stdout)
    assert metrics["examples"] == 100
    assert {"accuracy", "loss", "precision", "recall", "f1", "roc_auc"} <= set(metrics)


def test_predict_from_arguments_file_and_stdin(imdb_model, tmp_path):
    result = run(
        "predict", imdb_model, "A wonderful, moving film.", "Dull and far too long.", "--json"
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 2
    for row in rows:
        assert row["label"] in ("negative", "positive") and 0.5 <= row["probability"] <= 1
    texts = tmp_path / "texts.txt"
    texts.write_text("Great acting.\n\nAwful script.\n")
    result = run("predict", imdb_model, "--file", texts)
    assert result.exit_code == 0 and len(result.stdout.strip().splitlines()) == 2
    result = run("predict", imdb_model, input="one review\nanother review\n")
    assert result.exit_code == 0 and len(result.stdout.strip().splitlines()) == 2
    result = run("predict", imdb_model, "Great acting.", "--json", "--attention")
    row = json.loads(result.stdout)
    assert row["tokens"] == ["great", "acting"] and len(row["head_attention"]) == 4


def test_help_lists_the_registered_families_with_their_summaries(monkeypatch):
    from attnclf.models import all_families

    monkeypatch.setenv("COLUMNS", "400")  # a narrow help box (CI) cuts long lines with "..."
    monkeypatch.setenv("TERMINAL_WIDTH", "400")
    for command in ("train", "compare"):
        # help wraps at hyphens too, and a wrapped line goes on after the box's border
        shown = "".join(run(command, "--help").stdout.replace("│", " ").split())
        for name, family in all_families().items():
            assert name in shown
            assert "".join(family.summary.split()[:3]) in shown


# --- bad input: one line, non-zero exit, no traceback ---------------------------------------


def test_bad_path(tmp_path):
    assert_one_line_error(run("train", "--data", tmp_path / "missing.csv"), "no such file")


def test_bad_learning_rate_schedule(sentiment_csv):
    assert_one_line_error(
        run("train", "--data", sentiment_csv, "--lr-schedule", "cosine"), "--lr-schedule"
    )


def test_bf16_on_a_cpu_without_it(sentiment_csv, monkeypatch):
    from attnclf.runtime import device as runtime

    monkeypatch.setattr(runtime, "bf16_is_native", lambda device: False)
    assert_one_line_error(
        run("train", "--data", sentiment_csv, "--precision", "bf16"),
        "needs native bfloat16",
        "--precision fp32",
    )


def test_corrupt_archive(tmp_path):
    archive = tmp_path / "aclImdb_v1.tar.gz"
    archive.write_bytes(b"\x1f\x8b\x08not really gzip at all" * 10)
    assert_one_line_error(run("compare", "--data", archive), "not a readable .tar.gz")


def test_csv_without_the_named_columns(sentiment_csv):
    assert_one_line_error(
        run("train", "--data", sentiment_csv, "--text-column", "review"),
        "no column 'review'",
        "--text-column",
    )


def test_file_with_one_class_only(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("text,label\n" + "".join(f"review {i},pos\n" for i in range(20)))
    assert_one_line_error(run("train", "--data", path), "only one class")


def test_empty_text_to_predict(tmp_path, sentiment_csv):
    out = tmp_path / "m"
    assert run("train", "--data", sentiment_csv, "--epochs", 1, "--out", out, "-q").exit_code == 0
    assert_one_line_error(run("predict", out, "..."), "no words")
    assert_one_line_error(run("predict", out), "no text to classify")


def test_folder_that_is_not_a_saved_model(tmp_path):
    assert_one_line_error(run("predict", tmp_path, "hello"), "not an attnclf model folder")
    assert_one_line_error(run("evaluate", tmp_path), "not an attnclf model folder")


def test_unknown_model_name(sentiment_csv):
    assert_one_line_error(
        run("compare", "--data", sentiment_csv, "--models", "bert"), "unknown model bert"
    )


def test_the_installed_command_prints_no_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "attnclf", "predict", str(tmp_path), "hi"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr


def test_explain_in_the_terminal_html_and_png(imdb_model, imdb_archive, tmp_path):
    result = run("explain", imdb_model, "The plot was thin but the acting was superb.")
    assert result.exit_code == 0, result.output
    assert "\x1b[" not in result.stdout  # not a terminal: plain word(weight) text
    assert "superb(0." in result.stdout and "head 1" in result.stdout
    page, picture = tmp_path / "a.html", tmp_path / "a.png"
    result = run(
        "explain",
        imdb_model,
        "--data",
        imdb_archive,
        "--sample",
        4,
        "--html",
        page,
        "--png",
        picture,
    )
    assert result.exit_code == 0, result.output
    assert page.read_text().count("predicted") >= 4
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_explain_needs_a_text(imdb_model):
    assert_one_line_error(run("explain", imdb_model), "no text to explain")


def test_faithfulness_prints_the_table_and_writes_json(imdb_model, imdb_archive, tmp_path):
    out = tmp_path / "faith.json"
    result = run(
        "faithfulness",
        imdb_model,
        "--data",
        imdb_archive,
        "--sample",
        12,
        "--ig-steps",
        4,
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    for method in ("attention", "gradient_x_input", "integrated_gradients", "random"):
        assert method in result.stdout
    report = json.loads(out.read_text())
    assert report["n"] == 12 and set(report["methods"]) == {
        "attention",
        "gradient_x_input",
        "integrated_gradients",
        "random",
    }
    result = run(
        "faithfulness", imdb_model, "--data", imdb_archive, "--sample", 6, "--ig-steps", 2, "--json"
    )
    assert json.loads(result.stdout)["n"] == 6


def test_scoring_the_training_file_scores_only_the_rows_training_held_out(sentiment_csv, tmp_path):
    # 400 rows, of which the default split holds out 20% as a test split; the model saw the rest
    folder = tmp_path / "model"
    trained = run(
        "train", "--model", "nbsvm", "--data", sentiment_csv, "--out", folder, "--epochs", "1"
    )
    assert trained.exit_code == 0, trained.output
    result = run("evaluate", folder, "--data", sentiment_csv, "--json")
    assert result.exit_code == 0, result.output
    scored = json.loads(result.stdout)
    assert scored["examples"] == 80 and "rows its training held out" in scored["data"]
    other = tmp_path / "other.csv"  # the same rows in another file: every row is scored
    other.write_text(sentiment_csv.read_text(encoding="utf-8"), encoding="utf-8")
    everything = run("evaluate", folder, "--data", other, "--json")
    assert json.loads(everything.stdout)["examples"] == 400
    report = run("faithfulness", folder, "--data", sentiment_csv, "--sample", "500", "--json")
    assert report.exit_code == 0, report.output
    assert "rows its training held out" in json.loads(report.stdout)["data"]
