"""`attnclf import-keras`: a Keras 2 HDF5 model file of the tutorial's kind (Embedding ->
(Bi)LSTMs -> SeqSelfAttention or MultiHeadAttention -> Flatten -> Dense) as an attnclf model
folder, read with h5py alone (no TensorFlow). Every layer setting comes from the file's model
config, so the layers' variants convert; a layer of another kind is one line naming it.

Keras -> PyTorch, per layer:
- Embedding: `embeddings` (V, E) as is; `mask_zero` picks the "keras" masking, else "none".
- LSTM: `kernel` (in, 4u) and `recurrent_kernel` (u, 4u) transposed; gates i, f, c, o in both;
  Keras' one `bias` goes to bias_ih and bias_hh is 0. Bidirectional(merge_mode="concat"):
  forward then backward weights (to forward_rnn and backward_rnn), outputs concatenated in
  that order.
- SeqSelfAttention / MultiHeadAttention: see models/layers/keras_common's weight mapping.
- Flatten -> Dense: the (L * F, C) kernel transposed; Flatten's row-major order is torch's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import TextConfig, to_dict
from ..errors import AttnclfError
from ..inference.classifier import TextClassifier
from ..models import get_family
from ..models.families.tutorial import TutorialClassifier, TutorialConfig
from ..text.keras_text import KerasTextRules, WordIndex, read_word_index, truncating_to_truncation
from ..text.tokens import Vocab

SUPPORTED = "InputLayer, Embedding, LSTM, Bidirectional(LSTM), SeqSelfAttention, " \
    "MultiHeadAttention, Dropout, Flatten and one Dense output"


@dataclass
class KerasLayer:
    kind: str  # class_name
    name: str
    config: dict[str, Any]
    weights: list[np.ndarray]


def read_h5(path: str | Path) -> tuple[list[KerasLayer], dict[str, Any]]:
    """The layers of a Keras 2 .h5 model in order, with their weights, and the file's attrs."""
    try:
        import h5py
    except ImportError:
        raise AttnclfError(
            "reading a Keras .h5 file needs h5py: pip install 'attnclf[keras]'"
        ) from None

    path = Path(path)
    if not path.is_file():
        raise AttnclfError(f"{path} is not a file; give a Keras .h5 file saved by model.save()")
    try:
        file = h5py.File(path, "r")
    except OSError as error:
        raise AttnclfError(f"{path} is not an HDF5 file ({error}); give a Keras 2 .h5") from None
    with file:
        raw = file.attrs.get("model_config")
        if raw is None:
            raise AttnclfError(
                f"{path} has no model config (saved with save_weights?); save it with "
                "model.save('model.h5') so the architecture travels with the weights"
            )
        model_config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        group = file["model_weights"] if "model_weights" in file else file
        layers = []
        for entry in model_config.get("config", {}).get("layers", []):
            name = entry.get("config", {}).get("name") or entry.get("name")
            weights = []
            if name in group:
                names = group[name].attrs.get("weight_names", [])
                weights = [
                    np.asarray(group[name][n.decode() if isinstance(n, bytes) else n])
                    for n in names
                ]
            layers.append(KerasLayer(entry["class_name"], name, entry.get("config", {}), weights))
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in file.attrs.items()}
    return layers, {"keras_version": attrs.get("keras_version"), "backend": attrs.get("backend")}


def _width(layers: list[KerasLayer]) -> int | None:
    for layer in layers:
        shape = layer.config.get("batch_input_shape") or layer.config.get("batch_shape")
        if layer.kind == "InputLayer" and shape and len(shape) > 1 and shape[1]:
            return int(shape[1])
        if layer.kind == "Embedding" and layer.config.get("input_length"):
            return int(layer.config["input_length"])
    return None


def _activation(value: Any) -> str | None:
    """A Keras activation setting by name (keras_common.activation_name reads it), None for
    linear; an unknown one keeps its name, for its layer's check to reject."""
    from ..models.layers.keras_common import activation_name

    try:
        name = activation_name(value)
    except ValueError:
        return str(value)
    return None if name == "linear" else name


def _check_lstm(layer: KerasLayer, config: dict[str, Any]) -> None:
    problems = []
    if _activation(config.get("activation", "tanh")) != "tanh":
        problems.append(f"activation {config.get('activation')}")
    if _activation(config.get("recurrent_activation", "sigmoid")) != "sigmoid":
        problems.append(f"recurrent_activation {config.get('recurrent_activation')}")
    if not config.get("return_sequences", False):
        problems.append("return_sequences=False (the attention needs the sequence)")
    if config.get("go_backwards") or config.get("stateful"):
        problems.append("go_backwards/stateful")
    if not config.get("use_bias", True):
        problems.append("use_bias=False")
    if problems:
        raise AttnclfError(
            f"layer {layer.name} (LSTM) has {', '.join(problems)}, which import-keras does not "
            "convert; it converts LSTMs with tanh/sigmoid activations that return sequences"
        )


