-- Responses kept by the gateway (responses.store) for previous_response_id and
-- GET/DELETE /v1/responses/{id}: the turn's own input items and the Response object, both as
-- the client's Responses JSON; a conversation is followed back through previous_id. A response
-- is visible to the gateway key that created it only. Times are Unix seconds.
CREATE TABLE responses (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    model TEXT NOT NULL,
    provider TEXT NOT NULL,
    previous_id TEXT,
    input TEXT NOT NULL,
    response TEXT NOT NULL
);
CREATE INDEX responses_created_at ON responses (created_at);
