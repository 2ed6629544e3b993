"""The admin API's OpenAPI 3.1 document: schemas generated from the wire Structs, paths from
the endpoint table (so a new endpoint cannot be left out)."""

from __future__ import annotations

import functools
import re
from typing import Any

import msgspec

from plexus.admin.wire import SCHEMAS, ErrorBody

_REF = "#/components/schemas/{name}"
_ERRORS = {
    "400": "Bad request or invalid config (with `problems`)",
    "401": "Missing or invalid admin key",
    "404": "Not found, or the admin API is off",
}
_KEY_ERRORS = {
    "409": "A key of the config file, a name taken, or no usage store",
    "503": "The usage store cannot answer",
}
_WRITE_ERRORS = {
    "409": "Read-only file, writes disabled, or no config file",
    "412": "The config changed since it was read",
    "428": "If-Match required",
}


@functools.cache
def document() -> dict[str, Any]:
    """The whole document."""
    from plexus.admin.api import ENDPOINTS, PREFIX

    _, components = msgspec.json.schema_components(SCHEMAS, ref_template=_REF)
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in ENDPOINTS:
        operation: dict[str, Any] = {
            "summary": endpoint.summary,
            "operationId": f"{endpoint.method.lower()}_{_slug(endpoint.pattern)}",
            "responses": {
                str(endpoint.status): _answer(endpoint.answer),
                **_responses(endpoint.method, endpoint.pattern),
            },
        }
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"\{(\w+)\}", endpoint.pattern)
        ]
        if parameters:
            operation["parameters"] = parameters
        if endpoint.body is not None:
            operation["requestBody"] = {"required": True, "content": _json(endpoint.body)}
        paths.setdefault(PREFIX + endpoint.pattern, {})[endpoint.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Plexus admin API", "version": "0"},
        "components": {
            "schemas": components,
            "securitySchemes": {"admin": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"admin": []}],
        "paths": paths,
    }


def _slug(pattern: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", pattern.lower()).strip("_")


def _json(kind: Any) -> dict[str, Any]:
    if kind is dict:
        return {"application/json": {"schema": {"type": "object"}}}
    if isinstance(kind, str):
        return {kind: {"schema": {"type": "string"}}}
    return {"application/json": {"schema": {"$ref": _REF.format(name=kind.__name__)}}}


def _answer(kind: Any) -> dict[str, Any]:
    return {"description": "OK", "content": _json(kind)}


def _responses(method: str, pattern: str) -> dict[str, Any]:
    error = {"content": _json(ErrorBody)}
    codes = dict(_ERRORS)
    if pattern.startswith("/keys"):
        codes.update(_KEY_ERRORS)
    elif method in ("PUT", "DELETE"):
        codes.update(_WRITE_ERRORS)
    return {code: {"description": text, **error} for code, text in codes.items()}
