-- Tables of the campaign service (igent serve): API keys, campaign settings, offer versions,
-- submitted registrations, cancellations, background jobs and the event log.
-- Decisions, bookings and capacity live in the ledger tables of 0001.
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('operator', 'viewer')),
    name TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS service_campaigns (
    campaign_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    constellation TEXT NOT NULL,
    model TEXT,
    campaign_date TEXT NOT NULL,
    concurrency INTEGER NOT NULL,
    incentives TEXT NOT NULL,
    offer_version INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS offer_versions (
    campaign_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    offers TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (campaign_id, version)
);
CREATE TABLE IF NOT EXISTS submissions (
    campaign_id TEXT NOT NULL,
    registration_id TEXT NOT NULL,
    raw TEXT NOT NULL,
    calls TEXT NOT NULL DEFAULT '[]',
    info TEXT NOT NULL DEFAULT '{}',
    -- deciding (claimed by claim_owner until claim_until, unix seconds), decided, cancelled
    state TEXT NOT NULL CHECK (state IN ('deciding', 'decided', 'cancelled')),
    claim_owner TEXT NOT NULL DEFAULT '',
    claim_until REAL NOT NULL DEFAULT 0,
    submitted_by TEXT NOT NULL,
    submitted_at TEXT NOT NULL,
    PRIMARY KEY (campaign_id, registration_id)
);
CREATE TABLE IF NOT EXISTS cancellations (
    cancellation_id INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id TEXT NOT NULL,
    registration_id TEXT NOT NULL,
    cancelled_by TEXT NOT NULL,
    reason TEXT NOT NULL,
    cancelled_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cancellations_by_registration
    ON cancellations (campaign_id, registration_id);
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    campaign_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    total INTEGER NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS job_items (
    job_id TEXT NOT NULL,
    item_index INTEGER NOT NULL,
    raw TEXT NOT NULL,
    registration_id TEXT,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'error')),
    error TEXT,
    PRIMARY KEY (job_id, item_index)
);
CREATE TABLE IF NOT EXISTS events (
    event_id INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_campaign ON events (campaign_id, event_id);
