package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// PatientSettings is one version of a patient's settings document (an
// emg.Params JSON object plus muscle_names and sessions_per_week; the store
// keeps it as given, checking only that it is a JSON object without time
// series).
type PatientSettings struct {
	PatientCode string
	Version     int // from 1, per patient
	Document    json.RawMessage
	UpdatedAt   time.Time
	UpdatedBy   string
}

// Settings are the versioned patient settings operations of Queries.
// Every version is kept; the highest is current.
type Settings interface {
	// CurrentSettings returns the patient's highest settings version
	// (ErrNotFound when the patient has none).
	CurrentSettings(ctx context.Context, patientCode string) (*PatientSettings, error)
	// SettingsAt returns the highest version of the patient's settings
	// saved at or before at (ErrNotFound when there is none).
	SettingsAt(ctx context.Context, patientCode string, at time.Time) (*PatientSettings, error)
	// SaveSettings stores doc as the patient's next settings version
	// (current + 1, or 1), saved now by updatedBy. Safe to race: two saves
	// get two different versions.
	SaveSettings(ctx context.Context, patientCode string, doc json.RawMessage, updatedBy string) (*PatientSettings, error)
	// SaveSettingsIf is SaveSettings only while the patient's current
	// version is still expected (0: the patient has no settings): the
	// compare-and-swap of a read-modify-write. When another save came
	// first it saves nothing and returns a *VersionConflictError (matching
	// ErrVersionConflict) naming the current version. Atomic: of saves
	// racing from the same version, exactly one succeeds.
	SaveSettingsIf(ctx context.Context, patientCode string, doc json.RawMessage, updatedBy string, expected int) (*PatientSettings, error)
	// SettingsHistory returns every version of the patient's settings,
	// newest first (empty when none).
	SettingsHistory(ctx context.Context, patientCode string) ([]PatientSettings, error)
	// SettingsVersions returns the current settings version of every
	// patient that has settings, in one query.
	SettingsVersions(ctx context.Context) (map[string]int, error)
}

// ErrVersionConflict is matched (errors.Is) by the error of a
// SaveSettingsIf whose expected version is no longer current.
var ErrVersionConflict = errors.New("store: the settings changed meanwhile")

// VersionConflictError is SaveSettingsIf's refusal: the patient's current
// settings version is Current (0: none), not Expected.
type VersionConflictError struct {
	PatientCode       string
	Expected, Current int
}

func (e *VersionConflictError) Error() string {
	return fmt.Sprintf("the settings of patient %s are at version %d, not %d: another save came first", e.PatientCode, e.Current, e.Expected)
}

// Is makes the error match ErrVersionConflict.
func (e *VersionConflictError) Is(target error) bool { return target == ErrVersionConflict }

const settingsCols = `patient_code, version, document, updated_at, updated_by`

func scanSettings(r row) (*PatientSettings, error) {
	var p PatientSettings
	var doc []byte
	var updated dbTime
	var v int64
	if err := r.Scan(&p.PatientCode, &v, &doc, &updated, &p.UpdatedBy); err != nil {
		return nil, err
	}
	p.Version, p.Document, p.UpdatedAt = int(v), json.RawMessage(doc), updated.t
	return &p, nil
}

func (q *queries) oneSettings(ctx context.Context, what, where string, args ...any) (*PatientSettings, error) {
	p, err := scanSettings(q.c.queryRow(ctx, `SELECT `+settingsCols+` FROM patient_settings WHERE `+where+
		` ORDER BY version DESC LIMIT 1`, args...))
	if isNoRows(err) {
		return nil, fmt.Errorf("%w: no settings for patient %s", ErrNotFound, args[0])
	}
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	return p, nil
}

func (q *queries) CurrentSettings(ctx context.Context, patientCode string) (*PatientSettings, error) {
	return q.oneSettings(ctx, "current settings", `patient_code = $1`, patientCode)
}

func (q *queries) SettingsAt(ctx context.Context, patientCode string, at time.Time) (*PatientSettings, error) {
	return q.oneSettings(ctx, "settings at", `patient_code = $1 AND updated_at <= $2`, patientCode, q.d.ts(at))
}

// maxSettingsAttempts bounds the retries of a save that lost a race for
// its version number.
const maxSettingsAttempts = 8

func (q *queries) SaveSettings(ctx context.Context, patientCode string, doc json.RawMessage, updatedBy string) (*PatientSettings, error) {
	if patientCode == "" {
		return nil, fmt.Errorf("%w: patient code is required", ErrInvalidInput)
	}
	if updatedBy == "" {
		return nil, fmt.Errorf("%w: updated_by is required", ErrInvalidInput)
	}
	v, err := checkJSON("settings", doc, false)
	if err != nil {
		return nil, err
	}
	for range maxSettingsAttempts {
		if _, err := q.c.exec(ctx, `SAVEPOINT emgd_settings`); err != nil {
			return nil, fmt.Errorf("store: save settings: %w", err)
		}
		var version int64
		err := q.c.queryRow(ctx, `INSERT INTO patient_settings (`+settingsCols+`)
			SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4 FROM patient_settings WHERE patient_code = $1
			RETURNING version`, patientCode, v, q.d.ts(now()), updatedBy).Scan(&version)
		if err == nil {
			if _, err := q.c.exec(ctx, `RELEASE SAVEPOINT emgd_settings`); err != nil {
				return nil, fmt.Errorf("store: save settings: %w", err)
			}
			return q.oneSettings(ctx, "save settings", `patient_code = $1 AND version = $2`, patientCode, version)
		}
		if _, rerr := q.c.exec(ctx, `ROLLBACK TO SAVEPOINT emgd_settings`); rerr != nil {
			return nil, fmt.Errorf("store: save settings: %w (after %v)", rerr, err)
		}
		if q.d.classify(err) != errUnique {
			return nil, fmt.Errorf("store: save settings: %w", err)
		}
		// Another save took that version: take the next one.
	}
	return nil, fmt.Errorf("%w: settings of patient %s changed %d times meanwhile", ErrDuplicate, patientCode, maxSettingsAttempts)
}

