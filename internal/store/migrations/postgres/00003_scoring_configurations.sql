-- +goose Up
-- Performance-score weights, as the old backend's scoring_configuration
-- table held them: the global configurations (one or more active; the newest
-- active one answers GET /scoring/configurations/active) and the custom ones
-- of a therapist, or of a therapist and a patient (at most one each). The
-- old default, GHOSTLY-TRIAL-DEFAULT, keeps its fixed id and is active.
-- therapist_id and patient_id are text: the old API took any string (emgd's
-- patients are codes such as P001).
CREATE TABLE scoring_configurations (
    id                 uuid PRIMARY KEY,
    configuration_name text NOT NULL,
    description        text,
    weight_compliance  double precision NOT NULL CHECK (weight_compliance BETWEEN 0 AND 1),
    weight_symmetry    double precision NOT NULL CHECK (weight_symmetry BETWEEN 0 AND 1),
    weight_effort      double precision NOT NULL CHECK (weight_effort BETWEEN 0 AND 1),
    weight_game        double precision NOT NULL CHECK (weight_game BETWEEN 0 AND 1),
    weight_completion  double precision NOT NULL CHECK (weight_completion BETWEEN 0 AND 1),
    weight_intensity   double precision NOT NULL CHECK (weight_intensity BETWEEN 0 AND 1),
    weight_duration    double precision NOT NULL CHECK (weight_duration BETWEEN 0 AND 1),
    active             boolean NOT NULL DEFAULT false,
    is_global          boolean NOT NULL DEFAULT false,
    therapist_id       text,
    patient_id         text CHECK (patient_id IS NULL OR therapist_id IS NOT NULL),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX scoring_configurations_created_idx ON scoring_configurations (created_at DESC, id DESC);
CREATE UNIQUE INDEX scoring_configurations_custom_key
    ON scoring_configurations (therapist_id, coalesce(patient_id, ''))
    WHERE therapist_id IS NOT NULL;

INSERT INTO scoring_configurations (id, configuration_name, description,
    weight_compliance, weight_symmetry, weight_effort, weight_game,
    weight_completion, weight_intensity, weight_duration,
    active, is_global, created_at, updated_at)
VALUES ('a0000000-0000-0000-0000-000000000001', 'GHOSTLY-TRIAL-DEFAULT',
    'Default scoring configuration for GHOSTLY+ clinical trial. All patients use this configuration.',
    0.50, 0.25, 0.25, 0.00, 0.333, 0.333, 0.334, true, true,
    date_trunc('microseconds', now()), date_trunc('microseconds', now()));

-- +goose Down
DROP TABLE scoring_configurations;
