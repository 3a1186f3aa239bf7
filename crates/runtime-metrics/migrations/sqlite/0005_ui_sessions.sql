-- Sign-in sessions of the admin UI (`/ui`), shared by every replica on this database: only
-- the SHA-256 of the session id (the cookie) and of the key it was opened with are kept,
-- never either secret.
CREATE TABLE IF NOT EXISTS ui_sessions (
    id_hash TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL,
    key_id TEXT,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS ui_sessions_expires ON ui_sessions (expires_ms);
CREATE INDEX IF NOT EXISTS ui_sessions_key ON ui_sessions (key_id);
