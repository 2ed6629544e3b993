"""The config file's text, edited without losing what people wrote in it.

Secrets are redacted by splicing: each secret scalar's source text is replaced by a quoted
placeholder naming where it sits, every other byte kept. A placeholder sent back is spliced out
again for the source text it stands for, so `${VAR}` references and quoting survive. Edits of one
provider or alias go through ruamel.yaml's round trip, which keeps comments, key order and the
file's indentation.
"""

from __future__ import annotations

import io
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError as RuamelError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from plexus.admin.wire import AdminError, Problem
from plexus.config import SECRET_HEADER

PLACEHOLDER = re.compile(r"^\*\*\*REDACTED:(.+)\*\*\*$")
_STR_TAG = "tag:yaml.org,2002:str"


@dataclass(frozen=True, slots=True)
class _Scalar:
    """A scalar's place: its path, its source span, whether it sits in a flow collection."""

    parts: tuple[str | int, ...]  # mapping keys and sequence indexes from the root
    start: int
    end: int
    value: str
    plain: bool
    in_flow: bool

    @property
    def path(self) -> str:
        """`a.b[0].c`."""
        path = ""
        for part in self.parts:
            path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else part
        return path


def placeholder(path: str) -> str:
    """The text that stands for the secret at `path`."""
    return f"***REDACTED:{path}***"


def redact(text: str) -> str:
    """`text` with every secret replaced by its quoted placeholder; nothing else changes."""
    spans = [(s.start, s.end, f"'{placeholder(s.path)}'") for s in _secrets(_compose(text), text)]
    return _splice(text, spans)


def restore(text: str, original: str) -> str:
    """`text` with every placeholder replaced by the source text of the secret it names in
    `original`; AdminError (400) naming any placeholder `original` has no secret for."""
    known = {s.path: s for s in _secrets(_compose(original), original)}
    spans, problems = [], []
    for scalar in _scalars(_compose(text), text, (), False):
        match = PLACEHOLDER.match(scalar.value)
        if match is None:
            continue
        secret = known.get(match.group(1))
        if secret is None:
            message = f"placeholder for {match.group(1)}, which the file has no secret at"
            problems.append(Problem(scalar.path, message))
            continue
        source = original[secret.start : secret.end]
        if secret.plain and scalar.in_flow:
            source = json.dumps(secret.value)  # `${VAR}` unquoted is not valid inside {...}
        spans.append((scalar.start, scalar.end, source))
    if problems:
        raise AdminError(400, "invalid_config", "unknown redacted placeholder", problems)
    return _splice(text, spans)


def section_entry(text: str, section: str, name: str) -> Any:
    """The mapping `section.name` of a (redacted) text as plain data, or None when absent."""
    data = yaml.safe_load(text) or {}
    entries = data.get(section) if isinstance(data, dict) else None
    return entries.get(name) if isinstance(entries, dict) else None


def set_entry(text: str, section: str, name: str, value: dict[str, Any] | None) -> str:
    """`text` with `section.name` replaced by `value` (created if new, deleted when None),
    everything else kept; AdminError (404) when deleting what is not there."""
    loader = YAML()
    loader.preserve_quotes = True
    loader.width = 4096  # never fold a long line the file had on one
    try:
        document = loader.load(text) if text.strip() else CommentedMap()
    except RuamelError as error:
        raise AdminError(400, "invalid_config", "not valid YAML", [yaml_problem(error)]) from error
    if not isinstance(document, CommentedMap):
        raise AdminError(400, "invalid_config", "the config file is not a mapping")
    entries = document.get(section)
    if entries is None:
        if value is None:
            raise AdminError(404, "not_found", f"{section}.{name} does not exist")
        entries = document[section] = CommentedMap()
    if value is None:
        if name not in entries:
            raise AdminError(404, "not_found", f"{section}.{name} does not exist")
        del entries[name]
    else:
        entries[name] = _merge(entries.get(name), value)
    mapping, offset = _indentation(text)
    loader.indent(mapping=mapping, sequence=offset + 2, offset=offset)
    out = io.StringIO()
    loader.dump(document, out)
    return out.getvalue()


def _indentation(text: str) -> tuple[int, int]:
    """How the file indents a nested mapping, and where a sequence's dash sits under its key
    (ruamel writes every block with one setting: the file's own keeps its diff small)."""
    mapping = offset = None
    lines = [line.split(" #")[0].rstrip() for line in text.splitlines()]
    lines = [line for line in lines if line.strip()]
    for above, line in itertools.pairwise(lines):
        if not above.endswith(":"):
            continue
        depth = len(above) - len(above.lstrip())
        inner = len(line) - len(line.lstrip())
        if line.lstrip().startswith("-"):
            offset = inner - depth if offset is None else offset
        elif inner > depth and mapping is None:
            mapping = inner - depth
    return mapping or 2, max(offset or 0, 0)


