package api_test

import (
	"context"
	"encoding/json"
	"testing"

	"emgd/internal/api"
	"emgd/internal/store"
	"emgd/internal/testrec"
)

// TestSessionSettingsVersion: GET /sessions/{id} names the patient's
// settings version its analysis used (0 without settings), so a page
// showing sessions needs no other request to tell old results from
// current ones.
func TestSessionSettingsVersion(t *testing.T) {
	e := newEnv(t, api.Config{})
	set, ok := e.store.(store.Settings)
	if !ok {
		t.Fatal("the store keeps no settings")
	}
	ctx := context.Background()
	for _, v := range []string{`{"threshold_pct": 70}`, `{"threshold_pct": 65}`} {
		if _, err := set.SaveSettings(ctx, "P006", json.RawMessage(v), "ana@example.org"); err != nil {
			t.Fatal(err)
		}
	}
	for key, want := range map[string]float64{"P006/Ghostly_Emg_20230321_17-50-17-0881.c3d": 2, "P007/Ghostly_Emg_20230321_17-50-17-0881.c3d": 0} {
		info := e.put(key, testrec.Ghostly(testrec.Options{Seed: 3}))
		code, body := e.do("POST", "/webhooks/storage/c3d-upload", supabaseEvent("INSERT", "c3d-examples", key, info.ETag, info.Size))
		if code != 200 {
			t.Fatalf("webhook %s: %d %v", key, code, body)
		}
		for _, err := range e.drain() {
			if err != nil {
				t.Fatal(err)
			}
		}
		code, sess := e.do("GET", "/sessions/"+body["session_id"].(string), nil)
		an, _ := sess["analysis"].(map[string]any)
		if code != 200 || an == nil || an["settings_version"] != want {
			t.Errorf("%s: %d, analysis settings_version %v, want %v", key, code, an["settings_version"], want)
		}
	}
}
