"""The Claude capability table: every id form maps to its family's row (protocols.md 2.6)."""

from __future__ import annotations

import pytest

from plexus.protocols.messages.capabilities import (
    ADAPTIVE,
    LOCKED,
    LOCKED_XHIGH,
    MANUAL,
    ModelTraits,
    parse_model,
    traits_for,
)


@pytest.mark.parametrize(
    ("model", "family", "version"),
    [
        ("claude-opus-4-7", "opus", (4, 7)),
        ("claude-opus-4-20250514", "opus", (4, 0)),  # a date is not a minor version
        ("claude-3-5-sonnet-20241022", "sonnet", (3, 5)),
        ("claude-3-haiku-20240307", "haiku", (3, 0)),
        ("anthropic.claude-sonnet-4-6-v1:0", "sonnet", (4, 6)),  # Bedrock
        ("claude-opus-4-1@20250805", "opus", (4, 1)),  # Vertex
        ("CLAUDE-HAIKU-4-5", "haiku", (4, 5)),
    ],
)
def test_model_ids_name_a_family_and_version(
    model: str, family: str, version: tuple[int, int]
) -> None:
    assert parse_model(model) == (family, version)


@pytest.mark.parametrize(
    ("model", "traits"),
    [
        ("claude-3-haiku-20240307", ModelTraits(max_output=4096)),
        ("claude-3-5-sonnet-20241022", ModelTraits(max_output=8192)),
        ("claude-3-7-sonnet-latest", ModelTraits(max_output=64000)),
        ("claude-sonnet-4-20250514", ModelTraits(max_output=64000)),
        ("claude-opus-4-1", ModelTraits(max_output=32000)),
        ("claude-sonnet-4-5", MANUAL),
        ("claude-haiku-4-5-20251001", MANUAL),
        ("claude-opus-4-5", MANUAL),
        ("claude-sonnet-4-6", ADAPTIVE),
        ("claude-opus-4-6", ADAPTIVE),
        ("claude-opus-4-7", LOCKED_XHIGH),
        ("claude-opus-4-9", LOCKED_XHIGH),  # a newer minor inherits its predecessor's row
        ("claude-opus-5-1", LOCKED_XHIGH),
        ("claude-sonnet-5", LOCKED),
        ("claude-haiku-5", ADAPTIVE),
        ("claude-fable", ModelTraits(True, True, False, True)),
        ("some-local-model", MANUAL),  # unknown: the older models' rules
    ],
)
def test_traits_come_from_the_table(model: str, traits: ModelTraits) -> None:
    assert traits_for(model) == traits
