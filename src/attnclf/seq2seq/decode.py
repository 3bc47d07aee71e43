"""Decoding a trained Seq2Seq: greedy, a batch of sources at a time, and beam search, one source
at a time with its beams as the batch. Both return each output's alignment: one row of alpha
per emitted token, </s> included.

Beam search keeps the `beam` best unfinished outputs by total log-probability; an output that
emits </s> is finished, and the search stops once `beam` outputs have finished (or at the
length limit). Among the finished, the best log-probability per token wins, so long outputs
are not beaten by short ones for having fewer factors below 1. With beam 1 it is greedy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .model import Seq2Seq


@dataclass
class Hypothesis:
    ids: list[int]  # output token ids, without </s>
    alignment: np.ndarray | None  # (len(ids) + ended, S): alpha per emitted token, </s> included
    ended: bool  # whether </s> came before the length limit
    log_prob: float  # of the emitted tokens, </s> included

    @property
    def score(self) -> float:
        """Log-probability per emitted token, which ranks finished beams."""
        return self.log_prob / max(len(self.ids) + self.ended, 1)


def allowed_logits(logits: torch.Tensor, model: Seq2Seq) -> torch.Tensor:
    """The scores with <pad> and <s> ruled out: no decoder may emit them."""
    banned = [model.config.pad_id, model.config.bos_id]
    return logits.index_fill(-1, torch.tensor(banned, device=logits.device), float("-inf"))


@torch.inference_mode()
def greedy(
    model: Seq2Seq, source: torch.Tensor, lengths: torch.Tensor, max_len: int
) -> list[Hypothesis]:
    """The most likely token at every step, for each source of a padded batch (B, S)."""
    config = model.config
    memory, state = model.encode(source, lengths)
    batch = source.shape[0]
    previous = torch.full((batch,), config.bos_id, dtype=torch.long, device=source.device)
    done = torch.zeros(batch, dtype=torch.bool, device=source.device)
    log_prob = torch.zeros(batch, device=source.device)
    tokens, alphas = [], []
    for _ in range(max_len):
        logits, state, alpha = model.step(previous, state, memory)  # (B, V), (B, D), (B, S)
        logits = allowed_logits(logits.float(), model)
        previous = logits.argmax(dim=-1)  # (B,)
        chosen = torch.log_softmax(logits, dim=-1).gather(1, previous[:, None])[:, 0]
        log_prob += chosen.masked_fill(done, 0.0)
        tokens.append(previous)
        if alpha is not None:
            alphas.append(alpha)
        done |= previous == config.eos_id
        if bool(done.all()):
            break
    ids = torch.stack(tokens, dim=1).cpu().numpy()  # (B, steps)
    weights = torch.stack(alphas, dim=1).float().cpu().numpy() if alphas else None  # (B, n, S)
    hypotheses = []
    for row in range(batch):
        ends = np.flatnonzero(ids[row] == config.eos_id)
        ended = len(ends) > 0
        length = int(ends[0]) if ended else ids.shape[1]
        width = int(lengths[row])
        hypotheses.append(
            Hypothesis(
                ids=ids[row, :length].tolist(),
                alignment=None if weights is None else weights[row, : length + ended, :width],
                ended=ended,
                log_prob=float(log_prob[row]),
            )
        )
    return hypotheses


@torch.inference_mode()
def beam_search(
    model: Seq2Seq, source: torch.Tensor, length: torch.Tensor, beam: int, max_len: int
) -> Hypothesis:
    """The best output for one source (1, S) by beam search of width `beam`."""
    if beam < 1:
        raise ValueError(f"beam width {beam} must be at least 1")
    config, device = model.config, source.device
    memory, state = model.encode(source, length)  # state (1, D)
    width = int(length[0])
    # Per live beam: its ids, its alpha rows (S,) and its total log-probability.
    alive: list[tuple[list[int], list[np.ndarray], float]] = [([], [], 0.0)]
    previous = torch.full((1,), config.bos_id, dtype=torch.long, device=device)
    finished: list[Hypothesis] = []
    for _ in range(max_len):
        beams = torch.zeros(len(alive), dtype=torch.long, device=device)
        logits, state, alpha = model.step(previous, state, memory.select(beams))  # (k, V)
        scores = torch.tensor([total for _, _, total in alive], device=device)  # (k,)
        log_probs = torch.log_softmax(allowed_logits(logits.float(), model), dim=-1)  # (k, V)
        totals = scores[:, None] + log_probs  # (k, V)
        best, flat = totals.view(-1).topk(min(2 * beam, totals.numel()))
        rows = alpha[:, :width].float().cpu().numpy() if alpha is not None else None  # (k, S)
        kept: list[tuple[int, int, float]] = []  # (origin beam, token, total)
        for total, index in zip(best.tolist(), flat.tolist(), strict=True):
            if total == float("-inf"):  # only banned tokens are left
                break
            origin, token = divmod(index, totals.shape[1])
            if token == config.eos_id:
                ids, aligned, _ = alive[origin]
                rows_now = aligned + [rows[origin]] if rows is not None else []
                finished.append(Hypothesis(list(ids), _stack(rows_now), True, total))
            else:
                kept.append((origin, token, total))
                if len(kept) == beam:
                    break
        if len(finished) >= beam or not kept:
            break
        alive = [
            (alive[o][0] + [t], alive[o][1] + ([rows[o]] if rows is not None else []), total)
            for o, t, total in kept
        ]
        origins = torch.tensor([o for o, _, _ in kept], device=device)
        state = state.index_select(0, origins)  # (k, D)
        previous = torch.tensor([t for _, t, _ in kept], dtype=torch.long, device=device)
    else:  # the length limit: the live beams compete unfinished
        finished += [Hypothesis(ids, _stack(rows), False, total) for ids, rows, total in alive]
    return max(finished, key=lambda h: h.score)


def _stack(rows: list[np.ndarray]) -> np.ndarray | None:
    return np.stack(rows) if rows else None  # (steps, S); None without attention
