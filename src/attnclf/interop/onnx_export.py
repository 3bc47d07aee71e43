"""A classifier as an ONNX graph, for ONNX Runtime wherever PyTorch is not (a service, a browser,
a phone). The graph takes `ids` (B, T) int64 and `lengths` (B,) int64, padding at the end of
each row, and returns `logits` (B, C) and whatever attention the model has: `attention` (B, T),
`head_attention` (B, nh, T), `token_attention` (B, nh, T, T), or its `token_scores` (B, T)
(nbsvm). Batch and length are dynamic, and the padding rule travels with it: the backward LSTM
reads each row reversed within its own length, exactly as in PyTorch. The vocabulary and text
settings stay beside the graph, in the model folder's vocab.json and config.json
(docs/concepts/model-folder.md, docs/guides/onnx.md).

The legacy TorchScript exporter (`dynamo=False`) is used on purpose. The torch.export-based one
(the default since PyTorch 2.9) was tried on the self-attention model with dynamic batch and
length: its graph baked a reshape to the example's (batch x tokens) width into the padded
reversal, and ONNX Runtime failed on any other shape ("cannot reshape {5,30,64} to {150,14}").
"""

from __future__ import annotations

import functools
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import AttnclfError
from ..inference.classifier import TextClassifier
from ..inference.folder import CONFIG_FILE, ONNX_FILE, VOCAB_FILE
from ..runtime.files import atomic_write

OPSET = 17
OUTPUTS = ("logits", "attention", "head_attention", "token_attention", "token_scores")
# Which axes of each output vary: the batch always, the tokens where a row is per token.
DYNAMIC_AXES: dict[str, dict[int, str]] = {
    "ids": {0: "batch", 1: "tokens"},
    "lengths": {0: "batch"},
    "logits": {0: "batch"},
    "attention": {0: "batch", 1: "tokens"},
    "head_attention": {0: "batch", 2: "tokens"},
    "token_attention": {0: "batch", 2: "tokens", 3: "tokens"},
    "token_scores": {0: "batch", 1: "tokens"},
}
# The graph must compute what PyTorch computes to within this, or the export is refused.
TOLERANCE = 1e-4


class GraphOutputs(nn.Module):
    """The model with its ClassifierOutput flattened into the tuple of outputs it has."""

    def __init__(self, model: nn.Module, names: tuple[str, ...]):
        super().__init__()
        self.model, self.names = model, names

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, ...]:
        output = self.model(ids, lengths)
        return tuple(getattr(output, name) for name in self.names)


@dataclass
class Exported:
    """What `export_onnx` wrote and how far the graph is from PyTorch on its check batch."""

    path: Path
    outputs: tuple[str, ...]
    max_difference: float  # largest |ONNX - PyTorch| over every output of the check batch
    checked: bool  # False when onnxruntime is not installed to check with


def check_batch(vocab_size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of very different lengths in one padded batch (1 to 37 tokens, padding at the end),
    of another batch size and width than the export's example."""
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([37, 1, 12, 37, 5])
    ids = torch.randint(2, max(vocab_size, 3), (5, 37), generator=generator)
    ids[torch.arange(37)[None, :] >= lengths[:, None]] = 0
    return ids, lengths


def export_onnx(classifier: TextClassifier, path: str | Path) -> Exported:
    """Write `classifier` as an ONNX graph to `path`, with the folder's config.json and
    vocab.json beside it when `path` lies outside the model folder; check it with ONNX Runtime
    (when installed) on a batch of mixed lengths."""
    path = Path(path)
    model = classifier.model.eval().cpu()
    generator = torch.Generator().manual_seed(0)  # not the global one: exporting draws nothing
    example_ids = torch.randint(2, max(len(classifier.vocab), 3), (3, 7), generator=generator)
    example_lengths = torch.tensor([7, 4, 1])
    with torch.no_grad():
        present = model(example_ids, example_lengths)
    names = tuple(name for name in OUTPUTS if getattr(present, name) is not None)
    graph = GraphOutputs(model, names).eval()

    def write(tmp: Path) -> None:
        with warnings.catch_warnings():  # the legacy exporter's deprecation and tracer notes
            warnings.simplefilter("ignore")
            torch.onnx.export(
                graph,
                (example_ids, example_lengths),
                str(tmp),
                dynamo=False,
                input_names=["ids", "lengths"],
                output_names=list(names),
                dynamic_axes={
                    k: v for k, v in DYNAMIC_AXES.items() if k in ("ids", "lengths", *names)
                },
                opset_version=OPSET,
            )

    try:
        atomic_write(path, write)
    except ModuleNotFoundError as error:
        raise AttnclfError(
            f"exporting to ONNX needs the {error.name} package: pip install 'attnclf[onnx]'"
        ) from None
    classifier.model.to(classifier.device)
    difference, checked = _check(path, graph, len(classifier.vocab))
    if checked and difference > TOLERANCE:
        path.unlink(missing_ok=True)
        raise AttnclfError(
            f"the ONNX graph of {classifier.architecture} differs from PyTorch by {difference:.2e}"
            f" (more than {TOLERANCE:g}); not written. Please report this with the model folder"
        )
    return Exported(path, names, difference, checked)


def export_folder(folder: str | Path, onnx_path: str | Path | None = None) -> Exported:
    """Export the model folder `folder` to `onnx_path` (default: folder/model.onnx); a graph
    written elsewhere gets the folder's config.json and vocab.json beside it."""
    folder = Path(folder)
    classifier = TextClassifier.load(folder, "cpu")
    target = Path(onnx_path) if onnx_path is not None else folder / ONNX_FILE
    if target.suffix != ".onnx":
        raise AttnclfError(f"--onnx {target} should end in .onnx")
    exported = export_onnx(classifier, target)
    if target.parent.resolve() != folder.resolve():
        for name in (CONFIG_FILE, VOCAB_FILE):
            atomic_write(target.parent / name, functools.partial(shutil.copyfile, folder / name))
    return exported


def _check(path: Path, graph: nn.Module, vocab_size: int) -> tuple[float, bool]:
    try:
        import onnxruntime
    except ImportError:
        return float("nan"), False
    ids, lengths = check_batch(vocab_size)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ran = session.run(None, {"ids": ids.numpy(), "lengths": lengths.numpy()})
    with torch.no_grad():
        expected = graph(ids, lengths)
    difference = max(
        float(np.abs(np.asarray(got) - want.numpy()).max())
        for got, want in zip(ran, expected, strict=True)
    )
    return difference, True
