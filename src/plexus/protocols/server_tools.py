"""Provider-run tool blocks (web search, code execution) every codec shares: readable text for
an API with no shape of its own, and ids that say which family ran the tool.

A block goes back natively only to the family that ran it, with the payload that family wrote
(`native`). A client of another family may get a shape of its own (an Anthropic web search as a
Responses `web_search_call`); its id then carries the origin (`client_id`), so that when the
client sends the block back it is known as a copy (`sent_id`), never replayed as a family's own,
and becomes text for every provider.
"""

from __future__ import annotations

from plexus import ir
from plexus.protocols.common import ORIGINS, dump_json, parse_arguments

_ID_PREFIX = "plx_"
WEB_SEARCH = "web_search"
CODE_EXECUTION = "code_execution"


def is_code_execution(kind: str) -> bool:
    """Whether a tool kind runs the model's code: `code_execution` (Gemini's, OpenAI's
    `code_interpreter`) or one of Anthropic's dated `code_execution_*` versions."""
    return kind == CODE_EXECUTION or kind.startswith(CODE_EXECUTION + "_")


def native(block: ir.ServerToolCallBlock | ir.ServerToolResultBlock, family: ir.Origin) -> bool:
    """Whether `block` goes to `family` as it was written: that family ran it and its own
    JSON of it was kept."""
    return block.origin == family and bool(block.payload)


def client_id(block_id: str, origin: ir.Origin, *, own: bool) -> str:
    """The id a client gets: unchanged on a block it gets as its family wrote it (`own`), else
    tagged with the family that ran the tool, even its own: a shape the gateway made is never
    that family's JSON."""
    return block_id if own else f"{_ID_PREFIX}{origin}_{block_id}"


def sent_id(value: str, family: ir.Origin) -> tuple[str, ir.Origin, bool]:
    """Read an id a client of `family` sent: the tool's id, the family that ran it, and
    whether the client's block is that family's own JSON (not a shape the gateway made)."""
    if value.startswith(_ID_PREFIX):
        rest = value[len(_ID_PREFIX) :]
        for origin in ORIGINS:
            if rest.startswith(origin + "_"):
                return rest[len(origin) + 1 :], origin, False
    return value, family, True


def call_input(block: ir.ServerToolCallBlock) -> dict[str, object]:
    """The call's input as an object (`{}` when absent or not JSON)."""
    return parse_arguments(block.input)


def call_text(block: ir.ServerToolCallBlock) -> str:
    """The call as a line a reader understands: `[web_search] weather in Paris`."""
    data = call_input(block)
    head = f"[{block.name}]"
    for key in ("code", "query", "url"):
        value = data.get(key)
        if isinstance(value, str):
            return f"{head}\n```\n{value}\n```" if key == "code" else f"{head} {value}"
    if set(data) == {"command"} and isinstance(data["command"], str):
        return f"{head} {data['command']}"
    return f"{head} {dump_json(data)}" if data else head


def result_text(block: ir.ServerToolResultBlock) -> str:
    """The result as text: its output or error, then the sources found, one a line."""
    lines = [f"[{block.name} {'error' if block.is_error else 'result'}]"]
    if block.text:
        lines.append(block.text)
    lines += [_source_line(source) for source in block.sources]
    return "\n".join(lines)


def _source_line(source: ir.ServerToolSource) -> str:
    if source.title and source.title != source.url:
        return f"- {source.title}: {source.url}"
    return f"- {source.url}"


def text_of(block: ir.Block) -> str | None:
    """The readable text of a server tool block, None for any other block."""
    match block:
        case ir.ServerToolCallBlock():
            return call_text(block)
        case ir.ServerToolResultBlock():
            return result_text(block)
        case _:
            return None


def join_text(blocks: list[ir.Block]) -> str:
    """The text of a turn for an API whose turn is one string: its text blocks joined, server
    tool blocks as text between blank lines."""
    text = ""
    after_text = False  # the last piece was a text block's
    for block in blocks:
        if isinstance(block, ir.TextBlock):
            text += block.text
            after_text = after_text or bool(block.text)
        elif (rendered := text_of(block)) is not None:
            text += separated(rendered, after_text=after_text)
            after_text = False
    return text


def separated(rendered: str, *, after_text: bool = True) -> str:
    """A server tool's text as it joins the text of a turn: on lines of its own."""
    return ("\n\n" if after_text else "") + rendered.rstrip("\n") + "\n\n"
