"""What one family does that the shared checks in test_models.py do not see: the BiLSTM control
has no attention and pools over real tokens only; the structured model's hops and its
||A A^T - I||_F^2 penalty; the transformer's token-by-token attention, its names, positions and
masks."""

from __future__ import annotations

import contextlib
import math

import pytest
import torch

from attnclf.errors import AttnclfError
from attnclf.evaluation.metrics import predict_logits
from attnclf.models import build_model, get_family, model_config
from attnclf.models.families.bilstm import pool_real_tokens
from attnclf.models.families.structured import redundancy_penalty
from attnclf.models.layers.transformer import MaskedSelfAttention, sinusoidal_positions
from attnclf.models.outputs import logits_only
from attnclf.text.batches import EncodedTexts


def tiny(name: str, seed: int = 0, **values) -> torch.nn.Module:
    torch.manual_seed(seed)
    config = model_config(name, **{**get_family(name).tiny, "vocab_size": 50, **values})
    return build_model(name, config).eval()


def batch(seed: int = 1, width: int = 7) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([width, 3, 1, 5])
    ids = torch.randint(2, 50, (4, width), generator=generator)
    ids[torch.arange(width)[None, :] >= lengths[:, None]] = 0
    return ids, lengths


def real(lengths: torch.Tensor, width: int) -> torch.Tensor:
    return torch.arange(width)[None, :] < lengths[:, None]  # (B, T)