def _merge(old: Any, new: Any) -> Any:
    """`new` as ruamel values, reusing `old`'s nodes where they hold the same data: an entry
    PUT back as it was read keeps its comments, quoting and flow style byte for byte."""
    if isinstance(old, CommentedMap) and isinstance(new, dict):
        for key in [key for key in old if key not in new]:
            del old[key]
        for key, item in new.items():
            old[key] = _merge(old.get(key), item)
        return old
    if isinstance(old, CommentedSeq) and isinstance(new, list):
        if len(old) == len(new):
            for index, item in enumerate(new):
                old[index] = _merge(old[index], item)
            return old
        sequence = CommentedSeq(_yaml_value(item) for item in new)
        if old.fa.flow_style():
            sequence.fa.set_flow_style()
        return sequence
    if old is not None and old == new and isinstance(old, bool) == isinstance(new, bool):
        return old
    return _yaml_value(new)


def _yaml_value(value: Any) -> Any:
    """JSON data as ruamel values; a string the loader would read as something else (`yes`,
    `1e3`, `null`) is double-quoted so that it stays a string."""
    if isinstance(value, dict):
        mapping = CommentedMap()
        for key, item in value.items():
            mapping[key] = _yaml_value(item)
        return mapping
    if isinstance(value, list):
        return [_yaml_value(item) for item in value]
    if isinstance(value, str) and not _reads_as_string(value):
        return DoubleQuotedScalarString(value)
    return value


def _reads_as_string(value: str) -> bool:
    resolver = yaml.resolver.Resolver()
    tag = resolver.resolve(yaml.nodes.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    return bool(tag == _STR_TAG)


def _compose(text: str) -> Node | None:
    try:
        node: Node | None = YAML().compose(io.StringIO(text))
    except RuamelError as error:
        raise AdminError(400, "invalid_config", "not valid YAML", [yaml_problem(error)]) from error
    return node


def yaml_problem(error: Exception) -> Problem:
    """A YAML syntax error as a problem of the whole document, with its line and column."""
    mark = getattr(error, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    detail = getattr(error, "problem", None) or str(error)
    return Problem("", f"not valid YAML{where}: {detail}")


def _scalars(
    node: Node | None,
    text: str,
    parts: tuple[str | int, ...],
    in_flow: bool,
    above: frozenset[int] = frozenset(),
) -> Iterator[_Scalar]:
    """Every scalar under `node` with where its value's text sits. Through an alias (`*name`,
    `<<: *name`) the anchor's scalars come again under the alias's path, with the anchor's
    span; an alias of its own ancestor (a cycle) is not followed."""
    if node is None or id(node) in above:
        return
    above = above | {id(node)}
    if isinstance(node, ScalarNode):
        start, end = node.start_mark.index, node.end_mark.index
        while end > start and text[end - 1] in " \t\r\n":
            end -= 1  # a block scalar's span runs on to the next line
        while start < end and text[start] in "&!":  # an anchor or a tag before the value
            start = _past_token(text, start, end)
        yield _Scalar(parts, start, end, str(node.value), node.style is None, in_flow)
    elif isinstance(node, MappingNode):
        flow = bool(node.flow_style)
        for key, item in node.value:
            yield from _scalars(item, text, _key_path(parts, key), flow, above)
    elif isinstance(node, SequenceNode):
        flow = bool(node.flow_style)
        for index, item in enumerate(node.value):
            yield from _scalars(item, text, (*parts, index), flow, above)


def _key_path(parts: tuple[str | int, ...], key: Node) -> tuple[str | int, ...]:
    """The path under a mapping key; a merge key (`<<`) adds nothing: what it merges sits in
    the mapping itself."""
    return parts if key.value == "<<" else (*parts, str(key.value))


def _past_token(text: str, start: int, end: int) -> int:
    """Where the text after the token at `start` (and its blanks) begins."""
    while start < end and text[start] not in " \t\r\n":
        start += 1
    while start < end and text[start] in " \t\r\n":
        start += 1
    return start


def _secrets(root: Node | None, text: str) -> list[_Scalar]:
    """The scalars that hold secrets: what `config.config_secrets` masks in logs, plus URLs
    with a password (a usage database's)."""
    found = []
    for scalar in _scalars(root, text, (), False):
        if not scalar.value or (scalar.plain and scalar.value in ("~", "null")):
            continue
        if _is_secret(scalar.parts, scalar.value):
            found.append(scalar)
    return found


def _is_secret(parts: tuple[str | int, ...], value: str) -> bool:
    match parts:
        case ["keys", _, "secret"] | ["providers", _, "api_key"] | ["server", "metrics_token"]:
            return True
        case ["providers", _, "headers", str(header)]:
            return bool(SECRET_HEADER.search(header))
        case ["providers", _, "proxy"] | ["usage", "database"]:
            return "@" in value
    return False


def _splice(text: str, spans: list[tuple[int, int, str]]) -> str:
    """`text` with each span replaced; a span given again (an anchor reached through an
    alias) is replaced once, by its first replacement."""
    unique: dict[tuple[int, int], str] = {}
    for start, end, replacement in spans:
        unique.setdefault((start, end), replacement)
    for (start, end), replacement in sorted(unique.items(), reverse=True):
        text = text[:start] + replacement + text[end:]
    return text
