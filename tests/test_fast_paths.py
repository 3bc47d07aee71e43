"""Every fast path computes the same function as the plain one it replaces: the recurrent
encoder that skips padding against PyTorch's packed sequences, the attention poolings against
per-example loops (the multi-head one folds its queries into the key projection), the CPU
dropout against dropout's definition, the row-permuting reversal against its gradient, bf16
autocast against float32, inference mode against autograd, the allocator setting against the
default allocator, the ASCII tokenizer against the Unicode one, and one-pass vocabulary
building and encoding against building, then encoding."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import python_json
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from attnclf.config import DataConfig, TextConfig, TrainConfig
from attnclf.errors import AttnclfError
from attnclf.evaluation.metrics import predict_logits
from attnclf.models import build_model, model_config
from attnclf.models.layers.attention import (
    AdditiveAttentionPooling,
    Dropout,
    MultiHeadAttentionPooling,
    RecurrentEncoder,
    lengths_to_mask,
    reverse_padded,
)
from attnclf.runtime import device as runtime
from attnclf.runtime.device import bf16_is_native, mixed_precision, resolve_precision
from attnclf.text.tokens import (
    _ASCII_TOKEN,
    _TOKEN,
    Encoder,
    Vocab,
    build_and_encode,
    tokenize,
    truncate,
    truncate_ids,
)
from attnclf.training.run import prepare_data, train_model

NATIVE_BF16 = bf16_is_native(torch.device("cpu"))
needs_native_bf16 = pytest.mark.skipif(
    not NATIVE_BF16,
    reason="this CPU has no native bfloat16 (or oneDNN is limited to AVX2), so attnclf never "
    "trains in bf16 here; the float32 path is tested instead",
)

SMALL = {
    "self-attention": dict(vocab_size=60, embedding_dim=16, hidden_size=8, attention_size=8),
    "multihead": dict(vocab_size=60, embedding_dim=16, hidden_size=16, num_heads=4),
}


def padded_batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([9, 4, 1, 7, 9, 2])
    ids = torch.randint(2, 60, (len(lengths), 9), generator=generator)
    ids[torch.arange(9)[None, :] >= lengths[:, None]] = 0
    return ids, lengths


def test_the_encoder_that_skips_padding_equals_a_packed_bidirectional_lstm():
    torch.manual_seed(0)
    encoder = RecurrentEncoder(5, 4, bidirectional=True).eval()
    reference = nn.LSTM(5, 4, batch_first=True, bidirectional=True).eval()
    with torch.no_grad():  # the same weights: forward_rnn as direction 0, backward_rnn as 1
        for name, param in encoder.forward_rnn.named_parameters():
            getattr(reference, name).copy_(param)
        for name, param in encoder.backward_rnn.named_parameters():
            getattr(reference, f"{name}_reverse").copy_(param)
    lengths = torch.tensor([6, 2, 5, 1])
    x = torch.randn(4, 6, 5)
    with torch.no_grad():
        ours = encoder(x, lengths)  # (B, T, 2H)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        expected, _ = pad_packed_sequence(reference(packed)[0], batch_first=True)
    mask = lengths_to_mask(lengths, 6)
    torch.testing.assert_close(ours[mask], expected[mask], rtol=1e-5, atol=1e-6)


def test_additive_pooling_equals_a_loop_over_each_text_alone():
    torch.manual_seed(0)
    pooling = AdditiveAttentionPooling(6, 5)
    states, lengths = torch.randn(3, 7, 6), torch.tensor([7, 3, 5])
    pooled, weights = pooling(states, lengths_to_mask(lengths, 7))
    for row, length in enumerate(lengths.tolist()):
        h = states[row, :length]  # (t, H): only the real tokens
        alpha = torch.softmax(pooling.score(torch.tanh(pooling.project(h))).squeeze(-1), dim=0)
        torch.testing.assert_close(weights[row, :length], alpha)
        torch.testing.assert_close(pooled[row], alpha @ h)


def test_multihead_pooling_equals_a_loop_over_each_text_and_head():
    torch.manual_seed(0)
    pooling = MultiHeadAttentionPooling(8, num_heads=2)
    states, lengths = torch.randn(3, 5, 8), torch.tensor([5, 2, 4])
    pooled, weights = pooling(states, lengths_to_mask(lengths, 5))  # (B, nh * H), (B, nh, T)
    for row, length in enumerate(lengths.tolist()):
        h = states[row, :length]  # (t, H)
        keys = pooling.keys(h).view(length, 2, 4)  # (t, nh, dh)
        for head in range(2):
            scores = keys[:, head] @ pooling.queries[head] / 2.0  # sqrt(dh) = 2
            alpha = torch.softmax(scores, dim=0)
            torch.testing.assert_close(weights[row, head, :length], alpha)
            torch.testing.assert_close(pooled[row, head * 8 : (head + 1) * 8], alpha @ h)


@pytest.mark.parametrize("name", ["self-attention", "multihead"])
def test_inference_mode_computes_what_autograd_computes(name):
    torch.manual_seed(0)
    model = build_model(name, model_config(name, **SMALL[name])).eval()
    ids, lengths = padded_batch()
    with_grad = model(ids, lengths)
    with torch.inference_mode():
        fast = model(ids, lengths)
    torch.testing.assert_close(fast.logits, with_grad.logits.detach())
    torch.testing.assert_close(fast.attention, with_grad.attention.detach())


@needs_native_bf16
@pytest.mark.parametrize("name", ["self-attention", "multihead"])
def test_under_autocast_only_the_encoder_computes_in_bf16(name):
    torch.manual_seed(0)
    model = build_model(name, model_config(name, **SMALL[name])).eval()
    ids, lengths = padded_batch()
    seen: dict[str, torch.dtype] = {}
    model.encoder.register_forward_hook(lambda m, a, out: seen.update(encoder=out.dtype))
    model.attention.register_forward_hook(lambda m, a, out: seen.update(attention=out[0].dtype))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output = model(ids, lengths)
    assert seen == {"encoder": torch.bfloat16, "attention": torch.float32}
    assert output.logits.dtype == output.attention.dtype == torch.float32


@needs_native_bf16
@pytest.mark.parametrize("name", ["self-attention", "multihead"])
def test_bf16_autocast_computes_nearly_what_float32_computes(name):
    """bfloat16 keeps 8 bits of mantissa: outputs and gradients agree to about 1%."""
    torch.manual_seed(0)
    model = build_model(name, model_config(name, **SMALL[name])).eval()  # no dropout
    ids, lengths = padded_batch()
    labels = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    results = []
    for precision in ("fp32", "bf16"):
        model.zero_grad()
        with mixed_precision(precision, torch.device("cpu")):
            output = model(ids, lengths)
        loss = nn.functional.binary_cross_entropy_with_logits(output.logits[:, 0].float(), labels)
        loss.backward()
        gradient = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
        logits, attention = output.logits.float().detach(), output.attention.float().detach()
        results.append((logits, attention, gradient))
    (logits32, attention32, grad32), (logits16, attention16, grad16) = results
    torch.testing.assert_close(logits16, logits32, rtol=0.05, atol=0.02)
    torch.testing.assert_close(attention16, attention32, rtol=0.05, atol=0.01)
    assert torch.cosine_similarity(grad16, grad32, dim=0) > 0.99
    for param in model.parameters():  # autocast computes in bf16 but never changes the weights
        assert param.dtype == torch.float32


def test_precision_resolves_to_bf16_only_where_the_hardware_has_it():
    cpu = torch.device("cpu")
    assert resolve_precision("fp32", cpu) == "fp32"
    assert resolve_precision("auto", cpu) == ("bf16" if NATIVE_BF16 else "fp32")
    if NATIVE_BF16:
        assert resolve_precision("bf16", cpu) == "bf16"
    else:
        with pytest.raises(AttnclfError, match="use --precision fp32"):
            resolve_precision("bf16", cpu)
    with pytest.raises(AttnclfError, match="unknown precision"):
        resolve_precision("fp8", cpu)


def test_bf16_asked_for_where_the_hardware_lacks_it_is_one_line(monkeypatch):
    monkeypatch.setattr(runtime, "bf16_is_native", lambda device: False)
    with pytest.raises(AttnclfError, match="lacks.*--precision fp32.*auto"):
        resolve_precision("bf16", torch.device("cpu"))
    assert resolve_precision("auto", torch.device("cpu")) == "fp32"


def test_the_bf16_probe_leaves_the_random_stream_alone():
    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    runtime._bf16_lstm_step_runs()
    torch.testing.assert_close(torch.rand(4), expected)


@pytest.fixture
def prepared(sentiment_csv):
    return prepare_data(DataConfig(source=str(sentiment_csv)), TextConfig(vocab_size=100))


@needs_native_bf16
@pytest.mark.parametrize("name", ["self-attention", "multihead"])
def test_training_in_bf16_learns_as_well_as_float32(prepared, name):
    accuracy, logits = {}, {}
    for precision in ("fp32", "bf16"):
        # the CPU's bf16 path, also on a machine with a GPU
        config = TrainConfig(epochs=6, batch_size=32, lr=3e-3, precision=precision, device="cpu")
        classifier, record = train_model(name, prepared, config, progress=False)
        assert record.train_arithmetic == precision
        accuracy[precision] = record.test_accuracy
        logits[precision] = predict_logits(classifier.model, prepared.test, 64, torch.device("cpu"))
        assert logits[precision].dtype == torch.float32  # evaluation is float32 either way
    assert accuracy["fp32"] >= 0.9 and accuracy["bf16"] >= 0.9
    agree = ((logits["fp32"] > 0) == (logits["bf16"] > 0)).float().mean().item()
    assert agree >= 0.95


TRAIN_AND_DUMP = textwrap.dedent(
    """
    import json, sys
    import torch
    from attnclf.config import DataConfig, TextConfig, TrainConfig
    from attnclf.training.run import prepare_data, train_model
    from attnclf.runtime.heap import tune_memory_allocator

    applied = tune_memory_allocator()
    data = prepare_data(DataConfig(source=sys.argv[1]), TextConfig(vocab_size=100))
    config = TrainConfig(epochs=2, batch_size=32, precision="fp32")
    classifier, record = train_model("self-attention", data, config, progress=False)
    weights = torch.cat([p.detach().flatten() for p in classifier.model.parameters()])
    print(json.dumps({"applied": applied, "weights": weights.tolist(),
                      "accuracy": record.test_accuracy}))
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's, on Linux")
def test_the_allocator_setting_changes_no_result(sentiment_csv, tmp_path: Path):
    script = tmp_path / "train_and_dump.py"
    script.write_text(TRAIN_AND_DUMP)
    runs = {
        keep: python_json(str(script), str(sentiment_csv), keep_malloc=keep)
        for keep in (True, False)
    }
    assert runs[True]["applied"] is False and runs[False]["applied"] is True
    assert runs[True]["weights"] == runs[False]["weights"]
    assert runs[True]["accuracy"] == runs[False]["accuracy"]


