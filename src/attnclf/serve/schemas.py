"""The request and response bodies of the HTTP API, as pydantic models (they also make the
OpenAPI document at /openapi.json and the pages at /docs).

Requests are strict (`extra="forbid"`): a misspelt field is a 422 that names it, not a silently
ignored option. Responses are built as plain JSON by the routes, for speed; the models below
describe them for the docs.

The limits (texts per request, characters per text) are server settings, so they are checked by
the routes, not declared here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Method = Literal["attention", "gradient_x_input", "integrated_gradients"]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Parameters(_Request):
    """The `parameters` object of the Hugging Face Inference API."""

    top_k: int | None = Field(1, ge=1, description="Labels per text; null: every label.")


class PredictRequest(_Request):
    texts: list[str] | None = Field(None, description="The texts to classify.")
    inputs: str | list[str] | None = Field(
        None, description="The Hugging Face Inference API's name for the texts (one or a list)."
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
    token_scores: list[float] | None = Field(
        None,
        description="(T,) or null: each token's signed share of the logit, for a model that "
        "adds its logit up from the tokens (nbsvm); positive: towards the second label.",
    )


class ExplainRequest(_Request):
    texts: list[str] = Field(description="The texts to explain.")
    models: list[str] | None = Field(None, description="Loaded classifiers; default: every one.")
    methods: list[Method] = Field(
        default_factory=lambda: ["attention"],  # type: ignore[arg-type]
        description="attention (free with the prediction), gradient_x_input, "
        "integrated_gradients (one forward and backward pass per step).",
    )
    ig_steps: int = Field(16, ge=2, le=128, description="Integrated-gradients steps.")


class Explained(BaseModel):
    label: str
    score: float
    labels: list[LabelScore]
    tokens: list[str]
    truncated: bool
    attention: list[float] | None
    head_attention: list[list[float]] | None
    token_attention: list[list[list[float]]] | None
    token_scores: list[float] | None = None
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
    texts: list[str]
    model: str | None = Field(None, description="A loaded seq2seq model; default: the first.")
    beam: int = Field(1, ge=1, le=16, description="Beam width; 1 is greedy decoding.")
    alignment: bool = Field(True, description="Return the tokens and the attention alignment.")


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


class InferInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    shape: list[int]
    datatype: str
    parameters: dict[str, object] | None = None
    data: list[object]


class RequestedOutput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    parameters: dict[str, object] | None = None


class InferRequest(_Request):
    id: str | None = None
    parameters: dict[str, object] | None = None
    inputs: list[InferInput]
    outputs: list[RequestedOutput] | None = None


class InferOutput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    data: list[object]


class InferResponse(BaseModel):
    model_name: str
    model_version: str
    id: str | None = None
    outputs: list[InferOutput]
