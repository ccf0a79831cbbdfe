-- +goose Up
-- The storage's own identity of the object version phase 1 read (folder:
-- "<size>-<mtime ns>", S3: the ETag as the server returns it), kept beside
-- the sender's etag, which may be in another form. Phase 2 reads exactly this
-- version; '' (sessions made before this column) reads the current object.
ALTER TABLE sessions ADD COLUMN storage_version TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE sessions DROP COLUMN storage_version;
