package review_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"emgd/emg"
	"emgd/internal/apidoc"
	"emgd/internal/apidoc/apidoctest"
	"emgd/internal/review"
	"emgd/internal/service"
	"emgd/internal/storage"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
	"emgd/internal/testrec"
)

type queue struct {
	mu   sync.Mutex
	jobs []service.AnalyzeArgs
}

func (q *queue) EnqueueTx(ctx context.Context, tx store.Tx, a service.AnalyzeArgs) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.jobs = append(q.jobs, a)
	return nil
}

// settings is a SettingsSource with settings for one patient.
type settings struct {
	patient string
	s       review.Settings
}

func (f settings) Settings(_ context.Context, code string) (review.Settings, error) {
	if code == f.patient {
		return f.s, nil
	}
	return review.NoSettings{}.Settings(context.Background(), code)
}

func (f settings) Versions(context.Context) (map[string]int, error) {
	return map[string]int{f.patient: f.s.Version}, nil
}

const (
	patient = "P007"
	// player replaces the generated recordings' player name "Default"
	// (same length): user data with markup.
	player = `<i>&'A'`
	token  = "rt"
)

type env struct {
	t   *testing.T
	st  store.Store
	svc *service.Service
	q   *queue
	fs  *storage.Folder
	srv *httptest.Server
	// sessions by file date
	ids map[string]string
}

func newEnv(t *testing.T, st store.Store, set review.SettingsSource) *env {
	t.Helper()
	dir := t.TempDir()
	fs, err := storage.OpenFolder(filepath.Join(dir, "storage"), "c3d-examples")
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.CreateBucket(context.Background(), "c3d-examples"); err != nil {
		t.Fatal(err)
	}
	q := &queue{}
	e := &env{t: t, st: st, q: q, fs: fs, ids: map[string]string{},
		svc: &service.Service{Store: st, Storage: fs, Queue: q}}
	mux := apidoc.NewMux(apidoc.Info{Title: "review", Version: "1",
		Security: map[string]any{apidoc.ReadToken: map[string]any{"type": "http", "scheme": "bearer"}}})
	guard := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+token {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				w.Write([]byte(`{"success":false,"error":"a bearer token is required"}`))
				return
			}
			h(w, r)
		}
	}
	review.Register(mux, review.Deps{Store: st, PatientSettings: st, Settings: set, Guard: guard})
	e.srv = httptest.NewServer(apidoctest.New(t, mux).Wrap(mux))
	t.Cleanup(e.srv.Close)
	return e
}

// record stores a generated recording under a key dated date (YYYYMMDD)
// and runs phase 1 and 2 on it.
func (e *env) record(date string, seed uint64, etag string) string {
	e.t.Helper()
	ctx := context.Background()
	key := patient + "/Ghostly_Emg_" + date + "_10-00-00-0001.c3d"
	rec := bytes.Replace(testrec.Ghostly(testrec.Options{Seed: seed, Seconds: 12, GameScore: 10}), []byte("Default"), []byte(player), 1)
	info, err := e.fs.Put(ctx, "c3d-examples", key, bytes.NewReader(rec))
	if err != nil {
		e.t.Fatal(err)
	}
	out, err := e.svc.Ingest(ctx, service.Event{Bucket: "c3d-examples", Key: key, ETag: etag, Version: info.Version})
	if err != nil {
		e.t.Fatal(err)
	}
	e.drain()
	e.ids[date] = out.Session.ID
	return out.Session.ID
}

func (e *env) drain() {
	e.t.Helper()
	e.q.mu.Lock()
	jobs := e.q.jobs
	e.q.jobs = nil
	e.q.mu.Unlock()
	for _, j := range jobs {
		if err := e.svc.Process(context.Background(), j); err != nil {
			e.t.Fatalf("phase 2: %v", err)
		}
	}
}

