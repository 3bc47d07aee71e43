"""A good model by default (issue 33, item 3): `train` chooses the settings the user leaves at
auto from the data and says each choice in one line; what the user names is kept; `compare`
keeps the tutorial's settings; early stopping keeps the best epoch."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import typer
from conftest import make_reviews, write_reviews_csv
from helpers import assert_one_line_error, run_cli

import attnclf
from attnclf.cli import app
from attnclf.cli.common import TrainingOptions
from attnclf.config import DEFAULT_LR, DataConfig, RunConfigs, TextConfig, TrainConfig
from attnclf.data.examples import Dataset, Examples
from attnclf.training import defaults
from attnclf.training.checkpoint import Progress
from attnclf.training.defaults import Requested, choose, patience_for, token_counts
from attnclf.training.loop import patience_spent


def dataset(train: int, validation: int = 10, words: int = 9) -> Dataset:
    """`train` texts of 1 to `words` words (the longest first), two labels."""
    texts = [" ".join(["word"] * (words - i % words)) for i in range(train)]

    def examples(n: int, source: list[str]) -> Examples:
        return Examples(source[:n], np.arange(n, dtype=np.int64) % 2)

    return Dataset("d", ["neg", "pos"], examples(train, texts), examples(validation, texts),
                   examples(4, texts))  # fmt: skip


def lines_of(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("chose ")]


# --- the rules --------------------------------------------------------------------------------


def test_small_data_gets_nbsvm_reading_whole_texts(monkeypatch):
    choice = choose(dataset(100), TextConfig(), TrainConfig(), Requested())
    assert choice.name == "nbsvm" and [m.family for m in choice.members] == ["nbsvm"]
    (member,) = choice.members
    assert member.text.max_len == 16 and member.text.vocab_size == 200_000  # 9 tokens -> 16
    assert member.training == TrainConfig()  # nbsvm fits in one pass: no epochs to choose
    assert choice.lines[0].startswith("chose model nbsvm: 100 training texts, fewer than 2,000")
    assert [line.split()[1] for line in choice.lines] == ["model", "max-len", "vocab-size", "loss"]
    assert member.settings == {
        "losses": ("logistic", "squared-hinge"),
        "c_values": (0.1, 1, 10),
        "selection_folds": 5,  # 100 texts: cross-validation, not 10 validation texts
    }
    assert "by 5-fold cross-validation on the training texts (100," in choice.lines[-1]
    many = choose(dataset(25_000, validation=2_500), TextConfig(), TrainConfig(), Requested())
    assert many.members[0].settings["selection_folds"] == 0
    assert "nbsvm on the validation split" in many.lines[-1]


def test_more_data_gets_nbsvm_and_attention_weighed_together(monkeypatch):
    monkeypatch.setattr(defaults, "SMALL_DATA", 50)
    choice = choose(dataset(100, words=40), TextConfig(), TrainConfig(), Requested())
    assert choice.name == "ensemble"
    nbsvm, attention = choice.members
    # 95% of the texts at most 64 tokens: attention over n-gram convolutions
    assert (nbsvm.family, attention.family) == ("nbsvm", "conv-attention")
    assert attention.text.vocab_size == 10_000 and nbsvm.text.vocab_size == 200_000
    assert attention.text.max_len == 40 and nbsvm.text.max_len == 40
    # trained as Kim (2014) trained CNN-rand: Adadelta, batches of 50, 25 epochs, best kept
    assert attention.training == TrainConfig(
        epochs=25, patience=6, optimizer="adadelta", lr=1.0, batch_size=50, ema_decay=0.0,
        grad_clip=0.0,
    )  # fmt: skip
    assert nbsvm.training == TrainConfig()
    assert (
        "ensemble of nbsvm and conv-attention for texts this short (95% at most 64 tokens), "
        "weighed on validation"
    ) in choice.lines[0]
    assert all(len(line.splitlines()) == 1 for line in choice.lines)
    assert [line.split()[1] for line in choice.lines] == [
        "model", "max-len", "vocab-size", "training", "loss"
    ]  # fmt: skip
    assert choice.lines[3].startswith(
        "chose training for conv-attention as Kim (2014) trained CNN-rand: optimizer adadelta "
        "at lr 1, batches of 50, no weight average or clipping, up to 25 epochs, stopping after "
        "6 without a better validation accuracy, the best kept;"
    )
    assert nbsvm.settings["losses"] == ("logistic", "squared-hinge") and attention.settings == {}
    # longer texts: the BiLSTM's self-attention, which the record recipe measured on reviews
    long = choose(dataset(100, words=170), TextConfig(), TrainConfig(), Requested())
    assert [member.family for member in long.members] == ["nbsvm", "self-attention"]
    # its training is the others': Adam, up to 20 epochs (1 step each: no early stop)
    trained = long.members[1].training
    assert (trained.optimizer, trained.batch_size, trained.epochs) == ("adam", 128, 20)
    assert [line.split()[1] for line in long.lines][3] == "epochs"
    assert "self-attention for texts this long (95% over 64 tokens)" in long.lines[0]
    assert "95% of the training texts have at most 166 tokens" in long.lines[1]


def test_pretrained_vectors_or_no_validation_change_the_model():
    vectors = TrainConfig(embeddings="vectors.txt", freeze_embeddings=True)
    choice = choose(dataset(100), TextConfig(), vectors, Requested())
    assert choice.name == "ensemble" and "with --embeddings" in choice.lines[0]
    nbsvm, attention = choice.members
    assert nbsvm.training.embeddings is None and not nbsvm.training.freeze_embeddings
    assert attention.training.embeddings == "vectors.txt"
    unvalidated = choose(dataset(5_000, validation=0), TextConfig(), TrainConfig(), Requested())
    assert unvalidated.name == "nbsvm" and "no validation split" in unvalidated.lines[0]
    # nothing to choose a loss on: the family's own (logistic, the first C)
    assert unvalidated.members[0].settings == {}
    assert not any(line.startswith("chose loss") for line in unvalidated.lines)


def test_the_length_cut_is_the_95th_percentile_rounded_up_and_capped():
    counts = np.array([3] * 95 + [100] * 5)
    assert defaults.length_for("self-attention", counts, None) == 8  # 3 -> 8, the least
    assert defaults.length_for("nbsvm", counts, None) == 104  # the longest, 100 -> 104
    long = np.array([5_000] * 10)
    assert defaults.length_for("self-attention", long, None) == 512
    assert defaults.length_for("nbsvm", long, None) == 4_096
    assert defaults.length_for("nbsvm", long, 30) == 30
    assert list(token_counts(["a b c", "Hello, world!"], "attnclf", 0)) == [3, 3]


def test_patience_is_at_least_200_steps_of_epochs():
    assert patience_for(100_000, 128) == 3
    assert patience_for(8_000, 128) == 4  # 63 steps an epoch
    assert patience_for(300, 128) == 0  # 3 steps an epoch: 67 epochs, more than the 20 run


def test_what_the_user_names_is_kept_and_not_announced():
    named = Requested(model="bilstm", max_len=33, vocab_size=500, epochs=4)
    choice = choose(dataset(5_000), TextConfig(), TrainConfig(), named)
    (member,) = choice.members
    assert (choice.name, member.family) == ("bilstm", "bilstm")
    assert (member.text.max_len, member.text.vocab_size) == (33, 500)
    assert (member.training.epochs, member.training.patience) == (4, 0)
    assert choice.lines == []


def test_early_stopping_stops_after_patience_epochs_without_a_better_one():
    run = Progress(epoch=5, best_epoch=1)  # epochs 2, 3 and 4 were no better than 1
    assert patience_spent(run, 3) and not patience_spent(run, 4) and not patience_spent(run, 0)
    assert not patience_spent(Progress(epoch=5, best_epoch=4), 1)


# --- through the command line -----------------------------------------------------------------


def test_train_says_what_it_chose_and_why(sentiment_csv, tmp_path):
    result = run_cli("train", "--data", sentiment_csv, "--out", tmp_path / "m")
    assert result.exit_code == 0, result.output
    chosen = lines_of(result)
    assert [line.split(":")[0] for line in chosen] == [
        "chose model nbsvm", "chose max-len 16 for nbsvm (the longest text)",
        "chose vocab-size up to 200,000 for nbsvm (every training word",
        "chose loss and C for nbsvm by 5-fold cross-validation on the training texts (288, at "
        "most 20,000",
    ]  # fmt: skip
    assert "nbsvm: kept " in result.stderr
    assert "(the best of 5-fold cross-validation)" in result.stderr
    assert result.stdout.startswith("nbsvm: test accuracy")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["architecture"] == "nbsvm" and config["text"]["max_len"] == 16


def test_train_keeps_the_options_given(sentiment_csv, tmp_path):
    out = tmp_path / "sa"
    result = run_cli(
        "train", "--data", sentiment_csv, "--model", "self-attention", "--epochs", 1,
        "--max-len", 12, "--vocab-size", 300, "--out", out, "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["text"]["max_len"] == 12 and config["text"]["vocab_size"] == 300
    assert config["training"]["epochs"] == 1 and config["training"]["patience"] == 0
    loud = run_cli(
        "train", "--data", sentiment_csv, "--model", "nbsvm", "--max-len", "auto",
        "--vocab-size", 300, "--out", tmp_path / "nb",
    )  # fmt: skip
    assert [line.split()[1] for line in lines_of(loud)] == ["max-len", "loss"]


def test_train_weighs_an_ensemble_and_saves_it(tmp_path, monkeypatch):
    monkeypatch.setattr(defaults, "SMALL_DATA", 100)
    data = write_reviews_csv(tmp_path / "reviews.csv", 200)
    out = tmp_path / "auto"
    result = run_cli("train", "--data", data, "--epochs", 1, "--out", out, "-q")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ensemble: test accuracy")
    loaded = attnclf.load(out, "cpu")
    assert [member.name for member in loaded.members] == ["nbsvm", "conv-attention"]
    assert loaded.predict(["A wonderful, superb film."])[0].label in ("neg", "pos")
    member = json.loads((out / "members" / "conv-attention" / "config.json").read_text())
    assert member["training"]["epochs"] == 1  # --epochs given: kept
    trained = member["training"]
    assert (trained["optimizer"], trained["batch_size"]) == ("adadelta", 50)  # Kim's
    assert member["model"]["widths"] == [1, 3, 5]  # a tuple saved as JSON's list
    # the time said is the ensemble's: its members' training and the weighing
    said = float(result.stdout.split(" after ")[1].split(" s ")[0])
    members = [json.loads((out / "members" / m / "config.json").read_text()) for m in
               ("nbsvm", "conv-attention")]  # fmt: skip
    assert said >= round(sum(m["metrics"]["train_seconds"] for m in members), 1)
    assert (out / "members" / "conv-attention" / "checkpoint").is_dir()


def test_the_default_folder_is_named_after_the_choice(sentiment_csv, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli("train", "--data", sentiment_csv, "-q")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "models" / "nbsvm" / "config.json").exists()


@pytest.mark.parametrize(
    "option, value, fragment",
    [
        ("--epochs", "x", "not a whole number or auto"),
        ("--max-len", "0", "at least 1"),
        ("--batch-size", "0", "at least 1"),
        ("--lr", "fast", "not a number or auto"),
        ("--lr", "0", "must be above 0"),
        ("--optimizer", "sgd", "'sgd' is not one of adam, adadelta"),
    ],
)
def test_bad_numbers_are_one_line(sentiment_csv, option, value, fragment):
    assert_one_line_error(run_cli("train", "--data", sentiment_csv, option, value), fragment)


# --- compare keeps the tutorial's settings ----------------------------------------------------


def test_compare_with_no_options_has_the_tutorials_settings():
    assert TrainingOptions().configs() == RunConfigs(DataConfig(), TextConfig(), TrainConfig())
    assert (TrainConfig().epochs, TextConfig().max_len, TextConfig().vocab_size) == (
        2, 200, 10_000,
    )  # fmt: skip
    command = typer.main.get_command(app).commands["compare"]  # type: ignore[attr-defined]
    shown = {p.name: p.default for p in command.params}
    assert (shown["epochs"], shown["max_len"], shown["vocab_size"]) == ("2", "200", "10000")
    assert (shown["batch_size"], shown["optimizer"], shown["lr"]) == ("128", "adam", "auto")
    trained = typer.main.get_command(app).commands["train"]  # type: ignore[attr-defined]
    assert {p.name: p.default for p in trained.params}["model"] == "auto"


def test_compare_refuses_auto(sentiment_csv, tmp_path):
    result = run_cli("compare", "--data", sentiment_csv, "--epochs", "auto", "--out", tmp_path)
    assert_one_line_error(result, "--epochs auto is for `attnclf train`", "default: 2")
    result = run_cli("compare", "--data", sentiment_csv, "--optimizer", "auto", "--out", tmp_path)
    assert_one_line_error(result, "--optimizer auto is for `attnclf train`", "adam or adadelta")


def test_a_headerless_file_and_auto_settings_together(tmp_path):
    path = tmp_path / "train.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows((label, text) for text, label in make_reviews(120))
    result = run_cli(
        "train", "--data", path, "--text-column", 2, "--label-column", 1, "--out", tmp_path / "m"
    )
    assert result.exit_code == 0, result.output
    assert "no header row (detected" in result.stderr and lines_of(result)


@pytest.mark.parametrize(
    ("named", "optimizer", "lr", "batch_size", "epochs"),
    [
        (Requested(optimizer="adam"), "adam", 2e-3, 128, 20),  # as the other models
        (Requested(lr=1e-3), "adam", 1e-3, 128, 20),  # an lr alone is Adam's
        # adadelta named: Kim's, with what else is named in place of his
        (Requested(optimizer="adadelta", lr=0.5, batch_size=20, epochs=3), "adadelta", 0.5, 20, 3),
        (Requested(batch_size=20), "adadelta", 1.0, 20, 25),
    ],
)
def test_kims_training_gives_way_to_what_the_user_names(
    monkeypatch, named, optimizer, lr, batch_size, epochs
):
    monkeypatch.setattr(defaults, "SMALL_DATA", 50)
    # the command line's training config for what it names (cli/common.py: configs)
    given = TrainConfig(
        optimizer=named.optimizer or "adam",
        lr=named.lr or DEFAULT_LR[named.optimizer or "adam"],
        batch_size=named.batch_size or 128,
    )
    choice = choose(dataset(100, words=40), TextConfig(), given, named)
    _, attention = choice.members
    trained = attention.training
    assert (trained.optimizer, trained.lr, trained.batch_size, trained.epochs) == (
        optimizer, lr, batch_size, epochs
    )  # fmt: skip
    kim = any(line.startswith("chose training") for line in choice.lines)
    assert kim == (optimizer == "adadelta")
    if kim:
        assert f"batches of {batch_size}" in choice.lines[-2]
        assert trained.patience == (0 if named.epochs else 6)  # epochs named: all trained
        assert trained.ema_decay == 0.0 and trained.grad_clip == 0.0
    else:
        assert (trained.ema_decay, trained.grad_clip) == (0.99, 1.0)
