package app_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"emgd/internal/app"
	"emgd/internal/app/apptest"
	"emgd/internal/store/storetest"
)

// serve wires the patient settings routes to its database: a PUT is
// version 1, read back by GET /patients/{code}.
func TestServePatientSettings(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			cfg := app.Config{HTTP: true, DataDir: t.TempDir(), Workers: 1}
			if db == "postgres" {
				cfg.DatabaseURL = storetest.NewPostgresDatabase(t)
			}
			addr, stop := apptest.Start(t, cfg)
			defer stop()
			req, _ := http.NewRequest("PUT", "http://"+addr+"/patients/P001/settings", strings.NewReader(`{"threshold_pct":60}`))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("PUT: %d", resp.StatusCode)
			}
			resp, err = http.Get("http://" + addr + "/patients/P001")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got struct {
				Version  int            `json:"settings_version"`
				Settings map[string]any `json:"settings"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 ||
				got.Version != 1 || got.Settings["threshold_pct"] != 60.0 {
				t.Errorf("GET /patients/P001: %d %+v %v", resp.StatusCode, got, err)
			}
		})
	}
}
