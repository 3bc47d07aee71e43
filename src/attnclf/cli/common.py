"""What every `attnclf` command shares: one-line user errors, reading texts, Ctrl-C during
training, the options that several commands take, and the model-family choice (read from the
registry when the command runs, so a newly registered family is listed and accepted)."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, get_type_hints

import typer
from typer.core import TyperCommand

from ..config import AUTO, DEFAULT_LR, RunConfigs, run_configs
from ..errors import AttnclfError

if TYPE_CHECKING:
    from ..training.defaults import Requested


@contextmanager
def user_errors() -> Iterator[None]:
    """An AttnclfError becomes one `error:` line and exit status 2; Ctrl-C exits with 130."""
    try:
        yield
    except AttnclfError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(130) from None


@contextmanager
def saved_on_interrupt(resume_from: Callable[[Path], Path]) -> Iterator[None]:
    """Ctrl-C during training: one line saying where the checkpoint is and how to carry on."""
    from ..training.loop import TrainingInterrupted

    try:
        yield
    except TrainingInterrupted as stop:
        if stop.checkpoint is None:
            typer.echo(f"{stop}; no checkpoint saved for this step", err=True)
        else:
            typer.echo(
                f"{stop}; checkpoint saved in {stop.checkpoint}; to carry on, run the same "
                f"command with --resume {resume_from(stop.checkpoint)}",
                err=True,
            )
        raise typer.Exit(130) from None


def read_texts(texts: list[str] | None, file: Path | None, stdin: bool = True) -> list[str]:
    """Texts from the arguments, then --file (one a line), else stdin when it is not a terminal.
    A line ends at "\\n" (or "\\r\\n") alone: each non-blank line is one text, in order."""
    from ..data.readers import text_lines

    inputs = list(texts or [])
    if file is not None:
        if not file.is_file():
            raise AttnclfError(f"no such file: {file}; --file takes a text file, one text a line")
        try:
            content = file.read_bytes().decode("utf-8-sig", errors="replace")
        except OSError as error:
            raise AttnclfError(f"cannot read --file {file} ({error.strerror})") from None
        inputs += text_lines(content)
    if not inputs and stdin and not sys.stdin.isatty():
        # the bytes, not sys.stdin.read(): text mode would also end a line at a lone CR
        raw = getattr(sys.stdin, "buffer", None)
        content = raw.read().decode("utf-8-sig", errors="replace") if raw else sys.stdin.read()
        inputs = text_lines(content)
    return inputs


def echo_to_stderr(quiet: bool) -> Callable[[str], None]:
    """The log of a command: stderr; nothing with --quiet, or in a process that torchrun
    started other than rank 0 (which speaks for all)."""
    if quiet or (int(os.environ.get("WORLD_SIZE", "1")) > 1 and os.environ.get("RANK") != "0"):
        return lambda message: None
    return lambda message: typer.echo(message, err=True)


# --- options several commands take --------------------------------------------------------

DeviceOpt = Annotated[
    str, typer.Option(help="auto (CUDA when present, else CPU), cpu or cuda[:N].")
]
RuntimeOpt = Annotated[
    str,
    typer.Option(
        help="torch, or onnx: the folder's model.onnx (from `attnclf export`) in ONNX Runtime, "
        "on the CPU; same labels, single texts answered 2-4x sooner."
    ),
]
SeedOpt = Annotated[
    int, typer.Option(help="Seed for the split, the initial weights and the order.")
]
FileOpt = Annotated[Path | None, typer.Option("--file", help="A file with one text a line.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]
DataOpt = Annotated[
    str | None,
    typer.Option(
        "--data",
        help="aclImdb_v1.tar.gz, an aclImdb/ folder, a CSV/TSV/JSON/JSONL/Parquet file (gzip'd "
        "or not), a Hugging Face dataset saved with save_to_disk, or a folder per class; "
        "default: $ATTNCLF_DATA, else IMDB downloaded once into $ATTNCLF_HOME.",
    ),
]
LimitOpt = Annotated[
    int | None,
    typer.Option(min=1, help="Use a stratified N of train and N of test, for quick runs."),
]
TextColOpt = Annotated[
    str,
    typer.Option(
        "--text-column",
        help="Column holding the text: its name, or its position counting from 1 (the first "
        "column); several, comma-separated, are joined into one text (title,description).",
    ),
]
LabelColOpt = Annotated[
    str,
    typer.Option(
        "--label-column",
        help="Column holding the label: its name, or its position counting from 1.",
    ),
]
# Whether a CSV/TSV file's first row names its columns: detected unless one of these says (two
# flags of their own rather than "--header/--no-header", which takes a column of the help box)
HeaderOpt = Annotated[
    bool,
    typer.Option(
        "--header",
        help="A CSV/TSV file's first row names its columns (default: detected, and said in the "
        "data line).",
    ),
]
NoHeaderOpt = Annotated[
    bool,
    typer.Option("--no-header", help="A CSV/TSV file's first row is a row like the others."),
]
ModelArg = Annotated[Path, typer.Argument(help="A model folder written by `attnclf train`.")]


# The metavars that mark an option as a family choice (see FamilyCommand).
FAMILY, FAMILIES = "FAMILY", "FAMILIES"


class FamilyCommand(TyperCommand):
    """A command whose options declared with `metavar=FAMILY` (one name) or `FAMILIES` (a
    comma-separated list) take model families: their help lists the families registered when
    the help is shown (only then are the families, and torch, imported)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.family_params = [
            p for p in self.params if getattr(p, "metavar", None) in (FAMILY, FAMILIES)
        ]
        for param in self.family_params:
            param.metavar = "NAME,..." if param.metavar == FAMILIES else "NAME"
        self.family_help = {id(p): getattr(p, "help", None) or "" for p in self.family_params}

    def format_help(self, ctx: Any, formatter: Any) -> None:
        from ..models import all_families

        listed = "; ".join(f"{name}: {f.summary}" for name, f in all_families().items())
        for param in self.family_params:
            param.help = f"{self.family_help[id(param)]} Families: {listed}."  # type: ignore[attr-defined]
        super().format_help(ctx, formatter)


