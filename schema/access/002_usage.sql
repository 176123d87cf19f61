-- One row per request (access/usage_writer.c), purged after the retention
-- period. Times are unix milliseconds, durations microseconds, money
-- micro-dollars; products is a JSON array of the product ids injected as
-- context (NULL when none).
CREATE TABLE usage (
    request_id TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    key_id TEXT,
    route TEXT,
    model TEXT,
    provider TEXT,
    status INTEGER NOT NULL,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cached_tokens INTEGER NOT NULL DEFAULT 0,
    cost_micros INTEGER NOT NULL DEFAULT 0,
    latency_us INTEGER NOT NULL DEFAULT 0,
    upstream_us INTEGER NOT NULL DEFAULT 0,
    products TEXT
) STRICT;

CREATE INDEX usage_ts ON usage (ts_ms);
CREATE INDEX usage_key_ts ON usage (key_id, ts_ms);
