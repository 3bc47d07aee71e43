"""Token ids packed once into compact arrays, and padded batches of similar length.

Batches are cut from length-sorted runs of examples ("bucketing"), so little compute goes to
padding; their width is rounded up to a multiple of `PAD_MULTIPLE` so that the kernels see a
handful of shapes rather than one per batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

PAD_MULTIPLE = 8
BUCKET_BATCHES = 50  # a shuffled window of this many batches is sorted by length


@dataclass
class EncodedTexts:
    """Many id sequences in one flat array: sequence i is `ids[offsets[i]:offsets[i + 1]]`."""

    ids: np.ndarray  # (sum of lengths,) int32
    offsets: np.ndarray  # (N + 1,) int64
    labels: np.ndarray  # (N,) int64; zeros when unknown

    @classmethod
    def from_sequences(
        cls, sequences: Sequence[np.ndarray], labels: np.ndarray | None = None
    ) -> EncodedTexts:
        lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
        offsets = np.zeros(len(sequences) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        flat = (
            np.concatenate(sequences).astype(np.int32) if len(sequences) else np.zeros(0, np.int32)
        )
        if labels is None:
            labels = np.zeros(len(sequences), dtype=np.int64)
        return cls(flat, offsets, np.asarray(labels, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def select(self, index: np.ndarray) -> EncodedTexts:
        """The sequences and labels at `index`, in that order."""
        sequences = [self.ids[self.offsets[i] : self.offsets[i + 1]] for i in index]
        return EncodedTexts.from_sequences(sequences, self.labels[index])


@dataclass
class Batch:
    ids: torch.Tensor  # (B, T) int64, padded with 0 at the end of each row
    lengths: torch.Tensor  # (B,) int64, at least 1
    labels: torch.Tensor  # (B,) int64
    index: np.ndarray  # (B,) positions of these examples in their EncodedTexts

    def to(self, device: torch.device) -> Batch:
        """The batch on `device`. To CUDA the tensors go through pinned (page-locked) host
        memory, from PyTorch's caching host allocator, so the copy is asynchronous and overlaps
        the GPU's work; from pageable memory `non_blocking` would wait."""
        if device.type != "cuda":
            return Batch(
                self.ids.to(device), self.lengths.to(device), self.labels.to(device), self.index
            )

        def move(tensor: torch.Tensor) -> torch.Tensor:
            return tensor.pin_memory().to(device, non_blocking=True)

        return Batch(move(self.ids), move(self.lengths), move(self.labels), self.index)

    @property
    def mask(self) -> torch.Tensor:
        """(B, T) True at real tokens."""
        positions = torch.arange(self.ids.shape[1], device=self.ids.device)
        return positions[None, :] < self.lengths[:, None]


def collate(data: EncodedTexts, index: np.ndarray, pad_multiple: int = PAD_MULTIPLE) -> Batch:
    lengths = np.maximum(data.lengths[index], 1)  # an empty text is one padding token
    width = int(-(-lengths.max() // pad_multiple) * pad_multiple)
    ids = np.zeros((len(index), width), dtype=np.int64)
    for row, i in enumerate(index):
        start, end = data.offsets[i], data.offsets[i + 1]
        ids[row, : end - start] = data.ids[start:end]
    return Batch(
        torch.from_numpy(ids),
        torch.from_numpy(lengths),
        torch.from_numpy(data.labels[index]),
        index,
    )


def batch_order(
    lengths: np.ndarray, batch_size: int, shuffle: bool, rng: np.random.Generator | None = None
) -> list[np.ndarray]:
    """Index arrays, one per batch. Shuffled: random windows sorted by length, batches in random
    order. Not shuffled: sorted by length, so evaluation wastes nothing on padding."""
    if not shuffle:
        order = np.argsort(lengths, kind="stable")
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    assert rng is not None, "shuffled batches need a random generator"
    order = rng.permutation(len(lengths))
    window = batch_size * BUCKET_BATCHES
    batches = []
    for start in range(0, len(order), window):
        chunk = order[start : start + window]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def iterate_batches(
    data: EncodedTexts,
    batch_size: int,
    shuffle: bool = False,
    rng: np.random.Generator | None = None,
) -> Iterator[Batch]:
    for index in batch_order(data.lengths, batch_size, shuffle, rng):
        yield collate(data, index)


def padding_share(data: EncodedTexts, batch_size: int) -> float:
    """The fraction of batch cells that hold padding, for evaluation-order batches."""
    lengths = np.maximum(data.lengths, 1)
    padded = real = 0
    for index in batch_order(lengths, batch_size, shuffle=False):
        width = -(-lengths[index].max() // PAD_MULTIPLE) * PAD_MULTIPLE
        padded += width * len(index)
        real += lengths[index].sum()
    return float(1 - real / padded) if padded else 0.0
