"""`attnclf export MODEL --onnx PATH`: the model as an ONNX graph for ONNX Runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import user_errors


def export(
    model: Annotated[Path, typer.Argument(help="A model folder written by `attnclf train`.")],
    onnx: Annotated[
        Path | None,
        typer.Option(
            "--onnx",
            help="Where to write the graph (default MODEL/model.onnx); elsewhere, the folder's "
            "config.json and vocab.json are copied beside it.",
        ),
    ] = None,
) -> None:
    """Export a classifier to ONNX (dynamic batch and length; logits and its attention), checked
    against PyTorch with ONNX Runtime before it is kept."""
    from ..interop.onnx_export import export_folder
    from ..runtime.files import check_writable

    with user_errors():
        if onnx is not None:
            check_writable(onnx, "--onnx", folder=False)
        exported = export_folder(model, onnx)
        check = (
            f"matches PyTorch to {exported.max_difference:.1e}"
            if exported.checked
            else "not checked: onnxruntime is not installed"
        )
        typer.echo(f"wrote {exported.path} (outputs {', '.join(exported.outputs)}; {check})")
