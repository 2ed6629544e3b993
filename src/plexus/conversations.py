"""Answers the gateway keeps for its clients (responses.store): what a request continues, read
before the attempt loop; the kept conversation spliced into a translated request; the answer
kept once it is sent; retrieval, deletion and listing by id.

A request that continues an answer kept here is translated even for a provider of the
client's own API: translation is what replays another provider's items (reasoning tokens, tool
ids), and the gateway then keeps the new answer too. An id the gateway does not hold (it
looks up only ids of its own form) goes to a provider of the client's own API untouched (that
provider's own store may hold it).
"""

from __future__ import annotations

import dataclasses
import time
from urllib.parse import parse_qsl

from plexus import ir
from plexus.call import ClientRequest, Continuation, ResponseWriter
from plexus.ledger.responses import ResponseStore, StoredResponse
from plexus.protocols import Codec
from plexus.protocols.codec import ConversationCodec


async def prepare(request: ClientRequest, store: ResponseStore) -> ClientRequest:
    """`request` with its continuation; the store is read only when it continues an answer."""
    conversations = request.codec.CONVERSATIONS
    if conversations is None:
        return request
    continues, keep = conversations.continuation(request.body)
    if continues is None and not keep:
        return request
    conversation = None
    # The ids the gateway keeps are all of its own form: another (OpenAI's, for a provider of
    # type responses) is never looked for, so such a request never waits on the store.
    if continues is not None and conversations.issued_here(continues):
        chain = await store.chain(continues, request.key, settle=True)
        if chain.links and chain.missing is not None:
            raise conversations.unknown_continuation(continues, chain.missing)
        if chain.links:
            conversation = [(link.input, link.response) for link in reversed(chain.links)]
    continuation = Continuation(keep, continues, conversation)
    return dataclasses.replace(request, continuation=continuation)


def passes_through(request: ClientRequest) -> bool:
    """Whether a provider of the client's own API may take the request as it came."""
    continuation = request.continuation
    return continuation is None or continuation.conversation is None


def splice(request: ClientRequest) -> tuple[ClientRequest, str | None]:
    """For translation: the request carrying the conversation it continues, and its own input
    items, to keep with its answer (None: the answer is not kept)."""
    continuation, conversations = request.continuation, request.codec.CONVERSATIONS
    if continuation is None or conversations is None:
        return request, None
    own = conversations.own_input(request.body) if continuation.keep else None
    continues = continuation.continues
    if continues is None:
        return request, own
    if continuation.conversation is None:
        raise conversations.unknown_continuation(continues, continues)
    body = conversations.splice(request.body, continuation.conversation)
    return dataclasses.replace(request, body=body), own


def mark(decoded: ir.Request, request: ClientRequest) -> None:
    """Tell the client's encoder that the answer is kept, and what it continued."""
    continuation = request.continuation
    if continuation is not None:
        decoded.kept, decoded.continues = continuation.keep, continuation.continues


def keep(
    store: ResponseStore, request: ClientRequest, provider: str, own_input: str, data: bytes
) -> None:
    """Keep the answer that a response body or final stream event `data` carries, if any."""
    conversations, continuation = request.codec.CONVERSATIONS, request.continuation
    assert conversations is not None and continuation is not None
    kept = conversations.kept_answer(data)
    if kept is None:
        return
    answer_id, answer = kept
    continues = continuation.continues
    row = StoredResponse(
        answer_id, request.key, time.time(), request.model, provider, continues, own_input, answer
    )
    store.keep(row)


async def retrieve(
    store: ResponseStore, codec: Codec, key: str, answer_id: str, writer: ResponseWriter
) -> None:
    """Answer `GET` of a kept answer."""
    conversations = _conversations(codec)
    kept = None
    if conversations.issued_here(answer_id):  # all kept answers have ids of the gateway's form
        kept = await store.get(answer_id, key, settle=True)
    if kept is None:
        raise conversations.unknown_answer(answer_id)
    await writer.body(200, kept.response.encode())


async def delete(
    store: ResponseStore, codec: Codec, key: str, answer_id: str, writer: ResponseWriter
) -> None:
    """Answer `DELETE` of a kept answer."""
    conversations = _conversations(codec)
    ours = conversations.issued_here(answer_id)
    if not ours or not await store.delete(answer_id, key, settle=True):
        raise conversations.unknown_answer(answer_id)
    await writer.body(200, conversations.deleted(answer_id))


async def list_items(
    store: ResponseStore,
    codec: Codec,
    key: str,
    answer_id: str,
    query: bytes,
    writer: ResponseWriter,
) -> None:
    """Answer the listing of the items a kept answer was made from (those still kept)."""
    conversations = _conversations(codec)
    if not conversations.issued_here(answer_id):
        raise conversations.unknown_answer(answer_id)
    chain = await store.chain(answer_id, key, settle=True)
    if not chain.links:
        raise conversations.unknown_answer(answer_id)
    conversation = [(link.input, link.response) for link in reversed(chain.links)]
    fields = dict(parse_qsl(query.decode("latin-1")))
    await writer.body(200, conversations.list_items(answer_id, conversation, fields))


def _conversations(codec: Codec) -> ConversationCodec:
    conversations = codec.CONVERSATIONS
    assert conversations is not None  # the route table routes only protocols that have them
    return conversations
