package oldapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"emgd/internal/apidoc"
	"emgd/internal/apidoc/apidoctest"
	"emgd/internal/oldapi"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
)

// backends runs fn on a server over a fresh SQLite and a fresh PostgreSQL
// database (skipped, or failed with EMGD_REQUIRE_SERVICES=1, without
// PostgreSQL).
func backends(t *testing.T, fn func(t *testing.T, c *client)) {
	for _, b := range []struct {
		name string
		open func(t *testing.T) store.Store
	}{
		{"SQLite", func(t *testing.T) store.Store { return storetest.OpenSQLite(t, store.Options{}) }},
		{"Postgres", func(t *testing.T) store.Store { return storetest.OpenPostgres(t, store.Options{}) }},
	} {
		t.Run(b.name, func(t *testing.T) { fn(t, newClient(t, b.open(t), nil)) })
	}
}

type client struct {
	base string
	st   store.Store
}

func newClient(t *testing.T, st store.Store, now func() time.Time) *client {
	// Every answer is validated against the routes' API document.
	mux := apidoc.NewMux(apidoc.Info{Title: "old API", Version: "1"})
	oldapi.Register(mux, oldapi.Deps{Store: st, Now: now})
	srv := httptest.NewServer(apidoctest.New(t, mux).Wrap(mux))
	t.Cleanup(srv.Close)
	return &client{base: srv.URL, st: st}
}

// do sends a request (a JSON body unless ctype says otherwise) and returns
// the status and body.
func (c *client) do(t *testing.T, method, path, body string, ctype ...string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(ctype) > 0 {
		if ctype[0] != "" {
			req.Header.Set("Content-Type", ctype[0])
		}
	} else if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	return resp.StatusCode, b
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decoding %T from %s: %v", v, b, err)
	}
	return v
}

