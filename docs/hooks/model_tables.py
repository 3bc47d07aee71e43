"""Tables of the registered model families, made from the registry as the site builds, so that
the Concepts pages cannot fall behind the code:

- `<!-- generated: family-settings -->`: each family's Config fields with their defaults (the
  `model` object of a classifier folder's config.json);
- `<!-- generated: classifier-tensors -->`: each family's tensors in model.safetensors, name,
  shape and dtype, at the family's defaults;
- `<!-- generated: seq2seq-tensors -->`: the same for the seq2seq model, per attention kind.

Sizes that come from the data are built with probe values no default has, and shown as
symbols: V the vocabulary, C the outputs, L the fixed width (`max_len`), F the n-gram table,
Vs and Vt the seq2seq source and target vocabularies."""

from __future__ import annotations

import dataclasses
import functools
import html
import json
from collections.abc import Callable
from typing import Any

# probe sizes, primes that no family's default dimension equals or is a multiple of
V, C, L, F = 9973, 7, 211, 101
SOURCE, TARGET = 9967, 9949
# the fields a run fills in (registry.DATA_FIELDS and TEXT_FIELDS), whatever the default says
SET_BY = {
    "vocab_size": "the vocabulary built on the data",
    "num_outputs": "the labels: 1 for two, else one per label",
    "pad_id": "the vocabulary (0)",
    "max_len": "<code>--max-len</code>",
}


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    for marker, make in MAKERS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, make())
    return markdown


@functools.cache
def family_settings() -> str:
    from attnclf.models import all_families
    from attnclf.models.registry import DATA_FIELDS, TEXT_FIELDS

    filled = set(DATA_FIELDS + TEXT_FIELDS)
    parts = []
    for name, family in all_families().items():
        rows = [
            f"<tr><td><code>{f.name}</code></td><td><code>{html.escape(default(f))}</code></td>"
            f"<td>{SET_BY[f.name] if f.name in filled else ''}</td></tr>"
            for f in dataclasses.fields(family.config)
        ]
        title = f"<code>{name}</code>: {family.config.__name__}"
        parts += [folded(title, table(["field", "default", "filled in from"], rows)), ""]
    return "\n".join(parts)


@functools.cache
def classifier_tensors() -> str:
    from attnclf.models import all_families

    parts = []
    for name, family in all_families().items():
        fields = {f.name for f in dataclasses.fields(family.config)}
        probe: dict[str, Any] = {"vocab_size": V, "num_outputs": C}
        if "max_len" in fields:
            probe["max_len"] = L
        if "features" in fields:
            probe["features"] = F
        model = family.build(family.make_config(**probe), None)
        symbols = {V: "V", C: "C", F: "F"}
        parts += [folded(f"<code>{name}</code>", tensor_table(model.state_dict(), symbols)), ""]
    return "\n".join(parts)


@functools.cache
def seq2seq_tensors() -> str:
    from attnclf.seq2seq.model import ATTENTION_KINDS, Seq2Seq, Seq2SeqConfig

    parts = []
    for kind in ATTENTION_KINDS:
        config = Seq2SeqConfig(source_vocab_size=SOURCE, target_vocab_size=TARGET, attention=kind)
        model = Seq2Seq(config)
        symbols = {SOURCE: "Vs", TARGET: "Vt"}
        title = f"attention <code>{kind}</code>"
        parts += [folded(title, tensor_table(model.state_dict(), symbols)), ""]
    return "\n".join(parts)


def tensor_table(state: dict[str, Any], symbols: dict[int, str]) -> str:
    rows = [
        f"<tr><td><code>{html.escape(key)}</code></td>"
        f"<td><code>({', '.join(dimension(d, symbols) for d in tensor.shape)}"
        f"{',' if tensor.dim() == 1 else ''})</code></td>"
        f"<td>{str(tensor.dtype).removeprefix('torch.')}</td></tr>"
        for key, tensor in state.items()
    ]
    return table(["tensor", "shape", "dtype"], rows)


def dimension(size: int, symbols: dict[int, str]) -> str:
    if size in symbols:
        return symbols[size]
    if "V" in symbols.values() and size % L == 0:  # a fixed-width layer: L positions of a width
        return f"{size // L}·L"
    return str(size)


def default(field: dataclasses.Field) -> str:
    if field.default is not dataclasses.MISSING:
        value = field.default
    elif field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
    else:
        return "(required)"
    return json.dumps(value)


def table(headers: list[str], rows: list[str]) -> str:
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "\n".join(rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def folded(title: str, body: str) -> str:
    """A block folded under its title, as Material draws `??? note` (raw HTML, so that the
    table inside stays a block)."""
    return f'<details class="note">\n<summary>{title}</summary>\n{body}\n</details>'


MAKERS: dict[str, Callable[[], str]] = {
    "<!-- generated: family-settings -->": family_settings,
    "<!-- generated: classifier-tensors -->": classifier_tensors,
    "<!-- generated: seq2seq-tensors -->": seq2seq_tensors,
}