func (e *env) get(path string, auth bool) (*http.Response, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	if auth {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func (e *env) getJSON(path string, want int, v any) {
	e.t.Helper()
	resp, b := e.get(path, true)
	if resp.StatusCode != want {
		e.t.Fatalf("GET %s: %d %s, want %d", path, resp.StatusCode, b, want)
	}
	if err := json.Unmarshal(b, v); err != nil {
		e.t.Fatalf("GET %s: %v: %s", path, err, b)
	}
}

func backends(t *testing.T, fn func(t *testing.T, st store.Store)) {
	t.Run("SQLite", func(t *testing.T) { fn(t, storetest.OpenSQLite(t, store.Options{})) })
	t.Run("PostgreSQL", func(t *testing.T) { fn(t, storetest.OpenPostgres(t, store.Options{})) })
}

// stored is a session's current analysis as the store holds it, decoded
// independently of the package under test.
type stored struct {
	sess    *store.Session
	summary service.StoredSummary
	scores  struct {
		emg.Performance
		ScoringConfigID *string `json:"scoring_config_id"`
	}
	params emg.Params
	a      *store.AnalysisResult
}

func (e *env) stored(id string) stored {
	e.t.Helper()
	ctx := context.Background()
	var s stored
	var err error
	if s.sess, err = e.st.GetSession(ctx, id); err != nil {
		e.t.Fatal(err)
	}
	if s.a, err = e.st.CurrentAnalysis(ctx, id); err != nil {
		e.t.Fatal(err)
	}
	for what, err := range map[string]error{
		"summary": json.Unmarshal(s.a.AnalyticsSummary, &s.summary),
		"scores":  json.Unmarshal(s.a.Scores, &s.scores),
		"params":  json.Unmarshal(s.a.Params, &s.params),
	} {
		if err != nil {
			e.t.Fatalf("%s: %v", what, err)
		}
	}
	return s
}

// threeSessions records on 2026-11-24 and 2026-11-26 (ISO week 48) and
// 2026-12-09 (week 50); the 26th's file is uploaded twice (the first
// version superseded) and the 24th's is analysed again with parameters.
func threeSessions(t *testing.T, e *env) {
	e.record("20261124", 1, "e1")
	old := e.record("20261126", 2, "e1")
	e.record("20261126", 3, "e2")
	e.record("20261209", 4, "e1")
	if s, _ := e.st.GetSession(context.Background(), old); s.SupersededBy == "" {
		t.Fatal("the first version of the 26th's file is not superseded")
	}
	five, sixty := 5, 60.0
	if _, err := e.svc.Reanalyze(context.Background(), e.ids["20261124"], emg.Params{ExpectedContractions: &five, ThresholdPct: &sixty,
		ExpectedContractionsPerChannel: map[string]int{"CH2": 7}}); err != nil {
		t.Fatal(err)
	}
	e.drain()
}

func eqPtr(a, b *float64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func TestTrends(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		names := map[string]string{"CH1": "Left <b>quadriceps</b>"}
		e := newEnv(t, st, settings{patient: patient, s: review.Settings{Version: 4, MuscleNames: names, SessionsPerWeek: 2}})
		threeSessions(t, e)
		var tr review.TrendsResponse
		e.getJSON("/patients/"+patient+"/trends", 200, &tr)
		if tr.PatientCode != patient {
			t.Errorf("patient_code %q", tr.PatientCode)
		}
		dates := []string{"20261124", "20261126", "20261209"}
		if len(tr.Sessions) != len(dates) {
			t.Fatalf("%d sessions, want %d (the superseded one left out): %+v", len(tr.Sessions), len(dates), tr.Sessions)
		}
		for i, date := range dates {
			got, s := tr.Sessions[i], e.stored(e.ids[date])
			wantRec := date[:4] + "-" + date[4:6] + "-" + date[6:] + "T10:00:00"
			if got.SessionID != s.sess.ID || got.SessionCode != s.sess.SessionCode || got.RecordedAt == nil || *got.RecordedAt != wantRec ||
				got.Status != "completed" || got.SettingsVersion != 0 {
				t.Errorf("session %d: %+v, want %s %s %s completed, settings 0", i, got, s.sess.ID, s.sess.SessionCode, wantRec)
			}
			p := s.scores.Performance
			if p.OverallScore == nil || !eqPtr(got.OverallScore, p.OverallScore) || !eqPtr(got.ComplianceScore, p.ComplianceScore) ||
				!eqPtr(got.SymmetryScore, p.SymmetryScore) || !eqPtr(got.EffortScore, p.EffortScore) {
				t.Errorf("session %d scores %v %v %v %v, stored %+v", i, got.OverallScore, got.ComplianceScore, got.SymmetryScore, got.EffortScore, p)
			}
			if len(got.Channels) != len(s.summary.Analytics) || len(got.Channels) != 2 {
				t.Errorf("session %d: channels %v, stored %d", i, got.Channels, len(s.summary.Analytics))
			}
			for base, ch := range s.summary.Analytics {
				g, ok := got.Channels[base]
				if !ok {
					t.Errorf("session %d: no channel %s", i, base)
					continue
				}
				wantExp := 12
				if date == "20261124" {
					wantExp = map[string]int{"CH1": 5, "CH2": 7}[base]
				}
				if g.Contractions != ch.ContractionCount || g.Good != ch.GoodContractionCount || g.MVCCompliant != ch.MVCCompliantCount ||
					g.DurationCompliant != ch.DurationCompliantCount || g.Expected != wantExp || !eqPtr(g.RMS, ch.RMS) || !eqPtr(g.MAV, ch.MAV) ||
					!eqPtr(g.MPF, ch.MPF) || !eqPtr(g.MDF, ch.MDF) || !eqPtr(g.FatigueIndex, ch.FatigueIndexFINSM5) || g.RMS == nil {
					t.Errorf("session %d %s: %+v, stored %+v (expected %d)", i, base, g, ch.ChannelAnalytics, wantExp)
				}
				if g.Contractions == 0 {
					t.Errorf("session %d %s: no contractions found in a recording with three bursts", i, base)
				}
				if m := names[base]; (m == "") != (g.Muscle == nil) || (g.Muscle != nil && *g.Muscle != m) {
					t.Errorf("session %d %s: muscle %v, want %q", i, base, g.Muscle, m)
				}
			}
		}
		// The reanalysis is current: its threshold is in the stored parameters.
		if s := e.stored(e.ids["20261124"]); s.params.ThresholdPct == nil || *s.params.ThresholdPct != 60 {
			t.Errorf("the 24th's current analysis has parameters %s", s.a.Params)
		}
		wantWeeks := []review.TrendWeek{{Week: "2026-W48", Sessions: 2, Prescribed: 2}, {Week: "2026-W49", Sessions: 0, Prescribed: 2},
			{Week: "2026-W50", Sessions: 1, Prescribed: 2}}
		checkWeeks(t, tr.Weeks, wantWeeks, []float64{100, 0, 50})

		// A range: from and to inclusive; the weeks are the range's.
		e.getJSON("/patients/"+patient+"/trends?from=2026-11-26&to=2026-12-08", 200, &tr)
		if len(tr.Sessions) != 1 || tr.Sessions[0].SessionID != e.ids["20261126"] {
			t.Errorf("26 Nov to 8 Dec: %+v", tr.Sessions)
		}
		checkWeeks(t, tr.Weeks, []review.TrendWeek{{Week: "2026-W48", Sessions: 1, Prescribed: 2}, {Week: "2026-W49", Prescribed: 2},
			{Week: "2026-W50", Prescribed: 2}}, []float64{50, 0, 0})
		e.getJSON("/patients/"+patient+"/trends?from=2026-12-09", 200, &tr)
		if len(tr.Sessions) != 1 || tr.Sessions[0].SessionID != e.ids["20261209"] {
			t.Errorf("from 9 Dec: %+v", tr.Sessions)
		}
		e.getJSON("/patients/"+patient+"/trends?to=2026-11-24", 200, &tr)
		if len(tr.Sessions) != 1 || tr.Sessions[0].SessionID != e.ids["20261124"] {
			t.Errorf("until 24 Nov: %+v", tr.Sessions)
		}
		e.getJSON("/patients/"+patient+"/trends?from=2027-01-01&to=2027-01-01", 200, &tr)
		if len(tr.Sessions) != 0 || len(tr.Weeks) != 1 || tr.Weeks[0].Week != "2026-W53" {
			t.Errorf("an empty range: %+v", tr)
		}
	})
}

func checkWeeks(t *testing.T, got, want []review.TrendWeek, adherence []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("weeks %+v, want %+v", got, want)
	}
	for i := range want {
		g := got[i]
		if g.Week != want[i].Week || g.Sessions != want[i].Sessions || g.Prescribed != want[i].Prescribed || g.Adherence == nil ||
			math.Abs(*g.Adherence-adherence[i]) > 1e-9 {
			t.Errorf("week %d: %+v (adherence %v), want %+v adherence %v", i, g, g.Adherence, want[i], adherence[i])
		}
	}
}