func keys(t *testing.T, b []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// wantHTTPError checks the old backend's HTTPException answer.
func (c *client) wantHTTPError(t *testing.T, method, path, body string, code int, msg string) {
	t.Helper()
	got, b := c.do(t, method, path, body)
	if got != code {
		t.Fatalf("%s %s = %d %s, want %d", method, path, got, b, code)
	}
	e := decode[oldapi.HTTPErrorResponse](t, b)
	want := oldapi.HTTPErrorResponse{Error: "HTTP_ERROR", Message: msg, StatusCode: code, Path: c.base + path}
	if e != want {
		t.Errorf("%s %s = %+v, want %+v", method, path, e, want)
	}
}

// want422 checks a validation answer: the errors' types and locations, in
// order.
func (c *client) want422(t *testing.T, method, path, body string, want ...string) []oldapi.ValidationError {
	t.Helper()
	code, b := c.do(t, method, path, body)
	if code != 422 {
		t.Fatalf("%s %s %s = %d %s, want 422", method, path, body, code, b)
	}
	r := decode[oldapi.ValidationErrorResponse](t, b)
	var got []string
	for _, e := range r.Detail {
		got = append(got, fmt.Sprint(e.Type, e.Loc))
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s %s %s: errors %q, want %q (%s)", method, path, body, got, want, b)
	}
	return r.Detail
}

// TestHealthAndMethods replays the old test_api_endpoints health and 405
// cases.
func TestHealthAndMethods(t *testing.T) {
	now := time.Date(2025, 9, 23, 10, 11, 12, 345678000, time.Local)
	c := newClient(t, storetest.OpenSQLite(t, store.Options{}), func() time.Time { return now })
	code, b := c.do(t, "GET", "/health", "")
	if h := decode[oldapi.HealthResponse](t, b); code != 200 || h.Status != "healthy" || h.Timestamp != "2025-09-23T10:11:12.345678" {
		t.Errorf("GET /health = %d %+v", code, h)
	}
	for _, m := range []struct{ method, path, allow string }{
		{"DELETE", "/health", "GET"},
		{"POST", "/config/defaults", "GET"},
		{"PATCH", "/scoring/configurations", "GET, POST"},
		{"GET", "/scoring/configurations/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "DELETE"},
		{"GET", "/scoring/configurations/x/activate", "PUT"},
		{"POST", "/scoring/adherence/P001", "GET"},
	} {
		req, _ := http.NewRequest(m.method, c.base+m.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 405 || string(b) != `{"detail":"Method Not Allowed"}` || resp.Header.Get("Allow") != m.allow {
			t.Errorf("%s %s = %d %s Allow %q, want 405 and Allow %q", m.method, m.path, resp.StatusCode, b, resp.Header.Get("Allow"), m.allow)
		}
	}
}

// TestConfigDefaults replays test_config_defaults_api: the old config.py
// values, integers as integers, no scoring weights, the same answer twice.
func TestConfigDefaults(t *testing.T) {
	c := newClient(t, storetest.OpenSQLite(t, store.Options{}), nil)
	code, b := c.do(t, "GET", "/config/defaults", "")
	want := `{"target_contractions_ch1":12,"target_contractions_ch2":12,"mvc_threshold_percentage":75,"therapeutic_duration_threshold_ms":2000}`
	if code != 200 || string(b) != want {
		t.Errorf("GET /config/defaults = %d %s, want %s", code, b, want)
	}
	if _, b2 := c.do(t, "GET", "/config/defaults", ""); !bytes.Equal(b, b2) {
		t.Errorf("second answer %s differs", b2)
	}
}

var configKeys = []string{"active", "configuration_name", "created_at", "description", "id", "patient_id", "therapist_id",
	"updated_at", "weight_completion", "weight_compliance", "weight_duration", "weight_effort", "weight_game",
	"weight_intensity", "weight_symmetry"}

// TestFreshDatabaseDefault replays test_get_scoring_configurations and
// test_get_active_scoring_configuration on a fresh database: the old default
// with its id and weights, active, every field of the old model.
func TestFreshDatabaseDefault(t *testing.T) {
	backends(t, func(t *testing.T, c *client) {
		code, b := c.do(t, "GET", "/scoring/configurations", "")
		if code != 200 {
			t.Fatalf("list = %d %s", code, b)
		}
		l := decode[[]oldapi.ScoringConfigurationResponse](t, b)
		if len(l) != 1 {
			t.Fatalf("fresh database lists %d configurations: %s", len(l), b)
		}
		d := l[0]
		if d.ID != "a0000000-0000-0000-0000-000000000001" || d.ConfigurationName != "GHOSTLY-TRIAL-DEFAULT" || !d.Active ||
			d.WeightCompliance != 0.5 || d.WeightSymmetry != 0.25 || d.WeightEffort != 0.25 || d.WeightGame != 0 ||
			d.WeightCompletion != 0.333 || d.WeightIntensity != 0.333 || d.WeightDuration != 0.334 ||
			d.TherapistID != nil || d.PatientID != nil || d.Description == nil {
			t.Errorf("default = %+v", d)
		}
		for _, ts := range []string{d.CreatedAt, d.UpdatedAt} {
			if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || !strings.HasSuffix(ts, "+00:00") {
				t.Errorf("timestamp %q: %v", ts, err)
			}
		}
		var raw []json.RawMessage
		json.Unmarshal(b, &raw)
		if got := keys(t, raw[0]); !slices.Equal(got, configKeys) {
			t.Errorf("keys %v, want %v", got, configKeys)
		}
		code, b = c.do(t, "GET", "/scoring/configurations/active", "")
		if a := decode[oldapi.ScoringConfigurationResponse](t, b); code != 200 || !reflect.DeepEqual(a, d) {
			t.Errorf("active = %d %+v, want the default", code, a)
		}
		// With no active configuration (deleted behind the API's back), the
		// old 404.
		if _, err := storetest.DB(c.st).Exec(`DELETE FROM scoring_configurations`); err != nil {
			t.Fatal(err)
		}
		c.wantHTTPError(t, "GET", "/scoring/configurations/active", "", 404, "No active scoring configuration found")
		if code, b := c.do(t, "GET", "/scoring/configurations", ""); code != 200 || string(b) != "[]" {
			t.Errorf("empty list = %d %s", code, b)
		}
	})
}

// TestValidation replays the old API tests' invalid bodies and checks
// FastAPI's 422 answers field by field on all three write routes.
func TestValidation(t *testing.T) {
	c := newClient(t, storetest.OpenSQLite(t, store.Options{}), nil)
	full := func(over string) string {
		return `{"configuration_name":"T","weight_compliance":0.5,"weight_symmetry":0.25,"weight_effort":0.25,"weight_game":0,` +
			`"weight_completion":0.333,"weight_intensity":0.333,"weight_duration":0.334` + over + `}`
	}
	for _, path := range []string{"/scoring/configurations", "/scoring/configurations/custom"} {
		// test_scoring_configuration_create_endpoint_exists: {} is 422.
		d := c.want422(t, "POST", path, `{}`, "missing[body configuration_name]")
		if string(d[0].Input) != "{}" || d[0].Msg != "Field required" {
			t.Errorf("missing field: %+v", d[0])
		}
		// test_scoring_configuration_weights_validation: main sum 1.3.
		d = c.want422(t, "POST", path, `{"configuration_name":"Invalid Weight Test","description":"Test invalid weights",
			"weight_compliance":0.50,"weight_symmetry":0.30,"weight_effort":0.30,"weight_game":0.20,
			"weight_completion":0.333,"weight_intensity":0.333,"weight_duration":0.334}`, "value_error[body weight_game]")
		if d[0].Msg != "Value error, Main weights must sum to 1.0, got 1.3" || string(d[0].Input) != "0.20" ||
			d[0].Ctx == nil || string(d[0].Ctx.Error) != "{}" {
			t.Errorf("sum error: %+v", d[0])
		}
		// test_scoring_configuration_structure_validation: both sums wrong.
		d = c.want422(t, "POST", path, `{"configuration_name":"Test Configuration","weight_compliance":0.2,"weight_symmetry":0.2,
			"weight_effort":0.2,"weight_game":0.2,"weight_completion":0.1,"weight_intensity":0.05,"weight_duration":0.05}`,
			"value_error[body weight_game]", "value_error[body weight_duration]")
		if d[0].Msg != "Value error, Main weights must sum to 1.0, got 0.8" ||
			d[1].Msg != "Value error, Compliance weights must sum to 1.0, got 0.2" {
			t.Errorf("messages %q, %q", d[0].Msg, d[1].Msg)
		}
	}
	for _, tc := range []struct {
		body string
		want []string
	}{
		{full(`,"weight_game":1.5`), []string{"less_than_equal[body weight_game]"}},
		{full(`,"weight_effort":-0.1`), []string{"greater_than_equal[body weight_effort]", "value_error[body weight_game]"}},
		{full(`,"weight_symmetry":"abc"`), []string{"float_parsing[body weight_symmetry]", "value_error[body weight_game]"}},
		{full(`,"weight_symmetry":null,"weight_intensity":[1]`), []string{"float_type[body weight_symmetry]",
			"value_error[body weight_game]", "float_type[body weight_intensity]", "value_error[body weight_duration]"}},
		{full(`,"configuration_name":` + fmt.Sprintf("%q", strings.Repeat("é", 101))), []string{"string_too_long[body configuration_name]"}},
		{full(`,"configuration_name":12`), []string{"string_type[body configuration_name]"}},
		{full(`,"description":` + fmt.Sprintf("%q", strings.Repeat("d", 501))), []string{"string_too_long[body description]"}},
		{full(`,"therapist_id":5`), []string{"string_type[body therapist_id]"}},
		{`{"configuration_name":"x"`, []string{"json_invalid[body 25]"}},
		{`{"configuration_name":"x"} x`, []string{"json_invalid[body 27]"}},
		{`[]`, []string{"model_attributes_type[body]"}},
		{`null`, []string{"missing[body]"}},
		{``, []string{"missing[body]"}},
	} {
		c.want422(t, "POST", "/scoring/configurations", tc.body, tc.want...)
		c.want422(t, "PUT", "/scoring/configurations/default", tc.body, tc.want...)
	}
	d := c.want422(t, "POST", "/scoring/configurations", full(`,"weight_game":1.5`), "less_than_equal[body weight_game]")
	if d[0].Msg != "Input should be less than or equal to 1" || d[0].Ctx == nil || d[0].Ctx.Le == nil || *d[0].Ctx.Le != 1 {
		t.Errorf("le error: %+v", d[0])
	}
	d = c.want422(t, "POST", "/scoring/configurations", full(`,"configuration_name":`+fmt.Sprintf("%q", strings.Repeat("n", 101))),
		"string_too_long[body configuration_name]")
	if d[0].Msg != "String should have at most 100 characters" || d[0].Ctx == nil || *d[0].Ctx.MaxLength != 100 {
		t.Errorf("length error: %+v", d[0])
	}
	// A form body is not a model.
	code, b := c.do(t, "POST", "/scoring/configurations", "configuration_name=x", "application/x-www-form-urlencoded")
	if code != 422 || !strings.Contains(string(b), `"model_attributes_type"`) {
		t.Errorf("form body = %d %s", code, b)
	}
	// Lax numbers, as pydantic: numeric strings and 100 names of 100
	// characters are fine; a weight given as "0.25" is stored as 0.25.
	code, b = c.do(t, "POST", "/scoring/configurations", full(`,"weight_symmetry":"0.25","configuration_name":"`+strings.Repeat("é", 100)+`"`))
	if r := decode[oldapi.ScoringConfigurationResponse](t, b); code != 200 || r.WeightSymmetry != 0.25 {
		t.Errorf("lax body = %d %s", code, b)
	}
	// The old validators ran only on a given weight_game / weight_duration:
	// a body leaving them out is not checked for sums (old behaviour).
	code, b = c.do(t, "POST", "/scoring/configurations", `{"configuration_name":"partial","weight_compliance":0.9}`)
	if r := decode[oldapi.ScoringConfigurationResponse](t, b); code != 200 || r.WeightCompliance != 0.9 || r.WeightSymmetry != 0.25 {
		t.Errorf("partial body = %d %s", code, b)
	}
	// A body over MaxBody.
	code, b = c.do(t, "POST", "/scoring/configurations", `{"description":"`+strings.Repeat("x", oldapi.MaxBody)+`"}`)
	if code != 413 || !strings.Contains(string(b), "HTTP_ERROR") {
		t.Errorf("huge body = %d %.200s", code, b)
	}
}

// TestConfigurationLifecycle: create (inactive; therapist and patient not
// stored, as the old route), list newest first, activate (the default stays
// active; the newest active one is answered), delete refused while active,
// not found as the old route answered.
func TestConfigurationLifecycle(t *testing.T) {
	backends(t, func(t *testing.T, c *client) {
		code, b := c.do(t, "POST", "/scoring/configurations", `{"configuration_name":"Research A","description":"d",
			"weight_compliance":0.4,"weight_symmetry":0.3,"weight_effort":0.2,"weight_game":0.1,
			"weight_completion":0.5,"weight_intensity":0.25,"weight_duration":0.25,"therapist_id":"T1","patient_id":"P001","extra":1}`)
		if code != 200 {
			t.Fatalf("create = %d %s", code, b)
		}
		if got := keys(t, b); !slices.Equal(got, configKeys) {
			t.Errorf("keys %v", got)
		}
		a := decode[oldapi.ScoringConfigurationResponse](t, b)
		if a.Active || a.ConfigurationName != "Research A" || *a.Description != "d" || a.WeightGame != 0.1 ||
			a.TherapistID != nil || a.PatientID != nil {
			t.Errorf("created = %+v", a)
		}
		_, b = c.do(t, "GET", "/scoring/configurations", "")
		l := decode[[]oldapi.ScoringConfigurationResponse](t, b)
		if len(l) != 2 || l[0].ID != a.ID || l[1].ID != store.DefaultScoringConfigID {
			t.Errorf("list = %s", b)
		}
		code, b = c.do(t, "PUT", "/scoring/configurations/"+a.ID+"/activate", "")
		if m := decode[oldapi.MessageResponse](t, b); code != 200 ||
			m != (oldapi.MessageResponse{Message: "Configuration activated successfully", ConfigID: a.ID}) {
			t.Errorf("activate = %d %s", code, b)
		}
		_, b = c.do(t, "GET", "/scoring/configurations/active", "")
		if got := decode[oldapi.ScoringConfigurationResponse](t, b); got.ID != a.ID || !got.Active {
			t.Errorf("active after activating = %s", b)
		}
		_, b = c.do(t, "GET", "/scoring/configurations", "")
		if l := decode[[]oldapi.ScoringConfigurationResponse](t, b); !l[0].Active || !l[1].Active {
			t.Errorf("both the new one and the default must be active: %s", b)
		}
		c.wantHTTPError(t, "DELETE", "/scoring/configurations/"+a.ID, "", 400, "Cannot delete active scoring configuration")
		c.wantHTTPError(t, "DELETE", "/scoring/configurations/"+store.DefaultScoringConfigID, "", 400, "Cannot delete active scoring configuration")
		for _, id := range []string{"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "not-a-uuid", "active"} {
			c.wantHTTPError(t, "PUT", "/scoring/configurations/"+id+"/activate", "", 404, "Scoring configuration not found")
			c.wantHTTPError(t, "DELETE", "/scoring/configurations/"+id, "", 404, "Scoring configuration not found")
		}
		// Activating the default deactivates the other one.
		if code, b := c.do(t, "PUT", "/scoring/configurations/"+store.DefaultScoringConfigID+"/activate", ""); code != 200 {
			t.Fatalf("activate default = %d %s", code, b)
		}
		_, b = c.do(t, "GET", "/scoring/configurations/active", "")
		if got := decode[oldapi.ScoringConfigurationResponse](t, b); got.ID != store.DefaultScoringConfigID {
			t.Errorf("active = %s, want the default", b)
		}
		code, b = c.do(t, "DELETE", "/scoring/configurations/"+a.ID, "")
		if string(b) != `{"message":"Configuration deleted successfully"}` || code != 200 {
			t.Errorf("delete = %d %s", code, b)
		}
		c.wantHTTPError(t, "DELETE", "/scoring/configurations/"+a.ID, "", 404, "Scoring configuration not found")
	})
}

// TestCustomConfigurations follows the frontend's useScoringConfiguration:
// custom lookups for therapist and patient, then therapist, then the active
// one; saving stores one configuration per pair, replaced in place.
func TestCustomConfigurations(t *testing.T) {
	backends(t, func(t *testing.T, c *client) {
		c.wantHTTPError(t, "GET", "/scoring/configurations/custom", "", 400, "therapist_id is required")
		c.wantHTTPError(t, "GET", "/scoring/configurations/custom?patient_id=P001", "", 400, "therapist_id is required")
		c.wantHTTPError(t, "GET", "/scoring/configurations/custom?therapist_id=T1&patient_id=P001", "", 404, "No custom configuration found")
		c.wantHTTPError(t, "POST", "/scoring/configurations/custom", `{"configuration_name":"x"}`, 400,
			"therapist_id is required for custom configurations")
		body := func(name string, compliance, symmetry float64, extra string) string {
			return fmt.Sprintf(`{"configuration_name":%q,"description":"Personnalisation","weight_compliance":%g,"weight_symmetry":%g,
				"weight_effort":0.25,"weight_game":0,"weight_completion":0.333,"weight_intensity":0.333,"weight_duration":0.334%s}`,
				name, compliance, symmetry, extra)
		}
		code, b := c.do(t, "POST", "/scoring/configurations/custom", body("Custom - T1 - P001", 0.5, 0.25, `,"therapist_id":"T1","patient_id":"P001"`))
		if code != 200 {
			t.Fatalf("save custom = %d %s", code, b)
		}
		first := decode[oldapi.ScoringConfigurationResponse](t, b)
		if first.Active || *first.TherapistID != "T1" || *first.PatientID != "P001" {
			t.Errorf("custom = %+v", first)
		}
		code, b = c.do(t, "POST", "/scoring/configurations/custom", body("Custom - T1 - P001", 0.6, 0.15, `,"therapist_id":"T1","patient_id":"P001"`))
		if again := decode[oldapi.ScoringConfigurationResponse](t, b); code != 200 || again.ID != first.ID || again.WeightCompliance != 0.6 {
			t.Errorf("saved again = %d %s, want %s updated", code, b, first.ID)
		}
		code, b = c.do(t, "GET", "/scoring/configurations/custom?therapist_id=T1&patient_id=P001", "")
		got := decode[oldapi.CustomScoringConfigurationResponse](t, b)
		if code != 200 || got.ID != first.ID || got.WeightSymmetry != 0.15 || got.IsGlobal || len(got.RPEMapping) != 11 ||
			got.RPEMapping["4"].Score != 100 || got.TargetDefaults.TargetContractionsCh1 != 12 {
			t.Errorf("GET custom = %d %s", code, b)
		}
		// The frontend falls back to the therapist's own configuration.
		c.wantHTTPError(t, "GET", "/scoring/configurations/custom?therapist_id=T1", "", 404, "No custom configuration found")
		// An empty patient_id is none, as the old route treated it.
		code, b = c.do(t, "POST", "/scoring/configurations/custom", body("Custom - T1", 0.5, 0.25, `,"therapist_id":"T1","patient_id":""`))
		if th := decode[oldapi.ScoringConfigurationResponse](t, b); code != 200 || th.ID == first.ID || th.PatientID != nil {
			t.Errorf("therapist configuration = %d %s", code, b)
		}
		code, b = c.do(t, "GET", "/scoring/configurations/custom?therapist_id=T1&patient_id=", "")
		if th := decode[oldapi.CustomScoringConfigurationResponse](t, b); code != 200 || th.ConfigurationName != "Custom - T1" {
			t.Errorf("therapist lookup = %d %s", code, b)
		}
		// Custom configurations never become the active one.
		_, b = c.do(t, "GET", "/scoring/configurations/active", "")
		if a := decode[oldapi.ScoringConfigurationResponse](t, b); a.ID != store.DefaultScoringConfigID {
			t.Errorf("active = %s", b)
		}
	})
}

// TestUpdateDefault replays test_update_default_scoring_configuration, its
// invalid-weights and partial-body cases.
func TestUpdateDefault(t *testing.T) {
	backends(t, func(t *testing.T, c *client) {
		code, b := c.do(t, "PUT", "/scoring/configurations/default", `{"configuration_name":"GHOSTLY-TRIAL-DEFAULT",
			"description":"Updated default configuration","weight_compliance":0.45,"weight_symmetry":0.25,"weight_effort":0.25,
			"weight_game":0.05,"weight_completion":0.333,"weight_intensity":0.333,"weight_duration":0.334}`)
		d := decode[oldapi.ScoringConfigurationResponse](t, b)
		if code != 200 || d.ID != store.DefaultScoringConfigID || d.ConfigurationName != "GHOSTLY-TRIAL-DEFAULT" ||
			d.WeightCompliance != 0.45 || d.WeightSymmetry != 0.25 || d.WeightEffort != 0.25 || d.WeightGame != 0.05 ||
			*d.Description != "Updated default configuration" || !d.Active {
			t.Errorf("update default = %d %s", code, b)
		}
		c.want422(t, "PUT", "/scoring/configurations/default", `{"configuration_name":"GHOSTLY-TRIAL-DEFAULT",
			"weight_compliance":0.60,"weight_symmetry":0.30,"weight_effort":0.30,"weight_game":0.00,
			"weight_completion":0.333,"weight_intensity":0.333,"weight_duration":0.334}`, "value_error[body weight_game]")
		// Whatever name is sent, the default keeps its own.
		code, b = c.do(t, "PUT", "/scoring/configurations/default", `{"configuration_name":"other","weight_compliance":0.50}`)
		d = decode[oldapi.ScoringConfigurationResponse](t, b)
		if code != 200 || d.ConfigurationName != "GHOSTLY-TRIAL-DEFAULT" || d.WeightCompliance != 0.5 || d.WeightSymmetry != 0.25 ||
			d.WeightEffort != 0.25 || d.WeightGame != 0 || *d.Description != store.DefaultScoringConfigDescription {
			t.Errorf("partial update = %d %s", code, b)
		}
		_, b = c.do(t, "GET", "/scoring/configurations", "")
		if l := decode[[]oldapi.ScoringConfigurationResponse](t, b); len(l) != 1 {
			t.Errorf("list after updates = %s", b)
		}
	})
}

// TestAdherence: the old definition over emgd's sessions.
func TestAdherence(t *testing.T) {
	now := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	at := func(day, hour int) *time.Time {
		t := time.Date(2025, 3, day, hour, 0, 0, 0, time.UTC)
		return &t
	}
	backends(t, func(t *testing.T, c *client) {
		c = newClient(t, c.st, func() time.Time { return now })
		ctx := context.Background()
		add := func(key, etag string, rec *time.Time) {
			t.Helper()
			if _, _, err := c.st.CreateSession(ctx, store.NewSession{Bucket: "c3d-examples", ObjectKey: key, ETag: etag, RecordedAt: rec}); err != nil {
				t.Fatal(err)
			}
		}
		// P001 started on 1 March (protocol day 10): five recordings, one
		// of them uploaded twice (one session counted).
		add("P001/a.c3d", "1", at(1, 10))
		add("P001/b.c3d", "1", at(5, 10))
		add("P001/c.c3d", "1", at(8, 10))
		add("P001/d.c3d", "1", at(10, 9))
		add("P001/e.c3d", "1", at(10, 10))
		add("P001/e.c3d", "2", at(10, 10))
		// P002 started yesterday; P003 on 1 February, two sessions since
		// 25 February (the last 14 days), one before.
		add("P002/a.c3d", "1", at(9, 10))
		feb := time.Date(2025, 2, 1, 8, 0, 0, 0, time.UTC)
		add("P003/a.c3d", "1", &feb)
		add("P003/b.c3d", "1", at(1, 8))
		add("P003/c.c3d", "1", at(9, 8))

		f := func(v float64) *float64 { return &v }
		i := func(v int) *int { return &v }
		for _, tc := range []struct {
			path string
			want oldapi.AdherenceResponse
		}{
			{"/scoring/adherence/P001", oldapi.AdherenceResponse{PatientID: "P001", ProtocolDay: 10, AdherenceScore: f(23.333333333333332),
				CompletedSessions: i(5), ExpectedSessions: f(21.428571428571427), Category: "Poor",
				Interpretation: "Significant concern, support needed", TrialDuration: 14, TotalSessionsPlanned: 30}},
			{"/scoring/adherence/P001?sessions_completed=18", oldapi.AdherenceResponse{PatientID: "P001", ProtocolDay: 10,
				AdherenceScore: f(84.00000000000001), CompletedSessions: i(18), ExpectedSessions: f(21.428571428571427),
				Category: "Good", Interpretation: "Adequate with minor gaps", TrialDuration: 14, TotalSessionsPlanned: 30}},
			{"/scoring/adherence/P001?sessions_completed=40", oldapi.AdherenceResponse{PatientID: "P001", ProtocolDay: 10,
				AdherenceScore: f(100), CompletedSessions: i(40), ExpectedSessions: f(21.428571428571427),
				Category: "Excellent", Interpretation: "Meeting/exceeding frequency targets", TrialDuration: 14, TotalSessionsPlanned: 30}},
			{"/scoring/adherence/P002", oldapi.AdherenceResponse{PatientID: "P002", ProtocolDay: 2,
				Message: "Minimum 3 days required for adherence calculation", TrialDuration: 14, TotalSessionsPlanned: 30}},
			{"/scoring/adherence/P003", oldapi.AdherenceResponse{PatientID: "P003", ProtocolDay: 14, AdherenceScore: f(6.666666666666667),
				CompletedSessions: i(2), ExpectedSessions: f(30), Category: "Poor",
				Interpretation: "Significant concern, support needed", TrialDuration: 14, TotalSessionsPlanned: 30}},
		} {
			code, b := c.do(t, "GET", tc.path, "")
			if got := decode[oldapi.AdherenceResponse](t, b); code != 200 || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("GET %s = %d %s, want %+v", tc.path, code, b, tc.want)
			}
		}
		_, b := c.do(t, "GET", "/scoring/adherence/P002", "")
		if got := keys(t, b); !slices.Equal(got, []string{"adherence_score", "message", "patient_id", "protocol_day", "total_sessions_planned", "trial_duration"}) {
			t.Errorf("day-2 keys %v", got)
		}
		c.wantHTTPError(t, "GET", "/scoring/adherence/P999", "", 404, "Patient not found: P999")
		d := c.want422(t, "GET", "/scoring/adherence/P001?sessions_completed=abc", "", "int_parsing[query sessions_completed]")
		if string(d[0].Input) != `"abc"` {
			t.Errorf("input %s", d[0].Input)
		}
	})
}
