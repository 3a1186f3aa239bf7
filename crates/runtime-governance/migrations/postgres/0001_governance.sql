CREATE TABLE IF NOT EXISTS gov_teams (
    id TEXT PRIMARY KEY NOT NULL,
    budget_micros BIGINT,
    budget_period TEXT,
    rpm BIGINT,
    tpm BIGINT,
    max_parallel BIGINT,
    models TEXT NOT NULL,
    metadata TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    version BIGINT NOT NULL,
    deleted BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE TABLE IF NOT EXISTS gov_users (
    id TEXT PRIMARY KEY NOT NULL,
    budget_micros BIGINT,
    budget_period TEXT,
    rpm BIGINT,
    metadata TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    version BIGINT NOT NULL,
    deleted BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE TABLE IF NOT EXISTS gov_keys (
    id TEXT PRIMARY KEY NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    prev_hash TEXT,
    prev_valid_until_ms BIGINT,
    team_id TEXT,
    user_id TEXT,
    role TEXT NOT NULL,
    models TEXT NOT NULL,
    aliases TEXT NOT NULL,
    rpm BIGINT,
    tpm BIGINT,
    max_parallel BIGINT,
    budget_micros BIGINT,
    budget_period TEXT,
    allow_unpriced BOOLEAN NOT NULL DEFAULT FALSE,
    expires_ms BIGINT,
    metadata TEXT NOT NULL,
    revoked_ms BIGINT,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    version BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS gov_keys_version ON gov_keys (version);
CREATE TABLE IF NOT EXISTS gov_counters (
    counter TEXT PRIMARY KEY NOT NULL,
    spent BIGINT NOT NULL,
    reserved BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS gov_leases (
    id TEXT PRIMARY KEY NOT NULL,
    counters TEXT NOT NULL,
    amount BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS gov_ledger (
    lease_id TEXT NOT NULL,
    counter TEXT NOT NULL,
    amount BIGINT NOT NULL,
    time_ms BIGINT NOT NULL,
    PRIMARY KEY (lease_id, counter)
);
CREATE INDEX IF NOT EXISTS gov_ledger_counter ON gov_ledger (counter);
CREATE TABLE IF NOT EXISTS gov_state (
    id BIGINT PRIMARY KEY NOT NULL,
    version BIGINT NOT NULL,
    generation BIGINT NOT NULL,
    db_since_ms BIGINT,
    db_heartbeat_ms BIGINT
);
INSERT INTO gov_state (id, version, generation) VALUES (1, 0, 0) ON CONFLICT (id) DO NOTHING;