def parse_families(value: str) -> list[str]:
    """The comma-separated family names of --models, each checked against the registry."""
    from ..models.registry import check_model_names

    names = [name.strip() for name in value.split(",") if name.strip()]
    check_model_names(names)
    return names


@dataclass(frozen=True, kw_only=True)
class TrainingOptions:
    """The options of every command that trains classifiers (`train`, `compare`), declared
    once: each field is one option, and `configs()` turns them into the run's configs."""

    data: DataOpt = None
    epochs: Annotated[
        str,
        typer.Option(
            metavar="N|auto",
            help="Passes over the training data; auto (train's default): up to 20, stopping "
            "after 3 or more (200 steps at least) without a better validation accuracy, the "
            "best epoch kept; up to 25, stopping after 6, for the conv-attention of the "
            "short-text ensemble.",
        ),
    ] = "2"
    batch_size: Annotated[
        str,
        typer.Option(
            "--batch-size",
            metavar="N|auto",
            help="Examples per training step; auto (train's default): 128, and 50 for the "
            "conv-attention of the short-text ensemble (trained as Kim trained CNN-rand).",
        ),
    ] = "128"
    max_len: Annotated[
        str,
        typer.Option(
            "--max-len",
            metavar="N|auto",
            help="Tokens kept per text; auto (train's default): 95% of the training texts whole "
            "(at most 512), NBSVM every text whole.",
        ),
    ] = "200"
    truncation: Annotated[
        str,
        typer.Option(
            help="Which tokens a long text keeps: head, tail or head+tail (a quarter from the "
            "start, the rest from the end)."
        ),
    ] = "tail"
    tokenizer: Annotated[
        str,
        typer.Option(
            help="How text becomes tokens: attnclf (lower-case words and ! ?) or punctuation "
            "(also . , ; : ( ) and \" as tokens, which NBSVM's n-grams gain from)."
        ),
    ] = "attnclf"
    vocab_size: Annotated[
        str,
        typer.Option(
            "--vocab-size",
            metavar="N|auto",
            help="Most frequent training words kept, padding and unknown included; auto "
            "(train's default): 10,000, NBSVM up to 200,000.",
        ),
    ] = "10000"
    optimizer: Annotated[
        str,
        typer.Option(
            metavar="adam|adadelta|auto",
            help="adam; adadelta (rho 0.95, as Kim 2014 trained CNN-rand); or auto (train's "
            "default): adam, and adadelta for the conv-attention of the short-text ensemble.",
        ),
    ] = "adam"
    lr: Annotated[
        str,
        typer.Option(
            metavar="X|auto",
            help="Learning rate (> 0); auto: 2e-3 for adam, 1.0 for adadelta (a scale on its "
            "own step size).",
        ),
    ] = "auto"
    lr_schedule: Annotated[
        str,
        typer.Option("--lr-schedule", help="constant, or linear (falling to 0 at the last step)."),
    ] = "constant"
    seed: SeedOpt = 0
    device: DeviceOpt = "auto"
    precision: Annotated[
        str,
        typer.Option(
            help="Arithmetic of the training steps: auto (bf16 where the hardware has it, else "
            "fp32), fp32 or bf16 (bfloat16 autocast; evaluation and saved models stay fp32)."
        ),
    ] = "auto"
    limit: LimitOpt = None
    text_column: TextColOpt = "text"
    label_column: LabelColOpt = "label"
    header: HeaderOpt = False
    no_header: NoHeaderOpt = False
    validation_fraction: Annotated[
        float,
        typer.Option(
            "--validation-fraction",
            min=0.0,
            max=0.9,
            help="Share of train held out for validation.",
        ),
    ] = 0.1
    checkpoint_every: Annotated[
        int,
        typer.Option(
            "--checkpoint-every",
            min=0,
            help="Also save a checkpoint every N steps (one is always saved after each epoch).",
        ),
    ] = 0
    embeddings: Annotated[
        str | None,
        typer.Option(
            help="Start the embedding layer from these word vectors (GloVe .txt, word2vec text "
            "or binary, e.g. from `attnclf embeddings train`); their width sets the embedding "
            "width. The saved model keeps them: loading it needs no vectors file.",
        ),
    ] = None
    freeze_embeddings: Annotated[
        bool,
        typer.Option(
            "--freeze-embeddings", help="Keep the --embeddings vectors fixed while training."
        ),
    ] = False

    def configs(self, auto: bool = False) -> RunConfigs:
        """The data, text and training configs, checked (one-line errors); bf16 asked for on
        hardware without it is said now, before any data is read. `auto`: the options that
        may be auto (`requested` says which are) take their usual defaults here."""
        from ..runtime.device import resolve_device, resolve_precision

        values = dataclasses.asdict(self)
        values["header"] = header_setting(values["header"], values.pop("no_header"))
        if values["optimizer"] == AUTO and not auto:
            raise AttnclfError("--optimizer auto is for `attnclf train`; give adam or adadelta")
        if values["optimizer"] == AUTO:
            values["optimizer"] = "adam"  # train's chosen members may take another (defaults.py)
        lr = learning_rate(values["lr"])
        values["lr"] = DEFAULT_LR.get(values["optimizer"], DEFAULT_LR["adam"]) if lr is None else lr
        for name, (option, least, usual) in AUTO_OPTIONS.items():
            number = number_or_auto(option, values[name], least)
            if number is None and not auto:
                raise AttnclfError(
                    f"{option} auto is for `attnclf train`; give a number (the default: {usual})"
                )
            values[name] = usual if number is None else number
        configs = run_configs(**values)
        resolve_precision(configs.training.precision, resolve_device(configs.training.device))
        return configs

    def requested(self, model: str) -> Requested:
        """The settings named on the command line, the others (auto) left to `train` to choose
        from the data (training/defaults.py)."""
        from ..training.defaults import Requested

        def named(name: str) -> int | None:
            option, least, _ = AUTO_OPTIONS[name]
            return number_or_auto(option, getattr(self, name), least)

        return Requested(
            model=None if model == AUTO else model,
            max_len=named("max_len"),
            vocab_size=named("vocab_size"),
            epochs=named("epochs"),
            optimizer=None if self.optimizer == AUTO else self.optimizer,
            lr=learning_rate(self.lr),
            batch_size=named("batch_size"),
        )


