-- +goose Up
-- The account an audit entry's action changed (users.*, tokens.*), beside
-- the principal who acted in user_name: a change made with the command line
-- is user 'cli', target the account's email. '' when the action concerns no
-- account, as in every entry made before this column. The index is partial:
-- most entries (reads) have no target, and a filter by account names one.
ALTER TABLE audit_log ADD COLUMN target text NOT NULL DEFAULT '';

CREATE INDEX audit_log_target_idx ON audit_log (target, at DESC, id DESC) WHERE target <> '';

-- +goose Down
DROP INDEX audit_log_target_idx;
ALTER TABLE audit_log DROP COLUMN target;