// A patient with one session gets a trend; without settings the muscles are
// null, the settings version 0 and 3 sessions a week prescribed.
func TestTrendsOneSessionWithoutSettings(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, nil)
		id := e.record("20261202", 9, "e1")
		var tr review.TrendsResponse
		e.getJSON("/patients/"+patient+"/trends", 200, &tr)
		if len(tr.Sessions) != 1 || tr.Sessions[0].SessionID != id || len(tr.Sessions[0].Channels) != 2 {
			t.Fatalf("%+v", tr)
		}
		for base, ch := range tr.Sessions[0].Channels {
			if ch.Muscle != nil || ch.Expected != emg.DefaultExpectedContractions {
				t.Errorf("%s: %+v", base, ch)
			}
		}
		checkWeeks(t, tr.Weeks, []review.TrendWeek{{Week: "2026-W49", Sessions: 1, Prescribed: 3}}, []float64{100.0 / 3})
		var ps review.PatientsResponse
		e.getJSON("/patients", 200, &ps)
		want := review.Patient{PatientCode: patient, Sessions: 1, Completed: 1, Failed: 0}
		if len(ps.Patients) != 1 || ps.Patients[0].PatientCode != want.PatientCode || ps.Patients[0].Sessions != 1 || ps.Patients[0].Completed != 1 ||
			ps.Patients[0].Failed != 0 || ps.Patients[0].SettingsVersion != 0 || ps.Patients[0].LastRecordedAt == nil ||
			*ps.Patients[0].LastRecordedAt != "2026-12-02T10:00:00" {
			t.Errorf("patients %+v", ps.Patients)
		}
	})
}

