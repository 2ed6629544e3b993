"""The codec registry: one entry per API type, each package offering the whole `Codec` surface."""

from __future__ import annotations

import inspect
from typing import get_args

import pytest

from plexus import ir
from plexus.protocols import CODECS, Codec, Transport

_MEMBERS = [
    name
    for name, value in vars(Codec).items()
    if not name.startswith("_") and (callable(value) or isinstance(value, property))
]


def test_every_api_type_has_exactly_one_codec() -> None:
    assert list(CODECS) == list(get_args(ir.ApiType))


@pytest.mark.parametrize("api", list(CODECS))
def test_codec_package_offers_every_member_of_the_protocol(api: ir.ApiType) -> None:
    codec = CODECS[api]
    for name in _MEMBERS:
        assert hasattr(codec, name), f"{api} lacks {name}"
    assert isinstance(codec.TRANSPORT, Transport)
    for name, member in vars(Codec).items():
        if callable(member) and not name.startswith("_"):
            expected = list(inspect.signature(member).parameters)[1:]  # without self
            assert list(inspect.signature(getattr(codec, name)).parameters) == expected, name


@pytest.mark.parametrize("api", list(CODECS))
def test_transport_paths_are_consistent(api: ir.ApiType) -> None:
    transport = CODECS[api].TRANSPORT
    assert transport.client_path.startswith("/")
    assert transport.upstream_path and transport.upstream_stream_path
    assert transport.keepalive.endswith(b"\n")
    if transport.model_in_url:
        assert transport.url_actions, "a model in the URL needs its actions"
        assert sorted(stream for _action, stream in transport.url_actions) == [False, True]


def test_client_paths_are_distinct() -> None:
    paths = [codec.TRANSPORT.client_path for codec in CODECS.values()]
    assert len(set(paths)) == len(paths)


@pytest.mark.parametrize("api", list(CODECS))
def test_embeddings_transport_matches_the_operation(api: ir.ApiType) -> None:
    codec = CODECS[api]
    transport = codec.TRANSPORT
    has_embeddings = codec.EMBEDDINGS is not None
    assert (transport.upstream_embeddings_path is not None) == has_embeddings
    if transport.upstream_batch_embeddings_path is not None or transport.embeddings_path:
        assert has_embeddings
