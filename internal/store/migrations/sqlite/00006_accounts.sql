-- +goose Up
-- Accounts and the audit trail. Secrets are never stored: a password as
-- its argon2id PHC string, a session cookie and an API token as the hex
-- SHA-256 of the token. Emails are stored lower-case and unique whatever
-- their case. Timestamps as in 00001 (fixed-width UTC text).
CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    email         TEXT NOT NULL CHECK (email <> ''),
    role          TEXT NOT NULL CHECK (role IN ('admin', 'therapist')),
    password_hash TEXT NOT NULL DEFAULT '',
    disabled      BOOLEAN NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at    TEXT NOT NULL
);

CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- The patients a therapist sees.
CREATE TABLE user_patients (
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    patient_code TEXT NOT NULL,
    assigned_at  TEXT NOT NULL,
    PRIMARY KEY (user_id, patient_code)
);

-- Dashboard sessions: token_hash is the hex SHA-256 of the cookie's token.
CREATE TABLE auth_sessions (
    token_hash   TEXT PRIMARY KEY NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL
);

CREATE INDEX auth_sessions_user_idx ON auth_sessions (user_id);
CREATE INDEX auth_sessions_expires_idx ON auth_sessions (expires_at);

-- API tokens for scripts: token_hash is the hex SHA-256 of the token. A
-- name is unique among a user's tokens not revoked.
CREATE TABLE api_tokens (
    id         TEXT PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL CHECK (name <> ''),
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

CREATE UNIQUE INDEX api_tokens_name_key ON api_tokens (user_id, name) WHERE revoked_at IS NULL;

-- Consecutive failed logins per email (known or not), shared by every
-- process on the database.
CREATE TABLE login_throttle (
    email        TEXT PRIMARY KEY NOT NULL,
    failures     INTEGER NOT NULL CHECK (failures >= 0),
    locked_until TEXT,
    updated_at   TEXT NOT NULL
);

-- The audit trail: every read of patient data and every change. user_name
-- is the principal's name (an email, or "open"/"static"); patient_code
-- and session_id are '' when the action concerns none.
CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           TEXT NOT NULL,
    user_name    TEXT NOT NULL,
    action       TEXT NOT NULL CHECK (action <> ''),
    patient_code TEXT NOT NULL DEFAULT '',
    session_id   TEXT NOT NULL DEFAULT '',
    ip           TEXT NOT NULL DEFAULT ''
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
