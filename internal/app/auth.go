package app

import (
	"log/slog"

	"emgd/internal/auth"
	"emgd/internal/store"
)

// newGuard is the guard of serve's read routes (internal/auth.Guard): the
// accounts in the database, with their sessions and API tokens, and the
// read token as an admin-level static token. While the database holds no
// account and no read token is set, the service stays open as before.
func newGuard(cfg *Config, st store.Store, log *slog.Logger) *auth.Guard {
	acc, _ := store.AccountsOf(st)
	return &auth.Guard{Accounts: acc, ReadToken: cfg.ReadToken, Log: log}
}
