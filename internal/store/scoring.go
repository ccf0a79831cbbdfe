package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/google/uuid"
)

// The old backend's default scoring configuration, which migration 00003
// stores active in a fresh database.
const (
	DefaultScoringConfigID          = "a0000000-0000-0000-0000-000000000001"
	DefaultScoringConfigName        = "GHOSTLY-TRIAL-DEFAULT"
	DefaultScoringConfigDescription = "Default scoring configuration for GHOSTLY+ clinical trial. All patients use this configuration."
)

// ErrScoringConfigActive: an active scoring configuration cannot be deleted.
var ErrScoringConfigActive = errors.New("store: scoring configuration is active")

// ScoringWeights are the weights of the performance score: the four main
// components and the three parts of compliance (each group sums to 1 when
// the caller validated it; the store checks only that each is in [0, 1]).
type ScoringWeights struct {
	Compliance, Symmetry, Effort, Game float64
	Completion, Intensity, Duration    float64
}

// DefaultScoringWeights are GHOSTLY-TRIAL-DEFAULT's weights.
func DefaultScoringWeights() ScoringWeights {
	return ScoringWeights{Compliance: 0.50, Symmetry: 0.25, Effort: 0.25, Game: 0,
		Completion: 0.333, Intensity: 0.333, Duration: 0.334}
}

func (w ScoringWeights) check() error {
	for _, v := range []float64{w.Compliance, w.Symmetry, w.Effort, w.Game, w.Completion, w.Intensity, w.Duration} {
		if math.IsNaN(v) || v < 0 || v > 1 {
			return fmt.Errorf("%w: a scoring weight must be in [0, 1]", ErrInvalidInput)
		}
	}
	return nil
}