func TestPatients(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, settings{patient: "P900", s: review.Settings{Version: 2, SessionsPerWeek: 3}})
		threeSessions(t, e)
		// A failed session: a recording that cannot be analysed.
		ctx := context.Background()
		key := patient + "/Ghostly_Emg_20261210_10-00-00-0001.c3d"
		info, _ := e.fs.Put(ctx, "c3d-examples", key, bytes.NewReader(testrec.Ghostly(testrec.Options{Seed: 5, Seconds: 12})))
		out, err := e.svc.Ingest(ctx, service.Event{Bucket: "c3d-examples", Key: key, Version: info.Version})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.Fail(ctx, out.Session.ID, io.ErrUnexpectedEOF); err != nil {
			t.Fatal(err)
		}
		var ps review.PatientsResponse
		e.getJSON("/patients", 200, &ps)
		if len(ps.Patients) != 2 {
			t.Fatalf("patients %+v", ps.Patients)
		}
		p := ps.Patients[0]
		if p.PatientCode != patient || p.Sessions != 4 || p.Completed != 3 || p.Failed != 1 || p.LastRecordedAt == nil ||
			*p.LastRecordedAt != "2026-12-10T10:00:00" || p.SettingsVersion != 0 {
			t.Errorf("%+v", p)
		}
		// A patient with settings and no session exists.
		if p := ps.Patients[1]; p.PatientCode != "P900" || p.Sessions != 0 || p.SettingsVersion != 2 || p.LastRecordedAt != nil {
			t.Errorf("%+v", p)
		}
		var tr review.TrendsResponse
		e.getJSON("/patients/P900/trends", 200, &tr)
		if len(tr.Sessions) != 0 || len(tr.Weeks) != 0 {
			t.Errorf("P900: %+v", tr)
		}
	})
}

