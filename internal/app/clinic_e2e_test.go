package app_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"emgd/internal/app"
	"emgd/internal/app/apptest"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
	"emgd/internal/testenv"
)

// clinicClient calls a served emgd and decodes its answers.
type clinicClient struct {
	t    *testing.T
	base string
}

// do sends body (nil: none) and returns the status, the headers and the
// body read whole.
func (c clinicClient) do(method, path string, body []byte) (int, http.Header, []byte) {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// json sends body and decodes the answer into out, failing unless the
// status is want.
func (c clinicClient) json(method, path, body string, want int, out any) []byte {
	c.t.Helper()
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	code, _, raw := c.do(method, path, b)
	if code != want {
		c.t.Fatalf("%s %s: %d %.500s; want %d", method, path, code, raw, want)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("%s %s: %v in %.500s", method, path, err, raw)
		}
	}
	return raw
}

// webhook delivers the storage notification of key as the tablet's
// upload makes it.
func (c clinicClient) webhook(key string) (int, map[string]any) {
	c.t.Helper()
	body := `{"type":"INSERT","table":"objects","schema":"storage","record":{"bucket_id":"c3d-examples","name":"` + key + `","metadata":{}}}`
	code, _, raw := c.do("POST", "/webhooks/storage/c3d-upload", []byte(body))
	var out map[string]any
	json.Unmarshal(raw, &out)
	return code, out
}

// clinicAnalysis is the part of GET /sessions/{id}'s analysis the checks read.
type clinicAnalysis struct {
	CreatedAt        string          `json:"created_at"`
	Params           json.RawMessage `json:"params"`
	ParamsHash       string          `json:"params_hash"`
	SettingsVersion  int             `json:"settings_version"`
	AnalyticsSummary json.RawMessage `json:"analytics_summary"`
	Scores           json.RawMessage `json:"scores"`
}

// clinicSession is GET /sessions/{id}: the session's fields and its
// current analysis.
type clinicSession struct {
	ID       string          `json:"id"`
	Status   string          `json:"status"`
	Error    *string         `json:"error"`
	Analysis *clinicAnalysis `json:"analysis"`
}

// session answers GET /sessions/{id}.
func (c clinicClient) session(id string) clinicSession {
	c.t.Helper()
	var s clinicSession
	c.json("GET", "/sessions/"+id, "", http.StatusOK, &s)
	return s
}

// waitAnalysed polls GET /sessions/{id} until the session is completed
// with an analysis of settings version version made after the analysis
// created at notAt ("" for none), failing on failed or after a deadline.
func (c clinicClient) waitAnalysed(id string, version int, notAt string) clinicSession {
	c.t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for {
		s := c.session(id)
		switch {
		case s.Status == "failed":
			c.t.Fatalf("session %s failed: %v", id, s.Error)
		case s.Status == "completed" && s.Analysis != nil && s.Analysis.SettingsVersion == version && s.Analysis.CreatedAt != notAt:
			return s
		}
		if time.Now().After(deadline) {
			got := "no analysis"
			if s.Analysis != nil {
				got = fmt.Sprintf("analysis of %s at settings version %d", s.Analysis.CreatedAt, s.Analysis.SettingsVersion)
			}
			c.t.Fatalf("session %s still %s (%s), want completed with a new analysis at settings version %d", id, s.Status, got, version)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// clinicParams decodes an analysis's parameters.
func clinicParams(t *testing.T, raw json.RawMessage) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("params %s: %v", raw, err)
	}
	return m
}

// TestClinicSpec walks the checks of clinic.md's "Patient settings
// (versioned)" and "Review" in order against a served emgd (the full
// handler, real workers running phase 2) on SQLite and on PostgreSQL,
// with real GHOSTLY recordings delivered through the storage webhook.
func TestClinicSpec(t *testing.T) {
	ghostly := testenv.Testdata(t, "ghostly")
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			clinicSpec(t, db, ghostly)
		})
	}
}

