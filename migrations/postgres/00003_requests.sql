-- +goose Up
CREATE TABLE sla_policies (
    id             text PRIMARY KEY,
    name           text NOT NULL,
    targets        jsonb NOT NULL,  -- {"normal": {"first_response": 900, ...}, ...} in seconds
    business_hours jsonb,           -- null: 24/7
    warn_at        double precision NOT NULL DEFAULT 0.75,
    default_for    jsonb NOT NULL DEFAULT '[]', -- account tiers this policy applies to unless the account names one
    version        integer NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE UNIQUE INDEX sla_policies_name_key ON sla_policies (lower(name));

CREATE TABLE requests (
    id                 text PRIMARY KEY,
    account_id         text NOT NULL REFERENCES accounts (id),
    channel            text NOT NULL CHECK (channel IN ('telegram', 'phone', 'email', 'other')),
    owner_id           text REFERENCES users (id),
    priority           text NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    category           text NOT NULL CHECK (category IN ('question', 'incident', 'feedback', 'task')),
    status             text NOT NULL CHECK (status IN ('open', 'waiting_on_client', 'resolved')),
    subject            text NOT NULL DEFAULT '',
    sla_policy_id      text REFERENCES sla_policies (id),
    opened_at          timestamptz NOT NULL,
    first_response_due timestamptz,
    next_response_due  timestamptz,
    resolution_due     timestamptz,
    due_at             timestamptz, -- the nearest of the three running due times: the queue's order
    next_event_at      timestamptz, -- the next warning or breach a job is armed for
    first_responded_at timestamptz,
    resolved_at        timestamptz,
    awaiting_team      boolean NOT NULL DEFAULT false, -- the last message is the client's
    last_message_at    timestamptz,
    breached           jsonb NOT NULL DEFAULT '[]',
    breached_any       boolean NOT NULL DEFAULT false,
    touches            integer NOT NULL DEFAULT 0, -- team replies
    reopen_count       integer NOT NULL DEFAULT 0,
    csat               integer CHECK (csat BETWEEN 1 AND 5),
    csat_asked_at      timestamptz,
    merged_into_id     text REFERENCES requests (id),
    version            integer NOT NULL DEFAULT 1,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);
CREATE INDEX requests_account ON requests (account_id, status, opened_at DESC);
CREATE INDEX requests_owner_queue ON requests (owner_id, status, due_at, id);
CREATE INDEX requests_queue ON requests (status, due_at, id);
CREATE INDEX requests_breached ON requests (due_at, id) WHERE breached_any;
CREATE INDEX requests_opened ON requests (opened_at);

-- What the SLA clocks are computed from, besides the messages.
CREATE TABLE request_status_changes (
    request_id text NOT NULL REFERENCES requests (id),
    seq        integer NOT NULL,
    status     text NOT NULL,
    at         timestamptz NOT NULL,
    PRIMARY KEY (request_id, seq)
);

-- Every clock of every request, as metrics read them: kept current as clocks start, stop and breach.
CREATE TABLE request_clocks (
    request_id      text NOT NULL REFERENCES requests (id),
    -- Copied from the request whenever its clocks are saved, so metrics read
    -- this table alone: when it opened (what a report selects by), its
    -- account and its owner. A merged request has no clock rows.
    opened_at       timestamptz,
    account_id      text,
    owner_id        text,
    clock           text NOT NULL CHECK (clock IN ('first_response', 'follow_up', 'resolution')),
    started_at      timestamptz NOT NULL,
    stopped_at      timestamptz,
    elapsed_seconds bigint,      -- business time, pauses excluded; set once stopped
    target_seconds  bigint,
    due_at          timestamptz,
    breached        boolean NOT NULL DEFAULT false,
    PRIMARY KEY (request_id, clock, started_at)
);
CREATE INDEX request_clocks_opened ON request_clocks (opened_at)
    INCLUDE (clock, elapsed_seconds, target_seconds, stopped_at, breached, owner_id, account_id); -- support metrics read only this

CREATE TABLE sla_alerts (
    id                 text PRIMARY KEY,
    request_id         text NOT NULL REFERENCES requests (id),
    account_id         text NOT NULL,
    event              text NOT NULL CHECK (event IN ('sla.warning', 'sla.breach')),
    clock              text NOT NULL,
    clock_started_at   timestamptz NOT NULL,
    due_at             timestamptz,
    at                 timestamptz NOT NULL, -- when it was due
    raised_at          timestamptz NOT NULL, -- when Keycare raised it
    owner_id           text,
    recipients         jsonb NOT NULL DEFAULT '[]', -- user ids told
    team_chat_sent_at  timestamptz,
    webhook_sent_at    timestamptz,
    UNIQUE (request_id, clock, event, clock_started_at) -- each warning and breach exactly once
);

CREATE TABLE handovers (
    id           text PRIMARY KEY,
    from_user_id text NOT NULL REFERENCES users (id),
    to_user_id   text NOT NULL REFERENCES users (id),
    created_by   text NOT NULL,
    note         text NOT NULL DEFAULT '',
    shift        boolean NOT NULL,
    status       text NOT NULL CHECK (status IN ('pending', 'accepted')),
    created_at   timestamptz NOT NULL,
    accepted_at  timestamptz
);
CREATE INDEX handovers_to ON handovers (to_user_id, status);
CREATE TABLE handover_requests (
    handover_id text NOT NULL REFERENCES handovers (id),
    request_id  text NOT NULL REFERENCES requests (id),
    PRIMARY KEY (handover_id, request_id)
);

CREATE TABLE request_qa (
    id          text PRIMARY KEY,
    request_id  text NOT NULL REFERENCES requests (id),
    reviewer_id text NOT NULL REFERENCES users (id),
    score       integer NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment     text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL
);
CREATE INDEX request_qa_request ON request_qa (request_id);

ALTER TABLE messages ADD COLUMN request_id text; -- the request a message belongs to (no FK: filed in the same transaction)
CREATE INDEX messages_request ON messages (request_id, sent_at) WHERE request_id IS NOT NULL;

-- A stop Telegram ordered (PEER_FLOOD, a revoked session) holds every replica until it is cleared.
CREATE TABLE telegram_holds (
    name       text PRIMARY KEY,
    kind       text NOT NULL,
    reason     text NOT NULL,
    until      timestamptz,
    created_at timestamptz NOT NULL
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