# The options that take a number or auto: (option, least number, the number auto stands for
# where nothing is chosen from the data)
AUTO_OPTIONS = {
    "epochs": ("--epochs", 1, 2),
    "max_len": ("--max-len", 1, 200),
    "vocab_size": ("--vocab-size", 3, 10_000),
    "batch_size": ("--batch-size", 1, 128),
}
# What `attnclf train` leaves to the data (compare keeps the numbers above: the tutorial's)
AUTO_DEFAULTS = {**{name: AUTO for name in AUTO_OPTIONS}, "optimizer": AUTO}


def learning_rate(value: str) -> float | None:
    """--lr as a number above 0, or None for auto; anything else is one line."""
    if value.strip().lower() == AUTO:
        return None
    try:
        number = float(value)
    except ValueError:
        raise AttnclfError(f"--lr {value!r} is not a number or auto (e.g. 2e-3)") from None
    if not number > 0:  # also NaN
        raise AttnclfError(f"--lr {value} must be above 0 (or auto)")
    return number


def header_setting(header: bool, no_header: bool) -> bool | None:
    """DataConfig.header from --header and --no-header: None (detected) when neither is given."""
    if header and no_header:
        raise AttnclfError("--header and --no-header contradict each other; give one of them")
    return True if header else False if no_header else None