def _lstm_state(arrays: list[np.ndarray], prefix: str) -> dict[str, torch.Tensor]:
    kernel, recurrent, bias = arrays
    return {
        f"{prefix}.weight_ih_l0": torch.from_numpy(kernel.T.copy()),  # (4u, in)
        f"{prefix}.weight_hh_l0": torch.from_numpy(recurrent.T.copy()),  # (4u, u)
        f"{prefix}.bias_ih_l0": torch.from_numpy(bias.copy()),
        f"{prefix}.bias_hh_l0": torch.zeros(bias.shape, dtype=torch.float32),
    }


def convert(
    layers: list[KerasLayer], max_len: int | None = None, padding: str = "pre"
) -> tuple[str, TutorialClassifier]:
    """The attnclf family and model that compute what the Keras layers compute."""
    from ..models.layers.keras_common import load_keras_weights

    width = max_len or _width(layers)
    if width is None:
        raise AttnclfError(
            "the Keras model's input has no fixed length; give it with --max-len N (the "
            "maxlen it was padded to)"
        )
    if padding not in ("pre", "post"):
        raise AttnclfError(f"--padding {padding!r} is not one of pre, post")
    settings: dict[str, Any] = {"max_len": width, "padding": padding, "lstm_units": []}
    state: dict[str, torch.Tensor] = {}
    lstm_weights: list[tuple[list[np.ndarray], bool]] = []
    attention: KerasLayer | None = None
    dense: KerasLayer | None = None
    embedding: KerasLayer | None = None
    for layer in layers:
        kind, config = layer.kind, layer.config
        if kind in ("InputLayer", "Dropout", "SpatialDropout1D"):
            continue
        if dense is not None:
            raise AttnclfError(
                f"layer {layer.name} ({kind}) follows the output Dense layer; import-keras "
                f"converts {SUPPORTED}"
            )
        if kind == "Embedding":
            embedding = layer
            settings["vocab_size"] = int(config["input_dim"])
            settings["embedding_dim"] = int(config["output_dim"])
            settings["masking"] = "keras" if config.get("mask_zero") else "none"
        elif kind in ("LSTM", "Bidirectional") and attention is None and embedding is not None:
            inner = config["layer"] if kind == "Bidirectional" else {"config": config}
            if kind == "Bidirectional" and inner.get("class_name") != "LSTM":
                raise AttnclfError(
                    f"layer {layer.name} is Bidirectional({inner.get('class_name')}); "
                    f"import-keras converts {SUPPORTED}"
                )
            if kind == "Bidirectional" and config.get("merge_mode", "concat") != "concat":
                raise AttnclfError(
                    f"layer {layer.name} merges its directions by {config.get('merge_mode')}; "
                    "import-keras converts merge_mode='concat'"
                )
            _check_lstm(layer, inner["config"])
            both = kind == "Bidirectional"
            if settings["lstm_units"] and settings["bidirectional"] != both:
                raise AttnclfError(
                    f"layer {layer.name}: import-keras converts stacks whose LSTMs are all "
                    "bidirectional or all one-way"
                )
            settings["bidirectional"] = both
            settings["lstm_units"].append(int(inner["config"]["units"]))
            lstm_weights.append((layer.weights, both))
        elif kind == "SeqSelfAttention" and attention is None and lstm_weights:
            attention = layer
            if config.get("return_attention"):
                raise AttnclfError(
                    f"layer {layer.name} returns its attention as a second output; save the "
                    "model with return_attention=False (the default) to import it"
                )
            settings.update(
                attention="seq-self-attention",
                units=int(config.get("units", 32)),
                attention_type=config.get("attention_type", "additive"),
                attention_width=config.get("attention_width"),
                history_only=bool(config.get("history_only", False)),
                use_additive_bias=bool(config.get("use_additive_bias", True)),
                use_attention_bias=bool(config.get("use_attention_bias", True)),
                attention_activation=_activation(config.get("attention_activation")),
                attention_regularizer_weight=float(
                    config.get("attention_regularizer_weight", 0.0) or 0.0
                ),
            )
        elif kind == "MultiHeadAttention" and attention is None and lstm_weights:
            attention = layer
            settings.update(
                attention="multi-head",
                head_num=int(config["head_num"]),
                activation=_activation(config.get("activation", "relu")),
                use_bias=bool(config.get("use_bias", True)),
                history_only=bool(config.get("history_only", False)),
            )
        elif kind == "Flatten" and attention is not None:
            continue
        elif kind == "Dense" and attention is not None:
            dense = layer
        else:
            raise AttnclfError(
                f"layer {layer.name} ({kind}) is not one import-keras converts here; it "
                f"converts {SUPPORTED}, in that order"
            )
    if embedding is None or attention is None or dense is None:
        raise AttnclfError(
            f"the Keras model lacks an Embedding, an attention layer or its output Dense; "
            f"import-keras converts {SUPPORTED}"
        )
    units, activation = int(dense.config["units"]), _activation(dense.config.get("activation"))
    if (units, activation) not in ((1, "sigmoid"), (units, "softmax")) or units < 1:
        raise AttnclfError(
            f"the output layer {dense.name} is Dense({units}, {activation}); import-keras "
            "converts Dense(1, sigmoid) and Dense(K, softmax)"
        )
    if units == 2 and activation == "softmax":
        raise AttnclfError(
            f"the output layer {dense.name} is Dense(2, softmax); attnclf reads two labels "
            "with one sigmoid output, so it cannot import this one exactly"
        )
    settings["num_outputs"] = units
    name = (
        "tutorial-self-attention" if attention.kind == "SeqSelfAttention" else "tutorial-multihead"
    )
    family = get_family(name)
    try:
        config = family.make_config(**settings)
        model = family.build(config, None)
    except (ValueError, IndexError) as error:
        raise AttnclfError(f"the Keras model cannot be built in attnclf: {error}") from None
    assert isinstance(model, TutorialClassifier)
    state["embedding.weight"] = torch.from_numpy(embedding.weights[0].copy())
    for number, (arrays, both) in enumerate(lstm_weights):
        state.update(_lstm_state(arrays[:3], f"lstms.{number}.forward_rnn"))
        if both:
            state.update(_lstm_state(arrays[3:6], f"lstms.{number}.backward_rnn"))
    kernel, bias = dense.weights
    expected = model.output_layer.weight.shape[1]
    if kernel.shape[0] != expected:
        raise AttnclfError(
            f"the output layer {dense.name} reads {kernel.shape[0]} values, not {expected} "
            f"({width} positions x the attention's width): give the length the model was "
            "built for with --max-len"
        )
    state["output_layer.weight"] = torch.from_numpy(kernel.T.copy())
    state["output_layer.bias"] = torch.from_numpy(bias.copy())
    own = model.state_dict()
    for key, value in state.items():
        if own[key].shape != value.shape:
            raise AttnclfError(
                f"weight {key} is {tuple(value.shape)} in the .h5 but {tuple(own[key].shape)} "
                "in the converted model; the file's config and weights disagree"
            )
    model.load_state_dict(state, strict=False)
    try:
        load_keras_weights(model.attention, attention.weights)
    except ValueError as error:
        raise AttnclfError(f"layer {attention.name}: {error}") from None
    return name, model


