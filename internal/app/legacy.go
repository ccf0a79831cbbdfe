package app

import (
	"context"
	"fmt"
	"net/url"

	"emgd/internal/legacy"
	"emgd/internal/store"
)

// LegacySchema is where emgd's tables go by default beside the old
// backend's: the old backend has a table named analysis_results too.
const LegacySchema = "emgd"

// legacyTarget returns emgd's database for migrate legacy: to when given,
// else the old backend's database from with search_path=LegacySchema.
func legacyTarget(from, to string) (string, error) {
	if to != "" {
		return to, nil
	}
	u, err := url.Parse(from)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("--database-url must be a postgres:// URL (or give --to)")
	}
	q := u.Query()
	q.Set("search_path", LegacySchema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// MigrateLegacy moves the old backend's analytics (its PostgreSQL database
// at from) into emgd's database (legacyTarget(from, to)) and drops its
// emg_signals time series; without o.Apply it only reports, looking at
// emgd's tables only when they exist. It returns the report and emgd's
// database URL.
func MigrateLegacy(ctx context.Context, from, to string, o legacy.Options) (*legacy.Report, string, error) {
	src, err := legacy.Connect(ctx, from)
	if err != nil {
		return nil, "", err
	}
	defer src.Close()
	target, err := legacyTarget(from, to)
	if err != nil {
		return nil, "", err
	}
	if to == "" && o.Apply {
		if err := src.CreateSchema(ctx, LegacySchema); err != nil {
			return nil, "", err
		}
	}
	var st store.Store
	if o.Apply {
		if st, err = store.Open(ctx, target, "", store.Options{}); err != nil {
			return nil, "", fmt.Errorf("emgd database: %w", err)
		}
	} else if s, err := store.Open(ctx, target, "", store.Options{NoMigrate: true}); err == nil {
		// A dry run looks at emgd's tables only when they exist.
		if ok, err := s.HasTables(ctx); err == nil && ok {
			st = s
		} else {
			s.Close()
		}
	}
	if st != nil {
		defer st.Close()
	}
	rep, err := legacy.Migrate(ctx, src, st, o)
	if err != nil {
		return nil, "", err
	}
	return rep, target, nil
}