func (q *queries) SaveSettingsIf(ctx context.Context, patientCode string, doc json.RawMessage, updatedBy string, expected int) (*PatientSettings, error) {
	if patientCode == "" {
		return nil, fmt.Errorf("%w: patient code is required", ErrInvalidInput)
	}
	if updatedBy == "" {
		return nil, fmt.Errorf("%w: updated_by is required", ErrInvalidInput)
	}
	if expected < 0 {
		return nil, fmt.Errorf("%w: settings version %d is negative", ErrInvalidInput, expected)
	}
	v, err := checkJSON("settings", doc, false)
	if err != nil {
		return nil, err
	}
	if _, err := q.c.exec(ctx, `SAVEPOINT emgd_settings`); err != nil {
		return nil, fmt.Errorf("store: save settings: %w", err)
	}
	// The version is expected + 1 only while expected is the highest: the
	// check refuses a stale or future version, the primary key a save
	// that passed the same check at the same time.
	var version int64
	err = q.c.queryRow(ctx, `INSERT INTO patient_settings (`+settingsCols+`)
		SELECT $1, $5 + 1, $2, $3, $4
		WHERE (SELECT COALESCE(MAX(version), 0) FROM patient_settings WHERE patient_code = $1) = $5
		RETURNING version`, patientCode, v, q.d.ts(now()), updatedBy, int64(expected)).Scan(&version)
	conflict := isNoRows(err)
	if err != nil && !conflict {
		if _, rerr := q.c.exec(ctx, `ROLLBACK TO SAVEPOINT emgd_settings`); rerr != nil {
			return nil, fmt.Errorf("store: save settings: %w (after %v)", rerr, err)
		}
		if q.d.classify(err) != errUnique {
			return nil, fmt.Errorf("store: save settings: %w", err)
		}
		conflict = true
	} else if _, err := q.c.exec(ctx, `RELEASE SAVEPOINT emgd_settings`); err != nil {
		return nil, fmt.Errorf("store: save settings: %w", err)
	}
	if conflict {
		cur, err := q.CurrentSettings(ctx, patientCode)
		ce := &VersionConflictError{PatientCode: patientCode, Expected: expected}
		switch {
		case err == nil:
			ce.Current = cur.Version
		case !errors.Is(err, ErrNotFound):
			return nil, err
		}
		return nil, ce
	}
	return q.oneSettings(ctx, "save settings", `patient_code = $1 AND version = $2`, patientCode, version)
}

func (q *queries) SettingsHistory(ctx context.Context, patientCode string) ([]PatientSettings, error) {
	rs, err := q.c.query(ctx, `SELECT `+settingsCols+` FROM patient_settings WHERE patient_code = $1
		ORDER BY version DESC`, patientCode)
	if err != nil {
		return nil, fmt.Errorf("store: settings history: %w", err)
	}
	defer rs.Close()
	out := []PatientSettings{}
	for rs.Next() {
		p, err := scanSettings(rs)
		if err != nil {
			return nil, fmt.Errorf("store: settings history: %w", err)
		}
		out = append(out, *p)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: settings history: %w", err)
	}
	return out, nil
}

func (q *queries) SettingsVersions(ctx context.Context) (map[string]int, error) {
	rs, err := q.c.query(ctx, `SELECT patient_code, MAX(version) FROM patient_settings GROUP BY patient_code`)
	if err != nil {
		return nil, fmt.Errorf("store: settings versions: %w", err)
	}
	defer rs.Close()
	out := map[string]int{}
	for rs.Next() {
		var code string
		var v int64
		if err := rs.Scan(&code, &v); err != nil {
			return nil, fmt.Errorf("store: settings versions: %w", err)
		}
		out[code] = int(v)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("store: settings versions: %w", err)
	}
	return out, nil
}

// SaveSettings runs in a transaction of its own (its retries use a
// savepoint).
func (s *impl) SaveSettings(ctx context.Context, patientCode string, doc json.RawMessage, updatedBy string) (p *PatientSettings, err error) {
	err = s.InTx(ctx, func(t Tx) error {
		p, err = t.SaveSettings(ctx, patientCode, doc, updatedBy)
		return err
	})
	return p, err
}

// SaveSettingsIf runs in a transaction of its own.
func (s *impl) SaveSettingsIf(ctx context.Context, patientCode string, doc json.RawMessage, updatedBy string, expected int) (p *PatientSettings, err error) {
	err = s.InTx(ctx, func(t Tx) error {
		p, err = t.SaveSettingsIf(ctx, patientCode, doc, updatedBy, expected)
		return err
	})
	return p, err
}