func readCSV(t *testing.T, e *env, path string) (*http.Response, [][]string) {
	t.Helper()
	resp, b := e.get(path, true)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	r := csv.NewReader(bytes.NewReader(b))
	rows, err := r.ReadAll() // every row has the header's number of fields
	if err != nil {
		t.Fatalf("GET %s: not CSV: %v", path, err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("content type %q", ct)
	}
	if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment; filename=") || !strings.HasSuffix(cd, `.csv"`) {
		t.Errorf("Content-Disposition %q", cd)
	}
	if len(rows) == 0 || !slices.Equal(rows[0], review.ColumnNames()) {
		t.Fatalf("header %v", rows[0])
	}
	return resp, rows
}

func TestExportCSV(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, settings{patient: patient, s: review.Settings{Version: 1, MuscleNames: map[string]string{"CH2": "Soléaire, \"droit\""}, SessionsPerWeek: 3}})
		threeSessions(t, e)
		_, rows := readCSV(t, e, "/patients/"+patient+"/export.csv")
		if len(rows) != 1+3*2 {
			t.Fatalf("%d rows, want a header and 6 (3 sessions x 2 channels)", len(rows))
		}
		col := map[string]int{}
		for i, n := range rows[0] {
			col[n] = i
		}
		for _, n := range []string{"session_id", "session_code", "recorded_at", "channel", "muscle", "rms", "mav", "mpf", "mdf",
			"fatigue_index_fi_nsm5", "contraction_count", "good_contraction_count", "mvc_compliant_count", "duration_compliant_count",
			"expected_contractions", "mvc75_threshold", "avg_duration_ms", "rms_temporal_mean", "overall_score", "compliance_score",
			"symmetry_score", "effort_score", "weight_compliance", "param_threshold_pct", "param_expected_contractions", "params_json"} {
			if _, ok := col[n]; !ok {
				t.Errorf("no column %s", n)
			}
		}
		full := func(v *float64) string {
			if v == nil {
				return ""
			}
			return strconv.FormatFloat(*v, 'g', -1, 64)
		}
		checkRow := func(row []string, s stored, base string) {
			t.Helper()
			ch := s.summary.Analytics[base]
			p := s.scores.Performance
			want := map[string]string{"session_id": s.sess.ID, "session_code": s.sess.SessionCode, "patient_code": patient,
				"status": "completed", "channel": base, "rms": full(ch.RMS), "mav": full(ch.MAV), "mpf": full(ch.MPF), "mdf": full(ch.MDF),
				"fatigue_index_fi_nsm5": full(ch.FatigueIndexFINSM5), "contraction_count": strconv.Itoa(ch.ContractionCount),
				"good_contraction_count": strconv.Itoa(ch.GoodContractionCount), "mvc75_threshold": full(ch.MVC75Threshold),
				"avg_duration_ms": full(&ch.AvgDurationMs), "rms_temporal_mean": full(ch.RMSTemporalStats.MeanValue),
				"overall_score": full(p.OverallScore), "compliance_score": full(p.ComplianceScore), "symmetry_score": full(p.SymmetryScore),
				"effort_score": full(p.EffortScore), "weight_compliance": full(&p.Weights.Compliance), "settings_version": "0",
				"processing_version": s.a.ProcessingVersion, "player": player, "game_score": "10"}
			if base == "CH2" {
				want["muscle"] = `Soléaire, "droit"`
			} else {
				want["muscle"] = ""
			}
			for k, v := range want {
				if row[col[k]] != v {
					t.Errorf("%s %s: %s = %q, want %q", s.sess.SessionCode, base, k, row[col[k]], v)
				}
			}
			// Full precision: the text reads back as the stored number.
			if f, err := strconv.ParseFloat(row[col["rms"]], 64); err != nil || f != *ch.RMS {
				t.Errorf("rms %q reads back as %v, stored %v", row[col["rms"]], f, *ch.RMS)
			}
		}
		i := 1
		for _, date := range []string{"20261124", "20261126", "20261209"} {
			s := e.stored(e.ids[date])
			for _, base := range []string{"CH1", "CH2"} {
				checkRow(rows[i], s, base)
				i++
			}
		}
		if r := rows[1]; r[col["param_threshold_pct"]] != "60" || r[col["param_expected_contractions"]] != "5" || r[col["expected_contractions"]] != "5" {
			t.Errorf("the reanalysis's parameters: threshold %q, expected %q/%q", r[col["param_threshold_pct"]], r[col["param_expected_contractions"]], r[col["expected_contractions"]])
		}
		if r := rows[2]; r[col["expected_contractions"]] != "7" {
			t.Errorf("CH2's own expected count: %q", r[col["expected_contractions"]])
		}
		// A range, and a session's own export.
		_, rows = readCSV(t, e, "/patients/"+patient+"/export.csv?from=2026-11-25&to=2026-11-30")
		if len(rows) != 3 || rows[1][col["session_id"]] != e.ids["20261126"] {
			t.Errorf("range export: %d rows", len(rows))
		}
		resp, rows := readCSV(t, e, "/sessions/"+e.ids["20261209"]+"/export.csv")
		if len(rows) != 3 {
			t.Fatalf("session export: %d rows", len(rows))
		}
		checkRow(rows[1], e.stored(e.ids["20261209"]), "CH1")
		checkRow(rows[2], e.stored(e.ids["20261209"]), "CH2")
		s := e.stored(e.ids["20261209"])
		if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="`+s.sess.SessionCode+`.csv"` {
			t.Errorf("Content-Disposition %q", cd)
		}
		// By session code too.
		_, rows = readCSV(t, e, "/sessions/"+s.sess.SessionCode+"/export.csv")
		if len(rows) != 3 {
			t.Errorf("export by code: %d rows", len(rows))
		}
	})
}

