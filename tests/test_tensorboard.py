"""TensorBoard logs (`--log-dir`): the event files hold the step and epoch figures and an image of
the attention on validation texts, they are read back as TensorBoard reads them, and logging
changes no number of the run."""

from __future__ import annotations

import sys

import pytest
import torch
from conftest import make_reviews, write_reviews_csv
from helpers import assert_one_line_error, run_cli

import attnclf
from attnclf.config import DataConfig, TextConfig, TrainConfig
from attnclf.errors import AttnclfError
from attnclf.models import get_family
from attnclf.models.registry import DATA_FIELDS
from attnclf.training.checkpoint import Progress
from attnclf.training.logs import TensorBoardLogger
from attnclf.training.run import prepare_data, train_model

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import (  # noqa: E402
    EventAccumulator,
)

STEP_TAGS = {"step/loss", "step/accuracy", "step/learning_rate"}
EPOCH_TAGS = {"epoch/train_loss", "epoch/train_accuracy", "epoch/val_loss", "epoch/val_accuracy"}
CONFIG = TrainConfig(
    epochs=2, batch_size=16, lr=5e-3, lr_schedule="linear", device="cpu", precision="fp32"
)


def tiny_settings(name: str) -> dict:
    return {k: v for k, v in get_family(name).tiny.items() if k not in DATA_FIELDS}


def read_events(folder) -> EventAccumulator:
    events = EventAccumulator(str(folder))
    events.Reload()
    return events


@pytest.fixture(scope="module")
def prepared():
    rows = make_reviews(120)
    texts, labels = [text for text, _ in rows], [label for _, label in rows]
    return prepare_data((texts, labels), TextConfig(vocab_size=100))


def train(prepared, log_dir=None):
    return train_model(
        "self-attention",
        prepared,
        CONFIG,
        progress=False,
        model_settings=tiny_settings("self-attention"),
        log_dir=log_dir,
    )


def test_the_event_file_holds_every_figure_and_the_attention_image(prepared, tmp_path):
    _, record = train(prepared, tmp_path / "logs")
    events = read_events(tmp_path / "logs")
    tags = events.Tags()
    assert set(tags["scalars"]) == STEP_TAGS | EPOCH_TAGS
    steps = -(-len(prepared.train) // CONFIG.batch_size) * CONFIG.epochs
    for tag in STEP_TAGS:
        assert [event.step for event in events.Scalars(tag)] == list(range(1, steps + 1)), tag
    assert all(0 <= event.value <= 1 for event in events.Scalars("step/accuracy"))
    rates = [event.value for event in events.Scalars("step/learning_rate")]
    assert rates[0] < CONFIG.lr and rates[-1] == 0.0 and rates == sorted(rates, reverse=True)
    for name in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
        logged = events.Scalars(f"epoch/{name}")
        assert [event.step for event in logged] == [1, 2], name
        expected = [epoch[name] for epoch in record.history]
        assert [event.value for event in logged] == pytest.approx(expected, rel=1e-6), name
    assert tags["images"] == ["attention/validation"]
    images = events.Images("attention/validation")
    assert [image.step for image in images] == [1, 2]
    assert images[0].width > 400 and images[0].height > 100
    assert images[0].encoded_image_string.startswith(b"\x89PNG")


def test_logging_changes_no_number(prepared, tmp_path):
    quiet, quiet_record = train(prepared)
    logged, logged_record = train(prepared, tmp_path / "logs")
    for name, tensor in quiet.model.state_dict().items():
        assert torch.equal(tensor, logged.model.state_dict()[name]), name

    def figures(history):
        return [
            {k: v for k, v in e.items() if k not in ("seconds", "samples_per_s")} for e in history
        ]

    assert figures(quiet_record.history) == figures(logged_record.history)
    assert quiet_record.test_accuracy == logged_record.test_accuracy


def test_a_step_logs_its_own_batch_and_a_resumed_run_skips_the_unknown_one(tmp_path):
    logger = TensorBoardLogger(tmp_path, "self-attention", None, TextConfig(), [], [], "cpu")
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.5)
    logger.step_end(Progress(epoch=1, step=1, loss_sum=2.0, correct=1, seen=2), 10, optimizer)
    logger.step_end(Progress(epoch=1, step=2, loss_sum=5.0, correct=3, seen=4), 10, optimizer)
    logger.step_end(Progress(epoch=2, step=1, loss_sum=0.5, correct=2, seen=2), 10, optimizer)
    logger.step_end(Progress(epoch=2, step=5, loss_sum=9.0, correct=9, seen=10), 10, optimizer)
    logger.close()
    events = read_events(tmp_path)
    assert [(e.step, e.value) for e in events.Scalars("step/loss")] == [
        (1, 1.0),
        (2, 1.5),
        (11, 0.25),
    ]
    assert [(e.step, e.value) for e in events.Scalars("step/accuracy")] == [
        (1, 0.5),
        (2, 1.0),
        (11, 1.0),
    ]
    assert [e.step for e in events.Scalars("step/learning_rate")] == [1, 2, 11, 15]


def test_nbsvm_logs_its_one_pass_with_the_estimator(tmp_path):
    texts, labels = zip(*make_reviews(80), strict=True)
    clf = attnclf.AttentionClassifier(
        "nbsvm", vocab_size=100, device="cpu", log_dir=tmp_path / "logs"
    ).fit(list(texts), list(labels))
    events = read_events(tmp_path / "logs")
    assert set(events.Tags()["scalars"]) == EPOCH_TAGS
    assert [e.step for e in events.Scalars("epoch/val_accuracy")] == [1]
    assert clf.history_[0]["val_accuracy"] == pytest.approx(
        events.Scalars("epoch/val_accuracy")[0].value
    )
    assert events.Tags()["images"] == ["attention/validation"]


def test_attnclf_train_log_dir(tmp_path):
    data = write_reviews_csv(tmp_path / "reviews.csv", 120)
    result = run_cli(
        "train", "--model", "self-attention", "--data", data, "--out", tmp_path / "model",
        "--log-dir", tmp_path / "logs", "--epochs", 1, "--vocab-size", 100, "--batch-size", 32,
        "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    tags = read_events(tmp_path / "logs").Tags()
    assert set(tags["scalars"]) == STEP_TAGS | EPOCH_TAGS and tags["images"]


def test_without_tensorboard_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as if it were not installed
    data = write_reviews_csv(tmp_path / "reviews.csv", 40)
    result = run_cli(
        "train", "--data", data, "--out", tmp_path / "model", "--log-dir", tmp_path / "logs", "-q"
    )
    assert_one_line_error(result, "--log-dir", "pip install 'attnclf[tensorboard]'")
    assert not (tmp_path / "logs").exists()
    with pytest.raises(AttnclfError, match=r"pip install 'attnclf\[tensorboard\]'"):
        prepared = prepare_data(DataConfig(source=str(data)), TextConfig(vocab_size=100))
        train_model("nbsvm", prepared, CONFIG, progress=False, log_dir=tmp_path / "logs")
