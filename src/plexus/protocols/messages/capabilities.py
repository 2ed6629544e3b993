"""What Anthropic models accept, by model id (protocols.md 2.6): a small capability table."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ModelTraits:
    """How to ask one Claude model for thinking and sampling."""

    adaptive: bool  # thinking as {type: adaptive} + output_config.effort; manual mode refused
    sampling_locked: bool  # non-default temperature, top_p or top_k answer 400
    can_disable: bool  # {type: disabled} accepted
    xhigh: bool  # output_config.effort "xhigh" accepted
    max_output: int | None = None  # the most `max_tokens` takes, where known


# Manual `enabled` thinking is rejected on Opus 4.7+ and the 5 family and deprecated on the 4.6
# models, which all take adaptive thinking; their sampling is locked from Opus 4.7 on.
_ADAPTIVE = re.compile(r"(opus|sonnet)-4-[6-9]|(opus|sonnet|haiku)-[5-9]|fable|mythos")
_LOCKED = re.compile(r"opus-4-[7-9]|(opus|sonnet)-[5-9]|fable|mythos")
_NO_DISABLE = re.compile(r"fable|mythos")
_XHIGH = re.compile(r"opus-4-[7-9]|opus-[5-9]|fable|mythos")
# Output ceilings of the models that refuse less than a default or a thinking budget may ask.
_MAX_OUTPUT = (
    (re.compile(r"claude-3-(haiku|sonnet|opus)"), 4096),
    (re.compile(r"claude-3-5-"), 8192),
    (re.compile(r"opus-4(-[01])?(-\d{8})?$"), 32000),
    (re.compile(r"claude-3-7-sonnet|sonnet-4(-0)?(-\d{8})?$"), 64000),
)


@functools.lru_cache(maxsize=256)
def traits_for(model: str) -> ModelTraits:
    """The traits of `model`; unknown ids get the older models' rules (manual thinking)."""
    name = model.lower()
    return ModelTraits(
        adaptive=_ADAPTIVE.search(name) is not None,
        sampling_locked=_LOCKED.search(name) is not None,
        can_disable=_NO_DISABLE.search(name) is None,
        xhigh=_XHIGH.search(name) is not None,
        max_output=next((limit for pattern, limit in _MAX_OUTPUT if pattern.search(name)), None),
    )
