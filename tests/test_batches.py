"""EncodedTexts, collate(), batch_order(), Batch.mask and padding_share()."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attnclf.text.batches import (
    BUCKET_BATCHES,
    PAD_MULTIPLE,
    Batch,
    EncodedTexts,
    batch_order,
    collate,
    iterate_batches,
    padding_share,
)


def _seqs(*lists: list[int]) -> list[np.ndarray]:
    return [np.array(x, dtype=np.int32) for x in lists]


# --- EncodedTexts -----------------------------------------------------------------------------


def test_from_sequences_packs_offsets_lengths_and_labels():
    data = EncodedTexts.from_sequences(_seqs([5, 6, 7], [], [8], [9, 10]), np.array([1, 0, 2, 1]))
    assert data.ids.dtype == np.int32
    assert data.ids.tolist() == [5, 6, 7, 8, 9, 10]
    assert data.offsets.dtype == np.int64
    assert data.offsets.tolist() == [0, 3, 3, 4, 6]
    assert data.lengths.tolist() == [3, 0, 1, 2]
    assert data.labels.dtype == np.int64
    assert data.labels.tolist() == [1, 0, 2, 1]
    assert len(data) == 4
    # sequence i is ids[offsets[i]:offsets[i + 1]]
    assert data.ids[data.offsets[1] : data.offsets[2]].tolist() == []
    assert data.ids[data.offsets[3] : data.offsets[4]].tolist() == [9, 10]


def test_select_takes_sequences_and_labels_in_the_given_order():
    data = EncodedTexts.from_sequences(_seqs([5, 6, 7], [], [8], [9, 10]), np.array([1, 0, 2, 1]))
    picked = data.select(np.array([3, 1, 0]))
    ends = zip(picked.offsets[:-1], picked.offsets[1:], strict=True)
    assert [picked.ids[a:b].tolist() for a, b in ends] == [[9, 10], [], [5, 6, 7]]
    assert picked.labels.tolist() == [1, 0, 1]
    assert len(data.select(np.array([], dtype=np.int64))) == 0


def test_from_sequences_without_labels_uses_zeros():
    data = EncodedTexts.from_sequences(_seqs([1], [2, 3]))
    assert data.labels.tolist() == [0, 0]
    assert data.labels.dtype == np.int64


def test_from_sequences_of_nothing():
    data = EncodedTexts.from_sequences([])
    assert len(data) == 0
    assert data.ids.shape == (0,)
    assert data.offsets.tolist() == [0]
    assert data.lengths.tolist() == []


def test_from_sequences_only_empty_sequences():
    data = EncodedTexts.from_sequences(_seqs([], []))
    assert data.ids.shape == (0,)
    assert data.offsets.tolist() == [0, 0, 0]
    assert data.lengths.tolist() == [0, 0]


# --- collate ----------------------------------------------------------------------------------


def test_collate_pads_at_the_end_to_a_multiple_of_pad_multiple():
    data = EncodedTexts.from_sequences(_seqs([4, 5, 6], [7], [8, 9]), np.array([1, 0, 1]))
    batch = collate(data, np.array([2, 0]))
    assert isinstance(batch, Batch)
    assert batch.ids.dtype == torch.int64
    assert batch.ids.shape == (2, PAD_MULTIPLE)
    expected = np.zeros((2, PAD_MULTIPLE), dtype=np.int64)
    expected[0, :2] = [8, 9]
    expected[1, :3] = [4, 5, 6]
    assert batch.ids.numpy().tolist() == expected.tolist()
    assert batch.lengths.tolist() == [2, 3]
    assert batch.labels.tolist() == [1, 1]
    assert batch.index.tolist() == [2, 0]


@pytest.mark.parametrize(
    ("longest", "width"),
    [(1, PAD_MULTIPLE), (PAD_MULTIPLE, PAD_MULTIPLE), (PAD_MULTIPLE + 1, 2 * PAD_MULTIPLE)],
)
def test_collate_width_is_rounded_up(longest, width):
    data = EncodedTexts.from_sequences(_seqs(list(range(1, longest + 1)), [3]))
    batch = collate(data, np.array([0, 1]))
    assert batch.ids.shape == (2, width)
    assert batch.ids[0, :longest].tolist() == list(range(1, longest + 1))
    assert batch.ids[0, longest:].eq(0).all()


def test_collate_custom_pad_multiple():
    data = EncodedTexts.from_sequences(_seqs([1, 2, 3, 4, 5]))
    assert collate(data, np.array([0]), pad_multiple=4).ids.shape == (1, 8)
    assert collate(data, np.array([0]), pad_multiple=1).ids.shape == (1, 5)


def test_collate_empty_text_becomes_one_padding_token():
    data = EncodedTexts.from_sequences(_seqs([], [3, 4]))
    batch = collate(data, np.array([0, 1]))
    assert batch.lengths.tolist() == [1, 2]
    assert batch.ids[0].eq(0).all()
    assert batch.mask[0].tolist() == [True] + [False] * (PAD_MULTIPLE - 1)

    only_empty = collate(EncodedTexts.from_sequences(_seqs([])), np.array([0]))
    assert only_empty.ids.shape == (1, PAD_MULTIPLE)
    assert only_empty.lengths.tolist() == [1]


def test_batch_mask_marks_real_tokens():
    data = EncodedTexts.from_sequences(_seqs([1, 2, 3], [4]))
    batch = collate(data, np.array([0, 1]), pad_multiple=4)
    assert batch.mask.dtype == torch.bool
    assert batch.mask.tolist() == [[True, True, True, False], [True, False, False, False]]
    # the mask covers exactly the non-pad ids here (no real id is 0)
    assert torch.equal(batch.mask, batch.ids != 0)


def test_batch_to_keeps_values():
    data = EncodedTexts.from_sequences(_seqs([1, 2], [3]), np.array([0, 1]))
    batch = collate(data, np.array([0, 1]))
    moved = batch.to(torch.device("cpu"))
    assert torch.equal(moved.ids, batch.ids)
    assert torch.equal(moved.lengths, batch.lengths)
    assert torch.equal(moved.labels, batch.labels)
    assert moved.index is batch.index


# --- batch_order ------------------------------------------------------------------------------


def _flat(batches: list[np.ndarray]) -> list[int]:
    return [int(i) for batch in batches for i in batch]


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize(("n", "batch_size"), [(0, 4), (1, 4), (10, 3), (250, 2), (37, 64)])
def test_batch_order_covers_every_index_exactly_once(shuffle, n, batch_size):
    lengths = np.random.default_rng(1).integers(0, 40, size=n)
    rng = np.random.default_rng(0) if shuffle else None
    batches = batch_order(lengths, batch_size, shuffle, rng)
    assert sorted(_flat(batches)) == list(range(n))
    assert all(1 <= len(b) <= batch_size for b in batches)


def test_batch_order_unshuffled_is_sorted_by_length():
    lengths = np.array([5, 1, 4, 1, 3, 9, 2])
    batches = batch_order(lengths, 3, shuffle=False)
    assert [len(b) for b in batches] == [3, 3, 1]
    flat = _flat(batches)
    assert lengths[flat].tolist() == sorted(lengths.tolist())
    assert flat[:2] == [1, 3]  # stable: equal lengths keep their order


def test_batch_order_shuffled_needs_an_rng():
    with pytest.raises(AssertionError):
        batch_order(np.arange(4), 2, shuffle=True)


def test_batch_order_shuffled_is_reproducible_and_depends_on_the_seed():
    lengths = np.random.default_rng(3).integers(1, 100, size=300)

    def order(seed: int) -> list[list[int]]:
        batches = batch_order(lengths, 4, True, np.random.default_rng(seed))
        return [b.tolist() for b in batches]

    assert order(7) == order(7)
    assert order(7) != order(8)
    assert order(7) != [b.tolist() for b in batch_order(lengths, 4, shuffle=False)]


def test_batch_order_shuffled_sorts_by_length_within_windows():
    batch_size = 2
    window = batch_size * BUCKET_BATCHES
    n = 2 * window + 31  # two full windows and a partial one
    lengths = np.random.default_rng(5).permutation(n) + 1  # distinct lengths
    seed = 11
    batches = batch_order(lengths, batch_size, True, np.random.default_rng(seed))

    # Every batch is sorted by length.
    for b in batches:
        assert np.all(np.diff(lengths[b]) >= 0)

    # The function draws its permutation first; the same draw gives the windows.
    permutation = np.random.default_rng(seed).permutation(n)
    windows = [set(permutation[s : s + window].tolist()) for s in range(0, n, window)]
    for members in windows:
        inside = [b for b in batches if set(b.tolist()) <= members]
        # no batch straddles two windows
        assert sum(len(b) for b in inside) == len(members)
        # the window's batches are consecutive slices of its length-sorted members
        inside.sort(key=lambda b: lengths[b[0]])
        joined = np.concatenate(inside)
        assert np.all(np.diff(lengths[joined]) > 0)
        assert sorted(len(b) for b in inside)[1:] == [batch_size] * (len(inside) - 1)


def test_batch_order_shuffled_batches_are_not_in_length_order():
    lengths = np.arange(1000)
    batches = batch_order(lengths, 2, True, np.random.default_rng(0))
    firsts = [int(lengths[b[0]]) for b in batches]
    assert firsts != sorted(firsts)


def test_iterate_batches_yields_collated_batches_for_every_example():
    data = EncodedTexts.from_sequences(_seqs([1], [2, 3], [], [4, 5, 6]), np.array([0, 1, 0, 1]))
    batches = list(iterate_batches(data, batch_size=3))
    assert [b.index.tolist() for b in batches] == [[2, 0, 1], [3]]
    assert batches[0].lengths.tolist() == [1, 1, 2]
    assert batches[1].ids[0, :3].tolist() == [4, 5, 6]


# --- padding_share ----------------------------------------------------------------------------


def test_padding_share_exact_value():
    # lengths 1 and 3 in one batch of width PAD_MULTIPLE: 4 real cells of 2 * PAD_MULTIPLE.
    data = EncodedTexts.from_sequences(_seqs([1], [1, 2, 3]))
    assert padding_share(data, batch_size=8) == pytest.approx(1 - 4 / (2 * PAD_MULTIPLE))


def test_padding_share_counts_empty_texts_as_one_token():
    data = EncodedTexts.from_sequences(_seqs([], [1]))
    assert padding_share(data, batch_size=2) == pytest.approx(1 - 2 / (2 * PAD_MULTIPLE))


def test_padding_share_of_nothing_is_zero():
    assert padding_share(EncodedTexts.from_sequences([]), batch_size=4) == 0.0


@pytest.mark.parametrize("batch_size", [1, 4, 32])
def test_padding_share_is_a_fraction_and_matches_collate(batch_size):
    rng = np.random.default_rng(2)
    seqs = [rng.integers(2, 50, size=rng.integers(0, 70)).astype(np.int32) for _ in range(90)]
    data = EncodedTexts.from_sequences(seqs)
    share = padding_share(data, batch_size)
    assert 0.0 <= share < 1.0
    cells = real = 0
    for batch in iterate_batches(data, batch_size):
        cells += batch.ids.numel()
        real += int(batch.mask.sum())
    assert share == pytest.approx(1 - real / cells)


def test_padding_share_zero_when_lengths_fill_the_width():
    data = EncodedTexts.from_sequences([np.ones(PAD_MULTIPLE, np.int32)] * 3)
    assert padding_share(data, batch_size=2) == 0.0
