-- +goose Up
CREATE TABLE chats (
    id          text PRIMARY KEY,
    account_id  text NOT NULL UNIQUE REFERENCES accounts (id), -- one group per account
    status      text NOT NULL CHECK (status IN ('creating', 'active', 'failed', 'lost_access', 'archived')),
    origin      text NOT NULL CHECK (origin IN ('created', 'adopted')),
    channel_id  bigint UNIQUE,
    access_hash bigint,
    title       text NOT NULL DEFAULT '',
    invite_link text NOT NULL DEFAULT '',
    last_error  text NOT NULL DEFAULT '',
    group_created_at timestamptz, -- when Telegram created the group: what the daily cap counts
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    archived_at timestamptz
);

CREATE TABLE chat_members (
    chat_id          text NOT NULL REFERENCES chats (id),
    telegram_user_id bigint NOT NULL,
    name             text NOT NULL DEFAULT '',
    username         text NOT NULL DEFAULT '',
    kind             text NOT NULL CHECK (kind IN ('team', 'client', 'keycare')),
    user_id          text,
    contact_id       text,
    joined_at        timestamptz NOT NULL,
    left_at          timestamptz,
    PRIMARY KEY (chat_id, telegram_user_id)
);

CREATE TABLE messages (
    id                  text PRIMARY KEY,
    chat_id             text NOT NULL REFERENCES chats (id),
    account_id          text NOT NULL REFERENCES accounts (id),
    telegram_message_id integer, -- null until Telegram assigns it to an outgoing message
    random_id           bigint UNIQUE, -- fixed before the first send attempt
    side                text NOT NULL CHECK (side IN ('client', 'team')),
    sender_kind         text NOT NULL CHECK (sender_kind IN ('user', 'contact', 'keycare')),
    sender_user_id      text,
    sender_contact_id   text,
    sender_telegram_id  bigint,
    sender_name         text NOT NULL DEFAULT '',
    text                text NOT NULL DEFAULT '',
    reply_to            integer,
    media               jsonb,
    service             text NOT NULL DEFAULT '',
    status              text NOT NULL CHECK (status IN ('received', 'pending', 'sent', 'failed')),
    error               text NOT NULL DEFAULT '',
    sent_at             timestamptz,
    edited_at           timestamptz,
    deleted_at          timestamptz,
    created_at          timestamptz NOT NULL
);
CREATE UNIQUE INDEX messages_chat_telegram_id ON messages (chat_id, telegram_message_id);
CREATE INDEX messages_account_id ON messages (account_id, id DESC);

CREATE TABLE message_versions (
    id          text PRIMARY KEY,
    message_id  text NOT NULL REFERENCES messages (id),
    text        text NOT NULL,
    edited_at   timestamptz,
    replaced_at timestamptz NOT NULL
);
CREATE INDEX message_versions_message_id ON message_versions (message_id);

-- A POST with an Idempotency-Key answers a repeat with the first response.
CREATE TABLE idempotency_keys (
    user_id      text NOT NULL,
    route        text NOT NULL,
    key          text NOT NULL,
    request_hash text NOT NULL,
    status       integer NOT NULL,
    body         bytea NOT NULL,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (user_id, route, key)
);

-- Telegram: the encrypted session and the update state gotd needs to catch up after downtime.
CREATE TABLE telegram_sessions (
    name       text PRIMARY KEY,
    key_id     text NOT NULL,
    data       bytea NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE TABLE telegram_state (
    session text NOT NULL,
    user_id bigint NOT NULL,
    pts     integer NOT NULL,
    qts     integer NOT NULL,
    date    integer NOT NULL,
    seq     integer NOT NULL,
    PRIMARY KEY (session, user_id)
);
CREATE TABLE telegram_channels (
    session     text NOT NULL,
    user_id     bigint NOT NULL,
    channel_id  bigint NOT NULL,
    pts         integer,
    access_hash bigint,
    PRIMARY KEY (session, user_id, channel_id)
);
CREATE TABLE telegram_users (
    session     text NOT NULL,
    user_id     bigint NOT NULL,
    target_id   bigint NOT NULL,
    access_hash bigint NOT NULL,
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
