"""The HTTP reference, made from the OpenAPI document of `attnclf.serve.create_app` as the site
builds: every operation (method, path, parameters, request body, responses) in the document's
order, then every schema with its fields, types, limits and descriptions.

A page asks for it with the line `<!-- generated: http -->`. The app is made with no model (it
serves none and starts nothing), so the document is the routes' own: a running server's
`/openapi.json` adds its limits (`--max-texts`, ...) and the names of its models."""

from __future__ import annotations

import functools
import html
import json
from typing import Any

MARKER = "<!-- generated: http -->"
OK = ("200", "201", "202", "204")


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, reference())


def openapi_document() -> dict[str, Any]:
    from attnclf.serve import create_app

    return create_app({}).openapi()


@functools.cache
def reference() -> str:
    document = openapi_document()
    lines: list[str] = []
    groups: dict[str, list[tuple[str, str, dict]]] = {}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            tag = (operation.get("tags") or [""])[0]
            groups.setdefault(tag, []).append((method, path, operation))
    for tag, operations in groups.items():
        title = "Open Inference Protocol (`/v2`)" if tag == "v2" else "Routes"
        if tag not in ("", "v2"):
            title = tag
        lines += [f"## {title}", ""]
        lines.append(operation_index(operations))
        for method, path, operation in operations:
            lines += operation_section(method, path, operation)
    lines += ["## Schemas", ""]
    for name, schema in document["components"]["schemas"].items():
        lines += schema_section(name, schema)
    return "\n".join(lines)


def operation_id(method: str, path: str) -> str:
    slug = "".join(c if c.isalnum() else "-" for c in path.strip("/")).strip("-")
    while "--" in slug:
        slug = slug.replace("--", "-")
    return f"{method}-{slug or 'root'}"


def operation_index(operations: list[tuple[str, str, dict]]) -> str:
    rows = [
        f'<tr><td style="white-space: nowrap"><a href="#{operation_id(m, p)}">'
        f"<code>{m.upper()} {html.escape(p)}</code></a>"
        f"</td><td>{text(op.get('description') or op.get('summary', ''))}</td></tr>"
        for m, p, op in operations
    ]
    return table(["route", "what it does"], rows) + "\n"


def operation_section(method: str, path: str, operation: dict) -> list[str]:
    lines = [f"### `{method.upper()} {path}` {{ #{operation_id(method, path)} }}", ""]
    lines += [f"<p>{text(operation.get('description') or operation.get('summary', ''))}</p>", ""]
    parameters = operation.get("parameters", [])
    if parameters:
        rows = [
            f"<tr><td><code>{html.escape(p['name'])}</code></td><td>{p['in']}</td>"
            f"<td>{type_of(p.get('schema', {}))}</td>"
            f"<td>{'yes' if p.get('required') else 'no'}</td>"
            f"<td>{text(p.get('description', ''))}</td></tr>"
            for p in parameters
        ]
        lines += [
            "<p><strong>Parameters</strong></p>",
            table(["name", "in", "type", "required", "meaning"], rows),
            "",
        ]
    body = operation.get("requestBody")
    if body:
        kinds = [
            f"<code>{html.escape(kind)}</code>: {type_of(content.get('schema', {}))}"
            for kind, content in body.get("content", {}).items()
        ]
        required = " (required)" if body.get("required") else ""
        lines += [f"<p><strong>Request body</strong>{required}: {'; '.join(kinds)}</p>", ""]
    responses = operation.get("responses", {})
    good = {status: r for status, r in responses.items() if status in OK}
    errors = {status: r for status, r in responses.items() if status not in OK}
    if good:
        lines += ["<p><strong>Responses</strong></p>", response_table(good), ""]
    if errors:
        statuses = ", ".join(errors)
        lines += [
            f'<details class="note">\n<summary>Errors: {statuses}</summary>\n'
            f"{response_table(errors)}\n</details>",
            "",
        ]
    return lines


