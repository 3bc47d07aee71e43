"""Every model family on a tiny config: shapes, attention, masking, learning, frozen values."""

from __future__ import annotations

import pytest
import torch

from attnclf.models import all_families, build_model, get_family, model_config
from attnclf.models.layers.attention import (
    AdditiveAttentionPooling,
    MultiHeadAttentionPooling,
    masked_softmax,
    reverse_padded,
)
from attnclf.models.outputs import Classifier

FAMILIES = list(all_families())  # every registered family, each on its own tiny config


def tiny_model(name: str, num_outputs: int = 1, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    tiny = {**get_family(name).tiny, "vocab_size": 50, "num_outputs": num_outputs}
    return build_model(name, model_config(name, **tiny)).eval()


def batch(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([7, 3, 1, 5])
    ids = torch.randint(2, 50, (4, 7), generator=generator)
    ids[torch.arange(7)[None, :] >= lengths[:, None]] = 0  # padding at the end
    return ids, lengths


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("num_outputs", [1, 3])
def test_every_family_keeps_the_output_contract(name, num_outputs):
    ids, lengths = batch()
    model = tiny_model(name, num_outputs)
    assert isinstance(model, Classifier)
    output = model(ids, lengths)
    assert output.logits.shape == (4, num_outputs)
    if output.attention is not None:
        assert output.attention.shape == (4, 7)
    if output.head_attention is not None:
        heads = output.head_attention.shape[1]
        assert output.head_attention.shape == (4, heads, 7)
        torch.testing.assert_close(output.attention, output.head_attention.mean(dim=1))
    if output.token_attention is not None:
        assert output.token_attention.shape[0] == 4 and output.token_attention.shape[2:] == (7, 7)
    if output.auxiliary_loss is not None:
        assert output.auxiliary_loss.shape == ()
    embedded = model.input_embeddings()(ids)
    assert embedded.shape[:2] == (4, 7)


def test_the_built_in_families_have_their_attention():
    ids, lengths = batch()
    single = tiny_model("self-attention")(ids, lengths)
    assert single.attention.shape == (4, 7) and single.head_attention is None
    heads = tiny_model("multihead")(ids, lengths)
    assert heads.head_attention.shape == (4, 2, 7)
    assert single.token_attention is None and single.auxiliary_loss is None


@pytest.mark.parametrize("name", FAMILIES)
def test_attention_sums_to_one_over_real_tokens_and_padding_gets_none(name):
    ids, lengths = batch()
    output = tiny_model(name)(ids, lengths)
    if output.attention is None:
        pytest.skip(f"{name} pools without attention")
    mask = torch.arange(7)[None, :] < lengths[:, None]
    torch.testing.assert_close(output.attention.sum(dim=1), torch.ones(4))
    assert torch.all(output.attention[~mask] == 0)
    assert torch.all(output.attention[mask] > 0)
    if output.head_attention is not None:
        heads = output.head_attention.shape[1]
        torch.testing.assert_close(output.head_attention.sum(dim=-1), torch.ones(4, heads))
        assert torch.all(output.head_attention.permute(0, 2, 1)[~mask] == 0)


@pytest.mark.parametrize("name", FAMILIES)
def test_what_sits_in_padding_changes_nothing(name):
    model = tiny_model(name)
    ids, lengths = batch()
    reference = model(ids, lengths)
    noisy = ids.clone()
    pad = torch.arange(7)[None, :] >= lengths[:, None]
    noisy[pad] = torch.randint(2, 50, (int(pad.sum()),))
    changed = model(noisy, lengths)
    torch.testing.assert_close(changed.logits, reference.logits)
    if reference.attention is not None:
        torch.testing.assert_close(changed.attention, reference.attention)
    # extra padding columns (a wider batch) change nothing either
    wider = torch.cat([ids, torch.zeros(4, 9, dtype=ids.dtype)], dim=1)
    widened = model(wider, lengths)
    torch.testing.assert_close(widened.logits, reference.logits)
    if reference.attention is not None:
        torch.testing.assert_close(widened.attention[:, :7], reference.attention)


@pytest.mark.parametrize("name", FAMILIES)
def test_a_text_gets_the_same_answer_alone_or_in_a_batch(name):
    model = tiny_model(name)
    ids, lengths = batch()
    together = model(ids, lengths).logits
    for row in range(4):
        alone = model(ids[row : row + 1, : lengths[row]], lengths[row : row + 1]).logits
        torch.testing.assert_close(alone, together[row : row + 1])


@pytest.mark.parametrize("name", FAMILIES)
def test_overfits_one_batch(name):
    model = tiny_model(name).train()
    ids, lengths = batch()
    labels = torch.tensor([1.0, 0.0, 1.0, 0.0])
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(150):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            model(ids, lengths).logits[:, 0], labels
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05


# logits of batch() under tiny_model(name, seed=0) for the built-in families; a change means the
# function changed
FROZEN = {
    "self-attention": [-0.152146, -0.156712, -0.148291, -0.152437],
    "multihead": [0.203966, 0.204933, 0.203452, 0.203115],
    "bilstm": [-0.144175, -0.153581, -0.1504, -0.146643],
    "structured": [-0.269906, -0.276448, -0.276925, -0.271813],
    "transformer": [0.088699, 0.03582, 0.11841, 0.048475],
    # every n-gram of the 50 ids with N(0, 0.1^2) weights (NBSVMConfig.features = -1)
    "nbsvm": [0.590293, 0.006884, -0.024728, 0.119879],
    "word-attention": [-0.160991, -0.139536, -0.105983, -0.150507],
    "conv-attention": [-0.016224, -0.017946, -0.010447, -0.01529],
}


@pytest.mark.parametrize("name", FROZEN)
def test_frozen_values(name):
    ids, lengths = batch()
    with torch.no_grad():
        logits = tiny_model(name)(ids, lengths).logits[:, 0]
    torch.testing.assert_close(logits, torch.tensor(FROZEN[name]), atol=1e-5, rtol=1e-4)


def test_reverse_padded_reverses_within_length_and_is_its_own_inverse():
    x = torch.arange(1, 6).float().view(1, 5, 1).repeat(2, 1, 1)  # two rows of 1..5
    lengths = torch.tensor([5, 3])
    reversed_x = reverse_padded(x, lengths)
    assert reversed_x[0, :, 0].tolist() == [5, 4, 3, 2, 1]
    assert reversed_x[1, :, 0].tolist() == [3, 2, 1, 4, 5]
    torch.testing.assert_close(reverse_padded(reversed_x, lengths), x)


def test_masked_softmax_gives_zero_to_masked_and_to_rows_with_nothing():
    scores = torch.tensor([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])
    mask = torch.tensor([[True, True, False], [False, False, False]])
    weights = masked_softmax(scores, mask)
    expected = torch.cat([torch.softmax(torch.tensor([1.0, 2.0]), 0), torch.zeros(1)])
    torch.testing.assert_close(weights[0], expected)
    assert weights[1].tolist() == [0.0, 0.0, 0.0]


def test_attention_layers_work_on_their_own():
    states = torch.randn(2, 4, 8)
    mask = torch.tensor([[True, True, True, False], [True, False, False, False]])
    pooled, weights = AdditiveAttentionPooling(8, 5)(states, mask)
    assert pooled.shape == (2, 8) and weights.shape == (2, 4)
    torch.testing.assert_close(pooled[1], states[1, 0])  # one real token: it is the summary
    pooled, weights = MultiHeadAttentionPooling(8, 2)(states, mask)
    assert pooled.shape == (2, 16) and weights.shape == (2, 2, 4)
    torch.testing.assert_close(pooled[1], states[1, 0].repeat(2))  # each head summarises it
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttentionPooling(8, 3)
