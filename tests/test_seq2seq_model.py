"""The Bahdanau encoder-decoder on a tiny config: shapes, masks, alignments, overfitting a few
pairs, and greedy decoding against beam search."""

from __future__ import annotations

import pytest
import torch

from attnclf.seq2seq.decode import beam_search, greedy
from attnclf.seq2seq.model import ATTENTION_KINDS, Seq2Seq, Seq2SeqConfig
from attnclf.seq2seq.pairs import BOS_ID, EOS_ID, PAD_ID

SOURCE_VOCAB, TARGET_VOCAB = 23, 17


def tiny_model(attention: str = "additive", seed: int = 0) -> Seq2Seq:
    torch.manual_seed(seed)
    config = Seq2SeqConfig(
        source_vocab_size=SOURCE_VOCAB,
        target_vocab_size=TARGET_VOCAB,
        embedding_dim=8,
        hidden_size=12,
        decoder_size=16,
        attention_size=10,
        attention=attention,  # type: ignore[arg-type]
    )
    return Seq2Seq(config).eval()


def source_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Three sources of lengths 7, 4 and 1, padded with 0 to width 7."""
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(4, SOURCE_VOCAB, (3, 7), generator=generator)
    lengths = torch.tensor([7, 4, 1])
    ids[torch.arange(7)[None, :] >= lengths[:, None]] = PAD_ID
    return ids, lengths


def target_in() -> torch.Tensor:
    generator = torch.Generator().manual_seed(2)
    ids = torch.randint(4, TARGET_VOCAB, (3, 5), generator=generator)
    ids[:, 0] = BOS_ID
    return ids


@pytest.mark.parametrize("attention", ATTENTION_KINDS)
def test_shapes(attention):
    model = tiny_model(attention)
    ids, lengths = source_batch()
    output = model(ids, lengths, target_in())
    assert output.logits.shape == (3, 5, TARGET_VOCAB)
    if attention == "none":
        assert output.alignments is None
    else:
        assert output.alignments.shape == (3, 5, 7)
    memory, state = model.encode(ids, lengths)
    assert memory.states.shape == (3, 7, 24) and memory.summary.shape == (3, 24)
    assert state.shape == (3, 16)
    logits, state, alpha = model.step(torch.full((3,), BOS_ID), state, memory)
    assert logits.shape == (3, TARGET_VOCAB) and state.shape == (3, 16)
    assert (alpha is None) == (attention == "none")


@pytest.mark.parametrize("attention", ["additive", "multiplicative"])
def test_alpha_rows_sum_to_one_and_padding_gets_exactly_zero(attention):
    ids, lengths = source_batch()
    alignments = tiny_model(attention)(ids, lengths, target_in()).alignments  # (B, L, S)
    torch.testing.assert_close(alignments.sum(dim=-1), torch.ones(3, 5))
    padding = torch.arange(7)[None, :] >= lengths[:, None]  # (B, S)
    assert torch.all(alignments.permute(0, 2, 1)[padding] == 0)
    assert torch.all(alignments.permute(0, 2, 1)[~padding] > 0)
    assert torch.all(alignments[2, :, 0] == 1)  # a one-token source has nowhere else to look


@pytest.mark.parametrize("attention", ATTENTION_KINDS)
def test_what_sits_in_the_padding_and_how_wide_it_is_change_nothing(attention):
    model = tiny_model(attention)
    ids, lengths = source_batch()
    reference = model(ids, lengths, target_in())
    noisy = ids.clone()
    padding = torch.arange(7)[None, :] >= lengths[:, None]
    noisy[padding] = torch.randint(4, SOURCE_VOCAB, (int(padding.sum()),))
    wider = torch.cat([noisy, torch.full((3, 6), 5)], dim=1)  # more columns, not even pad ids
    for changed_ids in (noisy, wider):
        changed = model(changed_ids, lengths, target_in())
        torch.testing.assert_close(changed.logits, reference.logits)
        if reference.alignments is not None:
            torch.testing.assert_close(changed.alignments[..., :7], reference.alignments)
            assert torch.all(changed.alignments[..., 7:] == 0)
    for row in range(3):  # and each source alone, without any padding
        n = int(lengths[row])
        alone = model(ids[row : row + 1, :n], lengths[row : row + 1], target_in()[row : row + 1])
        torch.testing.assert_close(alone.logits, reference.logits[row : row + 1])


def test_teacher_forcing_and_step_by_step_decoding_agree():
    model = tiny_model()
    ids, lengths = source_batch()
    previous = target_in()
    output = model(ids, lengths, previous)
    memory, state = model.encode(ids, lengths)
    for i in range(previous.shape[1]):
        logits, state, alpha = model.step(previous[:, i], state, memory)
        torch.testing.assert_close(logits, output.logits[:, i])
        torch.testing.assert_close(alpha, output.alignments[:, i])


@pytest.mark.parametrize("attention", ATTENTION_KINDS)
def test_greedy_equals_beam_search_of_width_one(attention):
    model = tiny_model(attention, seed=3)
    ids, lengths = source_batch()
    found = greedy(model, ids, lengths, max_len=9)
    for row in range(3):
        n = int(lengths[row])
        beam = beam_search(model, ids[row : row + 1, :n], lengths[row : row + 1], 1, 9)
        assert beam.ids == found[row].ids and beam.ended == found[row].ended
        assert beam.log_prob == pytest.approx(found[row].log_prob, abs=1e-5)
        if attention == "none":
            assert beam.alignment is None and found[row].alignment is None
        else:
            assert beam.alignment.shape == (len(beam.ids) + beam.ended, n)
            torch.testing.assert_close(
                torch.from_numpy(beam.alignment), torch.from_numpy(found[row].alignment)
            )


def test_a_wider_beam_never_finds_a_less_likely_output_per_token():
    model = tiny_model(seed=4)
    ids, lengths = source_batch()
    for row in range(3):
        n = int(lengths[row])
        one = beam_search(model, ids[row : row + 1, :n], lengths[row : row + 1], 1, 9)
        four = beam_search(model, ids[row : row + 1, :n], lengths[row : row + 1], 4, 9)
        if one.ended and four.ended:
            assert four.score >= one.score - 1e-6


@pytest.mark.parametrize("attention", ATTENTION_KINDS)
def test_overfits_a_few_pairs(attention):
    """Six short sources, each with its own target, learnt by heart and decoded greedily."""
    torch.manual_seed(0)
    model = tiny_model(attention).train()
    sources = [[4, 5, 6], [7, 8], [9, 10, 11, 12], [13], [14, 15, 4], [16, 17, 18, 19, 20]]
    targets = [[5, 6], [7, 8, 9], [10], [11, 12, 13, 14], [15, 16], [4, 4, 5]]
    ids = torch.zeros(6, 5, dtype=torch.long)
    lengths = torch.tensor([len(s) for s in sources])
    for row, s in enumerate(sources):
        ids[row, : len(s)] = torch.tensor(s)
    out = torch.zeros(6, 5, dtype=torch.long)
    for row, t in enumerate(targets):
        out[row, : len(t) + 1] = torch.tensor(t + [EOS_ID])
    previous = torch.cat([torch.full((6, 1), BOS_ID), out[:, :-1]], dim=1)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(150):
        logits = model(ids, lengths, previous).logits
        loss = torch.nn.functional.cross_entropy(
            logits.flatten(0, 1), out.flatten(), ignore_index=PAD_ID
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05
    model.eval()
    assert [h.ids for h in greedy(model, ids, lengths, max_len=8)] == targets


FROZEN = [  # the last step's first three logits under tiny_model(seed=0)
    [0.429754, 0.006248, 0.004858],
    [0.192394, -0.187969, 0.310496],
    [0.116047, 0.403424, 0.179645],
]


def test_frozen_values():
    """Logits under a fixed seed: a change means the computation changed."""
    ids, lengths = source_batch()
    with torch.no_grad():
        logits = tiny_model()(ids, lengths, target_in()).logits[:, -1, :3]
    torch.testing.assert_close(logits, torch.tensor(FROZEN), atol=1e-5, rtol=1e-4)


def test_unknown_attention_is_refused():
    with pytest.raises(ValueError, match="dot"):
        Seq2SeqConfig(5, 5, attention="dot")  # type: ignore[arg-type]