def number_or_auto(option: str, value: str, least: int) -> int | None:
    """The number an option was given, or None for auto; anything else is one line."""
    if value.strip().lower() == AUTO:
        return None
    try:
        number = int(value.strip().replace("_", ""))
    except ValueError:
        raise AttnclfError(f"{option} {value!r} is not a whole number or auto") from None
    if number < least:
        raise AttnclfError(f"{option} {number} must be at least {least} (or auto)")
    return number


Command = TypeVar("Command", bound=Callable[..., Any])


def with_training_options(
    command: Command | None = None, *, defaults: Mapping[str, Any] | None = None
) -> Any:
    """Give `command` every TrainingOptions field as an option of its own, after its own
    parameters; it is called with them gathered as `options: TrainingOptions`. `defaults`:
    the command's own defaults for some of them (`@with_training_options(defaults=...)`)."""
    if command is None:
        return functools.partial(with_training_options, defaults=defaults)
    own = inspect.signature(command, eval_str=True)
    hints = get_type_hints(command, include_extras=True)
    shared_hints = get_type_hints(TrainingOptions, include_extras=True)
    shared = [
        inspect.Parameter(
            field.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=(defaults or {}).get(field.name, field.default),
            annotation=shared_hints[field.name],
        )
        for field in dataclasses.fields(TrainingOptions)
    ]
    kept = [p for name, p in own.parameters.items() if name != "options"]
    names = {field.name for field in dataclasses.fields(TrainingOptions)}

    @functools.wraps(command)
    def wrapper(**values: Any) -> Any:
        options = TrainingOptions(**{name: values.pop(name) for name in names})
        return command(options=options, **values)

    parameters = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in kept] + shared
    wrapper.__signature__ = own.replace(parameters=parameters)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {
        **{p.name: hints[p.name] for p in kept if p.name in hints},
        **{p.name: p.annotation for p in shared},
        "return": hints.get("return"),
    }
    return wrapper
