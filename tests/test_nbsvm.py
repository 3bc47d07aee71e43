"""nbsvm (Wang & Manning 2012, NBSVM-LR): NB ratios by hand, the torch forward against
scikit-learn on independently built features, binarized n-grams that never cross padding or
texts, token scores that add up to the logit, and a model folder through the CLI."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from helpers import assert_one_line_error, run_cli
from safetensors.torch import load_file
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

import attnclf
from attnclf.config import TrainConfig
from attnclf.errors import AttnclfError
from attnclf.explain.explanation import explain
from attnclf.models import build_model, get_family, model_config
from attnclf.models.families import nbsvm
from attnclf.models.families.nbsvm import lower_bound, ngram_occurrences, select_ngrams
from attnclf.models.nb_linear import nb_ratios, selection_folds
from attnclf.text.batches import EncodedTexts

V = 30  # ids 0 (padding) and 1 (unknown) and 28 words


def texts(rows: list[list[int]], labels: list[int] | None = None) -> EncodedTexts:
    return EncodedTexts.from_sequences([np.array(r, dtype=np.int32) for r in rows], labels)


def padded(rows: list[list[int]], width: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(r) for r in rows])
    ids = torch.zeros(len(rows), width or int(lengths.max()), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
    return ids, lengths


def toy_corpus(n: int, classes: int, seed: int) -> tuple[list[list[int]], list[int]]:
    """Texts of random words in which each class has two words (and so n-grams) of its own."""
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for i in range(n):
        label = i % classes
        words = list(rng.integers(2 + 2 * classes, V, rng.integers(3, 12)))
        for _ in range(rng.integers(1, 3)):
            words.insert(int(rng.integers(len(words) + 1)), 2 + 2 * label + int(rng.integers(2)))
        rows.append([int(w) for w in words])
        labels.append(label)
    return rows, labels


def fitted(
    rows: list[list[int]], labels: list[int], classes: int = 2, **values
) -> nbsvm.NBSVMClassifier:
    config = model_config(
        "nbsvm", vocab_size=V, num_outputs=1 if classes == 2 else classes, **values
    )
    model = build_model("nbsvm", config)
    assert isinstance(model, nbsvm.NBSVMClassifier)
    get_family("nbsvm").fit(model, texts(rows, labels), texts([], []), TrainConfig())
    return model.eval()


def set_weights(model: nbsvm.NBSVMClassifier, weights: dict[tuple[int, ...], float]) -> None:
    """A hand-made table: the key of each n-gram of ids, its weight; bias 0."""

    def key(gram: tuple[int, ...]) -> int:
        offset = sum(V**m for m in range(1, len(gram)))
        return offset + sum(t * V ** (len(gram) - 1 - i) for i, t in enumerate(gram))

    pairs = sorted((key(g), w) for g, w in weights.items())
    model.set_table(
        torch.tensor([k for k, _ in pairs]),
        torch.tensor([[w] for _, w in pairs]),
        torch.zeros(1),
    )


def test_nb_ratios_match_a_hand_computation():
    corpus = texts([[2, 3, 3], [2, 4], [4, 5]], [1, 1, 0])
    rows, keys = ngram_occurrences(corpus, V, 1)
    table, matrix = select_ngrams(rows, keys, len(corpus), 1, 0)
    assert table.tolist() == [2, 3, 4, 5]  # unigram keys are the ids
    assert matrix.toarray().tolist() == [[1, 1, 0, 0], [1, 0, 1, 0], [0, 0, 1, 1]]  # binary
    # p = 1 + [2, 1, 1, 0] = [3, 2, 2, 1] (|p| 8); q = 1 + [0, 0, 1, 1] = [1, 1, 2, 2] (|q| 6)
    expected = np.log([(3 / 8) / (1 / 6), (2 / 8) / (1 / 6), (2 / 8) / (2 / 6), (1 / 8) / (2 / 6)])
    r = nb_ratios(matrix, corpus.labels == 1, alpha=1.0)
    np.testing.assert_allclose(r, expected, rtol=1e-12)
    # alpha 0.5: p = [2.5, 1.5, 1.5, 0.5] (|p| 6), q = [0.5, 0.5, 1.5, 1.5] (|q| 4)
    halved = nb_ratios(matrix, corpus.labels == 1, alpha=0.5)
    np.testing.assert_allclose(halved[0], np.log((2.5 / 6) / (0.5 / 4)), rtol=1e-12)


def test_keys_never_collide_and_fit_int64_up_to_a_vocabulary_of_200000():
    big = 200_000
    model = build_model("nbsvm", model_config("nbsvm", vocab_size=big, ngram=3))
    ids, lengths = torch.full((1, 3), big - 1), torch.tensor([3])
    last_bigram, last = big + big**2 - 1, big + big**2 + big**3 - 1  # the largest key: 8.0e15
    # (B, N T): the unigrams, bigrams and trigrams starting at each token; -1 past the text
    assert model.ngram_keys(ids, lengths)[0].tolist() == [
        big - 1, big - 1, big - 1, last_bigram, last_bigram, -1, last, -1, -1
    ]  # fmt: skip
    assert last < 2**63 - 1
    with pytest.raises(AttnclfError, match="do not fit in int64"):
        model_config("nbsvm", vocab_size=big, ngram=4)
    # every n-gram of a tiny vocabulary has its own key, and they run 0, 1, 2, ... in order
    small = build_model("nbsvm", model_config("nbsvm", vocab_size=4, features=-1))
    every = [[a] for a in range(4)]
    every += [[a, b] for a in range(4) for b in range(4)]
    every += [[a, b, c] for a in range(4) for b in range(4) for c in range(4)]
    found = [small.ngram_keys(*padded([g]))[0, (len(g) - 1) * len(g)].item() for g in every]
    assert found == list(range(4 + 16 + 64)) == small.keys.tolist()


def test_the_torch_keys_are_the_fitting_keys():
    rows = [[2, 3, 4, 5], [6, 7], [8]]
    model = build_model("nbsvm", model_config("nbsvm", vocab_size=V))
    ids, lengths = padded(rows, width=6)
    in_torch = sorted(k for k in model.ngram_keys(ids, lengths).flatten().tolist() if k >= 0)
    _, keys = ngram_occurrences(texts(rows), V, 3)
    assert in_torch == sorted(keys.tolist())  # 4 + 3 + 2 from the first, 2 + 1 and 1 from the rest


@pytest.mark.parametrize("classes", [2, 3])
def test_the_forward_is_scikit_learns_decision_function_on_the_same_features(classes):
    rows, labels = toy_corpus(90, classes, seed=0)
    model = fitted(rows, labels, classes, c_values=(0.5,))
    # the same features built independently: n-grams of the ids written as words
    vectorizer = CountVectorizer(
        tokenizer=str.split, token_pattern=None, lowercase=False, ngram_range=(1, 3), binary=True
    )
    matrix = vectorizer.fit_transform([" ".join(map(str, r)) for r in rows])
    assert model.config.features == len(vectorizer.vocabulary_) == model.keys.numel()
    unseen, _ = toy_corpus(20, classes, seed=1)
    unseen[0] = [29, 28, 27, 26, 25]  # n-grams never seen in training
    test = vectorizer.transform([" ".join(map(str, r)) for r in unseen])
    y = np.array(labels)
    expected = []
    for target in [1] if classes == 2 else range(classes):
        positive = y == target
        p = 1.0 + np.asarray(matrix[positive].sum(axis=0)).ravel()
        q = 1.0 + np.asarray(matrix[~positive].sum(axis=0)).ravel()
        r = np.log(p / p.sum()) - np.log(q / q.sum())
        lr = LogisticRegression(C=0.5, solver="liblinear").fit(matrix.multiply(r).tocsr(), positive)
        expected.append(lr.decision_function(test.multiply(r).tocsr()))
    with torch.no_grad():
        logits = model(*padded(unseen)).logits.double().numpy()
    np.testing.assert_allclose(logits, np.stack(expected, axis=1), atol=1e-5, rtol=0)
    assert model.config.c == 0.5


def test_a_repeated_ngram_counts_once_and_its_weight_is_shared_by_its_occurrences():
    model = build_model("nbsvm", model_config("nbsvm", vocab_size=V)).eval()
    set_weights(model, {(5,): 1.0, (6,): -0.25, (5, 6): 0.5, (5, 6, 5): 3.0})
    with torch.no_grad():
        output = model(*padded([[5, 5, 5], [5, 6, 5, 6], [5]]))
    torch.testing.assert_close(output.logits[:, 0], torch.tensor([1.0, 1.0 - 0.25 + 0.5 + 3, 1.0]))
    scores = output.token_scores
    torch.testing.assert_close(scores[0, :3], torch.full((3,), 1 / 3))
    # "5" and "6" twice each, "5 6" twice (a quarter of its 0.5 to each of its tokens each
    # time), "5 6 5" once (1 to each of its three tokens), "6 5" and "6 5 6" not in the table
    expected = [0.5 + 0.125 + 1, -0.125 + 0.125 + 1, 0.5 + 0.125 + 1, -0.125 + 0.125]
    torch.testing.assert_close(scores[1], torch.tensor(expected))
    assert scores[2].tolist() == [1.0, 0.0, 0.0, 0.0]


def test_ngrams_never_cross_padding_or_the_end_of_a_text():
    model = build_model("nbsvm", model_config("nbsvm", vocab_size=V)).eval()
    set_weights(model, {(3,): 1.0, (3, 0): 100.0, (3, 7): 100.0, (0, 0): 100.0, (3, 0, 0): 9.0})
    ids, lengths = padded([[3], [3, 7]], width=5)
    noisy = ids.clone()
    noisy[0, 1:] = 7  # what sits in the padding is never read
    for batch in (ids, noisy, torch.cat([ids, torch.zeros(2, 4, dtype=torch.long)], 1)):
        with torch.no_grad():
            output = model(batch, lengths)
        torch.testing.assert_close(output.logits[:, 0], torch.tensor([1.0, 101.0]))
        assert torch.all(output.token_scores[0, 1:] == 0) and torch.all(
            output.token_scores[1, 2:] == 0
        )
    rows, keys = ngram_occurrences(texts([[3], [7], [3, 7]]), V, 3)  # fitting: within texts only
    assert sorted(zip(rows.tolist(), keys.tolist(), strict=True)) == [
        (0, 3), (1, 7), (2, 3), (2, 7), (2, V + 3 * V + 7)
    ]  # fmt: skip


def test_padding_changes_nothing_on_a_fitted_model():
    rows, labels = toy_corpus(60, 2, seed=2)
    model = fitted(rows, labels)
    ids, lengths = padded(rows[:8])
    noisy = ids.clone()
    pad = torch.arange(ids.shape[1])[None, :] >= lengths[:, None]
    noisy[pad] = torch.randint(1, V, (int(pad.sum()),))
    with torch.no_grad():
        reference = model(ids, lengths)
        for batch in (noisy, torch.cat([ids, torch.zeros(8, 11, dtype=torch.long)], 1)):
            output = model(batch, lengths)
            torch.testing.assert_close(output.logits, reference.logits)
            torch.testing.assert_close(
                output.token_scores[:, : ids.shape[1]], reference.token_scores
            )
        for row in range(8):  # alone as in the batch
            alone = model(ids[row : row + 1, : lengths[row]], lengths[row : row + 1])
            torch.testing.assert_close(alone.logits, reference.logits[row : row + 1])


@pytest.mark.parametrize("classes", [2, 3])
def test_token_scores_add_up_to_the_logit_minus_the_bias(classes):
    rows, labels = toy_corpus(90, classes, seed=3)
    model = fitted(rows, labels, classes)
    ids, lengths = padded(rows[:12])
    with torch.no_grad():
        output = model(ids, lengths)
    scores = output.token_scores
    assert scores.shape == ids.shape
    assert torch.all(scores[torch.arange(ids.shape[1])[None, :] >= lengths[:, None]] == 0)
    picked = output.logits.argmax(dim=1) if classes > 2 else torch.zeros(12, dtype=torch.long)
    logit = output.logits.gather(1, picked[:, None])[:, 0]
    torch.testing.assert_close(scores.sum(dim=1), logit - model.bias[picked], atol=1e-5, rtol=0)
    assert output.attention is None
    # trained: the class words carry the evidence and the texts are told apart
    assert (
        output.logits.argmax(1) if classes > 2 else (output.logits[:, 0] > 0).long()
    ).tolist() == labels[:12]


@pytest.mark.parametrize("c_values", [(2.0, 1.0), (1.0, 2.0)])
def test_c_is_chosen_on_validation_accuracy(c_values, monkeypatch):
    real = nbsvm.fit_nbsvm

    def worse_at_two(matrix, labels, outputs, alpha, c, seed, loss):
        weights, biases = real(matrix, labels, outputs, alpha, c, seed, loss)
        return (-weights, -biases) if c == 2.0 else (weights, biases)

    monkeypatch.setattr(nbsvm, "fit_nbsvm", worse_at_two)
    rows, labels = toy_corpus(120, 2, seed=4)
    model = build_model("nbsvm", model_config("nbsvm", vocab_size=V, c_values=c_values))
    train, validation = texts(rows[:80], labels[:80]), texts(rows[80:], labels[80:])
    result = get_family("nbsvm").fit(model, train, validation, TrainConfig())
    record = result.history[0]
    assert model.config.c == 1.0 == record["C"] and record["val_accuracy"] > 0.9
    assert {"epoch", "train_loss", "train_accuracy", "val_loss", "seconds"} <= set(record)
    assert result.best_epoch == 1 and result.train_seconds > 0 and result.train_samples_per_s > 0


@pytest.mark.parametrize("classes", [2, 3])
def test_the_loss_is_chosen_on_validation_and_an_svm_is_calibrated(classes, monkeypatch):
    real = nbsvm.fit_nbsvm

    def worse_logistic(matrix, labels, outputs, alpha, c, seed, loss):
        weights, biases = real(matrix, labels, outputs, alpha, c, seed, loss)
        return (-weights, -biases) if loss == "logistic" else (weights, biases)

    monkeypatch.setattr(nbsvm, "fit_nbsvm", worse_logistic)
    rows, labels = toy_corpus(150, classes, seed=5)
    settings = dict(losses=("logistic", "squared-hinge"), c_values=(1.0,))
    config = model_config(
        "nbsvm", vocab_size=V, num_outputs=1 if classes == 2 else classes, **settings
    )
    model = build_model("nbsvm", config)
    train, validation = texts(rows[:100], labels[:100]), texts(rows[100:], labels[100:])
    record = get_family("nbsvm").fit(model, train, validation, TrainConfig()).history[0]
    assert model.config.loss == "squared-hinge" == record["objective"]
    assert record["temperature"] > 0 and record["val_accuracy"] > 0.9
    # the temperature is the best on validation: no other scale gives a lower loss
    with torch.no_grad():
        held_out = model.eval()(*padded(rows[100:])).logits.double().numpy()
    best = nbsvm._loss_and_accuracy(held_out, validation.labels)[0]
    for factor in (0.5, 0.9, 1.1, 2.0):
        assert best <= nbsvm._loss_and_accuracy(held_out * factor, validation.labels)[0] + 1e-5


def test_cross_validation_chooses_the_pair_and_refits_on_the_whole_split(monkeypatch):
    real, calls = nbsvm.fit_nbsvm, []

    def worse_at_ten(matrix, labels, outputs, alpha, c, seed, loss):
        calls.append((matrix.shape[0], c))
        weights, biases = real(matrix, labels, outputs, alpha, c, seed, loss)
        return (-weights, -biases) if c == 10.0 else (weights, biases)

    monkeypatch.setattr(nbsvm, "fit_nbsvm", worse_at_ten)
    rows, labels = toy_corpus(100, 2, seed=7)
    settings = dict(c_values=(10.0, 1.0), selection_folds=4)
    model = build_model("nbsvm", model_config("nbsvm", vocab_size=V, **settings))
    record = get_family("nbsvm").fit(model, texts(rows, labels), texts([], []), TrainConfig())
    entry = record.history[0]
    assert model.config.c == 1.0 and entry["selection"] == "4-fold cross-validation"
    assert entry["cv_accuracy"] > 0.9
    # 4 folds of 75 texts for each C, then C 1 once on all 100
    assert calls == [(75, 10.0)] * 4 + [(75, 1.0)] * 4 + [(100, 1.0)]


def test_cross_validation_needs_two_texts_of_every_label():
    assert selection_folds(np.array([0, 0, 0, 1]), 5) is None
    folds = selection_folds(np.array([0, 0, 0, 1, 1, 1]), 5)
    assert folds is not None and len(folds) == 3  # as many as the rarest label allows
    with pytest.raises(AttnclfError, match="selection_folds 1 must be 0"):
        model_config("nbsvm", vocab_size=V, selection_folds=1)


def test_temperature_recovers_the_scale_of_the_labels():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(20_000, 1))
    labels = (rng.random(20_000) < 1 / (1 + np.exp(-2.5 * logits[:, 0]))).astype(np.int64)
    assert nbsvm.temperature(logits, labels) == pytest.approx(2.5, rel=0.05)


def test_without_validation_the_first_loss_and_c_stay():
    rows, labels = toy_corpus(80, 2, seed=6)
    settings = dict(losses=("squared-hinge", "logistic"), c_values=(0.5, 1.0))
    model = build_model("nbsvm", model_config("nbsvm", vocab_size=V, **settings))
    record = get_family("nbsvm").fit(model, texts(rows, labels), texts([], []), TrainConfig())
    assert (model.config.loss, model.config.c) == ("squared-hinge", 0.5)
    assert record.history[0]["temperature"] == 1.0


def test_an_unknown_loss_is_a_one_line_error():
    with pytest.raises(AttnclfError, match="must be one or more of logistic, squared-hinge"):
        model_config("nbsvm", vocab_size=V, losses=("hinge",))


def test_min_count_and_max_features_choose_the_ngrams():
    rows, labels = [[2, 3], [2, 4], [2, 3, 5]], [1, 0, 1]
    assert fitted(rows, labels).config.features == 4 + 3 + 1  # every n-gram
    kept = fitted(rows, labels, min_count=2)  # in two texts at least: "2", "3", "2 3"
    assert kept.keys.tolist() == [2, 3, V + 2 * V + 3]
    top = fitted(rows, labels, max_features=1)
    assert top.keys.tolist() == [2]
    with pytest.raises(AttnclfError, match="lower its min_count"):
        fitted(rows, labels, min_count=9)


def test_the_export_path_of_the_lookup_is_searchsorted(monkeypatch):
    generator = torch.Generator().manual_seed(0)
    for size in (1, 2, 3, 7, 8, 9, 100):
        table = torch.sort(torch.randperm(400, generator=generator)[:size] * 2).values
        queries = torch.randint(-3, 803, (4, 120), generator=generator)
        queries[0, :size] = table  # exact hits too
        expected = torch.searchsorted(table, queries)
        monkeypatch.setattr(torch.onnx, "is_in_onnx_export", lambda: True)
        assert torch.equal(lower_bound(table, queries), expected)
        monkeypatch.undo()


def test_gradient_x_input_on_the_presence_of_tokens_is_the_token_score():
    from attnclf.config import TextConfig
    from attnclf.explain.attributions import gradient_x_input
    from attnclf.inference.classifier import TextClassifier
    from attnclf.text.tokens import Vocab

    rows, labels = toy_corpus(60, 2, seed=6)
    vocab = Vocab(["<pad>", "<unk>", *[f"w{i}" for i in range(2, V)]])
    classifier = TextClassifier("nbsvm", fitted(rows, labels), vocab, TextConfig(), ["a", "b"])
    sample = [" ".join(f"w{i}" for i in row) for row in rows[:6]]
    scores = gradient_x_input(classifier, sample)
    for found, scored in zip(scores, classifier.infer(sample), strict=True):
        assert scored is not None and scored.token_scores is not None
        p = float(scored.probabilities[1])  # d log p(predicted) / d logit, times each score
        slope = 1 - p if p > 0.5 else -p
        np.testing.assert_allclose(found, slope * scored.token_scores, atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_the_same_answer_on_cuda():
    rows, labels = toy_corpus(60, 3, seed=5)
    model = fitted(rows, labels, 3)
    ids, lengths = padded(rows[:10])
    with torch.no_grad():
        cpu = model(ids, lengths)
        gpu = model.to("cuda")(ids.cuda(), lengths.cuda())
    torch.testing.assert_close(gpu.logits.cpu(), cpu.logits)
    torch.testing.assert_close(gpu.token_scores.cpu(), cpu.token_scores)


def test_train_predict_and_explain_through_the_cli(sentiment_csv, tmp_path):
    out, page = tmp_path / "nbsvm", tmp_path / "explained.html"
    result = run_cli("train", "--model", "nbsvm", "--data", sentiment_csv, "--out", out, "-q")
    assert result.exit_code == 0, result.output
    assert "nbsvm: test accuracy" in result.stdout
    config = json.loads((out / "config.json").read_text())
    features = config["model"]["features"]
    assert features > 100 and config["model"]["c"] in config["model"]["c_values"]
    weights = load_file(str(out / "model.safetensors"))
    assert weights["keys"].shape == (features,) and weights["weight"].shape == (features, 1)
    assert config["metrics"]["test_accuracy"] > 0.9  # one sentiment word per review decides it

    result = run_cli("predict", out, "A wonderful, superb film.", "--json", "--attention")
    assert result.exit_code == 0, result.output
    predicted = json.loads(result.stdout)
    assert predicted["label"] == "pos" and predicted["attention"] is None
    scores = dict(zip(predicted["tokens"], predicted["token_scores"], strict=True))
    assert scores["wonderful"] > 0

    from attnclf.serve import ServeSettings, create_app

    with warnings.catch_warnings():  # starlette's note that it will move to httpx2
        warnings.simplefilter("ignore", DeprecationWarning)
        from fastapi.testclient import TestClient
    with TestClient(create_app([str(out)], ServeSettings()), raise_server_exceptions=False) as http:
        body = {"texts": ["A dreadful, boring film."], "attention": True}
        (served,) = http.post("/predict", json=body).json()
        served_scores = dict(zip(served["tokens"], served["token_scores"], strict=True))
        assert served_scores["dreadful"] < 0
    loaded = attnclf.load(out, "cpu")
    (scored,) = loaded.infer(["A wonderful, superb film."])
    assert scored is not None and scored.attention is None
    assert scored.token_scores is not None and len(scored.token_scores) == len(scored.tokens)
    assert scored.token_scores[scored.tokens.index("wonderful")] > 0

    result = run_cli("explain", out, "A dreadful, boring film.", "--html", page)
    assert result.exit_code == 0, result.output
    html = page.read_text()
    assert "red: evidence for pos, blue: evidence for neg" in html
    assert "no attention weights" not in html
    result = run_cli("explain", out, "A dreadful, boring film.")
    assert "dreadful(-" in result.stdout and "-: evidence for neg" in result.stdout

    again = run_cli("train", "--model", "nbsvm", "--data", sentiment_csv, "--resume", out)
    assert_one_line_error(again, "nbsvm trains in one pass", "leave out --resume")


def test_the_punctuation_tokenizer_is_saved_and_read_back(sentiment_csv, tmp_path):
    out = tmp_path / "nbsvm-punctuation"
    result = run_cli(
        "train", "--model", "nbsvm", "--tokenizer", "punctuation", "--max-len", "6",
        "--data", sentiment_csv, "--out", out, "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads((out / "config.json").read_text())["text"]["tokenizer"] == "punctuation"
    loaded = attnclf.load(out, "cpu")
    text = "Superb, truly superb. A wonderful film (really)!"
    (prediction,) = loaded.predict([text])
    assert prediction.tokens == ["wonderful", "film", "(", "really", ")", "!"]  # the last 6 of 12
    (explained,) = explain(loaded, [text])
    assert explained.cut() == (0, 6)  # found by the same tokenizer: 6 tokens left out up front
    bad = run_cli("train", "--model", "nbsvm", "--tokenizer", "bpe", "--data", sentiment_csv)
    assert_one_line_error(bad, "--tokenizer 'bpe' is not one of attnclf, punctuation")
