package store_test

import (
	"testing"

	"emgd/internal/store"
	"emgd/internal/store/storetest"
)

func TestSQLiteAccounts(t *testing.T) {
	storetest.RunAccounts(t, func(t *testing.T) store.Store { return storetest.OpenSQLite(t, store.Options{}) })
}

// TestSQLiteAccountsManyConnections runs the accounts tests with a pool of
// several connections, as several processes on one file would.
func TestSQLiteAccountsManyConnections(t *testing.T) {
	storetest.RunAccounts(t, func(t *testing.T) store.Store { return storetest.OpenSQLite(t, store.Options{MaxConns: 4}) })
}

func TestPostgresAccounts(t *testing.T) {
	storetest.RunAccounts(t, func(t *testing.T) store.Store { return storetest.OpenPostgres(t, store.Options{}) })
}
