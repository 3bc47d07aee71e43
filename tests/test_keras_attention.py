"""The ports of keras-self-attention's SeqSelfAttention and keras-multi-head's MultiHeadAttention
against values frozen from the libraries themselves (tests/fixtures/keras/layers.npz, written by
tools/keras_fixtures.py in the Keras venv; no TensorFlow needed here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from attnclf.models.layers.keras_common import glorot_normal_, load_keras_weights
from attnclf.models.layers.keras_multi_head import MultiHeadSelfAttention
from attnclf.models.layers.keras_self_attention import SeqSelfAttention

LAYERS = Path(__file__).parent / "fixtures" / "keras" / "layers.npz"
ATOL = 1e-5

with np.load(LAYERS) as _npz:
    FROZEN: dict[str, np.ndarray] = {key: _npz[key] for key in _npz.files}
CONFIGS: dict[str, dict[str, Any]] = json.loads(str(FROZEN["configs"]))
X = torch.from_numpy(FROZEN["x"])  # (3, 6, 8)
MASK = torch.from_numpy(FROZEN["mask"])  # (3, 6)
SEQ = sorted(n for n, c in CONFIGS.items() if c["class"] == "SeqSelfAttention")
MHA = sorted(n for n, c in CONFIGS.items() if c["class"] == "MultiHeadAttention")
ALL = SEQ + MHA
REGULARISED = [n for n in SEQ if f"{n}/reg" in FROZEN]

Layer = SeqSelfAttention | MultiHeadSelfAttention


@pytest.fixture(autouse=True)
def _no_grad() -> Any:
    with torch.no_grad():
        yield


def frozen(name: str, key: str) -> torch.Tensor:
    return torch.from_numpy(FROZEN[f"{name}/{key}"])


def keras_layer(name: str, mask_mode: str = "correct") -> Layer:
    """The port of fixture `name`, built from its Keras config, holding its Keras weights."""
    spec = CONFIGS[name]
    cls = MultiHeadSelfAttention if spec["class"] == "MultiHeadAttention" else SeqSelfAttention
    layer = cls.from_keras_config(spec["config"], X.shape[-1], mask_mode=mask_mode)
    arrays = [FROZEN[f"{name}/w{i}"] for i in range(len(spec["weight_names"]))]
    load_keras_weights(layer, arrays, layer_name="att")
    return layer


def test_fixtures_cover_the_variants() -> None:
    configs = [CONFIGS[n]["config"] for n in SEQ]
    assert {c["attention_type"] for c in configs} == {"additive", "multiplicative"}
    assert {c["attention_width"] for c in configs} >= {None, 2, 3, 4, 10**9}
    assert any(c["history_only"] for c in configs)
    assert not all(c["use_additive_bias"] for c in configs)
    assert not all(c["use_attention_bias"] for c in configs)
    assert {c["attention_activation"] for c in configs} >= {"linear", "sigmoid"}
    assert REGULARISED
    assert {CONFIGS[n]["config"]["head_num"] for n in MHA} == {2, 4}
    # padding at the end of some rows and at the start of one
    assert not MASK[0, -1] and not MASK[1, -1] and not MASK[2, 0] and MASK[2, -1]


@pytest.mark.parametrize("name", ALL)
def test_weight_order_matches_keras(name: str) -> None:
    layer = keras_layer(name)
    names = [f"{w.keras_name}:0" for w in layer.keras_weight_order("att")]
    assert names == CONFIGS[name]["weight_names"]
    for spec in layer.keras_weight_order("att"):
        assert tuple(getattr(layer, spec.param).shape) == spec.shape
        assert not spec.transpose


@pytest.mark.parametrize("mask_mode", ["correct", "keras"])
@pytest.mark.parametrize("name", ALL)
def test_matches_keras_without_mask(name: str, mask_mode: str) -> None:
    output, attention = keras_layer(name, mask_mode)(X)
    torch.testing.assert_close(output, frozen(name, "out"), atol=ATOL, rtol=0)
    torch.testing.assert_close(attention, frozen(name, "att"), atol=ATOL, rtol=0)


@pytest.mark.parametrize("name", ALL)
def test_keras_mode_matches_keras_with_padding(name: str) -> None:
    output, attention = keras_layer(name, "keras")(X, MASK)
    torch.testing.assert_close(output, frozen(name, "out_masked"), atol=ATOL, rtol=0)
    torch.testing.assert_close(attention, frozen(name, "att_masked"), atol=ATOL, rtol=0)


@pytest.mark.parametrize("name", SEQ)
def test_keras_mode_lets_real_tokens_attend_to_padding(name: str) -> None:
    """keras-self-attention issue #41: only (padding, padding) pairs are masked."""
    attention = frozen(name, "att_masked")  # (B, T, T), Keras' own values
    real_to_pad = attention[MASK[:, :, None] & ~MASK[:, None, :]]
    pad_to_pad = attention[~MASK[:, :, None] & ~MASK[:, None, :]]
    assert real_to_pad.sum() > 0
    if keras_layer(name).window(X.shape[1]) is None:  # a window can leave a query no real key
        assert (real_to_pad > 0).all()
        assert (pad_to_pad < 1e-30).all()  # padded queries attend to the real tokens only
    torch.testing.assert_close(attention.sum(-1), torch.ones(MASK.shape), atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", MHA)
def test_keras_mode_multihead_masks_keys_not_queries(name: str) -> None:
    attention = frozen(name, "att_masked")  # (B, nh, T, T)
    keys = ~MASK[:, None, None, :].expand_as(attention)
    if not CONFIGS[name]["config"]["history_only"]:  # else a query may have no real key left
        assert (attention[keys] < 1e-30).all()
    torch.testing.assert_close(
        attention.sum(-1), torch.ones(attention.shape[:-1]), atol=1e-6, rtol=0
    )


@pytest.mark.parametrize("name", ALL)
def test_correct_mode_gives_padding_zero_weight(name: str) -> None:
    output, attention = keras_layer(name, "correct")(X, MASK)
    if attention.dim() == 4:
        attention = attention.flatten(0, 1)  # (B * nh, T, T)
        mask = MASK.repeat_interleave(attention.shape[0] // MASK.shape[0], dim=0)
    else:
        mask = MASK
        assert (output[~mask] == 0).all()
    assert (attention[~mask[:, None, :].expand_as(attention)] == 0).all()
    assert (attention[~mask] == 0).all()
    real_rows = attention[mask]
    torch.testing.assert_close(real_rows.sum(-1), torch.ones(len(real_rows)), atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", ALL)
def test_correct_mode_equals_the_unpadded_sequence(name: str) -> None:
    """With padding removed, what each real token sees is the same sequence without a mask."""
    layer = keras_layer(name, "correct")
    output, attention = layer(X, MASK)
    for row in range(X.shape[0]):
        real = MASK[row].nonzero().squeeze(-1)
        alone_output, alone_attention = layer(X[row : row + 1, real])
        torch.testing.assert_close(output[row, real], alone_output[0], atol=1e-6, rtol=0)
        picked = attention[row][..., real, :][..., real]
        torch.testing.assert_close(picked, alone_attention[0], atol=1e-6, rtol=0)


def hand_regularizer(
    attention: torch.Tensor, weight: float, mask: torch.Tensor | None = None
) -> float:
    """weight * sum_b sum_{t,t'} ((A_b A_b^T)_{t,t'} - [t == t'])^2 / B, by loops."""
    batch, length, _ = attention.shape
    total = 0.0
    for b in range(batch):
        for t in range(length):
            for u in range(length):
                if mask is not None and not (mask[b, t] and mask[b, u]):
                    continue
                dot = float(torch.dot(attention[b, t], attention[b, u]))
                total += (dot - (1.0 if t == u else 0.0)) ** 2
    return weight * total / batch


@pytest.mark.parametrize("name", REGULARISED)
def test_regularizer(name: str) -> None:
    weight = CONFIGS[name]["config"]["attention_regularizer_weight"]
    for mode in ("correct", "keras"):
        layer = keras_layer(name, mode)
        _, attention = layer(X)
        value = layer.regularizer(attention)
        assert value.shape == ()
        assert value.item() == pytest.approx(hand_regularizer(attention, weight), rel=1e-5)
        assert value.item() == pytest.approx(float(FROZEN[f"{name}/reg"]), rel=1e-5)
    layer = keras_layer(name, "keras")
    _, attention = layer(X, MASK)
    assert layer.regularizer(attention).item() == pytest.approx(
        float(FROZEN[f"{name}/reg_masked"]), rel=1e-5
    )
    layer = keras_layer(name, "correct")
    _, attention = layer(X, MASK)
    expected = hand_regularizer(attention, weight, MASK)
    assert layer.regularizer(attention, MASK).item() == pytest.approx(expected, rel=1e-5)


def test_regularizer_is_zero_without_weight() -> None:
    layer = SeqSelfAttention(8, units=4)
    _, attention = layer(X)
    assert layer.regularizer(attention).item() == 0.0


@pytest.mark.parametrize(
    ("width", "history_only", "expected"),
    [
        (3, False, [(t - 1, t + 1) for t in range(6)]),
        (4, False, [(t - 2, t + 1) for t in range(6)]),  # even: one more step into the past
        (3, True, [(t - 2, t) for t in range(6)]),
        (None, True, [(0, t) for t in range(6)]),
    ],
)
def test_window(width: int | None, history_only: bool, expected: list[tuple[int, int]]) -> None:
    window = SeqSelfAttention(8, attention_width=width, history_only=history_only).window(6)
    assert window is not None
    for t, (low, high) in enumerate(expected):
        keys = window[t].nonzero().squeeze(-1).tolist()
        assert keys == list(range(max(low, 0), min(high, 5) + 1))


@pytest.mark.parametrize("mask_mode", ["correct", "keras"])
@pytest.mark.parametrize(
    "layer",
    [
        lambda mode: SeqSelfAttention(8, units=4, history_only=True, mask_mode=mode),
        lambda mode: SeqSelfAttention(
            8, attention_type="multiplicative", attention_width=3, history_only=True, mask_mode=mode
        ),
        lambda mode: MultiHeadSelfAttention(8, 2, history_only=True, mask_mode=mode),
    ],
)
def test_history_only_never_looks_ahead(layer: Any, mask_mode: str) -> None:
    torch.manual_seed(0)
    module = layer(mask_mode)
    x = torch.randn(2, 7, 8)
    changed = x.clone()
    changed[:, 4:] = torch.randn(2, 3, 8)
    output, attention = module(x)
    output_changed, _ = module(changed)
    torch.testing.assert_close(output[:, :4], output_changed[:, :4], atol=0, rtol=0)
    future = torch.ones(7, 7, dtype=torch.bool).triu(1)
    assert (attention[..., future] < 1e-30).all()


def test_shapes() -> None:
    x = torch.randn(2, 5, 12)
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    for attention_type in ("additive", "multiplicative"):
        layer = SeqSelfAttention(12, units=3, attention_type=attention_type)  # type: ignore[arg-type]
        output, attention = layer(x, mask)
        assert output.shape == (2, 5, 12) and attention.shape == (2, 5, 5)
    output, attention = MultiHeadSelfAttention(12, head_num=3)(x, mask)
    assert output.shape == (2, 5, 12) and attention.shape == (2, 3, 5, 5)


def test_keras_initialisation() -> None:
    torch.manual_seed(0)
    layer = SeqSelfAttention(64, units=32)
    assert layer.Wt is not None and layer.bh is not None and layer.ba is not None
    assert (layer.bh == 0).all() and (layer.ba == 0).all()
    std = (2.0 / (64 + 32)) ** 0.5 / 0.87962566103423978
    assert layer.Wt.abs().max() <= 2 * std
    assert layer.Wt.std().item() == pytest.approx((2.0 / (64 + 32)) ** 0.5, rel=0.1)
    big = glorot_normal_(torch.empty(200, 300))
    assert big.std().item() == pytest.approx((2.0 / 500) ** 0.5, rel=0.03)
    heads = MultiHeadSelfAttention(16, 4)
    assert heads.bq is not None and (heads.bq == 0).all() and heads.Wo.abs().max() > 0


def test_invalid_settings_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="divisible by head_num"):
        MultiHeadSelfAttention(10, head_num=4)
    with pytest.raises(ValueError, match="attention_type"):
        SeqSelfAttention(8, attention_type="dot")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mask_mode"):
        SeqSelfAttention(8, mask_mode="tf")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unsupported Keras activation"):
        SeqSelfAttention(8, attention_activation="mish")
    with pytest.raises(ValueError, match="attention_width"):
        SeqSelfAttention(8, attention_width=0)
    with pytest.raises(ValueError, match="shape"):
        SeqSelfAttention(8)(torch.randn(2, 5, 7))
    with pytest.raises(ValueError, match="bool mask"):
        SeqSelfAttention(8)(torch.randn(2, 5, 8), torch.ones(2, 5))
    layer = SeqSelfAttention(8, units=4)
    with pytest.raises(ValueError, match="expected 5 Keras weights"):
        load_keras_weights(layer, [np.zeros((8, 4))])
    arrays = [np.zeros(w.shape, np.float32) for w in layer.keras_weight_order()]
    arrays[3] = np.zeros((1, 4), np.float32)
    with pytest.raises(ValueError, match="Add_Wa has shape"):
        load_keras_weights(layer, arrays)
