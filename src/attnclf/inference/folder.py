"""The model folder, for every kind of model attnclf saves: `config.json` (what to build, with
its format and the attnclf version that wrote it), `vocab.json` and `model.safetensors`.
Loading reads JSON and safetensors only; it runs no code from the folder. Each file is written
atomically, config.json last, so a folder with a config.json is complete."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import AttnclfError
from ..runtime.files import atomic_write, write_json, write_text
from ..version import __version__

if TYPE_CHECKING:
    import torch
    from torch import nn

CONFIG_FILE, VOCAB_FILE, WEIGHTS_FILE = "config.json", "vocab.json", "model.safetensors"
ONNX_FILE = "model.onnx"  # the exported graph, when `attnclf export` has run (export.py)


# A name given to a model folder (`attnclf serve NAME=PATH`, an ensemble's member): safe as a
# URL segment and as a folder name (no "/" or "..")
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def named_path(spec: str | Path) -> tuple[str, Path]:
    """`PATH` or `NAME=PATH`; the name defaults to the folder's own name (not yet checked
    against MODEL_NAME)."""
    text = str(spec)
    name, sep, rest = text.partition("=")
    if sep and MODEL_NAME.fullmatch(name) and not Path(text).exists():
        return name, Path(rest)
    return Path(text).resolve().name, Path(text)


@dataclass(frozen=True)
class FolderKind:
    """What a folder holds: its `format` in config.json and the command that writes one."""

    format: str
    noun: str  # "classifier", "seq2seq"
    folder: str  # what to call such a folder in a message
    written_by: str  # the command, as a user would type it


CLASSIFIER = FolderKind(
    "attnclf-classifier", "classifier", "attnclf model folder", "attnclf train --out"
)
SEQ2SEQ = FolderKind(
    "attnclf-seq2seq", "seq2seq", "attnclf seq2seq model folder", "attnclf seq2seq train --out"
)
ENSEMBLE = FolderKind(
    "attnclf-ensemble", "ensemble", "attnclf ensemble folder", "attnclf ensemble --out"
)
KINDS = (CLASSIFIER, SEQ2SEQ, ENSEMBLE)


def write_folder(
    path: str | Path,
    kind: FolderKind,
    config: dict[str, Any],
    state: dict[str, torch.Tensor],
    vocab: Any,
) -> Path:
    """Write the weights, the vocabulary (anything JSON holds) and config.json into `path`."""
    from safetensors.torch import save_file

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tensors = {name: value.detach().cpu().contiguous() for name, value in state.items()}
    atomic_write(path / WEIGHTS_FILE, lambda tmp: save_file(tensors, str(tmp)))
    write_text(path / VOCAB_FILE, json.dumps(vocab, ensure_ascii=False))
    write_json(
        path / CONFIG_FILE, {"format": kind.format, "attnclf_version": __version__, **config}
    )
    return path


def read_json(path: Path, name: str, kind: FolderKind, what: str) -> Any:
    """A JSON file of the folder, with one-line errors for a missing folder, file or JSON."""
    if not path.is_dir():
        raise AttnclfError(
            f"{path} is not a folder; give the folder that `{kind.written_by}` wrote"
        )
    file = path / name
    if not file.is_file():
        raise AttnclfError(
            f"{path} is not an {kind.folder} (no {name}); give the folder "
            f"that `{kind.written_by}` wrote"
        )
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise AttnclfError(f"{file} is not valid JSON ({error}); its {what} is damaged") from None


def read_config(path: str | Path, kind: FolderKind) -> dict[str, Any]:
    """config.json of a folder of `kind`; a folder of another kind is named as such."""
    path = Path(path)
    config = read_json(path, CONFIG_FILE, kind, "config")
    if not isinstance(config, dict) or config.get("format") != kind.format:
        found = config.get("format") if isinstance(config, dict) else None
        other = next((k for k in KINDS if k.format == found), None)
        article = "an" if other is not None and other.noun[0] in "aeiou" else "a"
        hint = f"; it is {article} {other.noun} folder" if other is not None else ""
        raise AttnclfError(
            f"{path / CONFIG_FILE} is not an attnclf {kind.noun} config (format "
            f"{kind.format!r}){hint}; give a folder written by `{kind.written_by}`"
        )
    return config


def folder_kind(path: str | Path) -> FolderKind | None:
    """The kind of model folder `path` is, or None when it is none that attnclf writes."""
    file = Path(path) / CONFIG_FILE
    try:
        found = json.loads(file.read_text(encoding="utf-8")).get("format")
    except (OSError, ValueError, AttributeError):
        return None
    return next((kind for kind in KINDS if kind.format == found), None)


def load_weights(model: nn.Module, file: Path) -> None:
    """Fill `model` from a safetensors file that must match its parameters name for name and
    shape for shape; anything else is one line saying what differs."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not file.exists():
        raise AttnclfError(f"{file.parent} has no {WEIGHTS_FILE}; the model folder is incomplete")
    try:
        state = load_file(str(file))
    except (SafetensorError, OSError, ValueError) as error:
        raise AttnclfError(
            f"{file} is not a safetensors file ({error}); retrain or re-copy it"
        ) from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [
        f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    problems = []
    if missing:
        problems.append(f"missing {', '.join(missing[:5])}")
    if unexpected:
        problems.append(f"unexpected {', '.join(unexpected[:5])}")
    if wrong:
        problems.append(f"wrong shape {', '.join(wrong[:5])}")
    if problems:
        raise AttnclfError(
            f"{file} does not fit its config.json ({'; '.join(problems)}); "
            "was it saved by another attnclf version? retrain it with this one"
        )
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()})
