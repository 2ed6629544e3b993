"""Gemini parts ↔ IR blocks, shared by the request, response and stream modules.

Thought signatures (protocols.md 4.6, ir.py docstring): a `thoughtSignature` on a text or
functionCall part becomes a `ThinkingBlock(text="", signature, origin="gemini")` just before that
block; on a thought part it signs that thinking block. Toward a Gemini *client*, tokens of other
families travel in `thoughtSignature` as base64url of `common.tag_token(...)`: the google-genai SDK
types the field as bytes and re-encodes it as base64url, so only base64 survives its round trip.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
from collections.abc import Iterable

from plexus import ir
from plexus.errors import BadRequest
from plexus.protocols import common
from plexus.protocols.gemini import server_tools, wire

_REDACTED = "redacted."
_TEXT = "~"  # between a tagged token and the thinking text it carries (not a base64 character)


def wrap_signature(origin: ir.Origin, token: str, text: str = "") -> str:
    """Return the `thoughtSignature` a Gemini client is given for a token of `origin`: another
    family's token is tagged with its origin and carries its thinking text too, for clients
    that keep the signature but drop thought text (issue 11 bug 10)."""
    if origin == "gemini":
        return token
    tagged = common.tag_token(origin, token)
    if text:
        tagged += _TEXT + base64.urlsafe_b64encode(text.encode()).decode()
    return base64.urlsafe_b64encode(tagged.encode()).decode()


def unwrap_signature(value: str) -> tuple[ir.Origin, str, str]:
    """Undo `wrap_signature`: the origin, the token and the thinking text it carried; plain
    tagged values are accepted, anything else is Gemini's own."""
    origin, token = common.untag_token(value)
    if origin is not None:
        return (origin, *_split_text(token))
    try:
        decoded = base64.b64decode(value.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return "gemini", value, ""
    if decoded.startswith(b"plx1."):
        origin, token = common.untag_token(decoded.decode("utf-8", "replace"))
        if origin is not None:
            return (origin, *_split_text(token))
    return "gemini", value, ""


def _split_text(token: str) -> tuple[str, str]:
    token, found, text = token.partition(_TEXT)
    if not found:
        return token, ""
    try:
        return token, base64.urlsafe_b64decode(text.encode()).decode("utf-8")
    except (binascii.Error, ValueError):
        return token, ""


def _signed_block(value: str, *, from_client: bool) -> ir.ThinkingBlock:
    origin, token, text = unwrap_signature(value) if from_client else ("gemini", value, "")
    if origin == "anthropic" and token.startswith(_REDACTED):
        return ir.ThinkingBlock(redacted=token[len(_REDACTED) :], origin=origin)
    return ir.ThinkingBlock(text=text, signature=token, origin=origin)


class CallLedger:
    """Ids of the last model turn's calls, so results pair by id, else by name and order."""

    def __init__(self) -> None:
        self._open: list[tuple[str, str]] = []
        self._server = ""  # the last server tool call's id

    def model_turn(self) -> None:
        """Forget the calls of earlier turns."""
        self._open = []

    def call(self, call: wire.FunctionCall) -> str:
        """Return the call's id, minting one when absent."""
        call_id = call.id or common.mint_id("call_")
        self._open.append((call.name, call_id))
        return call_id

    def server(self, part: wire.Part) -> str:
        """The id of a server tool part: a call's own or a minted one; a result's own, else
        that of the call before it."""
        call = part.executableCode or part.toolCall
        if call is not None:
            self._server = call.id or common.mint_id("exec_")
            return self._server
        result = part.codeExecutionResult or part.toolResponse
        return (result.id if result else None) or self._server or common.mint_id("exec_")

    def result(self, response: wire.FunctionResponse) -> str:
        """Return the id of the call this result answers."""
        for position, (name, call_id) in enumerate(self._open):
            if (response.id and call_id == response.id) or (
                not response.id and name == response.name
            ):
                del self._open[position]
                return call_id
        return response.id or common.mint_id("call_")


def _media_block(
    mime_type: str | None, *, data: str | None = None, url: str | None = None
) -> ir.Block:
    if data is not None:
        data = common.standard_base64(data)
    if mime_type is not None and mime_type.startswith("image/"):
        return ir.ImageBlock(url=url, data=data, media_type=mime_type)
    return ir.DocumentBlock(url=url, data=data, media_type=mime_type)


def _result_text(response: dict[str, object] | None) -> tuple[str, bool]:
    payload = response or {}
    if "error" in payload:
        value = payload["error"]
        is_error = True
    else:
        value = payload.get("output", payload)
        is_error = False
    return (value if isinstance(value, str) else common.dump_json(value)), is_error


def _tool_result(response: wire.FunctionResponse, call_id: str) -> ir.ToolResultBlock:
    text, is_error = _result_text(response.response)
    content: list[ir.ToolResultContent] = [ir.TextBlock(text=text)]
    for part in response.parts or []:
        if part.inlineData is not None:
            block = _media_block(part.inlineData.mimeType, data=part.inlineData.data)
        elif part.fileData is not None:
            block = _media_block(part.fileData.mimeType, url=part.fileData.fileUri)
        else:
            continue
        if isinstance(block, ir.ImageBlock | ir.DocumentBlock):
            content.append(block)
    return ir.ToolResultBlock(
        call_id=call_id, content=content, name=response.name, is_error=is_error
    )


def _add_thought(blocks: list[ir.Block], part: wire.Part, *, from_client: bool) -> None:
    # Consecutive thought parts are one thought until a signature closes it (protocols.md 4.9).
    last = blocks[-1] if blocks else None
    if isinstance(last, ir.ThinkingBlock) and last.signature is None and last.redacted is None:
        last.text += part.text or ""
        thinking = last
    else:
        thinking = ir.ThinkingBlock(text=part.text or "", origin="gemini")
        blocks.append(thinking)
    if part.thoughtSignature:
        signed = _signed_block(part.thoughtSignature, from_client=from_client)
        thinking.signature, thinking.redacted = signed.signature, signed.redacted
        thinking.origin = signed.origin


def _add_signed(blocks: list[ir.Block], signed: ir.ThinkingBlock) -> None:
    """Another family's token on a later part (a functionCall) takes the place of the unsigned
    thought it signs, which the client was shown as thought text, rather than repeat it."""
    if signed.origin != "gemini" and signed.text:
        for position, block in enumerate(blocks):
            if (
                isinstance(block, ir.ThinkingBlock)
                and block.signature is None
                and block.redacted is None
                and block.text == signed.text
            ):
                blocks[position] = signed
                return
    blocks.append(signed)


def decode_parts(
    parts: Iterable[wire.Part], ledger: CallLedger, *, from_client: bool
) -> list[ir.Block]:
    """Turn the parts of one content into IR blocks, in order."""
    blocks: list[ir.Block] = []
    for part in parts:
        if part.thought:
            _add_thought(blocks, part, from_client=from_client)
            continue
        if part.thoughtSignature:
            _add_signed(blocks, _signed_block(part.thoughtSignature, from_client=from_client))
        if part.functionCall is not None:
            call = part.functionCall
            arguments = common.dump_json(call.args or {})
            blocks.append(
                ir.ToolCallBlock(id=ledger.call(call), name=call.name, arguments=arguments)
            )
        elif part.functionResponse is not None:
            blocks.append(_tool_result(part.functionResponse, ledger.result(part.functionResponse)))
        elif server_tools.is_server_part(part):
            part_id = ledger.server(part)
            blocks.append(server_tools.decode_part(part, part_id, from_client=from_client))
        elif part.inlineData is not None:
            blocks.append(_media_block(part.inlineData.mimeType, data=part.inlineData.data))
        elif part.fileData is not None:
            blocks.append(_media_block(part.fileData.mimeType, url=part.fileData.fileUri))
        elif part.text:
            blocks.append(ir.TextBlock(text=part.text))
    return blocks


def client_signature(block: ir.ThinkingBlock) -> str | None:
    """Return the `thoughtSignature` a Gemini client gets for a thinking block, if any."""
    if block.redacted is not None:
        return wrap_signature(block.origin or "anthropic", _REDACTED + block.redacted)
    if block.signature:
        return wrap_signature(block.origin or "gemini", block.signature, block.text)
    return None


def upstream_signature(block: ir.ThinkingBlock) -> str | None:
    """Return the token that may go back to a Gemini upstream: Gemini's own, never a foreign one."""
    if block.origin == "gemini" and block.signature and block.redacted is None:
        return block.signature
    return None


def _media_part(media_type: str | None, data: str | None, url: str | None) -> wire.Part | None:
    if data:
        return wire.Part(
            inlineData=wire.Blob(mimeType=media_type or "application/octet-stream", data=data)
        )
    if not url:
        return None
    parsed = common.parse_data_url(url)
    if parsed is not None:
        return wire.Part(inlineData=wire.Blob(mimeType=parsed[0], data=parsed[1]))
    guessed = media_type or mimetypes.guess_type(url.split("?", 1)[0])[0]
    return wire.Part(fileData=wire.FileData(fileUri=url, mimeType=guessed))


def _result_part(block: ir.ToolResultBlock, name: str) -> wire.Part:
    texts = [item.text for item in block.content if isinstance(item, ir.TextBlock)]
    media = [
        part
        for item in block.content
        if isinstance(item, ir.ImageBlock | ir.DocumentBlock)
        and (part := _media_part(item.media_type, item.data, item.url)) is not None
    ]
    text = "\n".join(texts)
    response = {"error": text} if block.is_error else {"output": text}
    return wire.Part(
        functionResponse=wire.FunctionResponse(name=name, response=response, parts=media or None)
    )


def _content_part(block: ir.Block, *, for_client: bool, names: dict[str, str]) -> wire.Part | None:
    match block:
        case ir.TextBlock(text=text) | ir.RefusalBlock(text=text):
            return wire.Part(text=text) if text else None
        case ir.ImageBlock():
            return _media_part(block.media_type, block.data, block.url)
        case ir.DocumentBlock(text=str(text)) if not block.data and not block.url:
            title = block.title or block.filename or "document"
            return wire.Part(text=f"<document title={title!r}>\n{text}\n</document>")
        case ir.DocumentBlock():
            return _media_part(block.media_type or "application/pdf", block.data, block.url)
        case ir.ToolCallBlock():
            args = common.parse_arguments(block.arguments)
            call_id = block.id if for_client else None
            return wire.Part(functionCall=wire.FunctionCall(name=block.name, args=args, id=call_id))
        case ir.ToolResultBlock():
            name = names.get(block.call_id) or block.name
            if not name:
                raise BadRequest(f"tool result {block.call_id!r} answers no earlier tool call")
            return _result_part(block, name)
        case ir.ServerToolCallBlock() | ir.ServerToolResultBlock():
            if for_client:
                return server_tools.client_part(block)
            return server_tools.upstream_part(block)
        case _:
            return None


def encode_parts(
    blocks: Iterable[ir.Block], *, for_client: bool, names: dict[str, str] | None = None
) -> list[wire.Part]:
    """Turn IR blocks into parts, re-attaching Gemini signatures to the part that follows them.

    Toward an upstream (`for_client=False`) only Gemini's own tokens survive and unsigned thought
    text is dropped; toward a client every token goes out, wrapped with its origin.
    """
    parts: list[wire.Part] = []
    pending: str | None = None
    call_only = False  # another family's token skips text for the first functionCall
    for block in blocks:
        if isinstance(block, ir.ThinkingBlock):
            signature = client_signature(block) if for_client else upstream_signature(block)
            foreign = for_client and block.origin not in (None, "gemini")
            if block.text and (for_client or signature) and not foreign:
                parts.append(wire.Part(text=block.text, thought=True, thoughtSignature=signature))
                continue
            if block.text and foreign:
                # The text to read; the signature (carrying the text too) rides on the next
                # part, the first functionCall where Gemini 3 puts it (issue 11 bug 10).
                parts.append(wire.Part(text=block.text, thought=True))
            if signature:
                if pending:
                    parts.append(wire.Part(text="", thoughtSignature=pending))
                pending, call_only = signature, foreign
            continue
        part = _content_part(block, for_client=for_client, names=names or {})
        if part is None:
            continue
        if pending and (part.functionCall is not None or not call_only):
            part.thoughtSignature, pending = pending, None
        parts.append(part)
    if pending:
        parts.append(wire.Part(text="", thoughtSignature=pending))
    return parts