// ScoringConfig is a named set of scoring weights. A global configuration
// has no therapist; a custom one belongs to a therapist, or to a therapist
// and a patient (at most one configuration for each).
type ScoringConfig struct {
	ID          string // UUID
	Name        string
	Description *string
	Weights     ScoringWeights
	Active      bool
	Global      bool // is_global: the system default
	TherapistID *string
	PatientID   *string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// ScoringConfigs are the scoring-configuration operations of Queries.
type ScoringConfigs interface {
	// ListScoringConfigs lists every configuration, newest first.
	ListScoringConfigs(ctx context.Context) ([]ScoringConfig, error)
	// GetScoringConfig finds a configuration by id (ErrNotFound).
	GetScoringConfig(ctx context.Context, id string) (*ScoringConfig, error)
	// ActiveScoringConfig returns the newest active configuration
	// (ErrNotFound when none is active).
	ActiveScoringConfig(ctx context.Context) (*ScoringConfig, error)
	// CreateScoringConfig stores c under a new id, inactive and not global,
	// with its name, description, weights, therapist and patient.
	CreateScoringConfig(ctx context.Context, c ScoringConfig) (*ScoringConfig, error)
	// ActivateScoringConfig makes a configuration active and every other
	// one, except those named DefaultScoringConfigName, inactive
	// (ErrNotFound, and nothing changed, when there is no such id).
	ActivateScoringConfig(ctx context.Context, id string) (*ScoringConfig, error)
	// DeleteScoringConfig deletes an inactive configuration
	// (ErrScoringConfigActive, ErrNotFound).
	DeleteScoringConfig(ctx context.Context, id string) error
	// CustomScoringConfig returns the newest configuration of a therapist
	// and patient, or of the therapist alone when patientID is nil
	// (ErrNotFound).
	CustomScoringConfig(ctx context.Context, therapistID string, patientID *string) (*ScoringConfig, error)
	// SaveCustomScoringConfig replaces the name, description and weights
	// of the configuration of c's therapist and patient (the therapist alone
	// when c.PatientID is nil), or creates it; either way it is left
	// inactive. c.TherapistID is required.
	SaveCustomScoringConfig(ctx context.Context, c ScoringConfig) (*ScoringConfig, error)
	// SaveDefaultScoringConfig sets the weights and description of the
	// configuration DefaultScoringConfigID, renames it
	// DefaultScoringConfigName and makes it active and global, creating it
	// when it was deleted. A nil or empty description stores
	// DefaultScoringConfigDescription.
	SaveDefaultScoringConfig(ctx context.Context, description *string, w ScoringWeights) (*ScoringConfig, error)
}

const scoringCols = `id, configuration_name, description, weight_compliance, weight_symmetry,
	weight_effort, weight_game, weight_completion, weight_intensity, weight_duration,
	active, is_global, therapist_id, patient_id, created_at, updated_at`

func scanScoringConfig(r row) (*ScoringConfig, error) {
	var c ScoringConfig
	var created, updated dbTime
	w := &c.Weights
	if err := r.Scan(&c.ID, &c.Name, &c.Description, &w.Compliance, &w.Symmetry, &w.Effort, &w.Game,
		&w.Completion, &w.Intensity, &w.Duration, &c.Active, &c.Global, &c.TherapistID, &c.PatientID,
		&created, &updated); err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = created.t, updated.t
	return &c, nil
}

func (q *queries) scoringConfigs(ctx context.Context, what, where string, args ...any) ([]ScoringConfig, error) {
	rs, err := q.c.query(ctx, `SELECT `+scoringCols+` FROM scoring_configurations`+where+
		` ORDER BY created_at DESC, id DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	defer rs.Close()
	out := []ScoringConfig{}
	for rs.Next() {
		c, err := scanScoringConfig(rs)
		if err != nil {
			return nil, fmt.Errorf("store: %s: %w", what, err)
		}
		out = append(out, *c)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	return out, nil
}

func (q *queries) ListScoringConfigs(ctx context.Context) ([]ScoringConfig, error) {
	return q.scoringConfigs(ctx, "list scoring configurations", "")
}

func (q *queries) GetScoringConfig(ctx context.Context, id string) (*ScoringConfig, error) {
	if !validID(id) {
		return nil, fmt.Errorf("%w: scoring configuration %q", ErrNotFound, id)
	}
	c, err := scanScoringConfig(q.c.queryRow(ctx, `SELECT `+scoringCols+` FROM scoring_configurations WHERE id = $1`,
		strings.ToLower(id)))
	if isNoRows(err) {
		return nil, fmt.Errorf("%w: scoring configuration %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get scoring configuration: %w", err)
	}
	return c, nil
}

func (q *queries) ActiveScoringConfig(ctx context.Context) (*ScoringConfig, error) {
	c, err := scanScoringConfig(q.c.queryRow(ctx, `SELECT `+scoringCols+` FROM scoring_configurations
		WHERE active ORDER BY created_at DESC, id DESC LIMIT 1`))
	if isNoRows(err) {
		return nil, fmt.Errorf("%w: no active scoring configuration", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: active scoring configuration: %w", err)
	}
	return c, nil
}

func (q *queries) CreateScoringConfig(ctx context.Context, c ScoringConfig) (*ScoringConfig, error) {
	if err := c.Weights.check(); err != nil {
		return nil, err
	}
	if c.PatientID != nil && c.TherapistID == nil {
		return nil, fmt.Errorf("%w: a patient's scoring configuration needs a therapist", ErrInvalidInput)
	}
	id := uuid.Must(uuid.NewV7()).String()
	ts := q.d.ts(now())
	w := c.Weights
	if _, err := q.c.exec(ctx, `INSERT INTO scoring_configurations (`+scoringCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, false, false, $11, $12, $13, $13)`,
		id, c.Name, c.Description, w.Compliance, w.Symmetry, w.Effort, w.Game,
		w.Completion, w.Intensity, w.Duration, c.TherapistID, c.PatientID, ts); err != nil {
		if q.d.classify(err) == errUnique {
			return nil, fmt.Errorf("%w: a scoring configuration for that therapist and patient", ErrDuplicate)
		}
		return nil, fmt.Errorf("store: create scoring configuration: %w", err)
	}
	return q.GetScoringConfig(ctx, id)
}

func (q *queries) ActivateScoringConfig(ctx context.Context, id string) (*ScoringConfig, error) {
	if !validID(id) {
		return nil, fmt.Errorf("%w: scoring configuration %q", ErrNotFound, id)
	}
	id = strings.ToLower(id)
	var found string
	err := q.c.queryRow(ctx, `SELECT id FROM scoring_configurations WHERE id = $1`+q.d.forUpdate(), id).Scan(&found)
	if isNoRows(err) {
		return nil, fmt.Errorf("%w: scoring configuration %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: activate scoring configuration: %w", err)
	}
	ts := q.d.ts(now())
	if _, err := q.c.exec(ctx, `UPDATE scoring_configurations SET active = false, updated_at = $1
		WHERE active AND id <> $2 AND configuration_name <> $3`, ts, id, DefaultScoringConfigName); err != nil {
		return nil, fmt.Errorf("store: activate scoring configuration: %w", err)
	}
	if _, err := q.c.exec(ctx, `UPDATE scoring_configurations SET active = true, updated_at = $1
		WHERE id = $2 AND NOT active`, ts, id); err != nil {
		return nil, fmt.Errorf("store: activate scoring configuration: %w", err)
	}
	return q.GetScoringConfig(ctx, id)
}

func (q *queries) DeleteScoringConfig(ctx context.Context, id string) error {
	if !validID(id) {
		return fmt.Errorf("%w: scoring configuration %q", ErrNotFound, id)
	}
	id = strings.ToLower(id)
	var active bool
	err := q.c.queryRow(ctx, `SELECT active FROM scoring_configurations WHERE id = $1`+q.d.forUpdate(), id).Scan(&active)
	if isNoRows(err) {
		return fmt.Errorf("%w: scoring configuration %s", ErrNotFound, id)
	}
	if err != nil {
		return fmt.Errorf("store: delete scoring configuration: %w", err)
	}
	if active {
		return fmt.Errorf("%w: %s", ErrScoringConfigActive, id)
	}
	n, err := q.c.exec(ctx, `DELETE FROM scoring_configurations WHERE id = $1 AND NOT active`, id)
	if err != nil {
		return fmt.Errorf("store: delete scoring configuration: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("%w: %s", ErrScoringConfigActive, id)
	}
	return nil
}

// customWhere selects the custom configuration of a therapist and patient
// (the therapist alone when patient is nil); its arguments are $1 and $2.
const customWhere = ` WHERE therapist_id = $1 AND coalesce(patient_id, '') = $2`

func orEmpty(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (q *queries) CustomScoringConfig(ctx context.Context, therapistID string, patientID *string) (*ScoringConfig, error) {
	if therapistID == "" {
		return nil, fmt.Errorf("%w: a therapist is required", ErrInvalidInput)
	}
	l, err := q.scoringConfigs(ctx, "custom scoring configuration", customWhere, therapistID, orEmpty(patientID))
	if err != nil {
		return nil, err
	}
	if len(l) == 0 {
		return nil, fmt.Errorf("%w: no custom scoring configuration", ErrNotFound)
	}
	return &l[0], nil
}

func (q *queries) SaveCustomScoringConfig(ctx context.Context, c ScoringConfig) (*ScoringConfig, error) {
	if c.TherapistID == nil || *c.TherapistID == "" {
		return nil, fmt.Errorf("%w: a custom scoring configuration needs a therapist", ErrInvalidInput)
	}
	if err := c.Weights.check(); err != nil {
		return nil, err
	}
	w := c.Weights
	update := func() (string, error) {
		var id string
		err := q.c.queryRow(ctx, `UPDATE scoring_configurations SET configuration_name = $3, description = $4,
			weight_compliance = $5, weight_symmetry = $6, weight_effort = $7, weight_game = $8,
			weight_completion = $9, weight_intensity = $10, weight_duration = $11,
			active = false, updated_at = $12`+customWhere+` RETURNING id`,
			*c.TherapistID, orEmpty(c.PatientID), c.Name, c.Description, w.Compliance, w.Symmetry, w.Effort, w.Game,
			w.Completion, w.Intensity, w.Duration, q.d.ts(now())).Scan(&id)
		if isNoRows(err) {
			return "", nil
		}
		return id, err
	}
	id, err := update()
	if err != nil {
		return nil, fmt.Errorf("store: save custom scoring configuration: %w", err)
	}
	if id != "" {
		return q.GetScoringConfig(ctx, id)
	}
	if _, err := q.c.exec(ctx, `SAVEPOINT emgd_custom_scoring`); err != nil {
		return nil, fmt.Errorf("store: save custom scoring configuration: %w", err)
	}
	created, err := q.CreateScoringConfig(ctx, c)
	if err == nil {
		if _, err := q.c.exec(ctx, `RELEASE SAVEPOINT emgd_custom_scoring`); err != nil {
			return nil, fmt.Errorf("store: save custom scoring configuration: %w", err)
		}
		return created, nil
	}
	if _, rerr := q.c.exec(ctx, `ROLLBACK TO SAVEPOINT emgd_custom_scoring`); rerr != nil {
		return nil, fmt.Errorf("store: save custom scoring configuration: %w (after %v)", rerr, err)
	}
	if !errors.Is(err, ErrDuplicate) {
		return nil, err
	}
	// Another writer created it first: update theirs.
	if id, err = update(); err != nil {
		return nil, fmt.Errorf("store: save custom scoring configuration: %w", err)
	} else if id == "" {
		return nil, fmt.Errorf("store: save custom scoring configuration: created and deleted meanwhile")
	}
	return q.GetScoringConfig(ctx, id)
}

func (q *queries) SaveDefaultScoringConfig(ctx context.Context, description *string, w ScoringWeights) (*ScoringConfig, error) {
	if err := w.check(); err != nil {
		return nil, err
	}
	desc := DefaultScoringConfigDescription
	if description != nil && *description != "" {
		desc = *description
	}
	ts := q.d.ts(now())
	if _, err := q.c.exec(ctx, `INSERT INTO scoring_configurations (`+scoringCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, true, true, NULL, NULL, $11, $11)
		ON CONFLICT (id) DO UPDATE SET configuration_name = excluded.configuration_name,
			description = excluded.description,
			weight_compliance = excluded.weight_compliance, weight_symmetry = excluded.weight_symmetry,
			weight_effort = excluded.weight_effort, weight_game = excluded.weight_game,
			weight_completion = excluded.weight_completion, weight_intensity = excluded.weight_intensity,
			weight_duration = excluded.weight_duration, active = true, is_global = true,
			updated_at = excluded.updated_at`,
		DefaultScoringConfigID, DefaultScoringConfigName, desc, w.Compliance, w.Symmetry, w.Effort, w.Game,
		w.Completion, w.Intensity, w.Duration, ts); err != nil {
		return nil, fmt.Errorf("store: save default scoring configuration: %w", err)
	}
	return q.GetScoringConfig(ctx, DefaultScoringConfigID)
}

// Writes of several statements run in a transaction of their own.

func (s *impl) ActivateScoringConfig(ctx context.Context, id string) (c *ScoringConfig, err error) {
	err = s.InTx(ctx, func(t Tx) error {
		c, err = t.ActivateScoringConfig(ctx, id)
		return err
	})
	return c, err
}

func (s *impl) DeleteScoringConfig(ctx context.Context, id string) error {
	return s.InTx(ctx, func(t Tx) error { return t.DeleteScoringConfig(ctx, id) })
}

func (s *impl) SaveCustomScoringConfig(ctx context.Context, c ScoringConfig) (out *ScoringConfig, err error) {
	err = s.InTx(ctx, func(t Tx) error {
		out, err = t.SaveCustomScoringConfig(ctx, c)
		return err
	})
	return out, err
}
