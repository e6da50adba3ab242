-- +goose Up
CREATE TABLE chats (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL UNIQUE REFERENCES accounts (id), -- one group per account
    status      TEXT NOT NULL CHECK (status IN ('creating', 'active', 'failed', 'lost_access', 'archived')),
    origin      TEXT NOT NULL CHECK (origin IN ('created', 'adopted')),
    channel_id  INTEGER UNIQUE,
    access_hash INTEGER,
    title       TEXT NOT NULL DEFAULT '',
    invite_link TEXT NOT NULL DEFAULT '',
    last_error  TEXT NOT NULL DEFAULT '',
    group_created_at DATETIME,
    version     INTEGER NOT NULL DEFAULT 1,
    created_at  DATETIME NOT NULL,
    updated_at  DATETIME NOT NULL,
    archived_at DATETIME
);

CREATE TABLE chat_members (
    chat_id          TEXT NOT NULL REFERENCES chats (id),
    telegram_user_id INTEGER NOT NULL,
    name             TEXT NOT NULL DEFAULT '',
    username         TEXT NOT NULL DEFAULT '',
    kind             TEXT NOT NULL CHECK (kind IN ('team', 'client', 'keycare')),
    user_id          TEXT,
    contact_id       TEXT,
    joined_at        DATETIME NOT NULL,
    left_at          DATETIME,
    PRIMARY KEY (chat_id, telegram_user_id)
);

CREATE TABLE messages (
    id                  TEXT PRIMARY KEY,
    chat_id             TEXT NOT NULL REFERENCES chats (id),
    account_id          TEXT NOT NULL REFERENCES accounts (id),
    telegram_message_id INTEGER, -- null until Telegram assigns it to an outgoing message
    random_id           INTEGER UNIQUE, -- fixed before the first send attempt
    side                TEXT NOT NULL CHECK (side IN ('client', 'team')),
    sender_kind         TEXT NOT NULL CHECK (sender_kind IN ('user', 'contact', 'keycare')),
    sender_user_id      TEXT,
    sender_contact_id   TEXT,
    sender_telegram_id  INTEGER,
    sender_name         TEXT NOT NULL DEFAULT '',
    text                TEXT NOT NULL DEFAULT '',
    reply_to            INTEGER,
    media               TEXT,
    service             TEXT NOT NULL DEFAULT '',
    status              TEXT NOT NULL CHECK (status IN ('received', 'pending', 'sent', 'failed')),
    error               TEXT NOT NULL DEFAULT '',
    sent_at             DATETIME,
    edited_at           DATETIME,
    deleted_at          DATETIME,
    created_at          DATETIME NOT NULL
);
CREATE UNIQUE INDEX messages_chat_telegram_id ON messages (chat_id, telegram_message_id);
CREATE INDEX messages_account_id ON messages (account_id, id DESC);

CREATE TABLE message_versions (
    id          TEXT PRIMARY KEY,
    message_id  TEXT NOT NULL REFERENCES messages (id),
    text        TEXT NOT NULL,
    edited_at   DATETIME,
    replaced_at DATETIME NOT NULL
);
CREATE INDEX message_versions_message_id ON message_versions (message_id);

-- A POST with an Idempotency-Key answers a repeat with the first response.
CREATE TABLE idempotency_keys (
    user_id      TEXT NOT NULL,
    route        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       INTEGER NOT NULL,
    body         BLOB NOT NULL,
    created_at   DATETIME NOT NULL,
    PRIMARY KEY (user_id, route, key)
);

-- Telegram: the encrypted session and the update state gotd needs to catch up after downtime.
CREATE TABLE telegram_sessions (
    name       TEXT PRIMARY KEY,
    key_id     TEXT NOT NULL,
    data       BLOB NOT NULL,
    updated_at DATETIME NOT NULL
);
CREATE TABLE telegram_state (
    session TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    pts     INTEGER NOT NULL,
    qts     INTEGER NOT NULL,
    date    INTEGER NOT NULL,
    seq     INTEGER NOT NULL,
    PRIMARY KEY (session, user_id)
);
CREATE TABLE telegram_channels (
    session     TEXT NOT NULL,
    user_id     INTEGER NOT NULL,
    channel_id  INTEGER NOT NULL,
    pts         INTEGER,
    access_hash INTEGER,
    PRIMARY KEY (session, user_id, channel_id)
);
CREATE TABLE telegram_users (
    session     TEXT NOT NULL,
    user_id     INTEGER NOT NULL,
    target_id   INTEGER NOT NULL,
    access_hash INTEGER NOT NULL,
    PRIMARY KEY (session, user_id, target_id)
);

-- +goose Down
DROP TABLE telegram_users;
DROP TABLE telegram_channels;
DROP TABLE telegram_state;
DROP TABLE telegram_sessions;
DROP TABLE idempotency_keys;
DROP TABLE message_versions;
DROP TABLE messages;
DROP TABLE chat_members;
DROP TABLE chats;