def response_table(responses: dict[str, dict]) -> str:
    rows = []
    for status, response in responses.items():
        bodies = [
            type_of(content["schema"])
            for content in response.get("content", {}).values()
            if content.get("schema")
        ]
        rows.append(
            f"<tr><td><code>{status}</code></td><td>{text(response.get('description', ''))}</td>"
            f"<td>{' or '.join(bodies) or 'JSON'}</td></tr>"
        )
    return table(["status", "meaning", "body"], rows)


def schema_section(name: str, schema: dict) -> list[str]:
    lines = [f"### {name} {{ #{schema_id(name)} }}", ""]
    if schema.get("description"):
        lines += [f"<p>{text(schema['description'])}</p>", ""]
    properties = schema.get("properties")
    if not properties:
        return [*lines, f"<p>{type_of(schema)}</p>", ""]
    required = set(schema.get("required", []))
    rows = [
        f"<tr><td><code>{html.escape(field)}</code></td><td>{type_of(spec)}</td>"
        f"<td>{'yes' if field in required else 'no'}</td>"
        f"<td>{text(spec.get('description', ''))}{default_of(spec)}</td></tr>"
        for field, spec in properties.items()
    ]
    lines += [table(["field", "type", "required", "meaning"], rows), ""]
    notes = []
    for rule in schema.get("oneOf", []):
        if set(rule) == {"required"}:
            notes.append(" and ".join(f"<code>{f}</code>" for f in rule["required"]))
    if notes:
        lines += [f"<p>Exactly one of: {', or '.join(notes)}.</p>", ""]
    if schema.get("additionalProperties") is False:
        lines += ["<p>No other fields are accepted.</p>", ""]
    return lines


def schema_id(name: str) -> str:
    return "schema-" + name.lower()


def type_of(schema: dict) -> str:
    """A JSON Schema as a short phrase: `array of string (1 or more)`, a link for a $ref."""
    if not schema:
        return "any"
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f'<a href="#{schema_id(name)}">{html.escape(name)}</a>'
    for key in ("anyOf", "oneOf"):
        if key in schema and "properties" not in schema:
            return " or ".join(type_of(option) for option in schema[key])
    kind = schema.get("type", "object" if "properties" in schema else "any")
    if "const" in schema:
        return f"<code>{html.escape(json.dumps(schema['const']))}</code>"
    if "enum" in schema:
        return " | ".join(f"<code>{html.escape(json.dumps(v))}</code>" for v in schema["enum"])
    if kind == "array":
        shown = f"array of {type_of(schema.get('items', {}))}"
    elif kind == "object" and schema.get("additionalProperties") not in (None, False, True):
        shown = f"object of {type_of(schema['additionalProperties'])}"
    else:
        shown = html.escape(str(kind))
    limits = limits_of(schema)
    return f"{shown} ({limits})" if limits else shown


def limits_of(schema: dict) -> str:
    found = []
    pairs = (
        ("minItems", "at least {} items"),
        ("maxItems", "at most {} items"),
        ("minimum", "&ge; {}"),
        ("maximum", "&le; {}"),
        ("exclusiveMinimum", "&gt; {}"),
        ("exclusiveMaximum", "&lt; {}"),
        ("minLength", "at least {} characters"),
        ("maxLength", "at most {} characters"),
    )
    for key, phrase in pairs:
        if key in schema:
            value = schema[key]
            value = int(value) if isinstance(value, float) and value.is_integer() else value
            found.append(phrase.format(value))
    if "pattern" in schema:
        found.append(f"matching <code>{html.escape(schema['pattern'])}</code>")
    return ", ".join(found)


def default_of(spec: dict) -> str:
    if "default" not in spec:
        return ""
    value = html.escape(json.dumps(spec["default"]))
    return f"<br><small>default: <code>{value}</code></small>"


def table(headers: list[str], rows: list[str]) -> str:
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "\n".join(rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def text(value: str) -> str:
    """A description as HTML: escaped, with its `code` spans as code."""
    flat = " ".join(value.split())
    pieces = flat.split("`")
    if len(pieces) % 2 == 0:
        return html.escape(flat)
    return "".join(
        f"<code>{html.escape(p)}</code>" if i % 2 else html.escape(p) for i, p in enumerate(pieces)
    )
