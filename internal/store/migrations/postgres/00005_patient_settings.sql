-- +goose Up
-- Versioned patient settings: every saved version of a patient's settings
-- document (emg.Params plus muscle_names and sessions_per_week) is kept;
-- the highest version is current. Versions count from 1 per patient, and
-- the primary key makes two racing saves take different versions.
CREATE TABLE patient_settings (
    patient_code text NOT NULL,
    version      integer NOT NULL CHECK (version >= 1),
    document     jsonb NOT NULL,
    updated_at   timestamptz NOT NULL,
    updated_by   text NOT NULL,
    PRIMARY KEY (patient_code, version)
);

CREATE INDEX patient_settings_updated_idx ON patient_settings (patient_code, updated_at DESC, version DESC);

-- +goose Down
DROP TABLE patient_settings;
