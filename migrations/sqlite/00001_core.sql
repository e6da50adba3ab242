-- +goose Up
CREATE TABLE users (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    email             TEXT NOT NULL,
    role              TEXT NOT NULL CHECK (role IN ('admin', 'lead', 'manager', 'product', 'viewer')),
    telegram_username TEXT,
    telegram_user_id  INTEGER,
    active            INTEGER NOT NULL DEFAULT 1,
    away              INTEGER NOT NULL DEFAULT 0,
    version           INTEGER NOT NULL DEFAULT 1,
    created_at        DATETIME NOT NULL,
    updated_at        DATETIME NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE UNIQUE INDEX users_telegram_user_id_key ON users (telegram_user_id) WHERE telegram_user_id IS NOT NULL;

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id),
    hash         TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL DEFAULT '',
    created_at   DATETIME NOT NULL,
    last_used_at DATETIME,
    revoked_at   DATETIME
);
CREATE INDEX api_tokens_user_id ON api_tokens (user_id);

CREATE TABLE accounts (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    slug          TEXT NOT NULL UNIQUE,
    tier          TEXT NOT NULL CHECK (tier IN ('strategic', 'key', 'standard')),
    status        TEXT NOT NULL CHECK (status IN ('onboarding', 'active', 'churned')),
    owner_id      TEXT REFERENCES users (id),
    backup_id     TEXT REFERENCES users (id),
    timezone      TEXT NOT NULL,
    currency      TEXT NOT NULL,
    sla_policy_id TEXT,
    external_ids  TEXT NOT NULL DEFAULT '{}',
    tags          TEXT NOT NULL DEFAULT '[]',
    version       INTEGER NOT NULL DEFAULT 1,
    created_at    DATETIME NOT NULL,
    updated_at    DATETIME NOT NULL,
    archived_at   DATETIME
);
CREATE INDEX accounts_owner_id ON accounts (owner_id);
CREATE INDEX accounts_backup_id ON accounts (backup_id);

CREATE TABLE contacts (
    id                TEXT PRIMARY KEY,
    account_id        TEXT NOT NULL REFERENCES accounts (id),
    name              TEXT NOT NULL,
    title             TEXT NOT NULL DEFAULT '',
    email             TEXT NOT NULL DEFAULT '',
    phone             TEXT NOT NULL DEFAULT '',
    telegram_username TEXT NOT NULL DEFAULT '',
    telegram_user_id  INTEGER,
    is_primary        INTEGER NOT NULL DEFAULT 0,
    verified          INTEGER NOT NULL DEFAULT 1,
    version           INTEGER NOT NULL DEFAULT 1,
    created_at        DATETIME NOT NULL,
    updated_at        DATETIME NOT NULL,
    removed_at        DATETIME
);
CREATE INDEX contacts_account_id ON contacts (account_id) WHERE removed_at IS NULL;

CREATE TABLE revenue_entries (
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    month        TEXT NOT NULL CHECK (month GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]'),
    amount_minor INTEGER NOT NULL,
    currency     TEXT NOT NULL,
    source       TEXT NOT NULL CHECK (source IN ('manual', 'import', 'api')),
    created_at   DATETIME NOT NULL,
    updated_at   DATETIME NOT NULL,
    PRIMARY KEY (account_id, month)
);

CREATE TABLE services (
    id                  TEXT PRIMARY KEY,
    account_id          TEXT NOT NULL REFERENCES accounts (id),
    kind                TEXT NOT NULL,
    name                TEXT NOT NULL,
    plan                TEXT NOT NULL DEFAULT '',
    quantity            INTEGER NOT NULL DEFAULT 1,
    monthly_price_minor INTEGER NOT NULL DEFAULT 0,
    currency            TEXT NOT NULL,
    region              TEXT NOT NULL DEFAULT '',
    status              TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'cancelled')),
    started_on          TEXT,
    ended_on            TEXT,
    external_id         TEXT NOT NULL DEFAULT '',
    attributes          TEXT NOT NULL DEFAULT '{}',
    version             INTEGER NOT NULL DEFAULT 1,
    created_at          DATETIME NOT NULL,
    updated_at          DATETIME NOT NULL,
    removed_at          DATETIME
);
CREATE INDEX services_account_id ON services (account_id) WHERE removed_at IS NULL;

CREATE TABLE notes (
    id         TEXT PRIMARY KEY,
    account_id TEXT REFERENCES accounts (id),
    title      TEXT NOT NULL,
    body       TEXT NOT NULL DEFAULT '',
    tags       TEXT NOT NULL DEFAULT '[]',
    pinned     INTEGER NOT NULL DEFAULT 0,
    author_id  TEXT NOT NULL REFERENCES users (id),
    revision   INTEGER NOT NULL DEFAULT 1,
    version    INTEGER NOT NULL DEFAULT 1,
    created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL,
    deleted_at DATETIME
);
CREATE INDEX notes_account_id ON notes (account_id, pinned) WHERE deleted_at IS NULL;

-- Full-text search over notes: an external-content FTS5 index kept by triggers.
CREATE VIRTUAL TABLE notes_fts USING fts5(title, body, content='notes', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2');
-- +goose StatementBegin
CREATE TRIGGER notes_fts_insert AFTER INSERT ON notes BEGIN
    INSERT INTO notes_fts (rowid, title, body) VALUES (new.rowid, new.title, new.body);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER notes_fts_update AFTER UPDATE ON notes BEGIN
    INSERT INTO notes_fts (notes_fts, rowid, title, body) VALUES ('delete', old.rowid, old.title, old.body);
    INSERT INTO notes_fts (rowid, title, body) VALUES (new.rowid, new.title, new.body);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER notes_fts_delete AFTER DELETE ON notes BEGIN
    INSERT INTO notes_fts (notes_fts, rowid, title, body) VALUES ('delete', old.rowid, old.title, old.body);
END;
-- +goose StatementEnd

CREATE TABLE note_revisions (
    id         TEXT PRIMARY KEY,
    note_id    TEXT NOT NULL REFERENCES notes (id),
    revision   INTEGER NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    tags       TEXT NOT NULL,
    pinned     INTEGER NOT NULL,
    author_id  TEXT NOT NULL REFERENCES users (id),
    created_at DATETIME NOT NULL,
    UNIQUE (note_id, revision)
);

CREATE TABLE audit_events (
    id          TEXT PRIMARY KEY,
    at          DATETIME NOT NULL,
    actor_kind  TEXT NOT NULL,
    actor_id    TEXT NOT NULL DEFAULT '',
    action      TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    before      TEXT,
    after       TEXT,
    request_id  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_entity ON audit_events (entity_type, entity_id);
CREATE INDEX audit_events_actor ON audit_events (actor_id);
CREATE INDEX audit_events_at ON audit_events (at);
-- +goose StatementBegin
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
-- +goose StatementEnd

-- +goose Down
DROP TABLE audit_events;
DROP TABLE note_revisions;
DROP TABLE notes_fts;
DROP TABLE notes;
DROP TABLE services;
DROP TABLE revenue_entries;
DROP TABLE contacts;
DROP TABLE accounts;
DROP TABLE api_tokens;
DROP TABLE users;
