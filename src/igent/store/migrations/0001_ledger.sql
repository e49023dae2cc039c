-- The campaign ledger: capacity per supplier and one decision per registration.
CREATE TABLE campaigns (
    campaign_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE suppliers (
    campaign_id TEXT NOT NULL REFERENCES campaigns (campaign_id),
    supplier_id TEXT NOT NULL,
    capacity INTEGER NOT NULL CHECK (capacity >= 0),
    used INTEGER NOT NULL DEFAULT 0 CHECK (used >= 0 AND used <= capacity),
    position INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, supplier_id)
);

CREATE TABLE decisions (
    campaign_id TEXT NOT NULL REFERENCES campaigns (campaign_id),
    registration_id TEXT NOT NULL,
    record_index INTEGER NOT NULL,
    run_id TEXT NOT NULL,
    status TEXT NOT NULL,
    supplier_id TEXT,
    -- the output JSON of the decision: its match and purchase order as written to
    -- matches.json / pos.json, and the rest (timing, grading ...) in payload
    match_json TEXT NOT NULL,
    order_json TEXT,
    payload TEXT NOT NULL,
    PRIMARY KEY (campaign_id, registration_id)
);
CREATE INDEX decisions_by_run ON decisions (campaign_id, run_id, record_index);

CREATE TABLE audits (
    campaign_id TEXT NOT NULL REFERENCES campaigns (campaign_id),
    registration_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (campaign_id, registration_id)
);

CREATE TABLE meta (
    campaign_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (campaign_id, key)
);
