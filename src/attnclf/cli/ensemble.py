"""`attnclf ensemble MODEL... --out DIR`: saved classifiers combined into one model folder, their
probabilities averaged with weights chosen on the validation split they all held out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import AttnclfError
from .common import DeviceOpt, QuietOpt, echo_to_stderr, user_errors


def ensemble(
    models: Annotated[
        list[str],
        typer.Argument(
            help="Model folders written by `attnclf train` or `attnclf compare` (PATH or "
            "NAME=PATH), trained on the same data, split and labels.",
            show_default=False,
        ),
    ],
    out: Annotated[Path, typer.Option(help="The ensemble folder to write.")],
    data: Annotated[
        str | None,
        typer.Option(
            "--data",
            help="The data the members trained on (default: the source their config.json "
            "records); its validation split chooses the weights, its test split scores them.",
        ),
    ] = None,
    weights: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated weights, one per member, instead of choosing them on "
            "validation (they are scaled to sum to 1)."
        ),
    ] = None,
    quiet: QuietOpt = False,
    device: DeviceOpt = "auto",
) -> None:
    """Combine saved models: weights that maximise the validation likelihood of their averaged
    probabilities; predict, evaluate, explain and serve then take the folder."""
    from ..inference.ensemble import build_ensemble
    from ..runtime.files import check_writable

    with user_errors():
        check_writable(out, "--out", folder=True)
        fixed = _parse_weights(weights) if weights is not None else None
        _, weighing = build_ensemble(
            models, out, data=data, weights=fixed, device=device, log=echo_to_stderr(quiet)
        )
        typer.echo(weighing.table())
        typer.echo(
            f"\nwrote {out}: {len(weighing.names)} members weighed on "
            f"{weighing.validation_examples} validation texts, test accuracy "
            f"{weighing.test_accuracy['ensemble']:.4f} on {weighing.test_examples}"
        )


def _parse_weights(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise AttnclfError(f"--weights {text!r} must be numbers separated by commas") from None
    if any(v < 0 for v in values) or not sum(values) > 0:
        raise AttnclfError(f"--weights {text!r} must be >= 0 and not all 0")
    return values
