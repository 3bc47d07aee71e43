"""A model family is one registration: a throwaway family, defined here and nowhere else, is
listed by the CLI, trained, saved, loaded, explained, measured and compared like the built-in
ones. It has no attention, so every view must say so instead of failing, and it asks for an
auxiliary loss, which the training loop must add."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import torch
from helpers import assert_one_line_error, run_cli
from torch import nn

import attnclf
from attnclf.config import DataConfig, TextConfig, TrainConfig
from attnclf.errors import AttnclfError
from attnclf.models import Family, all_families, build_model, model_config, register, unregister
from attnclf.models.layers.attention import lengths_to_mask
from attnclf.models.outputs import Classifier, ClassifierOutput
from attnclf.runtime.device import resolve_device
from attnclf.training.loop import fit
from attnclf.training.run import prepare_data

NAME = "mean-of-embeddings"


@dataclass
class MeanConfig:
    vocab_size: int = 100
    num_outputs: int = 1
    pad_id: int = 0
    embedding_dim: int = 8
    penalty: float = 1e-4  # times the squared norm of the output weights


class MeanOfEmbeddings(Classifier):
    """The mean of the embeddings of the real tokens, then a linear layer: no attention."""

    def __init__(self, config: MeanConfig, vocab=None):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim, config.pad_id)
        self.output = nn.Linear(config.embedding_dim, config.num_outputs)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> ClassifierOutput:
        mask = lengths_to_mask(lengths, ids.shape[1]).unsqueeze(-1)  # (B, T, 1)
        embedded = self.embedding(ids) * mask  # (B, T, E)
        pooled = embedded.sum(1) / lengths.clamp(min=1)[:, None]  # (B, E)
        penalty = self.config.penalty * self.output.weight.pow(2).sum()
        return ClassifierOutput(self.output(pooled), auxiliary_loss=penalty)


FAMILY = Family(
    name=NAME,
    summary="throwaway: the mean of the word embeddings, no attention",
    config=MeanConfig,
    build=MeanOfEmbeddings,
    tiny=dict(vocab_size=50, embedding_dim=4),
)


@pytest.fixture
def registered():
    register(FAMILY)
    yield FAMILY
    unregister(NAME)


def test_a_family_registered_in_a_test_goes_everywhere(
    registered, sentiment_csv, tmp_path, monkeypatch
):
    monkeypatch.setenv("COLUMNS", "400")  # a narrow help box (CI) cuts long lines with "..."
    monkeypatch.setenv("TERMINAL_WIDTH", "400")
    import click
    import typer

    from attnclf.cli import app

    group = typer.main.get_command(app)
    for command in ("train", "compare"):
        assert run_cli(command, "--help").exit_code == 0
        # the option help the command lists its families in, as `--help` renders it (the
        # rendered box may cut a long last line on a narrow terminal)
        sub = group.commands[command]  # type: ignore[attr-defined]
        sub.format_help(click.Context(sub), click.HelpFormatter(width=10_000))
        listed = " ".join(p.help for p in sub.family_params)
        assert NAME in listed and "throwaway: the mean" in listed

    out = tmp_path / "mean"
    common = ["--data", sentiment_csv, "--vocab-size", 100, "--epochs", 3, "-q"]
    trained = run_cli("train", "--model", NAME, "--out", out, *common)
    assert trained.exit_code == 0, trained.output
    assert f"{NAME}: test accuracy" in trained.stdout

    classifier = attnclf.load(out, "cpu")
    assert classifier.architecture == NAME and not classifier.has_attention
    assert classifier.model.config.penalty == 1e-4
    prediction = classifier.predict(["A wonderful, moving film."])[0]
    assert prediction.attention is None and prediction.label == "pos"

    predicted = run_cli("predict", out, "--json", "--attention", "A dull film.")
    assert json.loads(predicted.stdout)["attention"] is None

    for view in ([], ["--html", tmp_path / "e.html"], ["--png", tmp_path / "e.png"]):
        explained = run_cli("explain", out, "A wonderful, moving film.", *view)
        assert explained.exit_code == 0, explained.output
    assert "no attention" in run_cli("explain", out, "A wonderful film.").stdout
    assert "no attention" in (tmp_path / "e.html").read_text(encoding="utf-8")
    assert (tmp_path / "e.png").stat().st_size > 0

    measured = run_cli(
        "faithfulness", out, "--data", sentiment_csv, "--sample", 20, "--ig-steps", 4, "--json"
    )
    assert measured.exit_code == 0, measured.output
    report = json.loads(measured.stdout)
    assert set(report["methods"]) == {"gradient_x_input", "integrated_gradients", "random"}
    assert report["skipped"] == {
        "attention": "the model has no attention",
        "signed_attention": "the model has no attention",
    }

    run = tmp_path / "run"
    compared = run_cli(
        "compare",
        "--models",
        f"self-attention,{NAME}",
        "--out",
        run,
        "--faithfulness",
        10,
        *common,
    )
    assert compared.exit_code == 0, compared.output
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    assert list(metrics["models"]) == ["self-attention", NAME]
    assert "attention" not in metrics["faithfulness"][NAME]["methods"]
    page = (run / "attention.html").read_text(encoding="utf-8")
    assert NAME in page and "no attention" in page
    assert "Not measured: attention (the model has no attention)" in (run / "report.md").read_text(
        encoding="utf-8"
    )


def test_the_training_loop_adds_the_auxiliary_loss(registered, sentiment_csv):
    data = prepare_data(DataConfig(source=str(sentiment_csv)), TextConfig(vocab_size=100))
    norms = {}
    for penalty in (0.0, 10.0):
        torch.manual_seed(0)
        model = build_model(NAME, model_config(NAME, vocab_size=len(data.vocab), penalty=penalty))
        config = TrainConfig(epochs=2, batch_size=32, lr=0.02, ema_decay=0.0, precision="fp32")
        fit(model, data.train, data.validation, config, resolve_device("cpu"), progress=False)
        norms[penalty] = model.output.weight.norm().item()
    assert norms[10.0] < norms[0.0] / 3


def test_registering_checks_the_family(registered):
    assert NAME in all_families()
    with pytest.raises(ValueError, match="already registered"):
        register(Family(NAME, "another", MeanConfig, MeanOfEmbeddings))

    @dataclass
    class Incomplete:
        embedding_dim: int = 4

    with pytest.raises(TypeError, match="lacks vocab_size, num_outputs, pad_id"):
        register(Family("incomplete", "no data fields", Incomplete, MeanOfEmbeddings))
    with pytest.raises(AttnclfError, match="has no settings colour"):
        model_config(NAME, colour="red")


def test_an_unknown_family_is_one_line(sentiment_csv, tmp_path):
    result = run_cli("train", "--model", "nope", "--data", sentiment_csv, "--out", tmp_path)
    assert_one_line_error(result, "unknown model nope", "self-attention")
    result = run_cli("compare", "--models", "multihead,nope", "--data", sentiment_csv)
    assert_one_line_error(result, "unknown model nope")
