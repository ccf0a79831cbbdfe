package review_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"emgd/internal/review"
	"emgd/internal/store"
)

// racingSettings is the store's settings where a save by someone else
// lands right after the next reads of the current settings (as a PUT
// arriving between a read and the write that follows it).
type racingSettings struct {
	store.Settings
	t     *testing.T
	mu    sync.Mutex
	armed int // reads still to be followed by a save
	saves int // saves made
}

func (r *racingSettings) arm(n int) {
	r.mu.Lock()
	r.armed = n
	r.mu.Unlock()
}

func (r *racingSettings) CurrentSettings(ctx context.Context, code string) (*store.PatientSettings, error) {
	p, err := r.Settings.CurrentSettings(ctx, code)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.armed > 0 && err == nil {
		r.armed--
		r.saves++
		var d map[string]any
		if err := json.Unmarshal(p.Document, &d); err != nil {
			r.t.Error(err)
		}
		d["threshold_pct"] = 70 + r.saves // another therapist's edit
		b, _ := json.Marshal(d)
		if _, err := r.Settings.SaveSettings(ctx, code, b, "other@example.org"); err != nil {
			r.t.Error(err)
		}
	}
	return p, err
}

func (e *env) putIf(path, body string, ifMatch ...string) (int, http.Header, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest("PUT", e.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	for _, v := range ifMatch {
		req.Header.Add("If-Match", v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func (e *env) version(t *testing.T) int {
	t.Helper()
	var cur review.PatientSettingsResponse
	e.getJSON("/patients/"+patient, http.StatusOK, &cur)
	return cur.SettingsVersion
}

// PUT /patients/{code}/settings with If-Match saves only on the version
// the client read: GET answers it as ETag ("0" without settings), a save
// answers the new one; a stale, future, weak or "*"-without-settings
// If-Match is 412 naming the current version (ETag too) and saves nothing,
// also when another save lands between the check and the write; a
// malformed one is 400; without If-Match the last writer wins as before.
func TestSettingsIfMatch(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, nil)
		e.record("20261124", 1, "e1")
		path := "/patients/" + patient + "/settings"
		resp, _ := e.get("/patients/"+patient, true)
		if got := resp.Header.Get("ETag"); got != `"0"` {
			t.Errorf("GET without settings: ETag %q, want \"0\"", got)
		}
		code, h, b := e.putIf(path, `{"sessions_per_week":4}`, `*`)
		if code != http.StatusPreconditionFailed || h.Get("ETag") != `"0"` {
			t.Errorf("If-Match * without settings: %d %s (ETag %q), want 412", code, b, h.Get("ETag"))
		}
		code, h, b = e.putIf(path, `{"sessions_per_week":4}`, `"0"`)
		if code != http.StatusOK || h.Get("ETag") != `"1"` {
			t.Fatalf("If-Match \"0\" without settings: %d %s (ETag %q), want 200 and \"1\"", code, b, h.Get("ETag"))
		}
		resp, _ = e.get("/patients/"+patient, true)
		if got := resp.Header.Get("ETag"); got != `"1"` {
			t.Errorf("GET after the first save: ETag %q, want \"1\"", got)
		}
		// Another client saves version 2 meanwhile.
		if code, _, b := e.putIf(path, `{"sessions_per_week":5}`); code != http.StatusOK {
			t.Fatalf("PUT without If-Match: %d %s", code, b)
		}
		for _, stale := range [][]string{{`"1"`}, {`"3"`}, {`W/"2"`}, {`"02"`}, {`"1", "3"`}} {
			code, h, b = e.putIf(path, `{"sessions_per_week":6}`, stale...)
			if code != http.StatusPreconditionFailed || h.Get("ETag") != `"2"` ||
				!strings.Contains(string(b), "version 2") || !strings.Contains(string(b), patient) {
				t.Errorf("If-Match %s on version 2: %d %s (ETag %q), want 412 naming version 2", stale, code, b, h.Get("ETag"))
			}
		}
		for _, bad := range []string{`2`, `"2`, `abc`} {
			if code, _, b := e.putIf(path, `{"sessions_per_week":6}`, bad); code != http.StatusBadRequest || !strings.Contains(string(b), "If-Match") {
				t.Errorf("If-Match %s: %d %s, want 400", bad, code, b)
			}
		}
		if v := e.version(t); v != 2 {
			t.Fatalf("refused saves changed the settings: version %d, want 2", v)
		}
		// The current version, alone, in a list or as *: saved.
		for i, ok := range [][]string{{`"2"`}, {`"1", "3"`, `"3"`}, {`*`}} {
			code, h, b = e.putIf(path, `{"sessions_per_week":6}`, ok...)
			if want := `"` + string(rune('3'+i)) + `"`; code != http.StatusOK || h.Get("ETag") != want {
				t.Errorf("If-Match %s: %d %s (ETag %q), want 200 and %s", ok, code, b, h.Get("ETag"), want)
			}
		}
		// Invalid documents are still 422 (before the version check).
		if code, _, b := e.putIf(path, `{"threshold_pct":150}`, `"1"`); code != http.StatusUnprocessableEntity {
			t.Errorf("invalid document with a stale If-Match: %d %s, want 422", code, b)
		}
	})
}

// A save by someone else landing between the If-Match check and the write
// is not replaced: the write is refused with 412 naming that version, and
// the other save stays current.
func TestSettingsIfMatchRace(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		race := &racingSettings{Settings: st, t: t}
		e := newActionEnvSettings(t, st, 2<<20, race)
		path := "/patients/" + patient + "/settings"
		if _, err := st.SaveSettings(context.Background(), patient, json.RawMessage(`{"threshold_pct":60}`), "api"); err != nil {
			t.Fatal(err)
		}
		race.arm(1)
		code, h, b := e.putIf(path, `{"threshold_pct":60,"sessions_per_week":5}`, `"1"`)
		if code != http.StatusPreconditionFailed || h.Get("ETag") != `"2"` || !strings.Contains(string(b), "version 2") {
			t.Errorf("save racing another: %d %s (ETag %q), want 412 naming version 2", code, b, h.Get("ETag"))
		}
		cur, err := st.CurrentSettings(context.Background(), patient)
		if err != nil || cur.Version != 2 || cur.UpdatedBy != "other@example.org" {
			t.Errorf("current after the race: %+v, %v; want the other save, version 2", cur, err)
		}
	})
}

