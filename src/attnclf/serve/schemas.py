"""The request and response bodies of the HTTP API, as pydantic models (they also make the
OpenAPI document at /openapi.json and the pages at /docs).

Requests are strict (`extra="forbid"`, and no "3" for 3): a misspelt field is a 422 that names
it, not a silently ignored option. Responses are built as plain JSON by the routes, for speed;
the models below describe them for the docs.

The limits (texts per request, characters per text) and the model names are the server's, so
the routes check them and openapi.py writes them into each app's document.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import JsonDict, SkipJsonSchema

Method = Literal["attention", "signed_attention", "gradient_x_input", "integrated_gradients"]
TOKEN_SCORES = (
    "(T,) or null: each token's signed share of the logit, for a model that adds its logit up "
    "from the tokens: nbsvm, and word-attention, where it is the token's signed attention (its "
    "attention weight times its word's vote, the token's term of the logit); positive: towards "
    "the second label (more labels: the predicted label's terms). They add up to the logit "
    "minus the bias."
)


def _whole(value: object) -> object:
    """JSON Schema counts 5.0 an integer: it is read as 5 ("5" and true stay refused)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_whole(item) for item in value]
    return value


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


def _not_null(value: object) -> object:
    """Texts, or the field left out: an explicit null is neither."""
    if value is None:
        raise ValueError("send a list of texts, or leave the field out")
    return value


def _texts_or_left_out(schema: dict[str, Any]) -> None:
    """The field's schema without its null (see _not_null), at least one text."""
    options = [o for o in schema.pop("anyOf") if o.get("type") != "null"]
    for option in options:
        if option.get("type") == "array":
            option.update(TEXTS)
    schema.pop("default", None)
    schema.update(options[0] if len(options) == 1 else {"anyOf": options})


TEXTS: JsonDict = {"minItems": 1}  # at most --max-texts: openapi.py adds the server's limits


class Parameters(_Request):
    """The `parameters` object of the Hugging Face Inference API."""

    top_k: int | None = Field(1, ge=1, description="Labels per text; null: every label.")

    _integers = field_validator("top_k", mode="before")(_whole)


class PredictRequest(_Request):
    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": ["texts"]}, {"required": ["inputs"]}]}
    )

    texts: list[str] | None = Field(
        None, description="The texts to classify.", json_schema_extra=_texts_or_left_out
    )
    inputs: str | list[str] | None = Field(
        None,
        description="The Hugging Face Inference API's name for the texts (one or a list).",
        json_schema_extra=_texts_or_left_out,
    )
    model: str | None = Field(None, description="A loaded model's name; default: the first.")
    top_k: int | None = Field(
        1, ge=1, description="Labels per text, most probable first; null: every label."
    )
    parameters: Parameters | None = Field(None, description="Hugging Face style: top_k.")
    attention: bool = Field(
        False,
        description="Also return the tokens and the attention: per token, per head where the "
        "model has heads, token by token where it has that matrix.",
    )

    _given = field_validator("texts", "inputs", mode="before")(_not_null)
    _integers = field_validator("top_k", mode="before")(_whole)


class PredictWithRequest(PredictRequest):
    """/models/{name}/predict: the path names the model (a body's `model` may only repeat it)."""

    model: SkipJsonSchema[str | None] = None


class LabelScore(BaseModel):
    label: str
    score: float


class AttentionPrediction(BaseModel):
    """One text's prediction with `"attention": true`."""

    labels: list[LabelScore]
    tokens: list[str]
    truncated: bool
    attention: list[float] | None = Field(description="(T,) or null: the model has none.")
    head_attention: list[list[float]] | None = Field(description="(nh, T) or null.")
    token_attention: list[list[list[float]]] | None = Field(description="(nh, T, T) or null.")
    token_scores: list[float] | None = Field(None, description=TOKEN_SCORES)


class ExplainRequest(_Request):
    texts: list[str] = Field(description="The texts to explain.", json_schema_extra=TEXTS)
    models: list[str] | None = Field(
        None,
        description="Loaded classifiers, each named once; default: every one. A request costs "
        "texts x models x steps (1 for the prediction, 1 for gradient_x_input, ig_steps for "
        "integrated_gradients) and is refused (422) over the server's --max-explain-steps.",
    )
    methods: list[Method] = Field(
        default_factory=lambda: ["attention"],  # type: ignore[arg-type]
        description="attention and signed_attention (free with the prediction; "
        "signed_attention, each attention weight times its word's vote, only for a model whose "
        "attention pools per-word votes: word-attention), gradient_x_input, "
        "integrated_gradients (one forward and backward pass per step).",
    )
    ig_steps: int = Field(16, ge=2, le=128, description="Integrated-gradients steps.")

    _integers = field_validator("ig_steps", mode="before")(_whole)


