-- +goose Up
-- A session may be 'rejected': phase 1 refused its object version (not a
-- readable C3D file); the row keeps the reason in error and has no job.
ALTER TABLE sessions DROP CONSTRAINT sessions_status_check,
    ADD CONSTRAINT sessions_status_check
    CHECK (status IN ('pending', 'processing', 'completed', 'failed', 'rejected'));

-- +goose Down
DELETE FROM sessions WHERE status = 'rejected';
ALTER TABLE sessions DROP CONSTRAINT sessions_status_check,
    ADD CONSTRAINT sessions_status_check
    CHECK (status IN ('pending', 'processing', 'completed', 'failed'));