def import_keras(
    path: str | Path,
    out: str | Path,
    word_index: str | Path | None = None,
    max_len: int | None = None,
    padding: str = "pre",
    truncating: str = "pre",
    labels: list[str] | None = None,
    index_from: int = 3,
    token_pattern: str | None = None,
) -> TextClassifier:
    """Convert the .h5 at `path` and save it as a model folder at `out`. With `word_index` the
    folder reads raw text as Keras did; without it, a text is its ids separated by spaces."""
    layers, attrs = read_h5(path)
    name, model = convert(layers, max_len, padding)
    config: TutorialConfig = model.config
    if labels is None:
        labels = [str(i) for i in range(max(config.num_outputs, 2))]
    wanted = 2 if config.num_outputs == 1 else config.num_outputs
    if len(labels) != wanted:
        raise AttnclfError(
            f"--labels names {len(labels)} labels but the model has {wanted}; give them in the "
            "order of the Keras outputs (for one sigmoid output: the 0 label, then the 1 label)"
        )
    text = TextConfig(
        vocab_size=config.vocab_size,
        max_len=config.max_len,
        truncation=truncating_to_truncation(truncating),
        tokenizer="keras",
    )
    if word_index is not None:
        read: WordIndex = read_word_index(
            word_index, config.vocab_size, index_from=index_from, token_pattern=token_pattern
        )
        tokens, text.keras = read.id_to_token, to_dict(read.rules)
    else:
        # no word index: a text is its ids, separated by spaces ("1 14 22 16")
        tokens = ["<pad>"] + [str(i) for i in range(1, config.vocab_size)]
        text.keras = to_dict(KerasTextRules(num_words=config.vocab_size))
    oov = (text.keras or {}).get("oov_id")
    vocab = Vocab.of_ids(tokens, oov if oov is not None else 1)
    classifier = TextClassifier(
        name,
        model,
        vocab,
        text,
        labels,
        metadata={"imported": {"from": str(path), **attrs}},
        device="cpu",
    )
    classifier.save(out)
    return classifier
