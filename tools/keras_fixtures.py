"""Write tests/fixtures/keras/: frozen outputs of the tutorial's own Keras attention layers and tiny
trained Keras models, for attnclf's ports (`attnclf.models.layers.keras_*`) and its importer.

Run only in the Keras venv of shared/anchors/keras_seed/README.md (plus h5py), never from attnclf:

    /tmp/keras-seed-venv/bin/python tools/keras_fixtures.py [--archive PATH] [--out DIR]

Everything is seeded; a rerun writes the same values (the .h5 files may differ in bytes only).

- layers.npz: for each variant of keras-self-attention 0.51.0 `SeqSelfAttention` and
  keras-multi-head 0.29.0 `MultiHeadAttention` (B=3, T=6, F=8, units=4): its Keras config and
  weights, and its output and attention on a shared input `x` without a mask and with the
  Embedding(mask_zero=True)-style mask `mask`, plus the attention regulariser where set.
- models/*.h5, tokenizer.json.gz, texts.json, models.json: Keras 2 HDF5 models trained for one
  epoch on 1,000 IMDB training reviews, the fitted Tokenizer's `to_json()`, 30 test reviews cut
  to 400, 200 or 80 characters (so some need padding), and each model's probabilities on them.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import sys
import tarfile
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import h5py  # noqa: E402
import keras as keras_package  # noqa: E402
import keras_multi_head  # noqa: E402
import keras_self_attention  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras_multi_head import MultiHeadAttention  # noqa: E402
from keras_self_attention import SeqSelfAttention  # noqa: E402
from tensorflow import keras  # noqa: E402
from tensorflow.keras.preprocessing.sequence import pad_sequences  # noqa: E402
from tensorflow.keras.preprocessing.text import Tokenizer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ARCHIVE = ROOT.parent / "shared" / "data" / "aclImdb_v1.tar.gz"
DEFAULT_OUT = ROOT / "tests" / "fixtures" / "keras"

B, T, F, UNITS = 3, 6, 8, 4
# Row 0: one padding step at the end; row 1: three at the end; row 2: two at the start.
MASK = np.array(
    [[1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0], [0, 0, 1, 1, 1, 1]],
    dtype=bool,
)

SEQ_VARIANTS: dict[str, dict[str, Any]] = {
    "add": {},
    "mul": {"attention_type": "multiplicative"},
    "add_width3": {"attention_width": 3},
    "add_width4": {"attention_width": 4},
    "mul_width4": {"attention_type": "multiplicative", "attention_width": 4},
    "add_history": {"history_only": True},
    "add_history_width3": {"history_only": True, "attention_width": 3},
    "mul_history_width2": {
        "attention_type": "multiplicative",
        "history_only": True,
        "attention_width": 2,
    },
    "add_no_additive_bias": {"use_additive_bias": False},
    "add_no_attention_bias": {"use_attention_bias": False},
    "add_no_biases": {"use_additive_bias": False, "use_attention_bias": False},
    "mul_no_attention_bias": {"attention_type": "multiplicative", "use_attention_bias": False},
    "add_sigmoid": {"attention_activation": "sigmoid"},
    "mul_sigmoid": {"attention_type": "multiplicative", "attention_activation": "sigmoid"},
    "add_tanh_width4_history": {
        "attention_activation": "tanh",
        "attention_width": 4,
        "history_only": True,
    },
    "add_sigmoid_reg": {"attention_activation": "sigmoid", "attention_regularizer_weight": 0.1},
    "mul_reg": {"attention_type": "multiplicative", "attention_regularizer_weight": 0.05},
}
MHA_VARIANTS: dict[str, dict[str, Any]] = {
    "mha_heads2": {"head_num": 2},
    "mha_heads4": {"head_num": 4},
    "mha_heads2_history": {"head_num": 2, "history_only": True},
    "mha_heads4_linear": {"head_num": 4, "activation": None},
    "mha_heads2_no_bias": {"head_num": 2, "use_bias": False},
}

NUM_WORDS, MAXLEN, OOV = 500, 40, "<OOV>"
N_TRAIN, N_TEST, TEXT_CUTS = 1000, 30, (400, 200, 80)
# Adam's learning rate per family: at 1e-2 the multihead models' relu units died in one epoch
LEARNING_RATES = {"selfatt": 1e-2, "multihead": 3e-3}


def versions() -> dict[str, str]:
    return {
        "tensorflow": tf.__version__,
        "keras": keras_package.__version__,
        "keras-self-attention": keras_self_attention.__version__,
        "keras-multi-head": keras_multi_head.__version__,
        "h5py": h5py.__version__,
        "numpy": np.__version__,
    }


def random_weights(layer: keras.layers.Layer, rng: np.random.Generator) -> None:
    """Nonzero values for every weight, biases included, so the tests see each mapping."""
    layer.set_weights(
        [(0.5 * rng.standard_normal(w.shape)).astype(np.float32) for w in layer.weights]
    )


def layer_fixtures(out: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, T, F)).astype(np.float32)
    arrays: dict[str, np.ndarray] = {"x": x, "mask": MASK}
    configs: dict[str, Any] = {}
    mask = tf.constant(MASK)
    for name, kwargs in {**SEQ_VARIANTS, **MHA_VARIANTS}.items():
        keras.utils.set_random_seed(0)
        if name.startswith("mha"):
            layer = MultiHeadAttention(name="att", **kwargs)
        else:
            layer = SeqSelfAttention(units=UNITS, return_attention=True, name="att", **kwargs)
        layer.build((None, T, F))
        random_weights(layer, rng)
        for i, w in enumerate(layer.get_weights()):
            arrays[f"{name}/w{i}"] = w
        for suffix, call_mask in (("", None), ("_masked", mask)):
            if name.startswith("mha"):
                y = layer(x, mask=call_mask)
                # the library keeps (B, T, nh, T); store attnclf's (B, nh, T, T)
                att = np.transpose(layer.attention.numpy(), (0, 2, 1, 3))
            else:
                y, att = layer(x, mask=call_mask)
                att = att.numpy()
                if kwargs.get("attention_regularizer_weight"):
                    arrays[f"{name}/reg{suffix}"] = np.asarray(layer.losses[-1].numpy())
            arrays[f"{name}/out{suffix}"] = np.asarray(y)
            arrays[f"{name}/att{suffix}"] = att
        configs[name] = {
            "class": type(layer).__name__,
            "config": layer.get_config(),
            "weight_names": [w.name for w in layer.weights],
        }
    arrays["configs"] = np.array(json.dumps(configs, sort_keys=True))
    np.savez_compressed(out / "layers.npz", **arrays)


def read_imdb(archive: Path) -> dict[str, dict[str, list[tuple[str, str]]]]:
    """{split: {label: [(file name, text)]}} for the labelled reviews, read from the tarball."""
    pattern = re.compile(r"aclImdb/(train|test)/(pos|neg)/(\d+_\d+)\.txt$")
    found: dict[str, dict[str, list[tuple[str, str]]]] = {
        s: {"pos": [], "neg": []} for s in ("train", "test")
    }
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            match = pattern.match(member.name)
            if match is None or not member.isfile():
                continue
            handle = tar.extractfile(member)
            assert handle is not None
            text = handle.read().decode("utf-8")
            found[match[1]][match[2]].append((match[3], text))
    for split in found.values():
        for reviews in split.values():
            reviews.sort()
    return found


def pick(
    reviews: dict[str, list[tuple[str, str]]], n: int, rng: np.random.Generator
) -> tuple[list[str], np.ndarray]:
    texts, labels = [], []
    for label, value in (("neg", 0), ("pos", 1)):
        chosen = rng.choice(len(reviews[label]), size=n // 2, replace=False)
        texts += [reviews[label][i][1] for i in sorted(chosen)]
        labels += [value] * (n // 2)
    order = rng.permutation(len(texts))
    return [texts[i] for i in order], np.array(labels, dtype=np.float32)[order]


def bilstm_selfatt(mask_zero: bool = False, **attention: Any) -> keras.Model:
    inputs = keras.Input((MAXLEN,), dtype="int32")
    h = keras.layers.Embedding(NUM_WORDS, 16, mask_zero=mask_zero)(inputs)
    h = keras.layers.Bidirectional(keras.layers.LSTM(8, return_sequences=True))(h)
    h = SeqSelfAttention(**attention)(h)
    h = keras.layers.Flatten()(h)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(h))


def lstm_multihead(mask_zero: bool = False) -> keras.Model:
    inputs = keras.Input((MAXLEN,), dtype="int32")
    h = keras.layers.Embedding(NUM_WORDS, 16, mask_zero=mask_zero)(inputs)
    h = keras.layers.LSTM(16, return_sequences=True)(h)
    h = MultiHeadAttention(head_num=4)(h)
    h = keras.layers.Flatten()(h)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(h))


MODELS: dict[str, tuple[str, str]] = {
    # name: (padding and truncating, architecture as Keras code)
    "selfatt_pre": (
        "pre",
        "Embedding(500, 16) -> Bidirectional(LSTM(8, return_sequences=True)) -> "
        "SeqSelfAttention(attention_activation='sigmoid') -> Flatten -> Dense(1, sigmoid)",
    ),
    "selfatt_post": ("post", "as selfatt_pre"),
    "multihead_pre": (
        "pre",
        "Embedding(500, 16) -> LSTM(16, return_sequences=True) -> "
        "MultiHeadAttention(head_num=4) -> Flatten -> Dense(1, sigmoid)",
    ),
    "multihead_post": ("post", "as multihead_pre"),
    "selfatt_mul_pre": (
        "pre",
        "as selfatt_pre with SeqSelfAttention(attention_type='multiplicative')",
    ),
    "selfatt_width_history_post": (
        "post",
        "as selfatt_pre with SeqSelfAttention(attention_width=5, history_only=True, "
        "attention_activation='sigmoid')",
    ),
    "selfatt_masked_post": (
        "post",
        "as selfatt_pre with Embedding(500, 16, mask_zero=True)",
    ),
    "multihead_masked_pre": (
        "pre",
        "as multihead_pre with Embedding(500, 16, mask_zero=True)",
    ),
}


def build(name: str) -> keras.Model:
    if name in ("selfatt_pre", "selfatt_post"):
        return bilstm_selfatt(attention_activation="sigmoid")
    if name in ("multihead_pre", "multihead_post"):
        return lstm_multihead()
    if name == "selfatt_mul_pre":
        return bilstm_selfatt(attention_type="multiplicative")
    if name == "selfatt_width_history_post":
        return bilstm_selfatt(attention_width=5, history_only=True, attention_activation="sigmoid")
    if name == "selfatt_masked_post":
        return bilstm_selfatt(mask_zero=True, attention_activation="sigmoid")
    if name == "multihead_masked_pre":
        return lstm_multihead(mask_zero=True)
    raise KeyError(name)


def model_fixtures(archive: Path, out: Path) -> None:
    rng = np.random.default_rng(1)
    imdb = read_imdb(archive)
    train_texts, train_labels = pick(imdb["train"], N_TRAIN, rng)
    test_texts, test_labels = pick(imdb["test"], N_TEST, rng)
    # every third text cut to 200 and every third to 80 characters, so some rows need padding
    test_texts = [t[: TEXT_CUTS[i % len(TEXT_CUTS)]] for i, t in enumerate(test_texts)]

    tokenizer = Tokenizer(num_words=NUM_WORDS, oov_token=OOV)
    tokenizer.fit_on_texts(train_texts)
    (out / "tokenizer.json.gz").write_bytes(
        gzip.compress(tokenizer.to_json().encode("utf-8"), mtime=0)
    )
    (out / "texts.json").write_text(
        json.dumps({"texts": test_texts, "labels": test_labels.astype(int).tolist()}, indent=1)
        + "\n"
    )
    custom = {
        "SeqSelfAttention": SeqSelfAttention,
        "MultiHeadAttention": MultiHeadAttention,
    }
    models_dir = out / "models"
    models_dir.mkdir(exist_ok=True)
    manifest: dict[str, Any] = {
        "versions": versions(),
        "tokenizer": {"file": "tokenizer.json.gz", "num_words": NUM_WORDS, "oov_token": OOV},
        "maxlen": MAXLEN,
        "texts": "texts.json",
        "custom_objects": sorted(custom),
        "training": (
            f"{N_TRAIN} balanced IMDB train reviews, 1 epoch, Adam (learning_rate per model), "
            "binary cross-entropy, batch 16, shuffled, keras.utils.set_random_seed(0)"
        ),
        "models": {},
    }
    train_sequences = tokenizer.texts_to_sequences(train_texts)
    test_sequences = tokenizer.texts_to_sequences(test_texts)
    for name, (padding, architecture) in MODELS.items():
        keras.backend.clear_session()  # layer names restart: embedding, bidirectional, ...
        keras.utils.set_random_seed(0)
        model = build(name)
        learning_rate = LEARNING_RATES[name.split("_")[0]]
        model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="binary_crossentropy")
        xs = pad_sequences(train_sequences, maxlen=MAXLEN, padding=padding, truncating=padding)
        model.fit(xs, train_labels, batch_size=16, epochs=1, shuffle=True, verbose=0)
        path = models_dir / f"{name}.h5"
        model.save(path, include_optimizer=False)
        test_x = pad_sequences(test_sequences, maxlen=MAXLEN, padding=padding, truncating=padding)
        probabilities = model.predict(test_x, verbose=0)[:, 0].astype(np.float64)
        reloaded = keras.models.load_model(path, custom_objects=custom, compile=False)
        again = reloaded.predict(test_x, verbose=0)[:, 0].astype(np.float64)
        assert np.array_equal(probabilities, again), f"{name}: reloaded model differs"
        manifest["models"][name] = {
            "file": f"models/{name}.h5",
            "padding": padding,
            "truncating": padding,
            "architecture": architecture,
            "learning_rate": learning_rate,
            "sequences": test_x.tolist(),
            "probabilities": probabilities.tolist(),
        }
        print(f"{name}: {path.stat().st_size / 1024:.1f} KiB")
    (out / "models.json").write_text(json.dumps(manifest, separators=(",", ":")) + "\n")


def main() -> None:
    if os.environ.get("PYTHONHASHSEED") != "0":
        # Tokenizer.word_docs is filled from a set, so its key order (and to_json's bytes)
        # follows string hashing; a fixed seed makes tokenizer.json.gz reproducible.
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable, *sys.argv])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE, help="aclImdb_v1.tar.gz")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="fixtures folder")
    parser.add_argument("--layers-only", action="store_true", help="skip the trained models")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    tf.config.experimental.enable_op_determinism()
    layer_fixtures(args.out)
    if not args.layers_only:
        model_fixtures(args.archive, args.out)
    print(json.dumps(versions()))


if __name__ == "__main__":
    main()