ASCII_TEXTS = st.text(alphabet=st.characters(max_codepoint=127), max_size=80)


@settings(max_examples=300, deadline=None)
@given(ASCII_TEXTS)
def test_the_ascii_tokenizer_equals_the_unicode_one_on_ascii_text(text):
    assert _ASCII_TOKEN.findall(text.lower()) == _TOKEN.findall(text.lower())
    assert tokenize(text) == _TOKEN.findall(text.lower())


@pytest.mark.parametrize("how", ["head", "tail", "head+tail"])
@settings(max_examples=60, deadline=None)
@given(texts=st.lists(st.text(max_size=60), max_size=12), size=st.integers(2, 12))
def test_one_pass_vocabulary_and_ids_equal_build_then_encode(how, texts, size):
    texts += ["The film's end -- was great! Great, great film.", "émigré naïve café ’tis", ""]
    config = TextConfig(vocab_size=size, max_len=5, truncation=how)
    vocab, ids = build_and_encode(texts, config)
    reference = Vocab.build([tokenize(t) for t in texts], size)
    assert vocab.tokens == reference.tokens
    encoder = Encoder(reference, config)
    assert [row.tolist() for row in ids] == [encoder.encode(t).tolist() for t in texts]
    assert all(row.dtype == np.int32 for row in ids)


