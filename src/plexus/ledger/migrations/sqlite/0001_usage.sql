-- One narrow row per request (no prompts, no bodies) and an hourly roll-up for dashboards,
-- budgets and `plexus usage`. Times are Unix seconds.
CREATE TABLE requests (
    id INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL,
    time REAL NOT NULL,
    key TEXT NOT NULL,
    client_api TEXT NOT NULL,
    route TEXT NOT NULL,
    alias TEXT NOT NULL,
    provider TEXT NOT NULL,
    upstream_model TEXT NOT NULL,
    passthrough INTEGER NOT NULL,
    stream INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    status INTEGER NOT NULL,
    error_kind TEXT,
    finish_reason TEXT,
    input_tokens INTEGER,
    output_tokens INTEGER,
    cache_read_tokens INTEGER,
    cache_write_tokens INTEGER,
    reasoning_tokens INTEGER,
    tokens_estimated INTEGER NOT NULL,
    cost_usd REAL,
    cost_source TEXT,
    ttfb_ms REAL,
    ttft_ms REAL,
    duration_ms REAL NOT NULL,
    overhead_ms REAL,
    user_agent TEXT
);
-- Two indexes only: each costs every insert; per-key figures come from usage_hourly.
CREATE INDEX requests_time ON requests (time);
CREATE INDEX requests_request_id ON requests (request_id);

CREATE TABLE usage_hourly (
    hour INTEGER NOT NULL,
    key TEXT NOT NULL,
    alias TEXT NOT NULL,
    provider TEXT NOT NULL,
    upstream_model TEXT NOT NULL,
    client_api TEXT NOT NULL,
    requests INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cache_read_tokens INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    reasoning_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    unpriced INTEGER NOT NULL,
    duration_ms REAL NOT NULL,
    PRIMARY KEY (hour, key, alias, provider, upstream_model, client_api)
);
