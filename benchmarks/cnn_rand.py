"""Kim 2014's CNN-rand reproduced under custom_data.py's protocol, beside the attention member
that `attnclf train`'s default weighs with NBSVM on short texts: each alone, and each weighed
with the default's NBSVM on the same split, the weights chosen on validation as the default
chooses them (inference.ensemble.mixture_weights). It asks whether the CNN-rand figure the
default is held to is reachable on this protocol, and what Kim's model would add as the member;
and, as a third, the default attention member's model (`conv-attention` at its defaults) trained
by Kim's loop instead of attnclf's, which tells the model from the training apart.

CNN-rand as Kim trained it: random word vectors of 300 (uniform in [-0.25, 0.25]), filters of
3, 4 and 5 words (100 each, ReLU), each pooled by its maximum over the text, dropout 0.5, a
linear output whose weight rows are kept at L2 norm 3 at most; Adadelta (rho 0.95), batches of
50, 25 epochs, the epoch best on validation kept. The texts are read as attnclf reads them (its
tokenizer, every training word, the longest text), padded with zeros to the longest. It is
written here, not in the package: a yardstick, trained by its own loop (attnclf's is Adam).

    python benchmarks/cnn_rand.py --seeds 0,1,2          # TREC's own split, 3 seeds
    python benchmarks/cnn_rand.py --sets cr --folds 2    # the first 2 of CR's 10 folds

Writes cnn_rand.json into --out. TREC: about 5 minutes a seed on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchmark import cpu_isa, cpu_model  # noqa: E402
from custom_data import PUBLISHED, SENTENCES, SETS, Rows, folds, sets_found  # noqa: E402

from attnclf.cli.common import AUTO_DEFAULTS, TrainingOptions
from attnclf.config import TextConfig
from attnclf.data.examples import RawSplit
from attnclf.data.splits import split_rows
from attnclf.inference.classifier import TextClassifier
from attnclf.inference.ensemble import _probabilities, combine, mixture_weights
from attnclf.models import get_family
from attnclf.runtime.files import write_json
from attnclf.text.batches import EncodedTexts
from attnclf.training.defaults import NBSVM, NBSVM_VOCAB, Requested, choose
from attnclf.training.run import fit_model, prepare_data

# Kim 2014, section 3.1 and 3.2
WIDTHS, FILTERS, EMBEDDING, INIT = (3, 4, 5), 100, 300, 0.25
DROPOUT, MAX_NORM, BATCH, EPOCHS = 0.5, 3.0, 50, 25


class CNNRand(nn.Module):
    """(B, T) ids -> (B, K) logits: Kim's one-layer CNN over random word vectors."""

    def __init__(self, vocab_size: int, outputs: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, EMBEDDING, padding_idx=0)
        nn.init.uniform_(self.embedding.weight, -INIT, INIT)
        with torch.no_grad():
            self.embedding.weight[0].zero_()
        self.convs = nn.ModuleList(nn.Conv1d(EMBEDDING, FILTERS, width) for width in WIDTHS)
        self.dropout = nn.Dropout(DROPOUT)
        self.output = nn.Linear(FILTERS * len(WIDTHS), outputs)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        channels = self.embedding(ids).transpose(1, 2)  # (B, E, T)
        pooled = [torch.relu(conv(channels)).amax(dim=2) for conv in self.convs]  # (B, F) each
        return self.output(self.dropout(torch.cat(pooled, dim=1)))  # (B, K)

    @torch.no_grad()
    def cap_norms(self) -> None:
        """Kim's constraint: each output weight row rescaled to L2 norm MAX_NORM at most."""
        norms = self.output.weight.norm(dim=1, keepdim=True)
        self.output.weight.mul_(MAX_NORM / norms.clamp(min=MAX_NORM))


def padded(texts: EncodedTexts, width: int) -> torch.Tensor:
    """(N, width) ids, zeros after each text (width: at least the widest filter)."""
    ids = np.zeros((len(texts), width), dtype=np.int64)
    for i in range(len(texts)):
        row = texts.ids[texts.offsets[i] : texts.offsets[i + 1]][:width]
        ids[i, : len(row)] = row
    return torch.from_numpy(ids)