// wellFormed parses the page as XML (the report is written as polyglot
// markup) and returns its elements' names in order, and the text.
func wellFormed(t *testing.T, page []byte) ([]string, string) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(page))
	d.Strict = true
	d.Entity = xml.HTMLEntity
	var names []string
	var text strings.Builder
	depth := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, page)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			names = append(names, x.Name.Local)
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			text.Write(x)
		}
	}
	if depth != 0 {
		t.Fatalf("unbalanced elements")
	}
	return names, text.String()
}

func count(names []string, name string) int {
	n := 0
	for _, x := range names {
		if x == name {
			n++
		}
	}
	return n
}

func TestReports(t *testing.T) {
	backends(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st, settings{patient: patient, s: review.Settings{Version: 1, MuscleNames: map[string]string{"CH1": "<i>Left</i> & quad"}, SessionsPerWeek: 3}})
		threeSessions(t, e)
		check := func(path string, charts int) string {
			t.Helper()
			resp, page := e.get(path, true)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
				t.Fatalf("GET %s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			names, text := wellFormed(t, page)
			if n := count(names, "svg"); n != charts {
				t.Errorf("%s: %d <svg>, want %d", path, n, charts)
			}
			if count(names, "figure") != charts || count(names, "script") != 0 {
				t.Errorf("%s: figures %d, scripts %d", path, count(names, "figure"), count(names, "script"))
			}
			if !strings.Contains(string(page), "@page") || !strings.Contains(string(page), "A4") || !strings.Contains(string(page), "@media print") {
				t.Errorf("%s: no print stylesheet", path)
			}
			// User data is text, never markup.
			if strings.Contains(string(page), "<i>Left</i>") || count(names, "i") != 0 {
				t.Errorf("%s: a muscle name became markup", path)
			}
			if !strings.Contains(text, "<i>Left</i> & quad") {
				t.Errorf("%s: the muscle name is not shown", path)
			}
			return text
		}
		// A session: contractions per channel, scores.
		text := check("/sessions/"+e.ids["20261124"]+"/report", 2)
		if !strings.Contains(text, player) {
			t.Errorf("the player (user data) is not shown as text")
		}
		// A patient: two muscles, scores over time, adherence.
		text = check("/patients/"+patient+"/report", 4)
		for _, w := range []string{"2026-W48", "2026-W49", "2026-W50"} {
			if !strings.Contains(text, w) {
				t.Errorf("patient report: no week %s", w)
			}
		}
		check("/patients/"+patient+"/report?from=2026-11-26&to=2026-11-26", 4)
	})
}

