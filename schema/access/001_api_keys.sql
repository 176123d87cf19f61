-- API keys (access/keys.c). A key is "pw_<id>_<secret>": only the public
-- id, a display prefix and SHA-256(secret) are stored, never the secret.
-- Every change that matters to authentication moves keys_generation, which
-- running servers poll to refresh their in-memory key cache (keycache.c);
-- last_used_at, written by the usage writer, deliberately does not.
CREATE TABLE access_meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) STRICT;

INSERT INTO access_meta (name, value) VALUES ('keys_generation', 0);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    prefix TEXT NOT NULL,
    secret_hash BLOB NOT NULL CHECK (length(secret_hash) = 32),
    name TEXT NOT NULL,
    tier TEXT NOT NULL,
    budget_micros INTEGER CHECK (budget_micros IS NULL OR budget_micros >= 0),
    models TEXT NOT NULL DEFAULT '[]',
    scopes INTEGER NOT NULL CHECK (scopes BETWEEN 1 AND 7),
    expires_at INTEGER,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
    created_at INTEGER NOT NULL,
    rotated_at INTEGER,
    revoked_at INTEGER,
    last_used_at INTEGER
) STRICT;

CREATE TRIGGER api_keys_generation_insert AFTER INSERT ON api_keys BEGIN
    UPDATE access_meta SET value = value + 1 WHERE name = 'keys_generation';
END;

CREATE TRIGGER api_keys_generation_update
AFTER UPDATE OF secret_hash, name, tier, budget_micros, models, scopes, expires_at, status
ON api_keys BEGIN
    UPDATE access_meta SET value = value + 1 WHERE name = 'keys_generation';
END;

CREATE TRIGGER api_keys_generation_delete AFTER DELETE ON api_keys BEGIN
    UPDATE access_meta SET value = value + 1 WHERE name = 'keys_generation';
END;

-- Spend per key and calendar month (UTC, "YYYY-MM"), in micro-dollars,
-- added to by the usage writer in the same transaction as the records.
CREATE TABLE key_spend (
    key_id TEXT NOT NULL,
    month TEXT NOT NULL,
    micros INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, month)
) STRICT, WITHOUT ROWID;