@pytest.mark.parametrize("how", ["head", "tail", "head+tail"])
def test_truncating_ids_equals_truncating_tokens(how):
    ids = np.arange(11, dtype=np.int32)
    for max_len in range(0, 13):
        assert truncate_ids(ids, max_len, how).tolist() == truncate(list(range(11)), max_len, how)


def test_the_fast_cpu_dropout_is_dropout():
    """Each element is either 0 or x / (1 - p), about p of them 0, seeded, with the gradient of
    that same mask; off in eval mode, plain nn.Dropout's rate and scale."""
    dropout = Dropout(0.2).train()
    x = torch.randn(64, 50, 32, requires_grad=True)
    torch.manual_seed(1)
    y = dropout(x)
    torch.manual_seed(1)
    torch.testing.assert_close(dropout(x), y)  # the same seed, the same mask
    kept = y != 0
    torch.testing.assert_close(y[kept], x[kept] / 0.8)
    assert abs(1 - kept.float().mean().item() - 0.2) < 0.005
    y.sum().backward()
    torch.testing.assert_close(x.grad, kept.float() / 0.8)
    assert dropout(x).data_ptr() != y.data_ptr()
    dropout.eval()
    assert dropout(x) is x
    assert Dropout(0.0).train()(x) is x
    assert (Dropout(1.0).train()(x) == 0).all()


def test_reversing_within_lengths_moves_gradients_back_to_their_rows():
    x = torch.randn(3, 5, 4, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([5, 2, 3])
    assert torch.autograd.gradcheck(lambda t: reverse_padded(t, lengths), (x,))
    reversed_ = reverse_padded(x, lengths)
    torch.testing.assert_close(reversed_[1, :2], x[1, :2].flip(0))
    torch.testing.assert_close(reversed_[1, 2:], x[1, 2:])  # padding stays where it was
    torch.testing.assert_close(reverse_padded(reversed_, lengths), x)
