"""Training on small data the test makes: it learns, it is reproducible, it keeps the best epoch."""

from __future__ import annotations

import json
import textwrap

import pytest
import torch
from helpers import python_json

from attnclf.config import DataConfig, TextConfig, TrainConfig
from attnclf.errors import AttnclfError
from attnclf.evaluation.records import metric_names
from attnclf.models.objective import classification_loss
from attnclf.runtime.device import resolve_device
from attnclf.training.compare import compare
from attnclf.training.run import prepare_data, train_model


@pytest.fixture
def prepared(sentiment_csv):
    return prepare_data(DataConfig(source=str(sentiment_csv)), TextConfig(vocab_size=100))


@pytest.mark.parametrize("name", ["self-attention", "multihead"])
def test_learns_the_sentiment_words(prepared, name):
    _, record = train_model(
        name, prepared, TrainConfig(epochs=6, batch_size=16, lr=5e-3), progress=False
    )
    assert record.test_accuracy >= 0.9
    assert len(record.history) == 6
    assert record.history[-1]["train_loss"] < record.history[0]["train_loss"]
    assert record.best_epoch == max(
        range(1, 7),
        key=lambda e: (
            record.history[e - 1]["val_accuracy"],
            -record.history[e - 1]["val_loss"],
        ),
    )


def test_same_seed_same_run(prepared):
    config = TrainConfig(epochs=2, batch_size=32, seed=3)
    _, first = train_model("self-attention", prepared, config, progress=False)
    _, second = train_model("self-attention", prepared, config, progress=False)

    def strip(h):
        return [{k: v for k, v in e.items() if k not in ("seconds", "samples_per_s")} for e in h]

    assert strip(first.history) == strip(second.history)
    assert first.test_accuracy == second.test_accuracy


def test_the_heap_is_trimmed_every_few_steps_within_an_epoch(prepared, monkeypatch):
    import attnclf.training.loop

    steps: list[int] = []
    counted: list[int] = [0]

    def count() -> None:
        counted[0] += 1

    real_step = torch.optim.Adam.step

    def step(self, *args, **kwargs):
        steps.append(counted[0])
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(attnclf.training.loop, "TRIM_EVERY_STEPS", 2)
    monkeypatch.setattr(attnclf.training.loop, "release_free_memory", count)
    monkeypatch.setattr(torch.optim.Adam, "step", step)
    train_model("self-attention", prepared, TrainConfig(epochs=1, batch_size=8), progress=False)
    # trimmed after steps 2, 4, ...: before step 3 once, before step 5 twice (and at the end)
    assert len(steps) >= 5 and steps[2] == 1 and steps[4] == 2


def test_compare_record_has_what_metrics_json_promises(sentiment_csv, tmp_path):
    record = compare(
        ["self-attention", "multihead"],
        DataConfig(source=str(sentiment_csv)),
        TextConfig(vocab_size=100),
        TrainConfig(epochs=1, batch_size=32),
        out=tmp_path / "run",
        progress=False,
        log=lambda message: None,
    ).record
    written = json.loads((tmp_path / "run" / "multihead" / "config.json").read_text())
    assert written["metrics"] == record.models["multihead"].to_json(with_history=False)
    data = record.to_json()
    assert set(data) == {"settings", "data", "models", "wall_seconds"}  # no faithfulness asked
    assert set(data["settings"]) == {
        "models", "data", "text", "training", "model_training", "model_text", "model_settings",
        "device", "environment",
    }  # fmt: skip
    assert data["settings"]["model_training"] == {}
    gpu_only = set() if data["settings"]["device"].startswith("cuda") else {"peak_gpu_mb"}
    for model in data["models"].values():
        assert set(model) == set(metric_names()) - gpu_only
        assert len(model["history"]) == 1
    assert (tmp_path / "run" / "multihead" / "model.safetensors").exists()


def test_loss_is_binary_for_one_logit_and_categorical_for_more():
    labels = torch.tensor([0, 1])
    single = classification_loss(torch.tensor([[0.0], [0.0]]), labels)
    torch.testing.assert_close(single, torch.log(torch.tensor(2.0)))
    many = classification_loss(torch.zeros(2, 3), labels)
    torch.testing.assert_close(many, torch.log(torch.tensor(3.0)))


def test_unknown_device_is_a_clear_error():
    with pytest.raises(AttnclfError, match="unknown device"):
        resolve_device("tpu-please")
    if not torch.cuda.is_available():
        with pytest.raises(AttnclfError, match="no CUDA"):
            resolve_device("cuda")


COUNT_CUDNN_COMPACTIONS = textwrap.dedent(
    """
    import json, sys, warnings
    from attnclf.config import DataConfig, TextConfig, TrainConfig
    from attnclf.training.run import prepare_data, train_model

    data = prepare_data(DataConfig(source=sys.argv[1]), TextConfig(vocab_size=100))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train_model(
            "self-attention", data, TrainConfig(epochs=1, batch_size=32, device="cuda"),
            progress=False,
        )
    print(json.dumps([str(w.message) for w in caught if "contiguous chunk" in str(w.message)]))
    """
)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_cuda_every_lstm_keeps_its_weights_in_the_one_block_cudnn_reads(sentiment_csv):
    # a fresh process: PyTorch gives this warning once per process
    assert python_json("-c", COUNT_CUDNN_COMPACTIONS, str(sentiment_csv)) == []
