"""Checkpoints: a run stopped anywhere (crash, SIGKILL, Ctrl-C) and resumed ends with the same
weights and metrics as a run never stopped; torn checkpoints and NaN losses are clear errors."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from conftest import make_reviews
from helpers import assert_one_line_error, run_cli
from safetensors.torch import load_file
from typer.testing import CliRunner

import attnclf.training.loop
from attnclf.cli import app
from attnclf.config import DataConfig, TextConfig, TrainConfig
from attnclf.errors import AttnclfError
from attnclf.models import build_model, model_config
from attnclf.training.checkpoint import MANIFEST, Progress, save_checkpoint
from attnclf.training.loop import TrainingInterrupted
from attnclf.training.run import prepare_data, train_model

TIMING = ("seconds", "samples_per_s")
CONFIG = TrainConfig(epochs=2, batch_size=16, lr=5e-3, seed=1, checkpoint_every=5, device="cpu")


@pytest.fixture
def prepared(sentiment_csv):
    return prepare_data(DataConfig(source=str(sentiment_csv)), TextConfig(vocab_size=100))


def without_timing(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in epoch.items() if k not in TIMING} for epoch in history]


def stop_at_batch(monkeypatch, number: int, error: BaseException) -> None:
    """Raise `error` when training asks for its `number`-th batch, between two steps."""
    real, calls = attnclf.training.loop.collate, []

    def collate(data, index):
        calls.append(1)
        if len(calls) == number:
            raise error
        return real(data, index)

    monkeypatch.setattr(attnclf.training.loop, "collate", collate)


def checkpoint_tensors(folder: Path, group: str) -> dict[str, torch.Tensor]:
    manifest = json.loads((folder / MANIFEST).read_text())
    return load_file(str(folder / manifest["files"][group]["file"]))


@pytest.mark.parametrize(
    "stop", [RuntimeError("crash"), KeyboardInterrupt()], ids=["crash", "ctrl-c"]
)
def test_a_resumed_run_ends_exactly_where_an_unbroken_one_does(
    prepared, tmp_path, monkeypatch, stop
):
    _, full = train_model("self-attention", prepared, CONFIG, tmp_path / "full", progress=False)

    cut = tmp_path / "cut"
    with monkeypatch.context() as patch:
        stop_at_batch(patch, 24, stop)  # mid-epoch 2 (18 steps an epoch)
        with pytest.raises(type(stop)):
            train_model("self-attention", prepared, CONFIG, cut, progress=False)
    progress = json.loads((cut / "checkpoint" / MANIFEST).read_text())["progress"]
    # a crash leaves the checkpoint of step 20; Ctrl-C saves the 23 steps done
    assert (progress["epoch"], progress["step"]) == (
        (2, 5) if isinstance(stop, KeyboardInterrupt) else (2, 2)
    )

    resumed, record = train_model(
        "self-attention", prepared, CONFIG, cut, progress=False, resume=cut / "checkpoint"
    )
    full_weights = load_file(str(tmp_path / "full" / "model.safetensors"))
    for name, tensor in resumed.model.state_dict().items():
        assert torch.equal(tensor, full_weights[name]), name
    for group in ("model", "ema", "optimizer"):
        last, other = (
            checkpoint_tensors(f / "checkpoint", group) for f in (tmp_path / "full", cut)
        )
        assert last.keys() == other.keys()
        assert all(torch.equal(last[k], other[k]) for k in last), group
    assert without_timing(record.history) == without_timing(full.history)
    for key in ("test_accuracy", "test_loss", "best_epoch", "confusion_matrix"):
        assert getattr(record, key) == getattr(full, key)


def test_an_adadelta_run_without_a_weight_average_resumes_exactly(prepared, tmp_path, monkeypatch):
    # how train trains the short-text ensemble's conv-attention (training/defaults.py)
    config = TrainConfig(
        epochs=2, batch_size=16, optimizer="adadelta", lr=1.0, ema_decay=0.0, grad_clip=0.0,
        seed=1, device="cpu",
    )  # fmt: skip
    _, full = train_model("conv-attention", prepared, config, tmp_path / "full", progress=False)
    cut = tmp_path / "cut"
    with monkeypatch.context() as patch:
        stop_at_batch(patch, 24, RuntimeError("crash"))  # early in epoch 2
        with pytest.raises(RuntimeError):
            train_model("conv-attention", prepared, config, cut, progress=False)
    saved = checkpoint_tensors(cut / "checkpoint", "optimizer")
    assert any(name.endswith("acc_delta") for name in saved)  # Adadelta's own state
    resumed, record = train_model(
        "conv-attention", prepared, config, cut, progress=False, resume=cut / "checkpoint"
    )
    full_weights = load_file(str(tmp_path / "full" / "model.safetensors"))
    for name, tensor in resumed.model.state_dict().items():
        assert torch.equal(tensor, full_weights[name]), name
    assert without_timing(record.history) == without_timing(full.history)
    assert record.best_epoch == full.best_epoch


def test_the_optimizer_is_the_one_named_with_kims_adadelta_settings():
    model = torch.nn.Linear(3, 1)
    adam = attnclf.training.loop.make_optimizer(model, TrainConfig())
    assert isinstance(adam, torch.optim.Adam) and adam.defaults["lr"] == 2e-3
    adadelta = attnclf.training.loop.make_optimizer(
        model, TrainConfig(optimizer="adadelta", lr=1.0)
    )
    assert isinstance(adadelta, torch.optim.Adadelta)
    assert (adadelta.defaults["lr"], adadelta.defaults["rho"], adadelta.defaults["eps"]) == (
        1.0, 0.95, 1e-6
    )  # fmt: skip


def test_ctrl_c_saves_a_checkpoint_and_says_how_to_resume(sentiment_csv, tmp_path, monkeypatch):
    stop_at_batch(monkeypatch, 7, KeyboardInterrupt())
    out = tmp_path / "model"
    args = ["train", "--data", sentiment_csv, "--model", "self-attention", "--out", out]
    args += ["--vocab-size", 100, "--epochs", 1]
    result = CliRunner().invoke(app, [str(a) for a in [*args, "--batch-size", 16, "-q"]])
    assert result.exit_code == 130, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.stderr
    assert f"--resume {out / 'checkpoint'}" in lines[0] and "step 6" in lines[0]
    assert json.loads((out / "checkpoint" / MANIFEST).read_text())["progress"]["step"] == 6


def test_an_interrupt_from_the_epoch_callback_saves_the_finished_epoch(prepared, tmp_path):
    model = build_model(
        "self-attention", model_config("self-attention", vocab_size=len(prepared.vocab))
    )

    def stop(record):
        raise KeyboardInterrupt

    with pytest.raises(TrainingInterrupted) as stopped:
        attnclf.training.loop.fit(
            model, prepared.train, prepared.validation, CONFIG, torch.device("cpu"),
            progress=False, on_epoch_end=stop, checkpoint_dir=tmp_path / "checkpoint",
        )  # fmt: skip
    assert stopped.value.checkpoint == tmp_path / "checkpoint"
    progress = json.loads((tmp_path / "checkpoint" / MANIFEST).read_text())["progress"]
    assert (progress["epoch"], progress["step"], len(progress["history"])) == (2, 0, 1)


def test_a_nan_loss_stops_and_leaves_the_last_checkpoint(prepared, tmp_path, monkeypatch):
    real, calls = attnclf.training.loop.classification_loss, []

    def loss(logits, labels):
        value = real(logits, labels)
        if logits.requires_grad:  # a training batch
            calls.append(1)
            if len(calls) >= 8:
                return value * float("nan")
        return value

    monkeypatch.setattr(attnclf.training.loop, "classification_loss", loss)
    with pytest.raises(AttnclfError, match=r"nan in epoch 1, step 8.*smaller --lr"):
        train_model("self-attention", prepared, CONFIG, tmp_path / "m", progress=False)
    folder = tmp_path / "m" / "checkpoint"
    assert json.loads((folder / MANIFEST).read_text())["progress"]["step"] == 5
    assert all(torch.isfinite(t).all() for t in checkpoint_tensors(folder, "model").values())


def test_weights_that_are_not_finite_are_never_saved(prepared, tmp_path):
    model = build_model(
        "self-attention", model_config("self-attention", vocab_size=len(prepared.vocab))
    )
    optimizer = torch.optim.Adam(model.parameters())
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    with torch.no_grad():
        next(model.parameters())[0] = float("inf")
    progress = Progress()
    with pytest.raises(AttnclfError, match="NaN or infinite.*smaller --lr"):
        save_checkpoint(tmp_path, progress, CONFIG, "data", model, optimizer, scheduler, None, None)
    assert not (tmp_path / MANIFEST).exists()


@pytest.fixture
def saved_checkpoint(prepared, tmp_path):
    config = TrainConfig(epochs=1, batch_size=64, seed=1, device="cpu")
    train_model("self-attention", prepared, config, tmp_path / "m", progress=False)
    return tmp_path / "m" / "checkpoint", config


def resume_into_fresh_model(prepared, folder: Path, config: TrainConfig):
    model = build_model(
        "self-attention", model_config("self-attention", vocab_size=len(prepared.vocab))
    )
    return attnclf.training.loop.fit(
        model, prepared.train, prepared.validation, config, torch.device("cpu"),
        progress=False, resume=folder,
    )  # fmt: skip


def test_a_torn_checkpoint_is_a_clear_error(prepared, saved_checkpoint):
    folder, config = saved_checkpoint
    weights = folder / json.loads((folder / MANIFEST).read_text())["files"]["optimizer"]["file"]
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(AttnclfError, match="torn or damaged"):
        resume_into_fresh_model(prepared, folder, config)
    (folder / MANIFEST).unlink()
    with pytest.raises(AttnclfError, match="manifest.json is missing"):
        resume_into_fresh_model(prepared, folder, config)


def test_resuming_with_other_options_is_a_clear_error(prepared, saved_checkpoint):
    folder, config = saved_checkpoint
    with pytest.raises(AttnclfError, match="--batch-size 64 \\(not 32\\)"):
        resume_into_fresh_model(prepared, folder, TrainConfig(epochs=1, batch_size=32, seed=1))


def test_a_checkpoint_from_before_the_optimizer_was_saved_resumes_as_adam(
    prepared, saved_checkpoint
):
    folder, config = saved_checkpoint
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["training"].pop("optimizer") == "adam"
    (folder / MANIFEST).write_text(json.dumps(manifest))
    resume_into_fresh_model(prepared, folder, config)  # no error: it was Adam
    with pytest.raises(AttnclfError, match="--optimizer adam \\(not adadelta\\)"):
        resume_into_fresh_model(prepared, folder, replace(config, optimizer="adadelta", lr=1.0))


def test_cli_reports_a_missing_checkpoint_in_one_line(sentiment_csv, tmp_path):
    args = ["train", "--data", sentiment_csv, "--model", "self-attention", "--out", tmp_path / "m"]
    args += ["--vocab-size", 100]
    result = run_cli(*args, "--resume", tmp_path, "-q")
    assert_one_line_error(result, "no checkpoint in")


def test_a_run_killed_with_sigkill_resumes_to_the_same_model(tmp_path):
    data = tmp_path / "reviews.csv"
    with open(data, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([("text", "label"), *make_reviews(2000, seed=5)])
    command = [sys.executable, "-m", "attnclf", "train", "--model", "self-attention",
               "--data", str(data), "--epochs", "3", "--checkpoint-every", "2",
               "--vocab-size", "100", "--batch-size", "16", "--device", "cpu", "-q"]  # fmt: skip
    package_root = str(Path(attnclf.__file__).parents[1])  # the attnclf under test
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": package_root}

    killed = tmp_path / "killed"
    process = subprocess.Popen([*command, "--out", str(killed)], env=env)
    manifest, deadline = killed / "checkpoint" / MANIFEST, time.monotonic() + 60
    while not manifest.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    stopped_at = json.loads(manifest.read_text())["progress"]
    assert stopped_at["epoch"] == 1 and 0 < stopped_at["step"], stopped_at  # mid-epoch
    subprocess.run(
        [*command, "--out", str(killed), "--resume", str(killed / "checkpoint")],
        env=env,
        check=True,
        capture_output=True,
    )
    whole = tmp_path / "whole"
    subprocess.run([*command, "--out", str(whole)], env=env, check=True, capture_output=True)

    assert (killed / "model.safetensors").read_bytes() == (whole / "model.safetensors").read_bytes()
    metrics = [json.loads((f / "config.json").read_text()) for f in (killed, whole)]
    for key in ("test_accuracy", "test_loss", "f1", "confusion_matrix", "best_epoch"):
        assert metrics[0]["metrics"][key] == metrics[1]["metrics"][key]
    histories = [
        json.loads((f / "checkpoint" / MANIFEST).read_text())["progress"]["history"]
        for f in (killed, whole)
    ]
    assert without_timing(histories[0]) == without_timing(histories[1])
    assert len(histories[0]) == 3


def test_a_real_ctrl_c_waits_for_the_step_under_way(prepared, tmp_path, monkeypatch):
    real, calls = attnclf.training.loop.collate, []

    def collate(data, index):
        calls.append(1)
        if len(calls) == 4:
            os.kill(os.getpid(), signal.SIGINT)  # arrives while batch 4 is being made
        return real(data, index)

    monkeypatch.setattr(attnclf.training.loop, "collate", collate)
    with pytest.raises(TrainingInterrupted) as stopped:
        train_model("self-attention", prepared, CONFIG, tmp_path / "m", progress=False)
    assert (stopped.value.epoch, stopped.value.step) == (1, 4)
    progress = json.loads((tmp_path / "m" / "checkpoint" / MANIFEST).read_text())["progress"]
    assert progress["step"] == 4
