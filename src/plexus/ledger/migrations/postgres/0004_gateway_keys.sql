-- Gateway keys made through the admin API: the secret's sha256 (never the secret), its first
-- characters to recognise it by, the policy as a YAML key has it, and, while a rotation's grace
-- lasts, the previous secret's hash and when it stops working. `revision` grows with every
-- change, so that replicas polling `count(*), max(updated), sum(revision)` see each one.
CREATE TABLE gateway_keys (
    name TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL,
    prefix TEXT NOT NULL,
    models TEXT,
    rpm BIGINT,
    tpm BIGINT,
    max_parallel BIGINT,
    budget_usd DOUBLE PRECISION,
    budget_period TEXT,
    budget_warn_at DOUBLE PRECISION,
    expires DOUBLE PRECISION,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    comment TEXT,
    created DOUBLE PRECISION NOT NULL,
    updated DOUBLE PRECISION NOT NULL,
    revision BIGINT NOT NULL DEFAULT 1,
    previous_hash TEXT,
    previous_until DOUBLE PRECISION
);
CREATE UNIQUE INDEX gateway_keys_secret_hash ON gateway_keys (secret_hash);
