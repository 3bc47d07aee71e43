"""Training checkpoints: everything fit() needs to carry on exactly where it stopped, as a folder
of safetensors files and one JSON manifest; no pickle.

Every save writes its tensor files under fresh names (each flushed to disk and renamed into
place), then replaces `manifest.json`, which names them, then deletes the files the old manifest
named. A crash at any instant therefore leaves a manifest whose files are all there and whole:
the last good checkpoint."""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ..config import TrainConfig, to_dict
from ..errors import AttnclfError
from ..runtime.files import atomic_write, write_json

MANIFEST = "manifest.json"
FORMAT = "attnclf-checkpoint"
VERSION = 1
# Settings a resumed run may change without changing what it computes.
FREE_SETTINGS = ("device", "checkpoint_every")


@dataclass
class Progress:
    """Where a run stands between two steps, and what it has recorded so far."""

    epoch: int = 1  # the epoch in progress, from 1
    step: int = 0  # batches of that epoch already done
    # the batch-order generator's state at that epoch's start
    epoch_rng: Mapping[str, Any] = field(default_factory=dict)
    loss_sum: float = 0.0  # over that epoch's batches so far
    correct: int = 0
    seen: int = 0
    epoch_seconds: float = 0.0
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    best_key: tuple[float, float] | None = None
    seconds: float = 0.0  # spent training before this process started

    def next_epoch(self, epoch_rng: Mapping[str, Any]) -> None:
        self.epoch, self.step, self.epoch_rng = self.epoch + 1, 0, epoch_rng
        self.loss_sum, self.correct, self.seen, self.epoch_seconds = 0.0, 0, 0, 0.0


def data_fingerprint(ids: Any, labels: Any) -> str:
    """A hash of the encoded training data, so a checkpoint is not resumed on other data."""
    digest = hashlib.sha256(ids.tobytes())
    digest.update(labels.tobytes())
    return digest.hexdigest()


def save_checkpoint(
    folder: Path,
    progress: Progress,
    config: TrainConfig,
    data: str,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    averaged: nn.Module | None,
    best_state: dict[str, torch.Tensor] | None,
    rng_states: list[torch.Tensor] | None = None,
) -> None:
    """Write a checkpoint into `folder`, replacing the one there only once it is complete.
    `rng_states`: every training process's CPU generator state, by rank (under torchrun)."""
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise AttnclfError(
                f"the weights became NaN or infinite by epoch {progress.epoch}, step "
                f"{progress.step} ({name}); no checkpoint written, the last good one stays in "
                f"{folder}; try a smaller --lr (this run: {config.lr:g})"
            )
    optimizer_tensors, optimizer_rest = _split_optimizer(optimizer.state_dict())
    rng = {"torch_cpu": torch.get_rng_state()}
    for rank, state in list(enumerate(rng_states or []))[1:]:  # rank 0's is torch_cpu
        rng[f"torch_cpu_rank{rank}"] = state
    device = next(model.parameters()).device
    if device.type == "cuda":
        rng["torch_cuda"] = torch.cuda.get_rng_state(device)
    groups = {"model": model.state_dict(), "optimizer": optimizer_tensors, "rng": rng}
    if averaged is not None:
        groups["ema"] = averaged.state_dict()
    if best_state is not None:
        groups["best"] = best_state
    folder.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:12]
    files = {}
    for group, tensors in groups.items():
        name = f"{group}-{tag}.safetensors"
        cpu = {key: value.detach().cpu().contiguous().clone() for key, value in tensors.items()}
        atomic_write(folder / name, functools.partial(_save_tensors, cpu))
        files[group] = {"file": name, "sha256": _sha256(folder / name)}
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "files": files,
        "progress": asdict(progress),
        "training": to_dict(config),
        "data": data,
        "optimizer": optimizer_rest,
        "scheduler": scheduler.state_dict(),
    }
    write_json(folder / MANIFEST, manifest)
    for stale in folder.glob("*.safetensors"):
        if stale.name not in {entry["file"] for entry in files.values()}:
            stale.unlink(missing_ok=True)


def find_checkpoint(path: Path) -> Path:
    """The checkpoint folder itself, or the `checkpoint/` folder of a model folder."""
    if not (path / MANIFEST).exists() and (path / "checkpoint" / MANIFEST).exists():
        return path / "checkpoint"
    return path


