"""The OpenAPI 3.0 document of ``genius serve``, written by hand and served at ``/openapi.json``.

It describes what the server accepts (the request schemas carry the ranges the
handlers check), so that a schemathesis run can generate valid and invalid
requests; responses are described by media type only.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["openapi_document"]

_MODEL: Final = {
    "type": "string",
    "minLength": 1,
    "maxLength": 256,
    "pattern": r"^\S",
    "description": "a model reference: an alias or a Hugging Face repo[:QUANT]",
}
_UNIT: Final = {"type": "number", "minimum": 0, "maximum": 1}
_SEED: Final = {"type": "integer", "minimum": 0, "maximum": 4294967295}
_TOKENS: Final = {"type": "integer", "minimum": 1, "maximum": 16777216}
_STOP: Final = {
    "oneOf": [
        {"type": "string", "minLength": 1},
        {"type": "array", "items": {"type": "string", "minLength": 1}, "maxItems": 16},
    ]
}
_KEEP_ALIVE: Final = {
    "oneOf": [
        {"type": "number"},
        {"type": "string", "pattern": r"^-?([0-9]+(\.[0-9]*)?(ns|us|ms|s|m|h))+$"},
    ],
    "description": 'a duration ("5m") or seconds; 0 unloads after the request, < 0 never',
}
_SAMPLING: Final = {
    "temperature": {"type": "number", "minimum": 0, "maximum": 5},
    "top_p": {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 1},
    "top_k": {"type": "integer", "minimum": 0, "maximum": 1048576},
    "min_p": _UNIT,
    "repeat_penalty": {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 10},
}


def _text_part() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["type", "text"],
        "properties": {"type": {"type": "string", "enum": ["text"]}, "text": {"type": "string"}},
    }


def _openai_message() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["role", "content"],
        "properties": {
            "role": {
                "type": "string",
                "enum": ["system", "developer", "user", "assistant", "tool"],
            },
            "content": {
                "oneOf": [{"type": "string"}, {"type": "array", "items": _text_part()}],
            },
        },
    }


def _openai_common() -> dict[str, Any]:
    return {
        "model": _MODEL,
        **_SAMPLING,
        "repetition_penalty": _SAMPLING["repeat_penalty"],
        "frequency_penalty": {"type": "number", "minimum": -2, "maximum": 2},
        "presence_penalty": {"type": "number", "minimum": -2, "maximum": 2},
        "max_tokens": _TOKENS,
        "max_completion_tokens": _TOKENS,
        "seed": _SEED,
        "stop": _STOP,
        "n": {"type": "integer", "enum": [1]},
        "stream": {"type": "boolean"},
        "stream_options": {
            "type": "object",
            "properties": {"include_usage": {"type": "boolean"}},
        },
        "include_reasoning": {"type": "boolean"},
        "keep_alive": _KEEP_ALIVE,
    }


def _ollama_options() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            **_SAMPLING,
            "seed": {"type": "integer", "minimum": -1, "maximum": 4294967295},
            "num_predict": {
                "type": "integer",
                "minimum": -2,
                "maximum": 16777216,
                "not": {"enum": [0]},
            },
            "num_ctx": {"type": "integer", "minimum": 16, "maximum": 1048576},
            "stop": {"type": "array", "items": {"type": "string", "minLength": 1}, "maxItems": 16},
        },
    }


def _think() -> dict[str, Any]:
    return {"oneOf": [{"type": "boolean"}, {"type": "string", "enum": ["low", "medium", "high"]}]}


def _body(schema: str) -> dict[str, Any]:
    return {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _responses(*media: str, errors: tuple[int, ...] = (400, 401, 404, 503)) -> dict[str, Any]:
    ok = {"description": "success", "content": {m: {} for m in media}}
    described = {
        400: "bad input; the error names the field",
        401: "missing or wrong API key",
        404: "unknown model",
        413: "request body too large",
        502: "the model hub failed",
        503: "overloaded; retry after Retry-After seconds",
    }
    return {"200": ok, **{str(code): {"description": described[code]} for code in errors}}


def _operation(summary: str, **more: Any) -> dict[str, Any]:
    return {"summary": summary, **more}


def openapi_document() -> dict[str, Any]:
    """A fresh copy of the document."""
    json_only = ("application/json",)
    streamed_sse = ("application/json", "text/event-stream")
    streamed_ndjson = ("application/json", "application/x-ndjson")
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "rusty-genius",
            "version": "1",
            "description": "OpenAI- and Ollama-compatible inference over a local brainstem.",
        },
        "paths": {
            "/health": {
                "get": _operation(
                    "liveness and queue counters", responses=_responses(*json_only, errors=())
                )
            },
            "/v1/models": {
                "get": _operation(
                    "OpenAI: downloaded and loaded models",
                    responses=_responses(*json_only, errors=(401,)),
                )
            },
            "/v1/models/{model}": {
                "get": _operation(
                    "OpenAI: one model, if this server can serve it",
                    parameters=[
                        {
                            "name": "model",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "minLength": 1},
                        }
                    ],
                    responses=_responses(*json_only, errors=(401, 404)),
                )
            },
            "/v1/chat/completions": {
                "post": _operation(
                    "OpenAI: chat completion, streamed as SSE with stream=true",
                    requestBody=_body("ChatCompletionRequest"),
                    responses=_responses(*streamed_sse, errors=(400, 401, 404, 413, 502, 503)),
                )
            },
            "/v1/completions": {
                "post": _operation(
                    "OpenAI: raw text completion (no chat template)",
                    requestBody=_body("CompletionRequest"),
                    responses=_responses(*streamed_sse, errors=(400, 401, 404, 413, 502, 503)),
                )
            },
            "/api/chat": {
                "post": _operation(
                    "Ollama: chat, NDJSON-streamed unless stream=false",
                    requestBody=_body("OllamaChatRequest"),
                    responses=_responses(*streamed_ndjson, errors=(400, 401, 404, 413, 502, 503)),
                )
            },
            "/api/generate": {
                "post": _operation(
                    "Ollama: generate from a prompt, NDJSON-streamed unless stream=false",
                    requestBody=_body("OllamaGenerateRequest"),
                    responses=_responses(*streamed_ndjson, errors=(400, 401, 404, 413, 502, 503)),
                )
            },
            "/api/tags": {
                "get": _operation(
                    "Ollama: downloaded models", responses=_responses(*json_only, errors=(401,))
                )
            },
            "/api/ps": {
                "get": _operation(
                    "Ollama: loaded models", responses=_responses(*json_only, errors=(401,))
                )
            },
            "/api/pull": {
                "post": _operation(
                    "Ollama: download a model, progress streamed as NDJSON",
                    requestBody=_body("OllamaPullRequest"),
                    responses=_responses(*streamed_ndjson, errors=(400, 401, 404, 502)),
                )
            },
            "/api/delete": {
                "delete": _operation(
                    "Ollama: delete a downloaded model",
                    requestBody=_body("OllamaDeleteRequest"),
                    responses={
                        "200": {"description": "deleted"},
                        "400": {"description": "bad input"},
                        "401": {"description": "missing or wrong API key"},
                        "404": {"description": "not downloaded"},
                    },
                )
            },
            "/api/version": {
                "get": _operation(
                    "Ollama: server version", responses=_responses(*json_only, errors=(401,))
                )
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "ChatCompletionRequest": {
                    "type": "object",
                    "required": ["model", "messages"],
                    "properties": {
                        **_openai_common(),
                        "messages": {"type": "array", "minItems": 1, "items": _openai_message()},
                    },
                },
                "CompletionRequest": {
                    "type": "object",
                    "required": ["model", "prompt"],
                    "properties": {
                        **_openai_common(),
                        "prompt": {"type": "string", "minLength": 1},
                    },
                },
                "OllamaChatRequest": {
                    "type": "object",
                    "required": ["model"],
                    "properties": {
                        "model": _MODEL,
                        "messages": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["role", "content"],
                                "properties": {
                                    "role": {
                                        "type": "string",
                                        "enum": ["system", "user", "assistant", "tool"],
                                    },
                                    "content": {"type": "string"},
                                },
                            },
                        },
                        "stream": {"type": "boolean"},
                        "think": _think(),
                        "keep_alive": _KEEP_ALIVE,
                        "options": _ollama_options(),
                    },
                },
                "OllamaGenerateRequest": {
                    "type": "object",
                    "required": ["model"],
                    "properties": {
                        "model": _MODEL,
                        "prompt": {"type": "string"},
                        "system": {"type": "string"},
                        "raw": {"type": "boolean"},
                        "stream": {"type": "boolean"},
                        "think": _think(),
                        "keep_alive": _KEEP_ALIVE,
                        "options": _ollama_options(),
                    },
                },
                "OllamaPullRequest": {
                    "type": "object",
                    "required": ["model"],
                    "properties": {
                        "model": _MODEL,
                        "stream": {"type": "boolean"},
                        "insecure": {"type": "boolean"},
                    },
                },
                "OllamaDeleteRequest": {
                    "type": "object",
                    "required": ["model"],
                    "properties": {"model": _MODEL},
                },
            },
        },
        "security": [{}, {"bearer": []}],
    }
