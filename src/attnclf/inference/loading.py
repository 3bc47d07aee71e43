"""Loading a model folder of whichever kind labels texts: a classifier (in PyTorch, or its
exported model.onnx in ONNX Runtime) or an ensemble. `load_any` is what every command that
labels texts loads; `load` is `attnclf.load`, which also sends a seq2seq folder to its own
loader."""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import AttnclfError
from .classifier import TextClassifier
from .ensemble import Ensemble
from .folder import ENSEMBLE, ONNX_FILE, SEQ2SEQ, WEIGHTS_FILE, folder_kind


def load_any(
    path: str | Path, device: str | torch.device = "auto", runtime: str = "torch"
) -> TextClassifier | Ensemble:
    """A classifier folder, or an ensemble folder (its members in PyTorch)."""
    if folder_kind(path) is ENSEMBLE:
        if runtime != "torch":
            raise AttnclfError(
                f"{path} is an ensemble; its members run in PyTorch, leave out --runtime"
            )
        return Ensemble.load(path, device)
    return TextClassifier.load(path, device, runtime)


def load(
    path: str | Path, device: str | torch.device = "auto", runtime: str = "torch"
) -> TextClassifier | Ensemble:
    """`attnclf.load`: any folder `load_any` takes; a folder that holds an exported graph and no
    weights (`attnclf export MODEL --onnx elsewhere/model.onnx`) runs in ONNX Runtime; a seq2seq
    folder is a one-line error that names the loader it needs."""
    folder = Path(path)
    if runtime == "torch" and (folder / ONNX_FILE).is_file():
        if not (folder / WEIGHTS_FILE).exists():
            runtime = "onnx"
    if folder_kind(path) is SEQ2SEQ:
        raise AttnclfError(
            f"{path} is an {SEQ2SEQ.folder} (a translator, written by `{SEQ2SEQ.written_by}`), "
            "not a classifier; load it with attnclf.seq2seq.load"
        )
    return load_any(path, device, runtime)


__all__ = ["load", "load_any"]
