"""`attnclf train | compare`: train one model into a folder, or several side by side on the same
split. Each command parses its options, calls one library function and prints; user mistakes come
out as one `error:` line and exit status 2, and Ctrl-C says how to resume."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..config import AUTO, DEFAULT_PSEUDO_THRESHOLD
from ..errors import AttnclfError
from .common import (
    AUTO_DEFAULTS,
    FAMILIES,
    FAMILY,
    QuietOpt,
    TrainingOptions,
    echo_to_stderr,
    parse_families,
    saved_on_interrupt,
    user_errors,
    with_training_options,
)


@with_training_options
def compare(
    out: Annotated[
        Path, typer.Option(help="Folder for metrics.json, report.md, curves.png and the models.")
    ] = Path("runs/compare"),
    models: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated model families to compare (default self-attention,multihead, "
            "or the preset's).",
            metavar=FAMILIES,
        ),
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option(
            help="A named recipe: tutorial (the tutorial's two Keras models exactly, trained as "
            "Keras did with Adam 1e-3, no clipping and no weight averaging, beside attnclf's own "
            "two); best (the record: word2vec on train + unlabelled texts, NBSVM and three "
            "attention models from those vectors as teachers, two multihead students "
            "self-trained on the unlabelled texts they label, NBSVM and the students weighed "
            "into an ensemble on validation). A "
            "preset's own settings replace the run's for its models."
        ),
    ] = None,
    unlabelled: Annotated[
        Path | None,
        typer.Option(
            help="For a preset's self-trained models (best): unlabelled texts, one a line "
            "(default: the data's own, IMDB's 50,000 unlabelled reviews)."
        ),
    ] = None,
    faithfulness: Annotated[
        int,
        typer.Option(min=0, help="Test texts for the faithfulness table in report.md (0: none)."),
    ] = 200,
    resume: Annotated[
        Path | None,
        typer.Option(
            help="Carry on an interrupted compare from the --out folder it wrote; pass the same "
            "options."
        ),
    ] = None,
    quiet: QuietOpt = False,
    *,
    options: TrainingOptions,
) -> None:
    """Train the named models on the same data and split, and print them side by side."""
    from ..runtime.files import check_writable
    from ..training.compare import CompareSettings
    from ..training.compare import compare as run_compare
    from ..training.distributed import current as current_world
    from ..training.presets import get_preset
    from ..training.report import comparison_table, write_comparison

    with user_errors(), saved_on_interrupt(lambda checkpoint: checkpoint.parent.parent):
        data_config, text_config, train_config = options.configs()
        check_writable(out, "--out", folder=True)  # now, not after the first model
        chosen = get_preset(preset) if preset is not None else None
        if unlabelled is not None and not (chosen and chosen.students):
            raise AttnclfError(
                "--unlabelled is for a preset with self-trained models (--preset best); to "
                "self-train one model, use `attnclf train --teacher MODEL --unlabelled FILE`"
            )
        if models is None and chosen is not None:
            names = list(chosen.models)  # a preset's, which may name a family twice
        else:
            names = parse_families(models or "self-attention,multihead")
        settings = CompareSettings(faithfulness_sample=faithfulness, unlabelled=unlabelled)
        if chosen is not None:
            settings = chosen.apply(settings)
        comparison = run_compare(
            names,
            data_config,
            text_config,
            train_config,
            out,
            settings,
            progress=not quiet,
            log=echo_to_stderr(quiet),
            resume=resume,
        )
        record = comparison.record
        if not current_world().is_main:
            return  # under torchrun, rank 0 writes and prints
        written = write_comparison(record, out, comparison.gallery)
        typer.echo(comparison_table(record.models))
        if record.ensemble is not None:
            weights = record.ensemble["weights"]
            typer.echo(
                "\nensemble weights (chosen on validation): "
                + ", ".join(f"{name} {w:.3f}" for name, w in weights.items())
            )
        typer.echo(
            f"\nwrote {', '.join(written)} and the models ({', '.join(record.settings.models)})"
            f" into {out}; "
            f"trained and evaluated in {record.wall_seconds:.1f} s"
        )


@with_training_options(defaults=AUTO_DEFAULTS)
def train(
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="Model family to train, or auto: NBSVM below 2,000 training texts, else NBSVM "
            "and an attention model (conv-attention on short texts, self-attention on longer "
            "ones) weighed into an ensemble on validation. Every setting left at auto is chosen "
            "from the data and said in one line with why.",
            metavar=FAMILY,
        ),
    ] = "auto",
    out: Annotated[
        Path | None,
        typer.Option(
            help="Folder to save the model in (default models/MODEL, MODEL the family or "
            "ensemble chosen)."
        ),
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            help="Carry on from a checkpoint (OUT/checkpoint, or OUT) of an interrupted run; "
            "pass the same options."
        ),
    ] = None,
    teacher: Annotated[
        Path | None,
        typer.Option(
            help="Self-training: a saved model or ensemble that labels unlabelled texts; those "
            "it labels with probability >= --pseudo-threshold join the training split "
            "(validation and test texts never do)."
        ),
    ] = None,
    unlabelled: Annotated[
        Path | None,
        typer.Option(
            help="With --teacher: the unlabelled texts, one a line (default: the data's own, "
            "IMDB's 50,000 unlabelled reviews)."
        ),
    ] = None,
    pseudo_threshold: Annotated[
        float,
        typer.Option(
            "--pseudo-threshold",
            help="With --teacher: the least probability of its label a teacher must give a text.",
        ),
    ] = DEFAULT_PSEUDO_THRESHOLD,
    log_dir: Annotated[
        Path | None,
        typer.Option(
            help="Write TensorBoard logs here: loss, accuracy and learning rate per step, the "
            "epoch's training and validation figures, and the attention on a few validation "
            "texts as an image each epoch (needs pip install 'attnclf\\[tensorboard]')."
        ),
    ] = None,
    quiet: QuietOpt = False,
    *,
    options: TrainingOptions,
) -> None:
    """Train a model (or an ensemble) chosen for the data, evaluate it on the test split and save
    it as a folder; checkpoints go to OUT/checkpoint (an ensemble's attention model's, to
    OUT/members/FAMILY/checkpoint)."""
    from ..data.splits import load_dataset
    from ..runtime.files import check_writable
    from ..training.defaults import choose, train_choice
    from ..training.distributed import current as current_world
    from ..training.logs import require_tensorboard
    from ..training.self_training import self_training_dataset

    with user_errors(), saved_on_interrupt(lambda checkpoint: checkpoint):
        if model != AUTO:
            parse_families(model)
        data_config, text_config, train_config = options.configs(auto=True)
        requested = options.requested(model)
        if unlabelled is not None and teacher is None:
            raise AttnclfError("--unlabelled needs a --teacher to label its texts")
        if log_dir is not None:
            require_tensorboard()  # now, not after reading the data
        if resume is not None:
            check_resumable(resume, model)
        if out is not None or model != AUTO:  # now, not after an epoch
            check_writable(out or Path("models") / model, "--out", folder=True)
        log = echo_to_stderr(quiet)
        dataset = load_dataset(data_config)
        if teacher is not None:
            dataset = self_training_dataset(
                dataset,
                data_config,
                teacher,
                unlabelled,
                pseudo_threshold,
                options.device,
                log,
            )
        log(f"data: {dataset.describe()}")
        choice = choose(dataset, text_config, train_config, requested)
        for line in choice.lines:
            log(line)
        target = out or Path("models") / choice.name
        check_writable(target, "--out", folder=True)
        _, metrics = train_choice(
            choice,
            dataset,
            data_config,
            target,
            progress=not quiet,
            resume=resume,
            log_dir=log_dir,
            log=log,
        )
        if not current_world().is_main:
            return  # under torchrun, rank 0 writes and prints
        typer.echo(
            f"{choice.name}: test accuracy {metrics.test_accuracy:.4f}, loss "
            f"{metrics.test_loss:.4f}, F1 {metrics.f1:.4f} after {metrics.train_seconds:.1f} s "
            f"of training; saved to {target}"
        )


def check_resumable(resume: Path, model: str) -> None:
    """--resume names a checkpoint, for a family the gradient loop trains: said before any data
    is read."""
    from ..models import get_family
    from ..training.checkpoint import MANIFEST, find_checkpoint

    if model != AUTO and get_family(model).fit is not None:
        raise AttnclfError(
            f"{model} trains in one pass and writes no checkpoint; leave out --resume"
        )
    if not (find_checkpoint(resume) / MANIFEST).is_file():
        raise AttnclfError(
            f"no checkpoint in {resume}: {MANIFEST} is missing (a save cut short leaves none); "
            "point --resume at a folder <out>/checkpoint written by `attnclf train`"
        )
