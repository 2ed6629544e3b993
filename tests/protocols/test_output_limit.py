"""Each codec reads the most output tokens a client's body allows, without decoding the rest."""

from __future__ import annotations

import pytest

from plexus.protocols import codec_for

CASES = [
    ("chat", b'{"model":"m","max_completion_tokens":300,"max_tokens":9}', 300),
    ("chat", b'{"model":"m","max_tokens":9}', 9),
    ("messages", b'{"model":"m","max_tokens":1024,"messages":[]}', 1024),
    ("responses", b'{"model":"m","max_output_tokens":77}', 77),
    ("gemini", b'{"generationConfig":{"maxOutputTokens":64}}', 64),
    ("gemini", b'{"generation_config":{"max_output_tokens":65}}', 65),
]


@pytest.mark.parametrize(("api", "body", "expected"), CASES)
def test_output_limit_is_read(api: str, body: bytes, expected: int) -> None:
    assert codec_for(api).max_output_tokens_of(body) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("api", ["chat", "messages", "responses", "gemini"])
@pytest.mark.parametrize("body", [b"{}", b'{"max_tokens":"lots"}', b"[1]", b"not json"])
def test_no_output_limit_is_none(api: str, body: bytes) -> None:
    assert codec_for(api).max_output_tokens_of(body) is None  # type: ignore[arg-type]
