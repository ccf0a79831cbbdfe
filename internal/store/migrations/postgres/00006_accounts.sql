-- +goose Up
-- Accounts and the audit trail. Secrets are never stored: a password as
-- its argon2id PHC string, a session cookie and an API token as the hex
-- SHA-256 of the token. Emails are stored lower-case and unique whatever
-- their case.
CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL CHECK (email <> ''),
    role          text NOT NULL CHECK (role IN ('admin', 'therapist')),
    password_hash text NOT NULL DEFAULT '',
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL
);

CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- The patients a therapist sees.
CREATE TABLE user_patients (
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    patient_code text NOT NULL,
    assigned_at  timestamptz NOT NULL,
    PRIMARY KEY (user_id, patient_code)
);

-- Dashboard sessions: token_hash is the hex SHA-256 of the cookie's token.
CREATE TABLE auth_sessions (
    token_hash   text PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL
);

CREATE INDEX auth_sessions_user_idx ON auth_sessions (user_id);
CREATE INDEX auth_sessions_expires_idx ON auth_sessions (expires_at);

-- API tokens for scripts: token_hash is the hex SHA-256 of the token. A
-- name is unique among a user's tokens not revoked.
CREATE TABLE api_tokens (
    id         uuid PRIMARY KEY,
    token_hash text NOT NULL UNIQUE,
    name       text NOT NULL CHECK (name <> ''),
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);

CREATE UNIQUE INDEX api_tokens_name_key ON api_tokens (user_id, name) WHERE revoked_at IS NULL;

-- Consecutive failed logins per email (known or not), shared by replicas.
CREATE TABLE login_throttle (
    email        text PRIMARY KEY,
    failures     integer NOT NULL CHECK (failures >= 0),
    locked_until timestamptz,
    updated_at   timestamptz NOT NULL
);

-- The audit trail: every read of patient data and every change. user_name
-- is the principal's name (an email, or "open"/"static"); patient_code
-- and session_id are '' when the action concerns none.
CREATE TABLE audit_log (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           timestamptz NOT NULL,
    user_name    text NOT NULL,
    action       text NOT NULL CHECK (action <> ''),
    patient_code text NOT NULL DEFAULT '',
    session_id   text NOT NULL DEFAULT '',
    ip           text NOT NULL DEFAULT ''
);

CREATE INDEX audit_log_at_idx ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_patient_idx ON audit_log (patient_code, at DESC, id DESC);
CREATE INDEX audit_log_user_idx ON audit_log (user_name, at DESC, id DESC);

-- +goose Down
DROP TABLE audit_log;
DROP TABLE login_throttle;
DROP TABLE api_tokens;
DROP TABLE auth_sessions;
DROP TABLE user_patients;
DROP TABLE users;