def with_noisy_padding(ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    noisy = ids.clone()
    pad = ~real(lengths, ids.shape[1])
    noisy[pad] = torch.randint(2, 50, (int(pad.sum()),), generator=torch.Generator().manual_seed(5))
    return noisy


# --- bilstm: the control without attention --------------------------------------------------


@pytest.mark.parametrize("pooling", ["max", "mean"])
def test_bilstm_has_no_attention_and_its_padding_changes_nothing(pooling):
    model = tiny("bilstm", pooling=pooling)
    ids, lengths = batch()
    output = model(ids, lengths)
    assert output.logits.shape == (4, 1)
    assert output.attention is None and output.head_attention is None
    assert output.token_attention is None and output.auxiliary_loss is None
    torch.testing.assert_close(
        model(with_noisy_padding(ids, lengths), lengths).logits, output.logits
    )
    wider = torch.cat([ids, torch.zeros(4, 5, dtype=ids.dtype)], dim=1)
    torch.testing.assert_close(model(wider, lengths).logits, output.logits)


def test_bilstm_pooling_reads_only_the_real_tokens():
    states = torch.tensor([[[1.0, -5.0], [3.0, -2.0], [100.0, 100.0]]])  # (1, 3, 2), last padding
    mask = torch.tensor([[True, True, False]])
    assert pool_real_tokens(states, mask, "max").tolist() == [[3.0, -2.0]]
    assert pool_real_tokens(states, mask, "mean").tolist() == [[2.0, -3.5]]
    negative = -torch.ones(1, 3, 2) * 7  # the maximum of all-negative real states is not 0
    negative[0, 2] = 0.0
    assert pool_real_tokens(negative, mask, "max").tolist() == [[-7.0, -7.0]]


def test_bilstm_refuses_an_unknown_pooling():
    with pytest.raises(AttnclfError, match="pooling 'sum' is not one of max, mean"):
        model_config("bilstm", pooling="sum")


# --- structured: hops and the penalty ---------------------------------------------------------


def penalty_by_hand(weights: torch.Tensor) -> list[float]:
    """sum over i, j of (sum_t A_it A_jt - [i = j])^2, for each text, in plain loops."""
    batch_size, hops, width = weights.shape
    result = []
    for b in range(batch_size):
        total = 0.0
        for i in range(hops):
            for j in range(hops):
                dot = sum(float(weights[b, i, t]) * float(weights[b, j, t]) for t in range(width))
                total += (dot - (1.0 if i == j else 0.0)) ** 2
        result.append(total)
    return result


def test_the_penalty_is_the_squared_frobenius_norm_of_aat_minus_i():
    weights = torch.softmax(torch.randn(3, 4, 6, generator=torch.Generator().manual_seed(0)), -1)
    torch.testing.assert_close(
        redundancy_penalty(weights), torch.tensor(penalty_by_hand(weights)), rtol=1e-5, atol=1e-6
    )
    one_hot = torch.eye(3)[None]  # three hops on three different tokens: nothing to penalise
    assert redundancy_penalty(one_hot).tolist() == [0.0]
    same = torch.zeros(1, 3, 5)
    same[:, :, 2] = 1.0  # three hops on the same token: A A^T is all ones, r^2 - r off
    assert redundancy_penalty(same).tolist() == [6.0]


def test_structured_returns_its_hops_and_the_penalty_averaged_over_the_batch():
    model = tiny("structured", penalty=0.5)
    hops = model.config.hops
    ids, lengths = batch()
    output = model(ids, lengths)
    assert output.head_attention.shape == (4, hops, 7)
    torch.testing.assert_close(output.attention, output.head_attention.mean(dim=1))
    expected = 0.5 * sum(penalty_by_hand(output.head_attention.detach())) / 4
    assert output.auxiliary_loss.shape == ()
    assert output.auxiliary_loss.item() == pytest.approx(expected, rel=1e-5)
    # frozen with the shared logits in test_models.py
    with torch.no_grad():
        frozen = tiny("structured", penalty=1.0)(ids, lengths).auxiliary_loss
    assert frozen.item() == pytest.approx(3.121284, abs=1e-4)
    # padding changes neither the hops nor the penalty
    noisy = model(with_noisy_padding(ids, lengths), lengths)
    torch.testing.assert_close(noisy.head_attention, output.head_attention)
    torch.testing.assert_close(noisy.auxiliary_loss, output.auxiliary_loss)


def test_structured_pools_each_hop_of_the_states_side_by_side():
    model = tiny("structured")
    states = torch.randn(2, 5, model.encoder.output_size)
    mask = torch.tensor([[True] * 5, [True, True, False, False, False]])
    pooled, weights = model.attention(states, mask)  # (B, r * 2u), (B, r, T)
    hops, size = model.config.hops, model.encoder.output_size
    assert pooled.shape == (2, hops * size) and weights.shape == (2, hops, 5)
    for b in range(2):
        for i in range(hops):
            torch.testing.assert_close(
                pooled[b, i * size : (i + 1) * size], weights[b, i] @ states[b]
            )


def test_structured_penalty_zero_asks_for_none_and_the_penalty_scales():
    ids, lengths = batch()
    assert tiny("structured", penalty=0.0)(ids, lengths).auxiliary_loss is None
    one = tiny("structured", penalty=1.0)(ids, lengths).auxiliary_loss
    three = tiny("structured", penalty=3.0)(ids, lengths).auxiliary_loss
    torch.testing.assert_close(three, 3 * one)


def test_the_penalty_alone_pushes_the_hops_apart():
    model = tiny("structured", penalty=1.0).train()
    ids, lengths = batch(width=12)
    ids, lengths = ids[:1], lengths[:1]  # one text of 12 tokens: room for 3 distinct hops
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    first = None
    for _ in range(60):
        loss = model(ids, lengths).auxiliary_loss
        first = loss.item() if first is None else first
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < first / 4


# --- transformer: token-by-token attention ----------------------------------------------------


def test_transformer_token_attention_is_layer_major_masked_and_rows_sum_to_one():
    model = tiny("transformer")
    layers, heads = model.config.num_layers, model.config.num_heads
    ids, lengths = batch()
    output = model(ids, lengths)
    maps = output.token_attention  # (B, L * nh, T, T)
    assert maps.shape == (4, layers * heads, 7, 7)
    mask = real(lengths, 7)
    rows = maps.sum(dim=-1)  # (B, L * nh, T)
    torch.testing.assert_close(rows, mask[:, None, :].float().expand_as(rows))
    key_pad = ~mask[:, None, None, :].expand_as(maps)
    query_pad = ~mask[:, None, :, None].expand_as(maps)
    assert torch.all(maps[key_pad] == 0) and torch.all(maps[query_pad] == 0)
    assert torch.all(maps[~key_pad & ~query_pad] > 0)
    # the first nh maps are layer 1's: recompute them from the layer itself
    x = model.positions(model.embedding(ids) * math.sqrt(model.config.d_model))
    _, first = model.layers[0](x, mask)
    torch.testing.assert_close(maps[:, :heads], first)
    # the encoder reads both ways: the first token attends to the last
    assert torch.all(maps[0, :, 0, 6] > 0)


def test_transformer_names_its_maps_and_other_families_get_head_numbers():
    model = tiny("transformer", num_layers=2, num_heads=2)
    expected = ["layer 1, head 1", "layer 1, head 2", "layer 2, head 1", "layer 2, head 2"]
    assert model.token_attention_names() == expected
    assert model.token_attention_names(4) == expected
    with pytest.raises(ValueError, match="4 attention maps, not 3"):
        model.token_attention_names(3)
    assert tiny("self-attention").token_attention_names(2) == ["head 1", "head 2"]


def test_transformer_nothing_leaks_from_padding_or_other_rows():
    model = tiny("transformer")
    ids, lengths = batch()
    seen = {}

    def keep(module, inputs, output):
        output.retain_grad()
        seen["embedded"] = output

    handle = model.embedding.register_forward_hook(keep)
    try:
        output = model(ids, lengths)
    finally:
        handle.remove()
    output.logits[1, 0].backward()  # row 1 has 3 real tokens
    grad = seen["embedded"].grad  # (B, T, E)
    assert torch.all(grad[[0, 2, 3]] == 0)  # nothing from the other rows
    assert torch.all(grad[1, 3:] == 0)  # nor from its own padding
    assert torch.all(grad[1, :3].abs().sum(-1) > 0)  # every real token counts
    noisy = model(with_noisy_padding(ids, lengths), lengths)
    mask = real(lengths, 7)
    both = mask[:, None, :, None] & mask[:, None, None, :]
    torch.testing.assert_close(noisy.token_attention, output.token_attention * both)


def test_transformer_reads_past_its_training_length_up_to_max_positions():
    model = tiny("transformer", max_positions=40)
    ids = torch.randint(2, 50, (2, 40), generator=torch.Generator().manual_seed(3))
    lengths = torch.tensor([40, 17])
    ids[1, 17:] = 0
    output = model(ids, lengths)
    assert torch.isfinite(output.logits).all()
    torch.testing.assert_close(output.attention.sum(-1), torch.ones(2))
    with pytest.raises(AttnclfError, match="41 tokens is longer than the model's 40 positions"):
        model(torch.ones(1, 41, dtype=torch.long), torch.tensor([41]))
    assert model_config("transformer").max_positions >= 1000  # --max-len up to 1,000


def test_sinusoidal_positions_are_the_papers_and_are_not_saved():
    table = sinusoidal_positions(50, 8)  # (P, D)
    p = torch.arange(50.0)
    torch.testing.assert_close(table[:, 0], torch.sin(p))
    torch.testing.assert_close(table[:, 1], torch.cos(p))
    torch.testing.assert_close(table[:, 2], torch.sin(p / 10_000 ** (2 / 8)))
    torch.testing.assert_close(table[:, 7], torch.cos(p / 10_000 ** (6 / 8)))
    assert not any("table" in key for key in tiny("transformer").state_dict())
    learned = tiny("transformer", positions="learned", max_positions=30)
    assert learned.state_dict()["positions.embedding.weight"].shape == (30, 8)
    ids, lengths = batch()
    torch.testing.assert_close(learned(ids, lengths).attention.sum(-1), torch.ones(4))
    with pytest.raises(AttnclfError, match="positions 'rotary' is not one of"):
        model_config("transformer", positions="rotary")


def test_masked_self_attention_matches_pytorch_on_real_tokens():
    torch.manual_seed(0)
    ours = MaskedSelfAttention(8, 2, attention_dropout=0.0)
    theirs = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    with torch.no_grad():
        theirs.in_proj_weight.copy_(ours.qkv.weight)
        theirs.in_proj_bias.copy_(ours.qkv.bias)
        theirs.out_proj.weight.copy_(ours.output.weight)
        theirs.out_proj.bias.copy_(ours.output.bias)
    x = torch.randn(2, 5, 8)
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    got, weights = ours(x, mask)
    expected, expected_weights = theirs(x, x, x, key_padding_mask=~mask, average_attn_weights=False)
    torch.testing.assert_close(got[mask], expected[mask])
    torch.testing.assert_close(
        weights * mask[:, None, :, None], expected_weights * mask[:, None, :, None]
    )


def test_the_fused_attention_computes_the_written_out_attention_at_real_tokens():
    torch.manual_seed(0)
    layer = MaskedSelfAttention(8, 2, attention_dropout=0.0)
    x = torch.randn(2, 5, 8, requires_grad=True)
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    written, weights = layer(x, mask)
    fused, none = layer(x, mask, need_weights=False)
    assert weights.shape == (2, 2, 5, 5) and none is None
    torch.testing.assert_close(fused[mask], written[mask])
    (grad_written,) = torch.autograd.grad(written[mask].sum(), x)
    (grad_fused,) = torch.autograd.grad(fused[mask].sum(), x)
    torch.testing.assert_close(grad_fused, grad_written)


def test_the_transformer_skips_its_maps_where_only_logits_are_read():
    model = tiny("transformer")
    ids, lengths = batch()
    full = model(ids, lengths)
    with logits_only(model):
        assert model.skip_views
        fast = model(ids, lengths)
    assert not model.skip_views  # restored on leaving
    assert fast.token_attention is None and full.token_attention is not None
    torch.testing.assert_close(fast.logits, full.logits)
    torch.testing.assert_close(fast.attention, full.attention)  # the pooling's, still there
    # the gradients that train it are the same function's
    grads = []
    for skip in (False, True):
        model.zero_grad()
        with logits_only(model) if skip else contextlib.nullcontext():
            model(ids, lengths).logits.sum().backward()
        grads.append([p.grad.clone() for p in model.parameters() if p.grad is not None])
    for written, fused in zip(*grads, strict=True):
        torch.testing.assert_close(fused, written)
    model.train()  # training steps read the logits alone
    assert model(ids, lengths).token_attention is None
    model.eval()
    with pytest.raises(RuntimeError), logits_only(model):
        raise RuntimeError
    assert not model.skip_views  # restored after an error too


def test_evaluation_passes_ask_for_the_logits_alone():
    model = tiny("transformer")
    seen = []
    model.register_forward_hook(lambda module, inputs, output: seen.append(module.skip_views))
    ids, lengths = batch()
    data = EncodedTexts.from_sequences(
        [row[:n].numpy() for row, n in zip(ids, lengths.tolist(), strict=True)]
    )
    logits = predict_logits(model, data, batch_size=2, device=torch.device("cpu"))
    torch.testing.assert_close(logits, model(ids, lengths).logits)
    assert seen[:-1] and all(seen[:-1]) and seen[-1] is False  # the last call is the check's
    assert not model.skip_views


def test_transformer_runs_under_bfloat16_autocast():
    model = tiny("transformer")
    ids, lengths = batch()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output = model(ids, lengths)
    assert output.logits.dtype == torch.float32 and output.token_attention.dtype == torch.float32
    torch.testing.assert_close(output.attention.sum(-1), torch.ones(4))
    rows = output.token_attention.sum(-1)
    torch.testing.assert_close(
        rows, real(lengths, 7)[:, None, :].float().expand_as(rows), atol=1e-2, rtol=0
    )


# --- word-attention: attention over each word's own vote --------------------------------------


def word_batch() -> tuple[torch.Tensor, torch.Tensor]:
    ids = torch.tensor([[5, 6, 7, 8, 0], [9, 6, 0, 0, 0], [7, 7, 5, 9, 6]])
    return ids, torch.tensor([4, 2, 5])


@pytest.mark.parametrize("num_outputs", [1, 3])
def test_word_attention_logit_is_the_sum_of_its_tokens_terms(num_outputs):
    model = tiny("word-attention", num_outputs=num_outputs).eval()
    ids, lengths = word_batch()
    with torch.no_grad():
        out = model(ids, lengths)
    assert out.token_scores.shape == ids.shape
    assert torch.all(out.token_scores[ids == 0] == 0)  # padding adds nothing
    chosen = out.logits.argmax(-1) if num_outputs > 1 else torch.zeros(3, dtype=torch.long)
    bias = model.bias[chosen]
    torch.testing.assert_close(
        out.token_scores.sum(1) + bias, out.logits.gather(1, chosen[:, None])[:, 0]
    )


def test_word_attention_votes_do_not_depend_on_the_context():
    """A word's vote is a function of its own embedding: the same word in other company gets the
    same vote (term / weight / scale), whatever the weights do."""
    model = tiny("word-attention").eval()
    ids, lengths = word_batch()
    with torch.no_grad():
        out = model(ids, lengths)
    votes = out.token_scores / (out.attention * model.log_scale.exp())  # (B, T)
    real = ids != 0
    for word in (5, 6, 7, 9):
        seen = votes[real & (ids == word)]
        assert len(seen) >= 2 and torch.allclose(seen, seen[0].expand_as(seen), atol=1e-5)
    assert torch.all(votes[real].abs() < 1)  # bounded: only the weights make a word count more


def test_word_attention_deleting_a_word_removes_its_vote_from_the_pool():
    """With the weights held, the logit less one token's term is what the others give: nothing
    of the deleted word hides in its neighbours' values."""
    model = tiny("word-attention").eval()
    ids, lengths = torch.tensor([[5, 6, 7, 8]]), torch.tensor([4])
    with torch.no_grad():
        whole = model(ids, lengths)
        alone = model(torch.tensor([[6]]), torch.tensor([1]))
    # the vote of word 6 alone (its weight is 1 there) is its vote inside the text
    vote_inside = whole.token_scores[0, 1] / whole.attention[0, 1]
    torch.testing.assert_close(vote_inside, alone.token_scores[0, 0], rtol=1e-5, atol=1e-6)


# --- conv-attention: attention over n-gram convolutions -------------------------------------


def conv_features(model: torch.nn.Module, ids: torch.Tensor, lengths: torch.Tensor):
    """(B, T, K) the n-gram features the attention pools, captured on their way in."""
    seen = {}
    hook = model.attention.register_forward_hook(lambda _m, args, _o: seen.update(x=args[0]))
    with torch.no_grad():
        model(ids, lengths)
    hook.remove()
    return seen["x"]


def test_conv_attention_features_read_only_the_tokens_within_half_the_widest_filter():
    """widths (1, 3, 5): a token's features see two tokens each side, no further; so changing
    the last token of a 7-token text leaves the first four tokens' features as they were."""
    model = tiny("conv-attention", widths=(1, 3, 5))
    ids, lengths = torch.tensor([[5, 6, 7, 8, 9, 10, 11]]), torch.tensor([7])
    changed = ids.clone()
    changed[0, 6] = 30
    before, after = conv_features(model, ids, lengths), conv_features(model, changed, lengths)
    assert before.shape == (1, 7, 4 * 3)  # filters x widths a token
    torch.testing.assert_close(before[0, :4], after[0, :4])
    assert not torch.allclose(before[0, 4:], after[0, 4:])


def test_conv_attention_ends_of_a_text_read_padding_as_zeros_not_as_its_ids():
    """A short text's last features, in a batch padded wider, are those of the text alone."""
    model = tiny("conv-attention", widths=(3,))
    ids = torch.tensor([[5, 6, 7, 0, 0], [5, 6, 7, 8, 9]])
    lengths = torch.tensor([3, 5])
    padded = conv_features(model, ids, lengths)[0, :3]
    alone = conv_features(model, ids[:1, :3], lengths[:1])[0]
    torch.testing.assert_close(padded, alone)


@pytest.mark.parametrize("widths", [(2,), (), (1, 4)])
def test_conv_attention_refuses_widths_without_a_centre(widths):
    with pytest.raises(AttnclfError, match="must be odd numbers of tokens"):
        model_config("conv-attention", vocab_size=50, widths=widths)


def test_conv_attention_keeps_its_widths_as_a_tuple_from_json():
    config = model_config("conv-attention", vocab_size=50, widths=[1, 3])  # as config.json has it
    assert config.widths == (1, 3)
