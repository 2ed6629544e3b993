-- One narrow row per request (no prompts, no bodies) and an hourly roll-up for dashboards,
-- budgets and `plexus usage`. Times are Unix seconds.
CREATE TABLE requests (
    id BIGSERIAL PRIMARY KEY,
    request_id TEXT NOT NULL,
    time DOUBLE PRECISION NOT NULL,
    key TEXT NOT NULL,
    client_api TEXT NOT NULL,
    route TEXT NOT NULL,
    alias TEXT NOT NULL,
    provider TEXT NOT NULL,
    upstream_model TEXT NOT NULL,
    passthrough BOOLEAN NOT NULL,
    stream BOOLEAN NOT NULL,
    attempts INTEGER NOT NULL,
    status INTEGER NOT NULL,
    error_kind TEXT,
    finish_reason TEXT,
    input_tokens BIGINT,
    output_tokens BIGINT,
    cache_read_tokens BIGINT,
    cache_write_tokens BIGINT,
    reasoning_tokens BIGINT,
    tokens_estimated BOOLEAN NOT NULL,
    cost_usd DOUBLE PRECISION,
    cost_source TEXT,
    ttfb_ms DOUBLE PRECISION,
    ttft_ms DOUBLE PRECISION,
    duration_ms DOUBLE PRECISION NOT NULL,
    overhead_ms DOUBLE PRECISION,
    user_agent TEXT
);
CREATE INDEX requests_time ON requests (time);
CREATE INDEX requests_key_time ON requests (key, time);
CREATE INDEX requests_request_id ON requests (request_id);

CREATE TABLE usage_hourly (
    hour BIGINT NOT NULL,
    key TEXT NOT NULL,
    alias TEXT NOT NULL,
    provider TEXT NOT NULL,
    upstream_model TEXT NOT NULL,
    client_api TEXT NOT NULL,
    requests BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    cache_read_tokens BIGINT NOT NULL,
    cache_write_tokens BIGINT NOT NULL,
    reasoning_tokens BIGINT NOT NULL,
    cost_usd DOUBLE PRECISION NOT NULL,
    unpriced BIGINT NOT NULL,
    duration_ms DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (hour, key, alias, provider, upstream_model, client_api)
);