class KimTrained(nn.Module):
    """(B, T) ids -> (B, K) logits of an attnclf family's model, for Kim's loop (lengths from the
    padding: ids 0 after each text)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        lengths = (ids != 0).sum(dim=1).clamp(min=1)
        return self.model(ids, lengths).logits


def train_kim_way(
    model: nn.Module, train: EncodedTexts, validation: EncodedTexts, width: int, seed: int
) -> int:
    """Train `model` as Kim trained CNN-rand: Adadelta, batches of BATCH, EPOCHS epochs, the
    epoch best on validation kept (returned); CNNRand's norm cap after every step."""
    optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0, rho=0.95, eps=1e-6)
    ids, labels = padded(train, width), torch.from_numpy(train.labels)
    held_ids, held_labels = padded(validation, width), torch.from_numpy(validation.labels)
    generator = torch.Generator().manual_seed(seed)
    best, best_epoch, state = -1.0, 0, model.state_dict()
    for epoch in range(1, EPOCHS + 1):
        model.train()
        for batch in torch.randperm(len(ids), generator=generator).split(BATCH):
            loss = F.cross_entropy(model(ids[batch]), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if isinstance(model, CNNRand):
                model.cap_norms()
        model.eval()
        with torch.no_grad():
            accuracy = (model(held_ids).argmax(1) == held_labels).double().mean().item()
        if accuracy > best:
            best, best_epoch = accuracy, epoch
            state = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    model.eval()
    return best_epoch


def run_split(train: Rows, test: Rows, seed: int) -> dict:
    """One split: the default's NBSVM and attention member, CNN-rand, the attention member's
    model trained Kim's way, each alone and each weighed with NBSVM."""
    options = TrainingOptions(**AUTO_DEFAULTS, seed=seed)
    data_config, text_config, train_config = options.configs(auto=True)
    dataset = split_rows(RawSplit(*train), RawSplit(*test), "fold", data_config, {}, where="fold")
    choice = choose(dataset, text_config, train_config, Requested())
    if choice.name != "ensemble":
        raise SystemExit(f"error: the default chose {choice.name} here, not an ensemble")
    labels = len(dataset.label_names)
    probabilities: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # (validation, test)
    seconds: dict[str, float] = {}
    for member in choice.members:  # NBSVM and the attention member, as the default trains them
        started = time.perf_counter()
        data = prepare_data(data_config, member.text, dataset)
        trained = fit_model(member.family, data, member.training, False, None, member.settings)
        classifier = trained.classifier(data, member.training)
        probabilities[member.family] = (
            answers(classifier, dataset.validation.texts),
            answers(classifier, dataset.test.texts),
        )
        seconds[member.family] = time.perf_counter() - started
    width = max(choice.members[0].text.max_len, max(WIDTHS))  # NBSVM's: the longest text
    data = prepare_data(data_config, TextConfig(max_len=width, vocab_size=NBSVM_VOCAB), dataset)
    attention = choice.members[1].family
    kim_way = f"{attention}, Kim's training"
    epochs = {}
    for name in ("cnn-rand", kim_way):
        started = time.perf_counter()
        torch.manual_seed(train_config.seed)
        model: nn.Module = (
            CNNRand(len(data.vocab), labels)
            if name == "cnn-rand"
            else KimTrained(build_family(attention, len(data.vocab), labels))
        )
        epochs[name] = train_kim_way(model, data.train, data.validation, width, train_config.seed)
        with torch.no_grad():
            probabilities[name] = (
                F.softmax(model(padded(data.validation, width)), dim=1).double().numpy(),
                F.softmax(model(padded(data.test, width)), dim=1).double().numpy(),
            )
        seconds[name] = time.perf_counter() - started
    truth_validation, truth_test = dataset.validation.labels, dataset.test.labels
    result: dict = {
        name: {"accuracy": accuracy(test, truth_test), "seconds": round(seconds[name], 1)}
        for name, (_, test) in probabilities.items()
    }
    for name, epoch in epochs.items():
        result[name]["best_epoch"] = epoch
    for partner in (attention, "cnn-rand", kim_way):
        pair = [NBSVM, partner]
        weights = mixture_weights(np.stack([probabilities[n][0] for n in pair]), truth_validation)
        mixed = combine(np.stack([probabilities[n][1] for n in pair]), weights)
        result[f"nbsvm + {partner}"] = {
            "accuracy": accuracy(mixed, truth_test),
            "nbsvm_weight": round(float(weights[0]), 3),
        }
    return result


def build_family(family: str, vocab_size: int, outputs: int) -> nn.Module:
    """`family`'s model at its defaults, with `outputs` logits (softmax, as Kim's)."""
    found = get_family(family)
    return found.build(found.config(vocab_size=vocab_size, num_outputs=outputs))


def answers(classifier: TextClassifier, texts: list[str]) -> np.ndarray:
    """(N, K) probabilities; NaN rows for texts without a word the model knows (one of CR's is
    "*"), which the weighing leaves to the other member, as `attnclf train`'s does."""
    return _probabilities(classifier.infer(texts, attention=False), len(classifier.label_names))


def accuracy(probabilities: np.ndarray, truth: np.ndarray) -> float:
    """Test accuracy %; a text without an answer counts as the first label, as in weigh()."""
    answered = np.nan_to_num(probabilities, nan=0.5)
    return float((answered.argmax(axis=1) == truth).mean() * 100)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=SENTENCES, help="the sentences folder")
    parser.add_argument("--sets", default="trec", help="comma-separated: " + ",".join(SETS))
    parser.add_argument("--seeds", default="0", help="comma-separated split and training seeds")
    parser.add_argument("--folds", type=int, default=1, help="of a set without its own split")
    parser.add_argument("--out", type=Path, default=Path("runs/cnn_rand"))
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.sets.split(",") if name.strip()]
    try:
        seeds = [int(seed) for seed in args.seeds.split(",") if seed.strip()]
    except ValueError:
        seeds = []
    if not seeds or any(name not in SETS for name in names) or not 1 <= args.folds <= 10:
        print(
            f"error: --sets takes {', '.join(SETS)}; --seeds whole numbers (0,1,2); "
            "--folds 1 to 10",
            file=sys.stderr,
        )
        return 2
    if not sets_found(args.data, names):
        return 2
    out: dict = {"environment": {"cpu": cpu_model(), "isa": cpu_isa()}, "sets": {}}
    for name in names:
        runs = []
        for seed in seeds:
            for fold, (train, test) in enumerate(folds(name, args.data, args.folds, None, seed)):
                result = run_split(train, test, seed)
                runs.append({"seed": seed, "fold": fold + 1, **result})
                cells = ", ".join(f"{k} {v['accuracy']:.1f}" for k, v in result.items())
                print(f"{name} seed {seed} fold {fold + 1}: {cells}", flush=True)
        models = [key for key in runs[0] if key not in ("seed", "fold")]
        means = {m: statistics.fmean(run[m]["accuracy"] for run in runs) for m in models}
        out["sets"][name] = {"runs": runs, "mean": means, "published": PUBLISHED[name]}
        print(
            f"{name} mean over {len(runs)}: " + ", ".join(f"{m} {v:.2f}" for m, v in means.items())
        )
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "cnn_rand.json", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
