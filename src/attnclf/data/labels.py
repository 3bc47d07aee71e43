"""One row's text and label by the rules every reader applies (CSV, JSON, Parquet, a saved
Hugging Face dataset, rows in memory): what class a label names (`label_name`), and whether the
row is an example or is skipped and counted (`add_example`)."""

from __future__ import annotations

import math
import re
from collections import Counter
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal

from .examples import RawSplit

NAN_LABEL = "NaN label"
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", re.ASCII)


def add_example(raw: RawSplit, text: str | None, label: object, skipped: Counter[str]) -> None:
    """Add the row to `raw`, or count why it is left out: a text that is missing, empty or only
    whitespace ("empty text"), a NaN label ("NaN label"), a missing or blank one ("empty
    label"). Lone surrogates in the text become U+FFFD; the text is otherwise kept as written."""
    name = label_name(label)
    if text is None or not text.strip():
        skipped["empty text"] += 1
    elif name is None:
        skipped[NAN_LABEL] += 1
    elif not name:
        skipped["empty label"] += 1
    else:
        raw.add(LONE_SURROGATE.sub("\ufffd", text), name)


def label_name(value: object) -> str | None:
    """The class a label names: its text, stripped; "" for none (null, blank); None for NaN.

    A number names one class however it is written: a JSON number, or a text that reads as a
    decimal number, is named by its shortest exact decimal, so 1, 1.0, "1.0", "+1", "01" and
    1e0 are all "1", -0 is "0", and 0.5 and "0.50" are "0.5". A JSON boolean is the number it
    stands for in Python (true is "1", false is "0"), so that true among 0s and 1s is not a
    class of its own. Every other label keeps its text ("pos", "Positive", "1e", "inf")."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (bool, int)):
        return _number_name(Decimal(int(value)))
    if isinstance(value, float) and math.isfinite(value):
        return _number_name(Decimal(repr(value)))  # repr: the shortest decimal of the float
    text = LONE_SURROGATE.sub("\ufffd", str(value)).strip()
    if text.lower() in ("nan", "+nan", "-nan"):
        return None
    return _number_name(Decimal(text)) if NUMBER.fullmatch(text) else text


def _number_name(number: Decimal) -> str:
    """The shortest exact decimal of `number`: without trailing zeros, in full unless its
    exponent is large (1E+999999999 stays so)."""
    if number.is_zero():
        return "0"
    exact = Context(prec=len(number.as_tuple().digits), Emax=MAX_EMAX, Emin=MIN_EMIN)
    number = number.normalize(exact)
    return format(number, "f") if abs(number.adjusted()) <= 30 else str(number)