class Explained(BaseModel):
    label: str
    score: float
    labels: list[LabelScore]
    tokens: list[str]
    truncated: bool
    attention: list[float] | None
    head_attention: list[list[float]] | None
    token_attention: list[list[list[float]]] | None
    token_scores: list[float] | None = Field(None, description=TOKEN_SCORES)
    signed_attention: list[float] | None = Field(
        None,
        description="(T,) with signed_attention requested: each token's attention weight times "
        "its word's vote, its term of the logit, signed towards the predicted label (positive: "
        "evidence for it); its ranking of the tokens is as faithful as integrated_gradients' "
        "(measured on IMDB). Null for a model without it (see unavailable).",
    )
    gradient_x_input: list[float] | None = None
    integrated_gradients: list[float] | None = None


class ModelExplanations(BaseModel):
    name: str
    family: str
    has_attention: bool
    explanations: list[Explained]
    unavailable: dict[str, str] = Field(
        default_factory=dict, description="Methods this model cannot give, with the reason."
    )


class ExplainResponse(BaseModel):
    models: list[ModelExplanations]


class TranslateRequest(_Request):
    texts: list[str] = Field(json_schema_extra=TEXTS)
    model: str | None = Field(None, description="A loaded seq2seq model; default: the first.")
    beam: int = Field(1, ge=1, le=16, description="Beam width; 1 is greedy decoding.")
    alignment: bool = Field(True, description="Return the tokens and the attention alignment.")

    _integers = field_validator("beam", mode="before")(_whole)


class TranslateWithRequest(TranslateRequest):
    """/models/{name}/translate: the path names the model (a body's `model` may only repeat it)."""

    model: SkipJsonSchema[str | None] = None


class Translated(BaseModel):
    source: str
    output: str
    ended: bool
    log_prob: float
    source_tokens: list[str] | None = None
    output_tokens: list[str] | None = None
    alignment: list[list[float]] | None = None


class TranslateResponse(BaseModel):
    model: str
    translations: list[Translated]


class ModelInfo(BaseModel):
    name: str
    kind: Literal["classifier", "seq2seq"]
    family: str
    labels: list[str] | None
    version: str = Field(description="The first 12 hex digits of model.safetensors' SHA-256.")
    attnclf_version: str | None
    has_attention: bool
    metrics: dict[str, object] | None = Field(description="From config.json: the test metrics.")


class Health(BaseModel):
    status: Literal["ok", "starting"]
    models: list[str]


class Error(BaseModel):
    error: str


# --- the Open Inference Protocol (KServe v2) --------------------------------------------------


class TensorMetadata(BaseModel):
    name: str
    datatype: str
    shape: list[int]


class ModelMetadata(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]


class InputParameters(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    binary_data_size: int | None = Field(
        None, ge=0, description="The binary tensor extension: the tensor's bytes after the JSON."
    )

    _integers = field_validator("binary_data_size", mode="before")(_whole)


class InferInput(_Request):
    name: str
    shape: list[int] = Field(json_schema_extra={"items": {"type": "integer", "minimum": 0}})
    datatype: str = Field(json_schema_extra={"enum": ["BYTES"]})
    parameters: InputParameters | None = None
    data: SkipJsonSchema[None] | list[object] = Field(
        None, description="The texts (row-major), unless sent as binary data."
    )

    _integers = field_validator("shape", mode="before")(_whole)


class OutputParameters(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    binary_data: bool | None = Field(None, description="This output as binary data.")


class RequestedOutput(_Request):
    name: str
    parameters: OutputParameters | None = None


class RequestParameters(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    binary_data_output: bool | None = Field(None, description="Every output as binary data.")


class InferRequest(_Request):
    id: str | None = None
    parameters: RequestParameters | None = None
    inputs: list[InferInput] = Field(json_schema_extra={"minItems": 1, "maxItems": 1})
    outputs: list[RequestedOutput] | None = None


class InferOutput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    parameters: dict[str, object] | None = Field(
        None, description="binary_data_size: the output's bytes after the JSON."
    )
    data: list[object] | None = Field(None, description="Absent when sent as binary data.")


class InferResponse(BaseModel):
    model_name: str
    model_version: str
    id: str | None = None
    outputs: list[InferOutput]
