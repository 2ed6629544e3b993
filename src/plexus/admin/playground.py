"""The playground's view of translation: the upstream request a client request would become,
built by the same steps as a real call (passthrough's body rewrite, or client codec → IR →
provider codec and adapter), and never sent. Headers, which carry the provider key, are left
out, and every configured secret is masked in what is shown."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import msgspec

from plexus.admin.call import Call, Reply, reply
from plexus.admin.wire import (
    AdminError,
    PlaygroundAnswer,
    PlaygroundRequest,
    PlaygroundTarget,
    UpstreamRequest,
    bad_request,
    not_found,
)
from plexus.call import read_request
from plexus.config import config_secrets
from plexus.errors import GatewayError, NotFound
from plexus.passthrough import rewrite_body
from plexus.protocols import codec_for
from plexus.providers import adapter_for
from plexus.redact import Redactor
from plexus.translate import encode_outgoing, outgoing_request
from plexus.upstream.addressing import upstream_url

if TYPE_CHECKING:
    from plexus.admin.api import AdminApi


async def translate(admin: AdminApi, call: Call) -> Reply:
    """`POST /playground`: the first target the model resolves to, and its upstream request."""
    wanted = call.decode(PlaygroundRequest)
    codec = codec_for(wanted.client_api)
    transport = codec.TRANSPORT
    body = dict(wanted.body)
    url_part = None
    if transport.model_in_url:  # Gemini: the model and the stream flag travel in the path
        model = body.pop("model", None)
        if not isinstance(model, str) or not model:
            raise bad_request("body.model: required (for this API it goes in the URL)")
        url_part = (model, bool(body.pop("stream", False)))
    gateway = admin.gateway
    try:
        request = read_request(wanted.client_api, codec, {}, msgspec.json.encode(body),
                               time.perf_counter(), url_part)  # fmt: skip
        target = gateway.router.resolve(request.model)[0]
        provider = target.provider
        passthrough = provider.type == request.api and provider.passthrough
        if passthrough:
            upstream_body, _ = rewrite_body(request, target)
        else:
            adapter = adapter_for(provider.adapter)
            _, outgoing = outgoing_request(request, target, adapter)
            upstream_body = encode_outgoing(outgoing, target, codec_for(provider.type), adapter)
        url = upstream_url(provider, target.model, request.stream)
    except NotFound as error:
        raise not_found(error.message) from error
    except GatewayError as error:
        raise AdminError(400, "bad_request", error.message) from error
    mask = Redactor(config_secrets(gateway.config))
    upstream = UpstreamRequest(provider.type, mask.text(url), passthrough,
                               msgspec.Raw(mask.bytes(upstream_body)))  # fmt: skip
    return reply(PlaygroundAnswer(PlaygroundTarget(target.provider_name, target.model), upstream))