def load_checkpoint(
    folder: Path,
    config: TrainConfig,
    data: str,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    averaged: nn.Module | None,
    rank: int = 0,
) -> tuple[Progress, dict[str, torch.Tensor] | None]:
    """Restore the model, optimizer, scheduler, EMA and torch RNG from `folder`; return the
    progress and the best-so-far weights."""
    folder = find_checkpoint(folder)
    manifest = _read_manifest(folder)
    _check_settings(folder, manifest, config)
    if manifest["data"] != data:
        raise AttnclfError(
            f"the checkpoint in {folder} was trained on other data (or another vocabulary); "
            "resume with the same --data, --limit, --seed and text options"
        )
    tensors = {group: _read_tensors(folder, entry) for group, entry in manifest["files"].items()}
    if (averaged is None) != ("ema" not in tensors):
        raise AttnclfError(f"the checkpoint in {folder} and this run disagree on EMA weights")
    try:
        model.load_state_dict(tensors["model"])
        if averaged is not None:
            averaged.load_state_dict(tensors["ema"])
        optimizer.load_state_dict(_join_optimizer(tensors["optimizer"], manifest["optimizer"]))
    except (RuntimeError, KeyError, ValueError) as error:
        first = str(error).strip().splitlines()[0]
        raise AttnclfError(
            f"the checkpoint in {folder} does not fit this model ({first}); resume with the "
            "same --model and options as the interrupted run"
        ) from None
    scheduler.load_state_dict(manifest["scheduler"])
    torch.set_rng_state(tensors["rng"].get(f"torch_cpu_rank{rank}", tensors["rng"]["torch_cpu"]))
    device = next(model.parameters()).device
    if device.type == "cuda" and "torch_cuda" in tensors["rng"]:
        torch.cuda.set_rng_state(tensors["rng"]["torch_cuda"], device)
    progress = Progress(**manifest["progress"])
    if progress.best_key is not None:
        progress.best_key = tuple(progress.best_key)  # type: ignore[assignment]
    return progress, tensors.get("best")


def _read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    if not path.is_file():
        raise AttnclfError(
            f"no checkpoint in {folder}: {MANIFEST} is missing (a save cut short leaves none); "
            "point --resume at a folder <out>/checkpoint written by `attnclf train`"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise AttnclfError(f"the checkpoint manifest {path} is not valid JSON: {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise AttnclfError(f"{path} is not an attnclf checkpoint manifest")
    if manifest.get("version") != VERSION:
        raise AttnclfError(
            f"{path} is checkpoint format version {manifest.get('version')}; this attnclf reads "
            f"version {VERSION}"
        )
    return manifest


SETTINGS_BEFORE_THEY_WERE_SAVED = {"patience": 0, "optimizer": "adam"}


def _check_settings(folder: Path, manifest: dict, config: TrainConfig) -> None:
    # settings a checkpoint of an earlier version does not name had the value that meant none
    saved = {**SETTINGS_BEFORE_THEY_WERE_SAVED, **manifest["training"]}
    asked = to_dict(config)
    differ = [
        f"--{key.replace('_', '-')} {saved.get(key)} (not {asked[key]})"
        for key in asked
        if key not in FREE_SETTINGS and saved.get(key) != asked[key]
    ]
    if differ:
        raise AttnclfError(
            f"the checkpoint in {folder} was trained with {', '.join(differ)}; resume with the "
            "same options as the interrupted run"
        )


def _read_tensors(folder: Path, entry: dict) -> dict[str, torch.Tensor]:
    path = folder / entry["file"]
    if not path.is_file() or _sha256(path) != entry["sha256"]:
        state = "missing" if not path.is_file() else "torn or damaged"
        raise AttnclfError(
            f"the checkpoint file {path} is {state}; the checkpoint cannot be resumed, start the "
            "run again without --resume"
        )
    try:
        return load_file(str(path), device="cpu")
    except Exception as error:  # noqa: BLE001 - any unreadable file is the same user error
        raise AttnclfError(f"the checkpoint file {path} cannot be read: {error}") from None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _split_optimizer(state_dict: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """The optimizer's tensors keyed "param.name", and everything else as JSON-able data."""
    tensors: dict[str, torch.Tensor] = {}
    rest: dict = {"param_groups": state_dict["param_groups"], "state": {}}
    for param, values in state_dict["state"].items():
        rest["state"][str(param)] = {}
        for name, value in values.items():
            if torch.is_tensor(value):
                tensors[f"{param}.{name}"] = value
            else:
                rest["state"][str(param)][name] = value
    return tensors, rest


def _join_optimizer(tensors: dict[str, torch.Tensor], rest: dict) -> dict:
    state: dict[int, dict] = {int(param): dict(values) for param, values in rest["state"].items()}
    for key, value in tensors.items():
        param, name = key.split(".", 1)
        state.setdefault(int(param), {})[name] = value
    return {"state": state, "param_groups": rest["param_groups"]}


def _save_tensors(tensors: dict[str, torch.Tensor], file: Path) -> None:
    save_file(tensors, str(file))
