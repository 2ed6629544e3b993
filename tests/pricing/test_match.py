"""The price table's model-name rules and the dashing of compact dates."""

from __future__ import annotations

import msgspec
import pytest

from plexus.pricing.match import compile_clause, dash_dates
from plexus.pricing.table import Clause


@pytest.mark.parametrize(
    ("rule", "name", "expected"),
    [
        ({"equals": "gpt-4o"}, "gpt-4o", True),
        ({"equals": "gpt-4o"}, "gpt-4o-mini", False),
        ({"starts_with": "claude-3-5"}, "claude-3-5-sonnet", True),
        ({"ends_with": "-latest"}, "mistral-large-latest", True),
        ({"contains": "sonnet"}, "claude-sonnet-4", True),
        ({"regex": "^o[13](-|$)"}, "o3-mini", True),
        ({"regex": "^o[13](-|$)"}, "o30", False),
        ({"or": [{"equals": "a"}, {"equals": "b"}]}, "b", True),
        ({"and": [{"starts_with": "gemini"}, {"regex": "^(?!.*-tts)"}]}, "gemini-2.5-pro", True),
        ({"and": [{"starts_with": "gemini"}, {"regex": "^(?!.*-tts)"}]}, "gemini-2.5-tts", False),
    ],
)
def test_rules_match_as_the_dataset_means(
    rule: dict[str, object], name: str, expected: bool
) -> None:
    assert compile_clause(msgspec.convert(rule, Clause))(name) is expected


def test_a_rule_that_sets_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="no rule"):
        compile_clause(Clause())


@pytest.mark.parametrize(
    ("name", "dashed"),
    [
        ("gpt-5.2-20251211", "gpt-5.2-2025-12-11"),
        ("claude-opus-4-20250514:thinking", "claude-opus-4-2025-05-14:thinking"),
        ("model-20251341", "model-20251341"),  # no 41st of a 13th month
        ("model-2025121", "model-2025121"),
        ("gpt-4o", "gpt-4o"),
    ],
)
def test_compact_dates_are_dashed(name: str, dashed: str) -> None:
    assert dash_dates(name) == dashed