func clinicSpec(t *testing.T, db, ghostly string) {
	dir := t.TempDir()
	cfg := app.Config{HTTP: true, DataDir: dir, Workers: 2}
	if db == "postgres" {
		cfg.DatabaseURL = storetest.NewPostgresDatabase(t)
	}
	const patient = "P501"
	// Three short recordings: A and B the same day (2023-03-21), C two
	// years later.
	files := map[string]string{
		"A": "Ghostly_Emg_20230321_17-23-09-0409.c3d",
		"B": "Ghostly_Emg_20230321_17-28-14-0160.c3d",
		"C": "Ghostly_Emg_20250310_11-46-23-0823.c3d",
	}
	keys := map[string]string{}
	for n, f := range files {
		b, err := os.ReadFile(filepath.Join(ghostly, f))
		if err != nil {
			t.Fatal(err)
		}
		keys[n] = patient + "/" + f
		path := filepath.Join(dir, "storage", "c3d-examples", patient, f)
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	addr, stop := apptest.Start(t, cfg)
	defer stop()
	c := clinicClient{t: t, base: "http://" + addr}
	ids := map[string]string{}
	deliver := func(n string, version int) clinicSession {
		t.Helper()
		code, out := c.webhook(keys[n])
		id, _ := out["session_id"].(string)
		if code != http.StatusOK || id == "" {
			t.Fatalf("webhook %s: %d %v", keys[n], code, out)
		}
		ids[n] = id
		return c.waitAnalysed(id, version, "")
	}

	// The first session, before any settings.
	a0 := deliver("A", 0)

	// GET /patients: {patients: [{patient_code, sessions, completed,
	// failed, last_recorded_at, settings_version}]}.
	var pl struct {
		Patients []map[string]any `json:"patients"`
	}
	c.json("GET", "/patients", "", http.StatusOK, &pl)
	if len(pl.Patients) != 1 {
		t.Fatalf("GET /patients: %+v, want one patient", pl)
	}
	p := pl.Patients[0]
	for _, k := range []string{"patient_code", "sessions", "completed", "failed", "last_recorded_at", "settings_version"} {
		if _, ok := p[k]; !ok {
			t.Errorf("GET /patients: a patient lacks %s: %v", k, p)
		}
	}
	if p["patient_code"] != patient || p["sessions"] != 1.0 || p["completed"] != 1.0 || p["failed"] != 0.0 ||
		p["settings_version"] != 0.0 || !strings.HasPrefix(fmt.Sprint(p["last_recorded_at"]), "2023-03-21T17:23") {
		t.Errorf("GET /patients: %v", p)
	}

	// A patient without settings: version 0, settings {}, empty history.
	var ps map[string]any
	raw := c.json("GET", "/patients/"+patient, "", http.StatusOK, &ps)
	if ps["patient_code"] != patient || ps["settings_version"] != 0.0 || !reflect.DeepEqual(ps["settings"], map[string]any{}) ||
		ps["updated_at"] != nil || ps["updated_by"] != nil {
		t.Errorf("GET /patients/%s without settings: %s", patient, raw)
	}
	for _, k := range []string{"updated_at", "updated_by"} {
		if _, ok := ps[k]; !ok {
			t.Errorf("GET /patients/%s lacks %s: %s", patient, k, raw)
		}
	}
	var hist struct {
		Versions []map[string]any `json:"versions"`
	}
	raw = c.json("GET", "/patients/"+patient+"/settings/history", "", http.StatusOK, &hist)
	if hist.Versions == nil || len(hist.Versions) != 0 {
		t.Errorf("history without settings: %s", raw)
	}

	// PUT the whole document: 200, the same shape, version + 1; what GET
	// answers PUT accepts back; every version is kept.
	doc1 := `{"mvc":{"CH1":0.00015,"CH2":0.0002},"threshold_pct":60,"duration_threshold_ms":300,` +
		`"muscle_names":{"CH1":"Left quadriceps","CH2":"Right quadriceps"},"sessions_per_week":3}`
	var v1 map[string]any
	raw = c.json("PUT", "/patients/"+patient+"/settings", doc1, http.StatusOK, &v1)
	if v1["patient_code"] != patient || v1["settings_version"] != 1.0 || v1["updated_by"] != "api" || v1["updated_at"] == nil {
		t.Errorf("PUT version 1: %s", raw)
	}
	var d1 map[string]any
	json.Unmarshal([]byte(doc1), &d1)
	if !reflect.DeepEqual(v1["settings"], d1) {
		t.Errorf("PUT answered settings %v, want %v", v1["settings"], d1)
	}
	c.json("GET", "/patients/"+patient, "", http.StatusOK, &ps)
	if !reflect.DeepEqual(ps, v1) {
		t.Errorf("GET after PUT: %v, want the PUT's answer %v", ps, v1)
	}
	doc2 := strings.Replace(doc1, `"threshold_pct":60`, `"threshold_pct":55`, 1)
	var v2 map[string]any
	c.json("PUT", "/patients/"+patient+"/settings", doc2, http.StatusOK, &v2)
	if v2["settings_version"] != 2.0 {
		t.Errorf("second PUT: version %v, want 2", v2["settings_version"])
	}
	settings, _ := json.Marshal(v2["settings"])
	var v3 map[string]any
	c.json("PUT", "/patients/"+patient+"/settings", string(settings), http.StatusOK, &v3)
	if v3["settings_version"] != 3.0 || !reflect.DeepEqual(v3["settings"], v2["settings"]) {
		t.Errorf("PUT of GET's settings: %v, want version 3 with version 2's settings", v3)
	}
	raw = c.json("GET", "/patients/"+patient+"/settings/history", "", http.StatusOK, &hist)
	if len(hist.Versions) != 3 || hist.Versions[0]["settings_version"] != 3.0 || hist.Versions[2]["settings_version"] != 1.0 ||
		!reflect.DeepEqual(hist.Versions[2]["settings"], d1) || hist.Versions[2]["updated_at"] != v1["updated_at"] {
		t.Errorf("history keeps every version (newest first): %s", raw)
	}

	// Invalid values: 422 naming the field; nothing saved.
	for _, bad := range []struct{ body, field string }{
		{`{"mvc":{"CH1":-0.1}}`, "mvc"},
		{`{"threshold_pct":150}`, "threshold_pct"},
		{`{"threshold_pct":-5}`, "threshold_pct"},
		{`{"no_such_key":1}`, "no_such_key"},
	} {
		code, _, b := c.do("PUT", "/patients/"+patient+"/settings", []byte(bad.body))
		if code != http.StatusUnprocessableEntity || !strings.Contains(string(b), bad.field) {
			t.Errorf("PUT %s: %d %s; want 422 naming %s", bad.body, code, b, bad.field)
		}
	}
	c.json("GET", "/patients/"+patient, "", http.StatusOK, &ps)
	if ps["settings_version"] != 3.0 {
		t.Errorf("invalid PUTs changed the settings: version %v", ps["settings_version"])
	}

	// A new session after the PUTs is analysed with the current version
	// (3), recording it and the parameters used; the older session's
	// stored result does not change.
	b := deliver("B", 3)
	bp := clinicParams(t, b.Analysis.Params)
	if bp["threshold_pct"] != 55.0 || bp["duration_threshold_ms"] != 300.0 ||
		!reflect.DeepEqual(bp["mvc"], map[string]any{"CH1": 0.00015, "CH2": 0.0002}) {
		t.Errorf("session B analysed with %s, want settings version 3's parameters", b.Analysis.Params)
	}
	for _, k := range []string{"muscle_names", "sessions_per_week"} {
		if _, ok := bp[k]; ok {
			t.Errorf("session B's parameters carry the settings-only key %s: %s", k, b.Analysis.Params)
		}
	}
	if a := c.session(ids["A"]); !reflect.DeepEqual(a.Analysis, a0.Analysis) {
		t.Errorf("session A's stored result changed after the settings changed")
	}

	// Explicit parameters (the recalc body) override field by field.
	code, _, rb := c.do("POST", "/sessions/"+ids["B"]+"/recalc", []byte(`{"threshold_pct":70}`))
	if code != http.StatusAccepted {
		t.Fatalf("recalc: %d %s", code, rb)
	}
	b2 := c.waitAnalysed(ids["B"], 3, b.Analysis.CreatedAt)
	bp = clinicParams(t, b2.Analysis.Params)
	if bp["threshold_pct"] != 70.0 || bp["duration_threshold_ms"] != 300.0 ||
		!reflect.DeepEqual(bp["mvc"], map[string]any{"CH1": 0.00015, "CH2": 0.0002}) {
		t.Errorf("recalc {threshold_pct: 70} analysed with %s, want 70 over the settings' other fields", b2.Analysis.Params)
	}

	// The third session (2025) under version 3; then version 4 and a
	// reanalysis of 2023-03-21 only.
	c3 := deliver("C", 3)
	doc4 := strings.Replace(doc1, `"threshold_pct":60`, `"threshold_pct":65`, 1)
	c.json("PUT", "/patients/"+patient+"/settings", doc4, http.StatusOK, nil)
	var re map[string]any
	raw = c.json("POST", "/patients/"+patient+"/reanalyze", `{"from":"2023-03-21","to":"2023-03-21"}`, http.StatusAccepted, &re)
	if re["sessions"] != 2.0 {
		t.Fatalf("reanalyze 2023-03-21: %s, want sessions 2", raw)
	}
	a4 := c.waitAnalysed(ids["A"], 4, a0.Analysis.CreatedAt)
	b4 := c.waitAnalysed(ids["B"], 4, b2.Analysis.CreatedAt)
	for n, s := range map[string]clinicSession{"A": a4, "B": b4} {
		if p := clinicParams(t, s.Analysis.Params); p["threshold_pct"] != 65.0 {
			t.Errorf("reanalysed %s with %s, want the current settings (threshold_pct 65)", n, s.Analysis.Params)
		}
	}
	if c4 := c.session(ids["C"]); !reflect.DeepEqual(c4.Analysis, c3.Analysis) {
		t.Errorf("session C, outside the range, changed its analysis")
	}
	// The API answers only the current analysis; the old ones are read
	// from the store.
	st, err := store.Open(context.Background(), cfg.DatabaseURL, dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for n, want := range map[string][]int{"A": {4, 0}, "B": {4, 3, 3}, "C": {3}} {
		list, err := st.ListAnalyses(context.Background(), ids[n])
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		for _, r := range list {
			// The analysis records its settings version in its summary.
			var v struct {
				V int `json:"settings_version"`
			}
			json.Unmarshal(r.AnalyticsSummary, &v)
			got = append(got, v.V)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("session %s's stored analyses (newest first) have settings versions %v, want %v (the new one current, the old ones kept)", n, got, want)
		}
	}
	// Every stored analysis of A: the reanalysis is the newest, the
	// original is still stored unchanged.
	if list, err := st.ListAnalyses(context.Background(), ids["A"]); err == nil && len(list) == 2 {
		if list[0].ParamsHash != a4.Analysis.ParamsHash || list[1].ParamsHash != a0.Analysis.ParamsHash {
			t.Errorf("session A's analyses (newest first) %s, %s; want %s (current) then %s (the first)",
				list[0].ParamsHash, list[1].ParamsHash, a4.Analysis.ParamsHash, a0.Analysis.ParamsHash)
		}
	}

	// MVC from a session: returned; with save, a new settings version.
	var mvc map[string]any
	raw = c.json("POST", "/patients/"+patient+"/mvc", `{"session_id":"`+ids["B"]+`"}`, http.StatusOK, &mvc)
	est, _ := mvc["mvc"].(map[string]any)
	if mvc["source"] != "session" || mvc["saved"] != false || mvc["settings_version"] != 4.0 || len(est) != 2 {
		t.Errorf("POST mvc: %s", raw)
	}
	for ch, v := range est {
		if f, ok := v.(float64); !ok || !(f > 0) {
			t.Errorf("MVC estimate of %s: %v", ch, v)
		}
	}
	raw = c.json("POST", "/patients/"+patient+"/mvc", `{"session_id":"`+ids["B"]+`","save":true}`, http.StatusOK, &mvc)
	if mvc["saved"] != true || mvc["settings_version"] != 5.0 || !reflect.DeepEqual(mvc["mvc"], est) {
		t.Errorf("POST mvc save: %s; want saved as version 5 with the same estimate", raw)
	}
	c.json("GET", "/patients/"+patient, "", http.StatusOK, &ps)
	s5, _ := ps["settings"].(map[string]any)
	if ps["settings_version"] != 5.0 || !reflect.DeepEqual(s5["mvc"], est) || s5["threshold_pct"] != 65.0 || s5["sessions_per_week"] != 3.0 {
		t.Errorf("settings after the MVC save: %v; want version 5, the estimate as mvc, the other fields kept", ps)
	}

	// Trends: oldest first, the current analysis of each session, weeks
	// with adherence.
	var tr struct {
		PatientCode string           `json:"patient_code"`
		Sessions    []map[string]any `json:"sessions"`
		Weeks       []map[string]any `json:"weeks"`
	}
	raw = c.json("GET", "/patients/"+patient+"/trends", "", http.StatusOK, &tr)
	if tr.PatientCode != patient || len(tr.Sessions) != 3 {
		t.Fatalf("trends: %.1000s", raw)
	}
	wantVersion := map[string]float64{"A": 4, "B": 4, "C": 3}
	for i, n := range []string{"A", "B", "C"} {
		s := tr.Sessions[i]
		for _, k := range []string{"session_id", "session_code", "recorded_at", "status", "settings_version",
			"overall_score", "compliance_score", "symmetry_score", "effort_score", "channels"} {
			if _, ok := s[k]; !ok {
				t.Errorf("trends session %d lacks %s", i, k)
			}
		}
		if s["session_id"] != ids[n] || s["status"] != "completed" || s["settings_version"] != wantVersion[n] {
			t.Errorf("trends session %d: %v; want %s (oldest first) at settings version %v", i, s, n, wantVersion[n])
		}
		chs, _ := s["channels"].(map[string]any)
		if len(chs) != 2 {
			t.Errorf("trends session %s channels: %v", n, chs)
		}
		for name, ch := range chs {
			m, _ := ch.(map[string]any)
			for _, k := range []string{"muscle", "contractions", "good", "expected", "mvc_compliant", "duration_compliant",
				"rms", "mav", "mpf", "mdf", "fatigue_index"} {
				if _, ok := m[k]; !ok {
					t.Errorf("trends %s %s lacks %s", n, name, k)
				}
			}
		}
		if m, _ := chs["CH1"].(map[string]any); m == nil || m["muscle"] != "Left quadriceps" {
			t.Errorf("trends %s CH1: %v; want the muscle named in the settings", n, chs["CH1"])
		}
	}
	for i := 1; i < len(tr.Sessions); i++ {
		if fmt.Sprint(tr.Sessions[i-1]["recorded_at"]) > fmt.Sprint(tr.Sessions[i]["recorded_at"]) {
			t.Errorf("trends not oldest first: %v before %v", tr.Sessions[i-1]["recorded_at"], tr.Sessions[i]["recorded_at"])
		}
	}
	isoWeek := func(d string) string {
		tm, _ := time.Parse("2006-01-02", d)
		y, w := tm.ISOWeek()
		return fmt.Sprintf("%d-W%02d", y, w)
	}
	if len(tr.Weeks) == 0 || tr.Weeks[0]["week"] != isoWeek("2023-03-21") || tr.Weeks[len(tr.Weeks)-1]["week"] != isoWeek("2025-03-10") {
		t.Errorf("trends weeks from %v to %v (%d), want %s to %s", clinicFirst(tr.Weeks)["week"], clinicLast(tr.Weeks)["week"], len(tr.Weeks),
			isoWeek("2023-03-21"), isoWeek("2025-03-10"))
	}
	raw = c.json("GET", "/patients/"+patient+"/trends?from=2023-03-20&to=2023-03-26", "", http.StatusOK, &tr)
	if len(tr.Sessions) != 2 || len(tr.Weeks) != 1 {
		t.Fatalf("trends of 2023-W12: %.1000s", raw)
	}
	w := tr.Weeks[0]
	if adh, ok := w["adherence"].(float64); w["week"] != isoWeek("2023-03-21") || w["sessions"] != 2.0 || w["prescribed"] != 3.0 ||
		!ok || math.Abs(adh-200.0/3) > 0.01 {
		t.Errorf("week: %v; want 2 sessions of 3 prescribed, adherence 66.7", w)
	}

	// CSV exports: RFC 4180, a header row, an attachment.
	readCSV := func(path string) [][]string {
		t.Helper()
		code, h, body := c.do("GET", path, nil)
		if code != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") ||
			!strings.HasPrefix(h.Get("Content-Disposition"), "attachment") {
			t.Fatalf("GET %s: %d %v %.300s", path, code, h, body)
		}
		rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatalf("GET %s: not RFC 4180: %v", path, err)
		}
		return rows
	}
	col := func(header []string, name string) int {
		for i, h := range header {
			if h == name {
				return i
			}
		}
		t.Fatalf("CSV header lacks %s: %v", name, header)
		return -1
	}
	rows := readCSV("/sessions/" + ids["B"] + "/export.csv")
	if len(rows) != 3 {
		t.Fatalf("session CSV: %d rows, want a header and one per channel (2)", len(rows))
	}
	hdr := rows[0]
	for _, k := range []string{"session_code", "channel", "settings_version", "rms", "overall_score", "params_json"} {
		col(hdr, k)
	}
	for _, r := range rows[1:] {
		if r[col(hdr, "session_id")] != ids["B"] || r[col(hdr, "settings_version")] != "4" {
			t.Errorf("session CSV row: %v", r)
		}
		var pj map[string]any
		if err := json.Unmarshal([]byte(r[col(hdr, "params_json")]), &pj); err != nil || pj["threshold_pct"] != 65.0 {
			t.Errorf("session CSV params_json %q: %v", r[col(hdr, "params_json")], err)
		}
	}
	rows = readCSV("/patients/" + patient + "/export.csv")
	if len(rows) != 1+3*2 || !reflect.DeepEqual(rows[0], hdr) {
		t.Errorf("patient CSV: %d rows (want 7), header %v (want the session export's)", len(rows), rows[0])
	}

	// Printable reports: HTML, inline SVG, a print stylesheet, no script.
	for _, path := range []string{"/sessions/" + ids["B"] + "/report", "/patients/" + patient + "/report"} {
		code, h, body := c.do("GET", path, nil)
		s := string(body)
		if code != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
			t.Errorf("GET %s: %d %s", path, code, h.Get("Content-Type"))
		}
		if !strings.Contains(s, "<svg") || !strings.Contains(s, "@media print") || !strings.Contains(s, "A4") ||
			strings.Contains(strings.ToLower(s), "<script") {
			t.Errorf("GET %s: want inline SVG, a print stylesheet (A4) and no script", path)
		}
	}

	// A rejected upload: 422 to the sender, listed with its reason,
	// redelivery adds no row, not counted among the patient's sessions.
	badKey := patient + "/Ghostly_Emg_20230322_10-00-00-0001.c3d"
	os.WriteFile(filepath.Join(dir, "storage", "c3d-examples", filepath.FromSlash(badKey)), []byte("not a C3D file, only text"), 0o644)
	for i := range 2 {
		if code, out := c.webhook(badKey); code != http.StatusUnprocessableEntity {
			t.Errorf("webhook of a non-C3D object (delivery %d): %d %v, want 422", i+1, code, out)
		}
		var rej struct {
			Sessions []map[string]any `json:"sessions"`
		}
		c.json("GET", "/sessions?status=rejected", "", http.StatusOK, &rej)
		if len(rej.Sessions) != 1 {
			t.Fatalf("GET /sessions?status=rejected after delivery %d: %d rows, want 1", i+1, len(rej.Sessions))
		}
		r := rej.Sessions[0]
		if r["status"] != "rejected" || r["object_key"] != badKey || r["patient_code"] != patient || fmt.Sprint(r["error"]) == "" || r["error"] == nil {
			t.Errorf("rejected row: %v", r)
		}
	}
	c.json("GET", "/patients", "", http.StatusOK, &pl)
	if len(pl.Patients) != 1 || pl.Patients[0]["sessions"] != 3.0 || pl.Patients[0]["completed"] != 3.0 || pl.Patients[0]["failed"] != 0.0 {
		t.Errorf("GET /patients after a rejected upload: %v; want 3 sessions, 3 completed", pl.Patients)
	}
	if err := stop(); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

func clinicFirst(ws []map[string]any) map[string]any {
	if len(ws) == 0 {
		return nil
	}
	return ws[0]
}

func clinicLast(ws []map[string]any) map[string]any {
	if len(ws) == 0 {
		return nil
	}
	return ws[len(ws)-1]
}
