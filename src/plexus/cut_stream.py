"""What a stream cut short (by the client or the provider) is estimated to have used: the
provider bills what it generated, and no usage event came to say how much that was."""

from __future__ import annotations

import math

from plexus import ir, sse
from plexus.limits.gate import BYTES_PER_TOKEN
from plexus.protocols import Codec

CHARS_PER_TOKEN = 4  # the usual ratio of English text (and of JSON arguments) to tokens


def estimated_usage(codec: Codec, body: bytes, sent: int, sample: bytes) -> ir.Usage:
    """The usage of a stream in `codec`'s protocol cut after `sent` bytes, `sample` the last
    of them: the input from the request's `body`, the output from the share of content (text,
    reasoning, tool arguments) in `sample` applied to all `sent`. A usage reported within
    `sample` (Gemini reports it in every chunk) is taken where it says more."""
    content, reported = 0, None
    for event in sse.Decoder().feed(sample):  # `sample` may begin inside an event: skipped
        data = event.data.encode()
        content += codec.content_length_of(data)
        reported = codec.decode_usage_of(data) or reported
    ratio = content / len(sample) if sample else 0.0
    output = math.ceil(sent * ratio / CHARS_PER_TOKEN)
    estimate = ir.Usage(input_tokens=len(body) // BYTES_PER_TOKEN, output_tokens=output)
    if reported is None:
        return estimate
    return ir.Usage(
        input_tokens=reported.input_tokens or estimate.input_tokens,
        output_tokens=max(reported.output_tokens, output),
        cache_read_tokens=reported.cache_read_tokens,
        cache_write_tokens=reported.cache_write_tokens,
        reasoning_tokens=reported.reasoning_tokens,
    )
