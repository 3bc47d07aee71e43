"""The encoder-decoder of Bahdanau, Cho & Bengio 2014, "Neural Machine Translation by Jointly
Learning to Align and Translate", with the alignments as a first-class output.

Notation: B batch, S source tokens, L output steps, E embedding width, H encoder hidden width
per direction, D decoder state width, A attention width, V target vocabulary.

- A bidirectional LSTM reads the source: h_j = [forward h_j; backward h_j]  (B, S, 2H).
- At output step i the decoder scores every h_j against its previous state s_{i-1}:
  additive      e_ij = v^T tanh(W s_{i-1} + U h_j)   (Bahdanau et al. 2014)
  multiplicative e_ij = s_{i-1}^T W h_j              (Luong, Pham & Manning 2015, "general")
  alpha_ij = softmax_j(e_ij) over real source tokens, and c_i = sum_j alpha_ij h_j.
  U h_j (or W h_j) depends on the source alone, so it is computed once per source.
- "none" is the fixed-length encoder-decoder the paper argues against (Cho et al. 2014): c_i is
  the same vector at every step, the encoder's final forward and backward states.
- s_i = GRU([E y_{i-1}; c_i], s_{i-1}), with s_0 = tanh(W_s [final forward; final backward]).
- The output layer reads s_i, c_i and E y_{i-1}: logits = W_o tanh(W_r [s_i; c_i; E y_{i-1}]).

Teacher forcing runs the recurrence step by step but the output layer once over all steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from ..models.layers.attention import RecurrentEncoder, lengths_to_mask, masked_softmax

AttentionKind = Literal["additive", "multiplicative", "none"]
ATTENTION_KINDS: tuple[str, ...] = ("additive", "multiplicative", "none")


@dataclass
class Seq2SeqConfig:
    # The vocabulary sizes come from the data: train_translator() fills them in.
    source_vocab_size: int = 0
    target_vocab_size: int = 0
    embedding_dim: int = 32
    hidden_size: int = 64  # encoder, per direction
    decoder_size: int = 128
    attention_size: int = 64  # additive only
    attention: AttentionKind = "additive"
    dropout: float = 0.0
    pad_id: int = 0
    bos_id: int = 2
    eos_id: int = 3

    def __post_init__(self) -> None:
        if self.attention not in ATTENTION_KINDS:
            raise ValueError(
                f"attention {self.attention!r} is not one of {', '.join(ATTENTION_KINDS)}"
            )


@dataclass
class Seq2SeqOutput:
    logits: torch.Tensor  # (B, L, V)
    alignments: torch.Tensor | None  # (B, L, S) alpha_ij, 0 on padding; None without attention


@dataclass
class Memory:
    """What the decoder reads at every step, computed once per source."""

    states: torch.Tensor  # (B, S, 2H) h_j
    keys: torch.Tensor | None  # (B, S, A) U h_j, or (B, S, D) W h_j; None without attention
    mask: torch.Tensor  # (B, S) True at real tokens
    summary: torch.Tensor  # (B, 2H) final forward and backward states

    def select(self, index: torch.Tensor) -> Memory:
        """The rows `index` (for beams: several copies of one source)."""
        keys = self.keys.index_select(0, index) if self.keys is not None else None
        return Memory(
            self.states.index_select(0, index),
            keys,
            self.mask.index_select(0, index),
            self.summary.index_select(0, index),
        )


class AdditiveScore(nn.Module):
    """e_ij = v^T tanh(W s_{i-1} + U h_j)."""

    def __init__(self, key_size: int, query_size: int, attention_size: int):
        super().__init__()
        self.key = nn.Linear(key_size, attention_size)  # U, with the bias
        self.query = nn.Linear(query_size, attention_size, bias=False)  # W
        self.v = nn.Linear(attention_size, 1, bias=False)

    def keys(self, states: torch.Tensor) -> torch.Tensor:
        return self.key(states)  # (B, S, A)

    def forward(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        hidden = torch.tanh(self.query(query)[:, None, :] + keys)  # (B, S, A)
        return self.v(hidden).squeeze(-1)  # (B, S)


class MultiplicativeScore(nn.Module):
    """e_ij = s_{i-1}^T W h_j."""

    def __init__(self, key_size: int, query_size: int):
        super().__init__()
        self.key = nn.Linear(key_size, query_size, bias=False)  # W

    def keys(self, states: torch.Tensor) -> torch.Tensor:
        return self.key(states)  # (B, S, D)

    def forward(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bsd,bd->bs", keys, query)  # (B, S)


class Seq2Seq(nn.Module):
    def __init__(self, config: Seq2SeqConfig):
        super().__init__()
        self.config = c = config
        self.source_embedding = nn.Embedding(c.source_vocab_size, c.embedding_dim, c.pad_id)
        self.target_embedding = nn.Embedding(c.target_vocab_size, c.embedding_dim, c.pad_id)
        self.encoder = RecurrentEncoder(c.embedding_dim, c.hidden_size, bidirectional=True)
        memory_size = self.encoder.output_size  # 2H
        self.init_state = nn.Linear(memory_size, c.decoder_size)
        self.score: AdditiveScore | MultiplicativeScore | None = None
        if c.attention == "additive":
            self.score = AdditiveScore(memory_size, c.decoder_size, c.attention_size)
        elif c.attention == "multiplicative":
            self.score = MultiplicativeScore(memory_size, c.decoder_size)
        self.cell = nn.GRUCell(c.embedding_dim + memory_size, c.decoder_size)
        self.readout = nn.Linear(c.decoder_size + memory_size + c.embedding_dim, c.decoder_size)
        self.output = nn.Linear(c.decoder_size, c.target_vocab_size)
        self.dropout = nn.Dropout(c.dropout)
        for name, param in self.cell.named_parameters():
            if name.startswith("weight_hh"):
                for gate in param.chunk(3, dim=0):
                    nn.init.orthogonal_(gate)

    # --- the parts the decoders share -----------------------------------------------------------

    def encode(self, source: torch.Tensor, lengths: torch.Tensor) -> tuple[Memory, torch.Tensor]:
        """The memory of each source and the decoder's first state s_0 (B, D)."""
        mask = lengths_to_mask(lengths, source.shape[1])  # (B, S)
        embedded = self.dropout(self.source_embedding(source))  # (B, S, E)
        states = self.encoder(embedded, lengths)  # (B, S, 2H)
        half = states.shape[-1] // 2
        last = (lengths - 1).clamp(min=0)[:, None, None].expand(-1, 1, half)  # (B, 1, H)
        forward_final = states[..., :half].gather(1, last).squeeze(1)  # (B, H)
        backward_final = states[:, 0, half:]  # (B, H): the backward LSTM ends at token 1
        summary = torch.cat([forward_final, backward_final], dim=-1)  # (B, 2H)
        keys = self.score.keys(states) if self.score is not None else None  # (B, S, A)
        state = torch.tanh(self.init_state(summary))  # (B, D)
        return Memory(states, keys, mask, summary), state

    def attend(
        self, state: torch.Tensor, memory: Memory
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The context c_i (B, 2H) for the previous state s_{i-1}, and alpha_i (B, S)."""
        if self.score is None:
            return memory.summary, None
        alpha = masked_softmax(self.score(state, memory.keys), memory.mask)  # (B, S)
        context = torch.einsum("bs,bsh->bh", alpha, memory.states)  # (B, 2H)
        return context, alpha

    def logits(
        self, states: torch.Tensor, contexts: torch.Tensor, previous: torch.Tensor
    ) -> torch.Tensor:
        """Output scores from s_i, c_i and E y_{i-1}; any leading shape, e.g. (B, L, .)."""
        hidden = torch.tanh(self.readout(torch.cat([states, contexts, previous], dim=-1)))
        return self.output(self.dropout(hidden))  # (..., V)

    def step(
        self, previous: torch.Tensor, state: torch.Tensor, memory: Memory
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """One output step from y_{i-1} (B,) and s_{i-1} (B, D): logits (B, V), s_i, alpha_i."""
        embedded = self.dropout(self.target_embedding(previous))  # (B, E)
        context, alpha = self.attend(state, memory)  # (B, 2H), (B, S)
        state = self.cell(torch.cat([embedded, context], dim=-1), state)  # (B, D)
        return self.logits(state, context, embedded), state, alpha

    # --- teacher forcing --------------------------------------------------------------------

    def forward(
        self, source: torch.Tensor, lengths: torch.Tensor, target_in: torch.Tensor
    ) -> Seq2SeqOutput:
        """Scores for every next token given the true previous ones (<s> y_1 ... y_{L-1})."""
        memory, state = self.encode(source, lengths)
        embedded = self.dropout(self.target_embedding(target_in))  # (B, L, E)
        states, contexts, alphas = [], [], []
        for i in range(target_in.shape[1]):
            context, alpha = self.attend(state, memory)  # (B, 2H), (B, S)
            state = self.cell(torch.cat([embedded[:, i], context], dim=-1), state)  # (B, D)
            states.append(state)
            contexts.append(context)
            if alpha is not None:
                alphas.append(alpha)
        logits = self.logits(
            torch.stack(states, dim=1), torch.stack(contexts, dim=1), embedded
        )  # (B, L, V)
        return Seq2SeqOutput(logits, torch.stack(alphas, dim=1) if alphas else None)
