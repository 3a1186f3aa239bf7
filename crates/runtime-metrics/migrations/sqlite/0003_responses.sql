-- Responses kept for the gateway's `/v1/responses` (`store`, `previous_response_id`,
-- `GET` / `DELETE /v1/responses/{id}`): the Response object, the conversation items a
-- follow-up continues from, the key that owns it, and when it expires.
CREATE TABLE IF NOT EXISTS stored_responses (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    response TEXT NOT NULL,
    items TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS stored_responses_expires ON stored_responses (expires_ms);
