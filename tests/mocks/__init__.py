"""Mock upstreams that validate requests the way the real APIs do and answer realistically."""
