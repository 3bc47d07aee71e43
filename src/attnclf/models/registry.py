"""Model families by name. A family is one file in `models/families/` that ends with one
`register(Family(...))`: its Config dataclass, how to build the model, a tiny config for tests,
and what the benchmark needs to count its FLOPs. The CLI's choices and help, the model folder,
the tests that run over every family and the benchmark all read this registry, so a new family
needs no other edit.

This module imports no torch: the families' own modules (which do) are imported the first time
the registry is asked for them.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import AttnclfError

if TYPE_CHECKING:
    from torch import nn

    from ..text.tokens import Vocab

# Every family's Config has these fields: the experiment fills them from the data.
DATA_FIELDS = ("vocab_size", "num_outputs", "pad_id")
# A Config may have these too; the experiment then fills them from the text settings (a model
# of fixed width reads --max-len).
TEXT_FIELDS = ("max_len",)


@dataclass(frozen=True)
class Family:
    """One model family."""

    name: str  # as typed after --model, saved as "architecture" in config.json
    summary: str  # one line for `--help`
    config: type  # a dataclass with at least DATA_FIELDS
    # (config, vocab) -> the model, a models.outputs.Classifier; `vocab` is the vocabulary the
    # model will read (None when loading a saved folder, whose weights hold everything)
    build: Callable[[Any, Vocab | None], nn.Module]
    tiny: Mapping[str, Any] = field(default_factory=dict)  # a config for tests: seconds on CPU
    # (config, mean real tokens per text) -> forward FLOPs of one text by part ("total"
    # included; a multiply-add is 2); None: the benchmark measures them with PyTorch's counter
    forward_flops: Callable[[Any, float], dict[str, float]] | None = None
    # trains the model directly instead of the gradient loop: (model, train, validation,
    # TrainConfig) -> a result with train.FitResult's fields; it fills the model's weights and
    # updates `model.config` (which the folder saves) when training sets any of its fields
    fit: Callable[..., Any] | None = None

    def from_text(self, text_config: Any) -> dict[str, Any]:
        """The TEXT_FIELDS this family's Config has, from a config.TextConfig."""
        fields = _field_names(self.config)
        return {name: getattr(text_config, name) for name in TEXT_FIELDS if name in fields}

    def make_config(self, **values: Any) -> Any:
        """The Config from keyword values; an unknown key is an error that names the known."""
        known = {f.name for f in dataclasses.fields(self.config)}
        unknown = set(values) - known
        if unknown:
            raise AttnclfError(
                f"model {self.name} has no settings {', '.join(sorted(unknown))}; "
                f"it has {', '.join(sorted(known))}"
            )
        return self.config(**values)


_FAMILIES: dict[str, Family] = {}
_builtins_loaded = False


def register(family: Family) -> Family:
    """Add `family` under its name; registering a second family under a taken name is an
    error (unregister the first)."""
    if not dataclasses.is_dataclass(family.config):
        raise TypeError(f"family {family.name}: config must be a dataclass")
    missing = [name for name in DATA_FIELDS if name not in _field_names(family.config)]
    if missing:
        raise TypeError(f"family {family.name}: its config lacks {', '.join(missing)}")
    existing = _FAMILIES.get(family.name)
    if existing is not None and existing != family:
        raise ValueError(f"a model family named {family.name!r} is already registered")
    _FAMILIES[family.name] = family
    return family


def unregister(name: str) -> None:
    _FAMILIES.pop(name, None)


def all_families() -> dict[str, Family]:
    """Every registered family by name, the built-in ones first."""
    _load_builtin_families()
    return dict(_FAMILIES)


def family_names() -> list[str]:
    return list(all_families())


def get_family(name: str) -> Family:
    known = all_families()
    if name not in known:
        raise AttnclfError(f"unknown model {name!r}; choose from {', '.join(known)}")
    return known[name]


def check_model_names(names: list[str]) -> None:
    """At least one name, each a registered family's; else an error naming the known ones."""
    known = all_families()
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise AttnclfError(
            f"unknown model {', '.join(unknown) or '(none)'}; choose from {', '.join(known)}"
        )


def model_config(name: str, **values: Any) -> Any:
    """The Config of family `name`, from keyword values (unknown keys are an error)."""
    return get_family(name).make_config(**values)


def build_model(name: str, config: Any, vocab: Vocab | None = None) -> nn.Module:
    """A fresh model of family `name` from its Config."""
    return get_family(name).build(config, vocab)


def _field_names(config: type) -> set[str]:
    return {f.name for f in dataclasses.fields(config)}


def _load_builtin_families() -> None:
    """Import every module of `models/families/`: each registers its family."""
    global _builtins_loaded
    if _builtins_loaded:
        return
    _builtins_loaded = True
    package = importlib.import_module(f"{__package__}.families")
    for module in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        importlib.import_module(f"{package.__name__}.{module.name}")