// POST /patients/{code}/mvc with save merges the estimate into the
// settings current when it writes: a settings save landing between its
// read and its write is kept (its threshold), the MVC added on top as the
// next version; when saves keep landing, 409 and the MVC is not saved.
func TestMVCSaveKeepsConcurrentEdit(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		race := &racingSettings{Settings: st, t: t}
		e := newActionEnvSettings(t, st, 2<<20, race)
		sess := e.recordReal(patient, realFiles[1])
		if _, err := st.SaveSettings(ctx, patient, json.RawMessage(`{"threshold_pct":60,"sessions_per_week":4}`), "api"); err != nil {
			t.Fatal(err)
		}
		path := "/patients/" + patient + "/mvc"
		race.arm(1)
		var got review.MVCResponse
		e.postJSON(path, `{"session_id":"`+sess.ID+`","save":true}`, http.StatusOK, &got)
		if !got.Saved || got.SettingsVersion != 3 {
			t.Fatalf("saved: %+v, want version 3 (after the other save's 2)", got)
		}
		cur, err := st.CurrentSettings(ctx, patient)
		if err != nil {
			t.Fatal(err)
		}
		var d review.SettingsDocument
		if err := json.Unmarshal(cur.Document, &d); err != nil {
			t.Fatal(err)
		}
		if cur.Version != 3 || d.ThresholdPct == nil || *d.ThresholdPct != 71 || d.SessionsPerWeek == nil || *d.SessionsPerWeek != 4 ||
			len(d.MVC) != 2 || d.MVC["CH1"] != got.MVC["CH1"] || d.MVC["CH2"] != got.MVC["CH2"] {
			t.Errorf("version %d: %s; want the other save's threshold 71 kept and the MVC added", cur.Version, cur.Document)
		}

		race.arm(100)
		code, b := e.post(path, "application/json", strings.NewReader(`{"session_id":"`+sess.ID+`","save":true}`))
		if code != http.StatusConflict || !strings.Contains(string(b), "nothing was saved") {
			t.Errorf("saves landing at every attempt: %d %s, want 409", code, b)
		}
		race.arm(0)
		h, err := st.SettingsHistory(ctx, patient)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range h {
			if p.UpdatedBy != "other@example.org" && p.Version > 3 {
				t.Errorf("version %d saved by %s after the 409", p.Version, p.UpdatedBy)
			}
		}
	})
}
