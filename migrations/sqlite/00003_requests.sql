-- +goose Up
CREATE TABLE sla_policies (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    targets        TEXT NOT NULL,  -- {"normal": {"first_response": 900, ...}, ...} in seconds
    business_hours TEXT,           -- null: 24/7
    warn_at        REAL NOT NULL DEFAULT 0.75,
    default_for    TEXT NOT NULL DEFAULT '[]', -- account tiers this policy applies to unless the account names one
    version        INTEGER NOT NULL DEFAULT 1,
    created_at     DATETIME NOT NULL,
    updated_at     DATETIME NOT NULL
);
CREATE UNIQUE INDEX sla_policies_name_key ON sla_policies (lower(name));

CREATE TABLE requests (
    id                 TEXT PRIMARY KEY,
    account_id         TEXT NOT NULL REFERENCES accounts (id),
    channel            TEXT NOT NULL CHECK (channel IN ('telegram', 'phone', 'email', 'other')),
    owner_id           TEXT REFERENCES users (id),
    priority           TEXT NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    category           TEXT NOT NULL CHECK (category IN ('question', 'incident', 'feedback', 'task')),
    status             TEXT NOT NULL CHECK (status IN ('open', 'waiting_on_client', 'resolved')),
    subject            TEXT NOT NULL DEFAULT '',
    sla_policy_id      TEXT REFERENCES sla_policies (id),
    opened_at          DATETIME NOT NULL,
    first_response_due DATETIME,
    next_response_due  DATETIME,
    resolution_due     DATETIME,
    due_at             DATETIME, -- the nearest of the three running due times: the queue's order
    next_event_at      DATETIME, -- the next warning or breach a job is armed for
    first_responded_at DATETIME,
    resolved_at        DATETIME,
    awaiting_team      INTEGER NOT NULL DEFAULT 0, -- the last message is the client's
    last_message_at    DATETIME,
    breached           TEXT NOT NULL DEFAULT '[]',
    breached_any       INTEGER NOT NULL DEFAULT 0,
    touches            INTEGER NOT NULL DEFAULT 0, -- team replies
    reopen_count       INTEGER NOT NULL DEFAULT 0,
    csat               INTEGER CHECK (csat BETWEEN 1 AND 5),
    csat_asked_at      DATETIME,
    merged_into_id     TEXT REFERENCES requests (id),
    version            INTEGER NOT NULL DEFAULT 1,
    created_at         DATETIME NOT NULL,
    updated_at         DATETIME NOT NULL
);
CREATE INDEX requests_account ON requests (account_id, status, opened_at DESC);
CREATE INDEX requests_owner_queue ON requests (owner_id, status, due_at, id);
CREATE INDEX requests_queue ON requests (status, due_at, id);
CREATE INDEX requests_breached ON requests (due_at, id) WHERE breached_any;
CREATE INDEX requests_opened ON requests (opened_at);

-- What the SLA clocks are computed from, besides the messages.
CREATE TABLE request_status_changes (
    request_id TEXT NOT NULL REFERENCES requests (id),
    seq        INTEGER NOT NULL,
    status     TEXT NOT NULL,
    at         DATETIME NOT NULL,
    PRIMARY KEY (request_id, seq)
);

-- Every clock of every request, as metrics read them: kept current as clocks start, stop and breach.
CREATE TABLE request_clocks (
    request_id      TEXT NOT NULL REFERENCES requests (id),
    -- Copied from the request whenever its clocks are saved, so metrics read
    -- this table alone: when it opened (what a report selects by), its
    -- account and its owner. A merged request has no clock rows.
    opened_at       DATETIME,
    account_id      TEXT,
    owner_id        TEXT,
    clock           TEXT NOT NULL CHECK (clock IN ('first_response', 'follow_up', 'resolution')),
    started_at      DATETIME NOT NULL,
    stopped_at      DATETIME,
    elapsed_seconds INTEGER,      -- business time, pauses excluded; set once stopped
    target_seconds  INTEGER,
    due_at          DATETIME,
    breached        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (request_id, clock, started_at)
);
CREATE INDEX request_clocks_opened ON request_clocks (opened_at);

CREATE TABLE sla_alerts (
    id                 TEXT PRIMARY KEY,
    request_id         TEXT NOT NULL REFERENCES requests (id),
    account_id         TEXT NOT NULL,
    event              TEXT NOT NULL CHECK (event IN ('sla.warning', 'sla.breach')),
    clock              TEXT NOT NULL,
    clock_started_at   DATETIME NOT NULL,
    due_at             DATETIME,
    at                 DATETIME NOT NULL, -- when it was due
    raised_at          DATETIME NOT NULL, -- when Keycare raised it
    owner_id           TEXT,
    recipients         TEXT NOT NULL DEFAULT '[]', -- user ids told
    team_chat_sent_at  DATETIME,
    webhook_sent_at    DATETIME,
    UNIQUE (request_id, clock, event, clock_started_at) -- each warning and breach exactly once
);

CREATE TABLE handovers (
    id           TEXT PRIMARY KEY,
    from_user_id TEXT NOT NULL REFERENCES users (id),
    to_user_id   TEXT NOT NULL REFERENCES users (id),
    created_by   TEXT NOT NULL,
    note         TEXT NOT NULL DEFAULT '',
    shift        INTEGER NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'accepted')),
    created_at   DATETIME NOT NULL,
    accepted_at  DATETIME
);
CREATE INDEX handovers_to ON handovers (to_user_id, status);
CREATE TABLE handover_requests (
    handover_id TEXT NOT NULL REFERENCES handovers (id),
    request_id  TEXT NOT NULL REFERENCES requests (id),
    PRIMARY KEY (handover_id, request_id)
);

CREATE TABLE request_qa (
    id          TEXT PRIMARY KEY,
    request_id  TEXT NOT NULL REFERENCES requests (id),
    reviewer_id TEXT NOT NULL REFERENCES users (id),
    score       INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment     TEXT NOT NULL DEFAULT '',
    created_at  DATETIME NOT NULL
);
CREATE INDEX request_qa_request ON request_qa (request_id);

ALTER TABLE messages ADD COLUMN request_id TEXT; -- the request a message belongs to (no FK: filed in the same transaction)
CREATE INDEX messages_request ON messages (request_id, sent_at) WHERE request_id IS NOT NULL;

-- A stop Telegram ordered (PEER_FLOOD, a revoked session) holds every replica until it is cleared.
CREATE TABLE telegram_holds (
    name       TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    reason     TEXT NOT NULL,
    until      DATETIME,
    created_at DATETIME NOT NULL
);

-- +goose Down
DROP TABLE telegram_holds;
DROP INDEX messages_request;
ALTER TABLE messages DROP COLUMN request_id;
DROP TABLE request_qa;
DROP TABLE handover_requests;
DROP TABLE handovers;
DROP TABLE sla_alerts;
DROP TABLE request_clocks;
DROP TABLE request_status_changes;
DROP TABLE requests;
DROP TABLE sla_policies;