func TestBadRequests(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t, store.Options{}), nil)
	id := e.record("20261124", 1, "e1")
	for _, tc := range []struct {
		path string
		want int
	}{
		{"/patients/" + patient + "/trends?from=2026-13-01", 400},
		{"/patients/" + patient + "/trends?to=yesterday", 400},
		{"/patients/" + patient + "/trends?from=2026-12-02&to=2026-12-01", 400},
		{"/patients/" + patient + "/trends?from=1000-01-01&to=9999-12-31", 400},
		{"/patients/p7/trends", 400},
		{"/patients/P7%3Cx%3E/trends", 400},
		{"/patients/P0071234567890123/trends", 400},
		{"/patients/P404/trends", 404},
		{"/patients/P404/export.csv", 404},
		{"/patients/P404/report", 404},
		{"/patients/" + patient + "/export.csv?from=x", 400},
		{"/patients/" + patient + "/report?to=2026-02-30", 400},
		{"/patients/bad/report", 400},
		{"/sessions/00000000-0000-0000-0000-000000000000/export.csv", 404},
		{"/sessions/P404S001/report", 404},
		{"/sessions/nope/report", 404},
	} {
		resp, b := e.get(tc.path, true)
		var er apidoc.ErrorResponse
		if resp.StatusCode != tc.want || json.Unmarshal(b, &er) != nil || er.Success || er.Error == "" {
			t.Errorf("GET %s: %d %s, want %d with a message", tc.path, resp.StatusCode, b, tc.want)
		}
	}
	// The guard: every route.
	for _, p := range []string{"/patients", "/patients/" + patient + "/trends", "/sessions/" + id + "/export.csv", "/patients/" + patient + "/export.csv",
		"/sessions/" + id + "/report", "/patients/" + patient + "/report"} {
		if resp, _ := e.get(p, false); resp.StatusCode != 401 {
			t.Errorf("GET %s without the token: %d", p, resp.StatusCode)
		}
		if resp, b := e.get(p, true); resp.StatusCode != 200 {
			t.Errorf("GET %s: %d %s", p, resp.StatusCode, b)
		}
	}
}

// fakeStore lists n sessions without analysis for any patient.
type fakeStore struct {
	store.Store
	n       int
	atCall  int
	written func() int
	seen    int // bytes written when call atCall ran
}

func (f *fakeStore) Patients(_ context.Context, o store.PatientOptions) ([]store.PatientSummary, error) {
	return []store.PatientSummary{{PatientCode: o.PatientCode, Sessions: f.n}}, nil
}

func (f *fakeStore) PatientSessions(_ context.Context, r store.PatientRange, fn func(store.SessionAnalysis) error) error {
	for i := range f.n {
		if i == f.atCall {
			f.seen = f.written()
		}
		s := store.Session{ID: strconv.Itoa(i), SessionCode: r.PatientCode + "S" + strconv.Itoa(i), PatientCode: r.PatientCode, Status: store.StatusPending}
		if err := fn(store.SessionAnalysis{Session: s}); err != nil {
			return err
		}
	}
	return nil
}

// The patient export is written while the database is read: rows reach
// the client before the last session is read (one row per session without
// an analysis).
func TestPatientExportStreams(t *testing.T) {
	rec := httptest.NewRecorder()
	f := &fakeStore{n: 100, atCall: 90, written: func() int { return rec.Body.Len() }}
	mux := http.NewServeMux()
	review.Register(mux, review.Deps{Store: f})
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/patients/P001/export.csv", nil))
	rows, err := csv.NewReader(bytes.NewReader(rec.Body.Bytes())).ReadAll()
	if err != nil || rec.Code != 200 || len(rows) != 101 {
		t.Fatalf("%d, %d rows, %v", rec.Code, len(rows), err)
	}
	if !rec.Flushed || f.seen == 0 {
		t.Errorf("nothing written before the 90th session was read (flushed %v, %d bytes)", rec.Flushed, f.seen)
	}
	if n := bytes.Count(rec.Body.Bytes()[:f.seen], []byte("\n")); n < 65 {
		t.Errorf("%d lines written before the 90th session was read, want at least 65", n)
	}
}
