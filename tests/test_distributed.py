"""Training across processes under torchrun (gloo on the CPU): 2 processes reach the weights of
1 process with the same global batch and seed; the command line writes one model folder and
speaks once; a rank killed mid-epoch and a relaunch with --resume end at the weights of a run
never stopped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from attnclf.errors import AttnclfError
from attnclf.training.distributed import start

SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import torch
    from safetensors.torch import save_file
    import attnclf.training.loop
    from attnclf.config import DataConfig, TextConfig, TrainConfig
    from attnclf.training.distributed import current, start, stop
    from attnclf.training.run import prepare_data
    from attnclf.models import build_model, model_config
    from attnclf.runtime.device import seed_everything

    csv, out, dropout, kill_at, resume = sys.argv[1:6]
    dropout, kill_at = float(dropout), int(kill_at)
    world = start("cpu")
    if kill_at and world.rank == 1:  # this rank dies without warning at its kill_at-th batch
        real, calls = attnclf.training.loop.collate, []
        def collate(*args, **kwargs):
            calls.append(1)
            if len(calls) == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*args, **kwargs)
        attnclf.training.loop.collate = collate
    data = prepare_data(DataConfig(source=csv), TextConfig(vocab_size=100))
    seed_everything(0)
    config = model_config("self-attention", vocab_size=len(data.vocab), embedding_dim=16,
                          hidden_size=8, attention_size=8, dropout=dropout)
    model = build_model("self-attention", config)
    train = TrainConfig(epochs=2, batch_size=32, precision="fp32", checkpoint_every=4)
    result = attnclf.training.loop.fit(
        model, data.train, data.validation, train, torch.device("cpu"), progress=False,
        checkpoint_dir=Path(out) / "checkpoint", resume=Path(resume) if resume != "-" else None,
    )
    if current().is_main:
        state = {k: v.contiguous() for k, v in model.state_dict().items()}
        save_file(state, out + "/weights.safetensors")
        print("history", [round(h["train_loss"], 6) for h in result.history])
    stop()
    """
)


def launch(script: Path, processes: int, *args: object) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, str(script), *map(str, args)]
    if processes > 1:
        command = [
            sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(processes),
            "--standalone", *command[1:],
        ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "fit.py"
    path.write_text(SCRIPT, encoding="utf-8")
    return path


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "weights.safetensors"))


def test_two_processes_reach_the_weights_of_one(script, sentiment_csv, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    for folder, processes in ((one, 1), (two, 2)):
        folder.mkdir()
        done = launch(script, processes, sentiment_csv, folder, 0.0, 0, "-")
        assert done.returncode == 0, done.stderr[-3000:]
    single, double = weights(one), weights(two)
    assert single.keys() == double.keys()
    for name in single:
        torch.testing.assert_close(double[name], single[name], atol=2e-5, rtol=1e-4)


def test_a_killed_rank_and_a_relaunch_end_where_an_unbroken_run_ends(
    script, sentiment_csv, tmp_path
):
    full, cut = tmp_path / "full", tmp_path / "cut"
    full.mkdir(), cut.mkdir()
    done = launch(script, 2, sentiment_csv, full, 0.2, 0, "-")
    assert done.returncode == 0, done.stderr[-3000:]
    killed = launch(script, 2, sentiment_csv, cut, 0.2, 15, "-")  # in epoch 2
    assert killed.returncode != 0
    manifest = json.loads((cut / "checkpoint" / "manifest.json").read_text())
    assert manifest["progress"]["epoch"] == 2 and manifest["progress"]["step"] > 0  # mid-epoch
    resumed = launch(script, 2, sentiment_csv, cut, 0.2, 0, cut / "checkpoint")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    for name, tensor in weights(full).items():
        assert torch.equal(weights(cut)[name], tensor), name


def test_the_command_writes_one_folder_and_speaks_once(sentiment_csv, tmp_path):
    out = tmp_path / "sa"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
        "--standalone", "-m", "attnclf", "train", "--model", "self-attention",
        "--data", str(sentiment_csv),
        "--out", str(out), "--vocab-size", "100", "--epochs", "1", "--quiet", "--device", "cpu",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("self-attention: test accuracy") == 1, done.stdout
    assert (out / "model.safetensors").exists() and (out / "checkpoint" / "manifest.json").exists()


def test_more_processes_than_gpus_on_a_machine_is_a_one_line_error(monkeypatch):
    # torchrun --nproc-per-node 2 on a machine with one GPU: NCCL would fail with a long
    # traceback ("Duplicate GPU detected"); the message says what to run instead
    for name, value in (("WORLD_SIZE", 2), ("RANK", 1), ("LOCAL_WORLD_SIZE", 2), ("LOCAL_RANK", 1)):
        monkeypatch.setenv(name, str(value))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(AttnclfError) as caught:
        start("auto")
    message = str(caught.value)
    assert message.startswith("2 processes on this machine but 1 GPU: ")
    assert "--nproc-per-node 1" in message and "--device cpu" in message
