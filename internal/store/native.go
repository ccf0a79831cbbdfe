package store

import (
	"database/sql"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Native is the database under a Store as its driver sees it.
//
// It exists for two callers only: internal/jobs, whose queue (River) must
// share the store's database and transactions, and test suites that set up
// states no method makes (an old created_at, a job left running). All other
// code goes through Store's methods: raw SQL lives in this package (and in
// internal/jobs for River's own tables), and a test in internal/layering
// keeps database/sql and the SQL drivers out of every other package and
// calls of NativeOf and NativeTx out of every package but internal/jobs.
type Native struct {
	// DB is a database/sql handle on the database (on PostgreSQL pgx's
	// stdlib over the store's pool).
	DB *sql.DB
	// Pool is the PostgreSQL connection pool; nil on SQLite.
	Pool *pgxpool.Pool
}

// NativeOf returns the handles under s; false when s is not one of this
// package's stores. See Native for who may call it.
func NativeOf(s Store) (Native, bool) {
	switch x := s.(type) {
	case *SQLiteStore:
		return Native{DB: x.db}, true
	case *PostgresStore:
		return Native{DB: x.sqlDB, Pool: x.pool}, true
	}
	return Native{}, false
}

// NativeTx returns the driver's transaction under tx (*sql.Tx on SQLite,
// pgx.Tx on PostgreSQL), or nil when tx is not one of this package's. It is
// for internal/jobs, so that a job is inserted in the transaction of its
// session (see Native).
func NativeTx(tx Tx) any {
	if t, ok := tx.(*txn); ok {
		return t.driver
	}
	return nil
}
