"""The tutorial's exact Keras models as families: fixed width and padding sides, the fast
additive scores, training-mode outputs, and `compare --preset tutorial`."""

from __future__ import annotations

import json

import pytest
import torch
from helpers import assert_one_line_error, run_cli

import attnclf.models.layers.keras_self_attention as keras_self_attention
from attnclf.models import build_model, get_family, model_config
from attnclf.models.layers.keras_self_attention import SeqSelfAttention, additive_scores


def tiny(name: str, **settings):
    values = {**get_family(name).tiny, "vocab_size": 50, "num_outputs": 1, **settings}
    torch.manual_seed(0)
    return build_model(name, model_config(name, **values)).eval()


def test_the_blocked_additive_scores_are_the_broadcast_and_its_gradient(monkeypatch):
    monkeypatch.setattr(keras_self_attention, "ADDITIVE_BLOCK_ELEMENTS", 40)  # several blocks
    generator = torch.Generator().manual_seed(0)
    q, k = (torch.randn(3, 7, 4, generator=generator, dtype=torch.float64) for _ in range(2))
    bias, w = (torch.randn(4, generator=generator, dtype=torch.float64) for _ in range(2))
    inputs = [t.requires_grad_() for t in (q, k, bias, w)]
    expected = torch.tanh(q[:, :, None] + k[:, None] + bias) @ w  # (B, T, T)
    torch.testing.assert_close(additive_scores(*inputs), expected, atol=1e-6, rtol=0)
    assert torch.autograd.gradcheck(additive_scores, inputs, atol=1e-5)


def test_the_layer_in_float32_computes_what_the_plain_formula_does():
    torch.manual_seed(0)
    layer = SeqSelfAttention(8, units=5, attention_activation="sigmoid")
    x = torch.randn(2, 9, 8)
    q, k = x @ layer.Wt, x @ layer.Wx
    e = torch.sigmoid(torch.tanh(q[:, :, None] + k[:, None] + layer.bh) @ layer.Wa[:, 0] + layer.ba)
    output, attention = layer(x)
    torch.testing.assert_close(attention, torch.softmax(e, dim=-1), atol=2e-6, rtol=0)
    torch.testing.assert_close(output, torch.softmax(e, dim=-1) @ x, atol=2e-6, rtol=0)


@pytest.mark.parametrize("padding", ["post", "pre"])
@pytest.mark.parametrize("masking", ["correct", "none", "keras"])
def test_every_padding_side_and_masking_keeps_the_contract(padding, masking):
    model = tiny("tutorial-self-attention", max_len=12, padding=padding, masking=masking)
    ids = torch.tensor([[5, 6, 7, 8, 0], [9, 10, 0, 0, 0]])
    lengths = torch.tensor([4, 2])
    output = model(ids, lengths)
    assert output.logits.shape == (2, 1) and output.token_attention.shape == (2, 1, 5, 5)
    torch.testing.assert_close(output.attention.sum(dim=1), torch.ones(2))
    assert torch.all(output.attention[1, 2:] == 0)
    alone = model(ids[1:, :2], lengths[1:]).logits
    torch.testing.assert_close(alone, output.logits[1:])


def test_where_the_padding_sits_matters_only_when_the_model_reads_it():
    ids, lengths = torch.tensor([[5, 6, 7]]), torch.tensor([3])
    logits = {
        (padding, masking): tiny(
            "tutorial-self-attention", max_len=12, padding=padding, masking=masking
        )(ids, lengths).logits
        for padding in ("post", "pre")
        for masking in ("none", "correct")
    }
    # the same weights: "none" reads the padding, so its side changes the answer
    assert not torch.allclose(logits["post", "none"], logits["pre", "none"])
    assert not torch.allclose(logits["post", "none"], logits["post", "correct"])


def test_training_mode_returns_the_logits_alone():
    model = tiny("tutorial-multihead").train()
    output = model(torch.tensor([[5, 6, 7]]), torch.tensor([3]))
    assert output.attention is None and output.token_attention is None
    assert output.logits.requires_grad


def test_the_regulariser_reaches_the_training_loss():
    model = tiny("tutorial-self-attention", attention_regularizer_weight=0.5).train()
    output = model(torch.tensor([[5, 6, 7, 8]]), torch.tensor([4]))
    assert output.auxiliary_loss is not None and output.auxiliary_loss.item() > 0


def test_compare_preset_tutorial_trains_the_four_models_as_the_preset_says(
    sentiment_csv, tmp_path
):
    out = tmp_path / "run"
    result = run_cli(
        "compare", "--preset", "tutorial", "--data", sentiment_csv, "--epochs", 1,
        "--max-len", 16, "--out", out, "--faithfulness", 0, "-q", "--optimizer", "adadelta",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    record = json.loads((out / "metrics.json").read_text())
    models = ["self-attention", "multihead", "tutorial-self-attention", "tutorial-multihead"]
    assert list(record["models"]) == models
    own = record["settings"]["model_training"]
    assert own["tutorial-self-attention"] == {
        "lr": 0.001, "grad_clip": 0.0, "ema_decay": 0.0, "optimizer": "adam"
    }  # fmt: skip
    assert "self-attention" not in own
    assert "tutorial-multihead trained with lr 0.001" in (out / "report.md").read_text()
    for name in models:
        assert name in result.stdout
    saved = json.loads((out / "tutorial-self-attention" / "config.json").read_text())
    assert saved["model"]["max_len"] == 16 and saved["training"]["lr"] == 0.001
    assert saved["training"]["optimizer"] == "adam"  # as Keras trained, whatever the run's
    ours = json.loads((out / "self-attention" / "config.json").read_text())["training"]
    assert (ours["optimizer"], ours["lr"]) == ("adadelta", 1.0)


def test_an_unknown_preset_is_one_line(sentiment_csv):
    assert_one_line_error(
        run_cli("compare", "--preset", "fastest", "--data", sentiment_csv), "--preset", "tutorial"
    )
