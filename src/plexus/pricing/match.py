"""Model-name rules of the price table, compiled once into predicates over lowercased names."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable

from plexus.pricing.table import Clause

Predicate = Callable[[str], bool]


def compile_clause(clause: Clause) -> Predicate:
    """Return a predicate for one rule; the name it is given is already lowercased."""
    if clause.equals is not None:
        return clause.equals.__eq__
    if clause.starts_with is not None:
        prefix = clause.starts_with
        return lambda name: name.startswith(prefix)
    if clause.ends_with is not None:
        suffix = clause.ends_with
        return lambda name: name.endswith(suffix)
    if clause.contains is not None:
        part = clause.contains
        return lambda name: part in name
    if clause.regex is not None:
        search = re.compile(clause.regex).search
        return lambda name: search(name) is not None
    if clause.any_of is not None:
        alternatives = [compile_clause(item) for item in clause.any_of]
        return lambda name: any(test(name) for test in alternatives)
    if clause.all_of is not None:
        conditions = [compile_clause(item) for item in clause.all_of]
        return lambda name: all(test(name) for test in conditions)
    raise ValueError("a price table clause sets no rule")


_COMPACT_DATE = re.compile(r"-(20\d\d)(\d\d)(\d\d)(?=$|-|:)")


def dash_dates(name: str) -> str:
    """Write a compact date suffix the dashed way the table uses (`gpt-5-20250807` becomes
    `gpt-5-2025-08-07`), as OpenRouter and LiteLLM names have it; other digits stay."""

    def dashed(found: re.Match[str]) -> str:
        year, month, day = (int(part) for part in found.groups())
        try:
            datetime.date(year, month, day)
        except ValueError:
            return found.group(0)
        return f"-{year:04d}-{month:02d}-{day:02d}"

    return _COMPACT_DATE.sub(dashed, name)
