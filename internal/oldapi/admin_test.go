package oldapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"emgd/internal/apidoc"
	"emgd/internal/apidoc/apidoctest"
	"emgd/internal/auth"
	"emgd/internal/oldapi"
	"emgd/internal/store"
)

// asClient is the old API behind a guard that makes every request the
// given principal's (nil: no principal, as without accounts).
func asClient(t *testing.T, st store.Store, who **auth.Principal) *client {
	mux := apidoc.NewMux(apidoc.Info{Title: "old API", Version: "1"})
	guard := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			ctx := auth.WithAuditor(r.Context(), discardAudit{})
			if *who != nil {
				ctx = auth.WithPrincipal(ctx, *who)
			}
			h(w, r.WithContext(ctx))
		}
	}
	oldapi.Register(mux, oldapi.Deps{Store: st, Guard: guard})
	srv := httptest.NewServer(apidoctest.New(t, mux).Wrap(mux))
	t.Cleanup(srv.Close)
	return &client{base: srv.URL, st: st}
}

type discardAudit struct{}

func (discardAudit) Append(context.Context, auth.Entry) error { return nil }

// What applies to every patient's scores is an admin's to change: a
// therapist creating a configuration (it names no patient), activating any
// configuration (the active one scores every patient without their own),
// deleting one that names no patient or replacing the default gets 403
// "admin only" and nothing changes; an admin, the read token or no
// accounts may. A therapist still deletes and saves their patient's
// custom configuration, and another patient's is absent (404) to them.
func TestGlobalConfigurationsAdminOnly(t *testing.T) {
	backends(t, func(t *testing.T, c *client) {
		ctx := context.Background()
		st := c.st
		ther := &auth.Principal{UserID: "u-t", Email: "t@clinic.test", Role: auth.Therapist, Patients: []string{"P001"}, Via: auth.ViaToken}
		adm := &auth.Principal{UserID: "u-a", Email: "a@clinic.test", Role: auth.Admin, Via: auth.ViaToken}
		var who *auth.Principal
		as := asClient(t, st, &who)
		global, err := st.CreateScoringConfig(ctx, store.ScoringConfig{Name: "global", Weights: store.DefaultScoringWeights()})
		if err != nil {
			t.Fatal(err)
		}
		tid := "T1"
		own := func(p string) string {
			c, err := st.SaveCustomScoringConfig(ctx, store.ScoringConfig{Name: "custom " + p, Weights: store.DefaultScoringWeights(), TherapistID: &tid, PatientID: &p})
			if err != nil {
				t.Fatal(err)
			}
			return c.ID
		}
		mine, theirs := own("P001"), own("P002")
		weights := `{"configuration_name":"x","weight_compliance":0.4,"weight_symmetry":0.3,"weight_effort":0.2,"weight_game":0.1}`
		snapshot := func() string {
			l, err := st.ListScoringConfigs(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, c := range l {
				b.WriteString(c.ID + " " + c.Name + " " + c.UpdatedAt.String())
				if c.Active {
					b.WriteString(" active")
				}
				b.WriteString("\n")
			}
			return b.String()
		}

		who = ther
		before := snapshot()
		for _, q := range []struct{ method, path, body string }{
			{"POST", "/scoring/configurations", weights},
			{"POST", "/scoring/configurations", `{`}, // refused before the body is read
			{"PUT", "/scoring/configurations/" + global.ID + "/activate", ""},
			{"PUT", "/scoring/configurations/" + mine + "/activate", ""},
			{"PUT", "/scoring/configurations/" + theirs + "/activate", ""},
			{"PUT", "/scoring/configurations/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b/activate", ""},
			{"DELETE", "/scoring/configurations/" + global.ID, ""},
			{"DELETE", "/scoring/configurations/" + store.DefaultScoringConfigID, ""},
			{"PUT", "/scoring/configurations/default", weights},
		} {
			code, b := as.do(t, q.method, q.path, q.body)
			if code != http.StatusForbidden || !strings.Contains(string(b), `"message":"admin only`) {
				t.Errorf("therapist %s %s: %d %s, want 403 admin only", q.method, q.path, code, b)
			}
		}
		if after := snapshot(); after != before {
			t.Errorf("refused changes changed the configurations:\n%s\nwas\n%s", after, before)
		}
		// Their patient's custom configuration stays theirs; another
		// patient's is absent.
		as.wantHTTPError(t, "DELETE", "/scoring/configurations/"+theirs, "", 404, "Scoring configuration not found")
		as.wantHTTPError(t, "DELETE", "/scoring/configurations/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "", 404, "Scoring configuration not found")
		if code, b := as.do(t, "POST", "/scoring/configurations/custom", `{"configuration_name":"mine","therapist_id":"T2","patient_id":"P001"}`); code != 200 {
			t.Errorf("therapist saving their patient's custom configuration: %d %s", code, b)
		}
		if code, b := as.do(t, "DELETE", "/scoring/configurations/"+mine, ""); code != 200 {
			t.Errorf("therapist deleting their patient's configuration: %d %s", code, b)
		}

		// An admin, and no principal at all (no accounts, the read token).
		for _, p := range []*auth.Principal{adm, nil} {
			who = p
			code, b := as.do(t, "POST", "/scoring/configurations", weights)
			if code != 200 {
				t.Fatalf("%v: create: %d %s", p, code, b)
			}
			created := decode[oldapi.ScoringConfigurationResponse](t, b)
			if code, b := as.do(t, "PUT", "/scoring/configurations/"+created.ID+"/activate", ""); code != 200 {
				t.Errorf("%v: activate: %d %s", p, code, b)
			}
			if code, b := as.do(t, "PUT", "/scoring/configurations/"+store.DefaultScoringConfigID+"/activate", ""); code != 200 {
				t.Errorf("%v: activate the default: %d %s", p, code, b)
			}
			if code, b := as.do(t, "DELETE", "/scoring/configurations/"+created.ID, ""); code != 200 {
				t.Errorf("%v: delete: %d %s", p, code, b)
			}
			if code, b := as.do(t, "PUT", "/scoring/configurations/default", weights); code != 200 {
				t.Errorf("%v: default: %d %s", p, code, b)
			}
		}
		who = adm
		if code, b := as.do(t, "DELETE", "/scoring/configurations/"+global.ID, ""); code != 200 {
			t.Errorf("admin deleting a configuration without a patient: %d %s", code, b)
		}
	})
}
