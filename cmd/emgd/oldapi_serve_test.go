package main

import (
	"encoding/json"
	"net/http"
	"testing"

	"emgd/internal/store/storetest"
)

// serve answers the old backend's scoring-configuration and health routes
// from its own database, on SQLite and PostgreSQL.
func TestServeOldAPIRoutes(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			cfg := serverConfig{DataDir: t.TempDir(), Workers: 1}
			if db == "postgres" {
				cfg.DatabaseURL = storetest.NewPostgresDatabase(t)
			}
			addr, stop := startServe(t, cfg, true)
			defer stop()
			var active struct {
				ID            string `json:"id"`
				Configuration string `json:"configuration_name"`
				Active        bool   `json:"active"`
			}
			resp, err := http.Get("http://" + addr + "/scoring/configurations/active")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if err := json.NewDecoder(resp.Body).Decode(&active); err != nil || resp.StatusCode != 200 {
				t.Fatalf("%d %v", resp.StatusCode, err)
			}
			if active.Configuration != "GHOSTLY-TRIAL-DEFAULT" || active.ID == "" || !active.Active {
				t.Errorf("active configuration: %+v", active)
			}
			h, err := http.Get("http://" + addr + "/health")
			if err != nil {
				t.Fatal(err)
			}
			h.Body.Close()
			if h.StatusCode != 200 {
				t.Errorf("/health: %d", h.StatusCode)
			}
		})
	}
}
