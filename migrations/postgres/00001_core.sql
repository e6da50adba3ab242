-- +goose Up
CREATE TABLE users (
    id                text PRIMARY KEY,
    name              text NOT NULL,
    email             text NOT NULL,
    role              text NOT NULL CHECK (role IN ('admin', 'lead', 'manager', 'product', 'viewer')),
    telegram_username text,
    telegram_user_id  bigint,
    active            boolean NOT NULL DEFAULT true,
    away              boolean NOT NULL DEFAULT false,
    version           integer NOT NULL DEFAULT 1,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE UNIQUE INDEX users_telegram_user_id_key ON users (telegram_user_id) WHERE telegram_user_id IS NOT NULL;

CREATE TABLE api_tokens (
    id           text PRIMARY KEY,
    user_id      text NOT NULL REFERENCES users (id),
    hash         text NOT NULL UNIQUE, -- hex SHA-256 of the token; the token itself is never stored
    name         text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_tokens_user_id ON api_tokens (user_id);

CREATE TABLE accounts (
    id            text PRIMARY KEY,
    name          text NOT NULL,
    slug          text NOT NULL UNIQUE,
    tier          text NOT NULL CHECK (tier IN ('strategic', 'key', 'standard')),
    status        text NOT NULL CHECK (status IN ('onboarding', 'active', 'churned')),
    owner_id      text REFERENCES users (id),
    backup_id     text REFERENCES users (id),
    timezone      text NOT NULL,
    currency      char(3) NOT NULL,
    sla_policy_id text,
    external_ids  jsonb NOT NULL DEFAULT '{}',
    tags          jsonb NOT NULL DEFAULT '[]',
    version       integer NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    archived_at   timestamptz
);
CREATE INDEX accounts_owner_id ON accounts (owner_id);
CREATE INDEX accounts_backup_id ON accounts (backup_id);

CREATE TABLE contacts (
    id                text PRIMARY KEY,
    account_id        text NOT NULL REFERENCES accounts (id),
    name              text NOT NULL,
    title             text NOT NULL DEFAULT '',
    email             text NOT NULL DEFAULT '',
    phone             text NOT NULL DEFAULT '',
    telegram_username text NOT NULL DEFAULT '',
    telegram_user_id  bigint,
    is_primary        boolean NOT NULL DEFAULT false,
    verified          boolean NOT NULL DEFAULT true,
    version           integer NOT NULL DEFAULT 1,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    removed_at        timestamptz
);
CREATE INDEX contacts_account_id ON contacts (account_id) WHERE removed_at IS NULL;

CREATE TABLE revenue_entries (
    account_id   text NOT NULL REFERENCES accounts (id),
    month        text NOT NULL CHECK (month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    amount_minor bigint NOT NULL, -- in the currency's minor units (cents, kopecks): exact
    currency     char(3) NOT NULL,
    source       text NOT NULL CHECK (source IN ('manual', 'import', 'api')),
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (account_id, month)
);

CREATE TABLE services (
    id                  text PRIMARY KEY,
    account_id          text NOT NULL REFERENCES accounts (id),
    kind                text NOT NULL,
    name                text NOT NULL,
    plan                text NOT NULL DEFAULT '',
    quantity            integer NOT NULL DEFAULT 1,
    monthly_price_minor bigint NOT NULL DEFAULT 0,
    currency            char(3) NOT NULL,
    region              text NOT NULL DEFAULT '',
    status              text NOT NULL CHECK (status IN ('active', 'suspended', 'cancelled')),
    started_on          text,
    ended_on            text,
    external_id         text NOT NULL DEFAULT '',
    attributes          jsonb NOT NULL DEFAULT '{}',
    version             integer NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    removed_at          timestamptz
);
CREATE INDEX services_account_id ON services (account_id) WHERE removed_at IS NULL;

CREATE TABLE notes (
    id         text PRIMARY KEY,
    account_id text REFERENCES accounts (id),
    title      text NOT NULL,
    body       text NOT NULL DEFAULT '',
    tags       jsonb NOT NULL DEFAULT '[]',
    pinned     boolean NOT NULL DEFAULT false,
    author_id  text NOT NULL REFERENCES users (id),
    revision   integer NOT NULL DEFAULT 1,
    version    integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    deleted_at timestamptz,
    search     tsvector GENERATED ALWAYS AS (to_tsvector('simple', title || ' ' || body)) STORED
);
CREATE INDEX notes_account_id ON notes (account_id, pinned) WHERE deleted_at IS NULL;
CREATE INDEX notes_search ON notes USING gin (search);

CREATE TABLE note_revisions (
    id         text PRIMARY KEY,
    note_id    text NOT NULL REFERENCES notes (id),
    revision   integer NOT NULL,
    title      text NOT NULL,
    body       text NOT NULL,
    tags       jsonb NOT NULL,
    pinned     boolean NOT NULL,
    author_id  text NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL,
    UNIQUE (note_id, revision)
);

CREATE TABLE audit_events (
    id          text PRIMARY KEY, -- UUIDv7: ordered by time
    at          timestamptz NOT NULL,
    actor_kind  text NOT NULL,
    actor_id    text NOT NULL DEFAULT '',
    action      text NOT NULL,
    entity_type text NOT NULL,
    entity_id   text NOT NULL,
    before      jsonb,
    after       jsonb,
    request_id  text NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_entity ON audit_events (entity_type, entity_id);
CREATE INDEX audit_events_actor ON audit_events (actor_id);
CREATE INDEX audit_events_at ON audit_events (at);

-- The audit log is append-only: the application cannot change or remove a row.
-- +goose StatementBegin
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

-- +goose Down
DROP TABLE audit_events;
DROP FUNCTION audit_events_append_only();
DROP TABLE note_revisions;
DROP TABLE notes;
DROP TABLE services;
DROP TABLE revenue_entries;
DROP TABLE contacts;
DROP TABLE accounts;
DROP TABLE api_tokens;
DROP TABLE users;
