"""What Anthropic models accept (protocols.md 2.6): a capability table, as data.

A model id names a family and a version (`claude-opus-4-7`, `claude-3-5-sonnet-20241022`,
`anthropic.claude-sonnet-4-6-v1:0`); a model takes the last row of its family whose version is
at or below its own, so a new minor version inherits its predecessor's rules until a row says
otherwise. Named models without a version have rows of their own.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class ModelTraits:
    """How to ask one Claude model for thinking and sampling."""

    adaptive: bool = False  # thinking as {type: adaptive} + output_config.effort; manual refused
    sampling_locked: bool = False  # non-default temperature, top_p or top_k answer 400
    can_disable: bool = True  # {type: disabled} accepted
    xhigh: bool = False  # output_config.effort "xhigh" accepted
    max_output: int | None = None  # the most `max_tokens` takes, where known


MANUAL = ModelTraits()
"""Manual `enabled` thinking with a budget, free sampling: the older models, and unknown ids."""
ADAPTIVE = ModelTraits(adaptive=True)
LOCKED = ModelTraits(adaptive=True, sampling_locked=True)
LOCKED_XHIGH = ModelTraits(adaptive=True, sampling_locked=True, xhigh=True)

# (family, first version the row applies to, traits). Manual thinking is deprecated on the 4.6
# models and refused from Opus 4.7 and the 5 family; their sampling is locked from Opus 4.7.
VERSIONED: tuple[tuple[str, tuple[int, int], ModelTraits], ...] = (
    ("haiku", (3, 0), replace(MANUAL, max_output=4096)),
    ("haiku", (3, 5), replace(MANUAL, max_output=8192)),
    ("haiku", (4, 0), MANUAL),
    ("haiku", (5, 0), ADAPTIVE),
    ("sonnet", (3, 0), replace(MANUAL, max_output=4096)),
    ("sonnet", (3, 5), replace(MANUAL, max_output=8192)),
    ("sonnet", (3, 7), replace(MANUAL, max_output=64000)),
    ("sonnet", (4, 0), replace(MANUAL, max_output=64000)),
    ("sonnet", (4, 1), MANUAL),
    ("sonnet", (4, 6), ADAPTIVE),
    ("sonnet", (5, 0), LOCKED),
    ("opus", (3, 0), replace(MANUAL, max_output=4096)),
    ("opus", (4, 0), replace(MANUAL, max_output=32000)),
    ("opus", (4, 2), MANUAL),
    ("opus", (4, 6), ADAPTIVE),
    ("opus", (4, 7), LOCKED_XHIGH),
)
NAMED: dict[str, ModelTraits] = {
    "fable": replace(LOCKED_XHIGH, can_disable=False),
    "mythos": replace(LOCKED_XHIGH, can_disable=False),
}

# `claude-opus-4-7`, `claude-opus-4-20250514` (a date, no minor), `claude-3-5-sonnet-…`.
_NEW = re.compile(r"claude-(haiku|sonnet|opus)-(\d{1,2})(?:-(\d{1,2}))?(?!\d)")
_OLD = re.compile(r"claude-(\d{1,2})(?:-(\d{1,2}))?-(haiku|sonnet|opus)")


def parse_model(model: str) -> tuple[str, tuple[int, int]] | None:
    """The family and version a model id names, or None."""
    name = model.lower()
    if match := _NEW.search(name):
        return match.group(1), (int(match.group(2)), int(match.group(3) or 0))
    if match := _OLD.search(name):
        return match.group(3), (int(match.group(1)), int(match.group(2) or 0))
    return None


@functools.lru_cache(maxsize=256)
def traits_for(model: str) -> ModelTraits:
    """The traits of `model`; ids the table does not know get the older models' rules."""
    name = model.lower()
    for named, traits in NAMED.items():
        if named in name:
            return traits
    parsed = parse_model(name)
    if parsed is None:
        return MANUAL
    family, version = parsed
    found = MANUAL
    for row_family, since, traits in VERSIONED:
        if row_family == family and since <= version:
            found = traits
    return found
