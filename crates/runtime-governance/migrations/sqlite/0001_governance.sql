CREATE TABLE IF NOT EXISTS gov_teams (
    id TEXT PRIMARY KEY NOT NULL,
    budget_micros INTEGER,
    budget_period TEXT,
    rpm INTEGER,
    tpm INTEGER,
    max_parallel INTEGER,
    models TEXT NOT NULL,
    metadata TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    version INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS gov_users (
    id TEXT PRIMARY KEY NOT NULL,
    budget_micros INTEGER,
    budget_period TEXT,
    rpm INTEGER,
    metadata TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    version INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS gov_keys (
    id TEXT PRIMARY KEY NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    prev_hash TEXT,
    prev_valid_until_ms INTEGER,
    team_id TEXT,
    user_id TEXT,
    role TEXT NOT NULL,
    models TEXT NOT NULL,
    aliases TEXT NOT NULL,
    rpm INTEGER,
    tpm INTEGER,
    max_parallel INTEGER,
    budget_micros INTEGER,
    budget_period TEXT,
    allow_unpriced INTEGER NOT NULL DEFAULT 0,
    expires_ms INTEGER,
    metadata TEXT NOT NULL,
    revoked_ms INTEGER,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    version INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS gov_keys_version ON gov_keys (version);
CREATE TABLE IF NOT EXISTS gov_counters (
    counter TEXT PRIMARY KEY NOT NULL,
    spent INTEGER NOT NULL,
    reserved INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS gov_leases (
    id TEXT PRIMARY KEY NOT NULL,
    counters TEXT NOT NULL,
    amount INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS gov_ledger (
    lease_id TEXT NOT NULL,
    counter TEXT NOT NULL,
    amount INTEGER NOT NULL,
    time_ms INTEGER NOT NULL,
    PRIMARY KEY (lease_id, counter)
);
CREATE INDEX IF NOT EXISTS gov_ledger_counter ON gov_ledger (counter);
CREATE TABLE IF NOT EXISTS gov_state (
    id INTEGER PRIMARY KEY NOT NULL,
    version INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    db_since_ms INTEGER,
    db_heartbeat_ms INTEGER
);
INSERT INTO gov_state (id, version, generation) VALUES (1, 0, 0) ON CONFLICT (id) DO NOTHING;
