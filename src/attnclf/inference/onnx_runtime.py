"""A model folder's exported graph (model.onnx, see export.py) run by ONNX Runtime behind the
same call as the PyTorch model, `(ids, lengths) -> ClassifierOutput`, so TextClassifier, the
`predict` command and the server use it unchanged (`runtime="onnx"`). CPU only.

Measured on the project's 2-core AMD EPYC (`benchmarks/onnx_vs_torch.py`, IMDB's 25,000 test
reviews, two runs): one review at a time, median 0.58 / 0.82 ms against PyTorch's 3.34 / 2.24 ms
for the self-attention model, 1.42 / 0.70 ms against 1.57 / 1.86 ms for multihead; in batches of
256 about the same (self-attention 2,904 / 2,803 against 2,627 / 2,651 reviews/s, multihead
2,724 / 2,960 against 3,011 / 3,068). Labels were the same for every review.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import AttnclfError
from ..models.outputs import ClassifierOutput


class OnnxRuntimeModel(nn.Module):
    """An inference session with the PyTorch model's interface; it has no parameters to train
    or save."""

    def __init__(self, path: str | Path, config: Any, threads: int | None = None):
        super().__init__()
        try:
            import onnxruntime
        except ImportError:
            raise AttnclfError(
                "--runtime onnx needs onnxruntime: pip install 'attnclf[onnx]'"
            ) from None
        path = Path(path)
        if not path.is_file():
            raise AttnclfError(
                f"{path.parent} has no {path.name}; run `attnclf export {path.parent}` first"
            )
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        try:
            self.session = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime raises its own types for a damaged file
            raise AttnclfError(f"{path} is not a readable ONNX graph ({error})") from None
        self.config = config
        self.names = [output.name for output in self.session.get_outputs()]

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> ClassifierOutput:
        feed = {
            "ids": ids.cpu().numpy().astype(np.int64, copy=False),
            "lengths": lengths.cpu().numpy().astype(np.int64, copy=False),
        }
        outputs = dict(zip(self.names, self.session.run(None, feed), strict=True))
        return ClassifierOutput(
            **{name: torch.from_numpy(value) for name, value in outputs.items()}
        )
