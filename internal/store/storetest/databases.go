package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"emgd/internal/store"
	"emgd/internal/testenv"
)

// DefaultPostgresURL is the test server; EMGD_TEST_DATABASE_URL overrides it.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// PostgresAdminURL returns the URL tests connect to for creating databases.
func PostgresAdminURL() string {
	if u := os.Getenv("EMGD_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultPostgresURL
}

// NewPostgresDatabase creates an empty database for one test and drops it
// when the test ends; it returns the database's URL. When the server cannot
// be reached the test is skipped (or fails under EMGD_REQUIRE_SERVICES=1).
func NewPostgresDatabase(t testing.TB) string {
	t.Helper()
	admin := PostgresAdminURL()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, admin)
	if err != nil {
		testenv.Require(t, fmt.Sprintf("PostgreSQL not reachable at %s: %v", redact(admin), err))
	}
	defer c.Close(context.Background())
	var r [6]byte
	rand.Read(r[:])
	name := "emgd_test_" + hex.EncodeToString(r[:])
	if _, err := c.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("drop test database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// OpenPostgres opens a migrated store on a fresh database, closed after the test.
func OpenPostgres(t testing.TB, o store.Options) *store.PostgresStore {
	t.Helper()
	s, err := store.OpenPostgres(context.Background(), NewPostgresDatabase(t), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// OpenSQLite opens a migrated store on a fresh file, closed after the test.
func OpenSQLite(t testing.TB, o store.Options) *store.SQLiteStore {
	t.Helper()
	s, err := store.OpenSQLite(context.Background(), t.TempDir()+"/emgd.db", o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// DB returns a database/sql handle on s's database, for tests that set up
// states no store method makes (an old created_at, a job left running).
// Code outside tests has no such handle (see store.Native).
func DB(s store.Store) *sql.DB {
	n, ok := store.NativeOf(s)
	if !ok {
		panic(fmt.Sprintf("storetest: no database under a %T", s))
	}
	return n.DB
}

// TimeSeriesLimit is the most numbers a stored JSON array may hold.
const TimeSeriesLimit = store.MaxJSONArrayNumbers

// FindTimeSeries scans every text, JSON and array column of every table of
// the database (the store's and any other, such as a job queue's) and
// describes each value holding an array of more than TimeSeriesLimit numbers,
// or a binary value over 64 KiB.
func FindTimeSeries(ctx context.Context, db *sql.DB, d store.Dialect) ([]string, error) {
	type column struct{ table, name, kind string }
	var cols []column
	switch d {
	case store.SQLite:
		rs, err := db.QueryContext(ctx, `SELECT m.name, p.name, upper(p.type) FROM sqlite_master m
			JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'`)
		if err != nil {
			return nil, err
		}
		for rs.Next() {
			var c column
			if err := rs.Scan(&c.table, &c.name, &c.kind); err != nil {
				rs.Close()
				return nil, err
			}
			cols = append(cols, c)
		}
		rs.Close()
	case store.Postgres:
		rs, err := db.QueryContext(ctx, `SELECT table_name, column_name, data_type FROM information_schema.columns
			WHERE table_schema = current_schema()
			  AND data_type IN ('json', 'jsonb', 'text', 'character varying', 'ARRAY', 'bytea')`)
		if err != nil {
			return nil, err
		}
		for rs.Next() {
			var c column
			if err := rs.Scan(&c.table, &c.name, &c.kind); err != nil {
				rs.Close()
				return nil, err
			}
			cols = append(cols, c)
		}
		rs.Close()
	default:
		return nil, fmt.Errorf("unknown dialect %q", d)
	}
	var findings []string
	for _, c := range cols {
		expr := quote(c.name)
		switch {
		case c.kind == "ARRAY":
			expr = "to_jsonb(" + expr + ")::text"
		case c.kind == "bytea" || strings.Contains(c.kind, "BLOB"):
			expr = "length(" + expr + ")"
		case d == store.Postgres:
			expr += "::text"
		}
		rs, err := db.QueryContext(ctx, "SELECT "+expr+" FROM "+quote(c.table)+" WHERE "+quote(c.name)+" IS NOT NULL")
		if err != nil {
			return nil, fmt.Errorf("scan %s.%s: %w", c.table, c.name, err)
		}
		for rs.Next() {
			var v any
			if err := rs.Scan(&v); err != nil {
				rs.Close()
				return nil, err
			}
			var text string
			switch x := v.(type) {
			case int64:
				isLength := c.kind == "bytea" || strings.Contains(c.kind, "BLOB")
				if isLength && x > 64<<10 {
					findings = append(findings, fmt.Sprintf("%s.%s holds a binary value of %d bytes", c.table, c.name, x))
				}
				continue
			case string:
				text = x
			case []byte:
				if !json.Valid(x) {
					if len(x) > 64<<10 {
						findings = append(findings, fmt.Sprintf("%s.%s holds a binary value of %d bytes", c.table, c.name, len(x)))
					}
					continue
				}
				text = string(x)
			default:
				continue
			}
			text = strings.TrimSpace(text)
			if text == "" || (text[0] != '[' && text[0] != '{') {
				continue
			}
			var decoded any
			dec := json.NewDecoder(strings.NewReader(text))
			dec.UseNumber()
			if dec.Decode(&decoded) != nil {
				continue
			}
			if path, n := store.LongestNumberArray(decoded, "$"); n > TimeSeriesLimit {
				findings = append(findings, fmt.Sprintf("%s.%s holds an array of %d numbers at %s", c.table, c.name, n, path))
			}
		}
		err = rs.Err()
		rs.Close()
		if err != nil {
			return nil, err
		}
	}
	return findings, nil
}

func quote(ident string) string { return `"` + strings.ReplaceAll(ident, `"`, `""`) + `"` }

// AssertNoTimeSeries fails t when any table of s's database holds a time
// series (see FindTimeSeries).
func AssertNoTimeSeries(t testing.TB, s store.Store) {
	t.Helper()
	findings, err := FindTimeSeries(context.Background(), DB(s), s.Dialect())
	if err != nil {
		t.Fatalf("scan for time series: %v", err)
	}
	for _, f := range findings {
		t.Errorf("time series in the database: %s", f)
	}
}
