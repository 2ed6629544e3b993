"""The upstream side: the HTTP client, endpoint addressing, provider credentials, error mapping.

Import from the modules themselves (`plexus.upstream.client`, `.addressing`, `.errors`,
`.vertex`, `.httpclient`): this package imports nothing, so `config` can stay a leaf.
"""
