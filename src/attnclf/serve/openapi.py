"""The OpenAPI document at /openapi.json says what this server takes: FastAPI's document of the
routes, with the server's own limits (texts per request, characters per text, models per
/explain), the names of its models and what a text needs to have words, so that a request the
document calls valid is one the server answers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI

from .models import ServedModel
from .settings import ServeSettings

# A text in which the tokenizer (text/tokens.py) finds a token: a letter or digit, or a mark it
# keeps ("<br />" alone, which it drops, is the one text that matches and has none)
WORDS = {"attnclf": r"[^\W_]|[!?]", "punctuation": r"[^\W_]|[!?.,;:()\"]"}
SOURCE_TEXT = r"\S"  # a seq2seq model (seq2seq/pairs.py) makes a token of any other character
OUTPUTS = {"classifier": ["label", "score", "probabilities"], "seq2seq": ["output"]}


def document_for(
    app: FastAPI, settings: ServeSettings, models: Callable[[], Mapping[str, ServedModel]]
) -> Callable[[], dict[str, Any]]:
    """`app.openapi`: the document, made once the models are loaded."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = FastAPI.openapi(app)  # FastAPI's own, which it keeps in app.openapi_schema
        loaded = models()
        if loaded:
            declare_limits(document, settings, loaded)
        else:  # made again once the models are loaded
            app.openapi_schema = None
        return document

    return openapi


def declare_limits(
    document: dict[str, Any], settings: ServeSettings, models: Mapping[str, ServedModel]
) -> None:
    schemas = document["components"]["schemas"]
    classifiers = [name for name, m in models.items() if m.classifier is not None]
    translators = [name for name, m in models.items() if m.translator is not None]
    text = {"type": "string", "maxLength": settings.max_text_chars}
    words = _words([models[name] for name in classifiers])
    classified = {**text, **({"pattern": words} if words else {})}
    for name in ("PredictRequest", "PredictWithRequest"):
        fields = schemas[name]["properties"]
        _texts(fields["texts"], classified, settings.max_texts)
        for option in fields["inputs"]["anyOf"]:
            if option["type"] == "string":
                option.update(classified)
            else:
                _texts(option, classified, settings.max_texts)
        if "model" in fields:
            _names(fields["model"], classifiers)
    explain = schemas["ExplainRequest"]["properties"]
    _texts(explain["texts"], classified, settings.max_explain_texts)
    for option in explain["models"]["anyOf"]:
        if option["type"] == "array":
            option.update(minItems=1, maxItems=len(classifiers))
            _names(option["items"], classifiers)
    for name in ("TranslateRequest", "TranslateWithRequest"):
        fields = schemas[name]["properties"]
        _texts(fields["texts"], {**text, "pattern": SOURCE_TEXT}, settings.max_texts)
        if "model" in fields:
            _names(fields["model"], translators)
    kinds = dict.fromkeys(m.kind for m in models.values())
    outputs = [output for kind in kinds for output in OUTPUTS[kind]]
    _names(schemas["RequestedOutput"]["properties"]["name"], outputs)
    for path, operations in document["paths"].items():
        named = list(models)
        if path.endswith("/predict"):
            named = classifiers
        elif path.endswith("/translate"):
            named = translators
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] == "name":
                    _names(parameter["schema"], named)


def _texts(field: dict[str, Any], text: dict[str, Any], most: int) -> None:
    field.update(minItems=1, maxItems=most)
    field["items"] = text


def _names(field: dict[str, Any], names: list[str]) -> None:
    """A string field that takes a loaded model's name (or null, where it did)."""
    if not names:
        return
    for option in field.get("anyOf", [field]):
        if option.get("type") == "string":
            option["enum"] = names


def _words(classifiers: list[ServedModel]) -> str | None:
    """The pattern of a text with words for every one of `classifiers`, where they share a
    tokenizer that one pattern describes."""
    tokenizers = {
        getattr(getattr(m.classifier, "text_config", None), "tokenizer", None) for m in classifiers
    }
    if len(tokenizers) != 1:
        return None
    return WORDS.get(str(tokenizers.pop()))
