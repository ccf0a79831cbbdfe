package review_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"emgd/internal/review"
	"emgd/internal/store"
)

func (e *env) put(path, body string, auth bool) (int, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest("PUT", e.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if auth {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func decodeJSON(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return m
}

// TestPatientSettings: a patient without settings answers version 0, {}
// and an empty history; each PUT is the next version (updated_by "api"),
// every version is listed newest first; what GET answers PUT accepts back;
// invalid values and unknown keys are 422 naming the field; a patient
// named only by settings exists; the review uses sessions_per_week.
func TestPatientSettings(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, nil)
		e.record("20261124", 1, "e1")

		var got review.PatientSettingsResponse
		e.getJSON("/patients/"+patient, http.StatusOK, &got)
		if got.PatientCode != patient || got.SettingsVersion != 0 || got.UpdatedAt != nil || got.UpdatedBy != nil ||
			!reflect.DeepEqual(got.Settings, review.SettingsDocument{}) {
			t.Errorf("without settings: %+v", got)
		}
		if _, b := e.get("/patients/"+patient, true); !bytes.Contains(b, []byte(`"settings":{}`)) {
			t.Errorf("without settings the document is not {}: %s", b)
		}
		var hist review.SettingsHistoryResponse
		e.getJSON("/patients/"+patient+"/settings/history", http.StatusOK, &hist)
		if len(hist.Versions) != 0 || hist.Versions == nil {
			t.Errorf("history without settings: %+v", hist)
		}
		if resp, _ := e.get("/patients/P404", true); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET /patients/P404: %d, want 404", resp.StatusCode)
		}
		if resp, _ := e.get("/patients/x", true); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET /patients/x: %d, want 400", resp.StatusCode)
		}
		if resp, _ := e.get("/patients/"+patient, false); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET without the token: %d, want 401", resp.StatusCode)
		}
		if code, _ := e.put("/patients/"+patient+"/settings", `{}`, false); code != http.StatusUnauthorized {
			t.Errorf("PUT without the token: %d, want 401", code)
		}

		doc1 := `{"mvc":{"CH1":0.00015,"CH2":0.0002},"threshold_pct":60,"duration_threshold_ms":300,
			"muscle_names":{"CH1":"Left quadriceps","CH2":"Right quadriceps"},"sessions_per_week":5}`
		code, b := e.put("/patients/"+patient+"/settings", doc1, true)
		if code != http.StatusOK {
			t.Fatalf("PUT: %d %s", code, b)
		}
		var v1 review.PatientSettingsResponse
		if err := json.Unmarshal(b, &v1); err != nil {
			t.Fatal(err)
		}
		if v1.SettingsVersion != 1 || v1.UpdatedBy == nil || *v1.UpdatedBy != "api" || v1.UpdatedAt == nil ||
			v1.Settings.MVC["CH2"] != 0.0002 || *v1.Settings.ThresholdPct != 60 || *v1.Settings.SessionsPerWeek != 5 ||
			v1.Settings.MuscleNames["CH1"] != "Left quadriceps" {
			t.Errorf("first PUT answered %s", b)
		}
		var trends review.TrendsResponse
		e.getJSON("/patients/"+patient+"/trends?from=2026-11-23&to=2026-11-29", http.StatusOK, &trends)
		if len(trends.Weeks) != 1 || trends.Weeks[0].Prescribed != 5 {
			t.Errorf("weeks under sessions_per_week 5: %+v", trends.Weeks)
		}

		// What GET answers, PUT accepts back (as the next version).
		_, raw := e.get("/patients/"+patient, true)
		settings, _ := json.Marshal(decodeJSON(t, raw)["settings"])
		code, b = e.put("/patients/"+patient+"/settings", string(settings), true)
		var v2 review.PatientSettingsResponse
		if code != http.StatusOK || json.Unmarshal(b, &v2) != nil || v2.SettingsVersion != 2 ||
			!reflect.DeepEqual(v2.Settings, v1.Settings) {
			t.Errorf("PUT of GET's settings: %d %s; want version 2 with the same settings", code, b)
		}
		e.getJSON("/patients/"+patient+"/settings/history", http.StatusOK, &hist)
		if len(hist.Versions) != 2 || hist.Versions[0].SettingsVersion != 2 || hist.Versions[1].SettingsVersion != 1 ||
			hist.Versions[1].UpdatedBy != "api" || hist.Versions[1].UpdatedAt != *v1.UpdatedAt {
			t.Errorf("history: %+v", hist)
		}

		for _, bad := range []struct{ body, field string }{
			{`{"mvc":{"CH1":-0.1}}`, "mvc"},
			{`{"threshold_pct":150}`, "threshold_pct"},
			{`{"threshold_pct":0}`, "threshold_pct"},
			{`{"mvc_threshold_pct":{"CH1":101}}`, "mvc_threshold_pct"},
			{`{"no_such_key":1}`, "no_such_key"},
			{`{"sessions_per_week":0}`, "sessions_per_week"},
			{`{"sessions_per_week":"three"}`, "sessions_per_week"},
			{`{"muscle_names":{"CH1":""}}`, "muscle_names"},
			{`{"mvc":[1,2]}`, "mvc"},
			{`[]`, "settings"},
			{`{`, "settings"},
			{``, "settings"},
		} {
			code, b := e.put("/patients/"+patient+"/settings", bad.body, true)
			if code != http.StatusUnprocessableEntity || !strings.Contains(string(b), bad.field) {
				t.Errorf("PUT %s: %d %s; want 422 naming %s", bad.body, code, b, bad.field)
			}
		}
		if code, b := e.put("/patients/x1/settings", `{}`, true); code != http.StatusBadRequest {
			t.Errorf("PUT for a malformed patient code: %d %s", code, b)
		}
		e.getJSON("/patients/"+patient, http.StatusOK, &got)
		if got.SettingsVersion != 2 {
			t.Errorf("invalid PUTs changed the settings: version %d", got.SettingsVersion)
		}

		// A patient named only by settings exists.
		if code, b := e.put("/patients/P099/settings", `{"sessions_per_week":2}`, true); code != http.StatusOK {
			t.Fatalf("PUT for a patient without sessions: %d %s", code, b)
		}
		var list review.PatientsResponse
		e.getJSON("/patients", http.StatusOK, &list)
		versions := map[string]int{}
		for _, p := range list.Patients {
			versions[p.PatientCode] = p.SettingsVersion
		}
		if !reflect.DeepEqual(versions, map[string]int{patient: 2, "P099": 1}) {
			t.Errorf("GET /patients settings versions: %v", versions)
		}
		e.getJSON("/patients/P099", http.StatusOK, &got)
		if got.SettingsVersion != 1 || *got.Settings.SessionsPerWeek != 2 {
			t.Errorf("GET /patients/P099: %+v", got)
		}
	})
}
