"""Sequence to sequence with attention: the encoder-decoder of Bahdanau, Cho & Bengio 2014
("Neural Machine Translation by Jointly Learning to Align and Translate"), trained on generated
dates or any file of sentence pairs, with its alignments drawn as heatmaps.

    from attnclf.seq2seq import load
    translation = load("models/dates").translate("the 3rd of march 2011")[0]
    translation.output, translation.alignment  # "2011-03-03", one row of alpha per output token

Modules: dates (the generator), pairs (tokens, vocabularies, the TSV reader), data (splits),
model (Seq2SeqConfig, Seq2Seq), decode (greedy, beam search), train (fit), evaluate (metrics),
translator (the model folder), alignment (PNG and HTML heatmaps); the `attnclf seq2seq` commands
are in attnclf/cli/seq2seq.py.
Importing this package does not import torch; `load` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .translator import Translator


def load(path: str | Path, device: str = "auto") -> Translator:
    """Load a model folder written by `attnclf seq2seq train`."""
    from .translator import load as load_translator

    return load_translator(path, device)


__all__ = ["load"]
