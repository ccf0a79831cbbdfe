package app

import (
	"context"
	"log/slog"
	"time"

	"emgd/internal/auth"
	"emgd/internal/store"
)

// newGuard is the guard of serve's read routes (internal/auth.Guard): the
// accounts in the database, with their sessions and API tokens, the
// external identities' JWTs (--jwt-secret, --oidc-issuer) and the read
// token as an admin-level static token. While the database holds no
// account and no read token is set, the service stays open as before.
func newGuard(cfg *Config, st store.Store, log *slog.Logger) *auth.Guard {
	acc, _ := store.AccountsOf(st)
	g := &auth.Guard{Accounts: acc, ReadToken: cfg.ReadToken, Log: log}
	// Validate checked the settings; NewVerifier does no network I/O.
	v, err := auth.NewVerifier(context.Background(), cfg.JWT())
	switch {
	case err != nil:
		log.Error("external identities off: their tokens are refused", "error", err)
	case v != nil:
		g.JWT = v
		// The issuers' discovery runs now, so that one that does not
		// answer is logged at start; its tokens try again later.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := v.Warm(ctx); err != nil {
				log.Warn("an OIDC issuer did not answer; its tokens are refused (503) until it does", "error", err)
			}
		}()
	}
	return g
}
