package upload_test

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"sort"
	"strings"
	"testing"

	"emgd/emg"
	"emgd/internal/api"
	"emgd/internal/upload"
)

func jsonBody(t *testing.T, v any) *bytes.Buffer {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.NewBuffer(b)
}

// POST /analysis/recalc takes a whole previous answer back, signals
// included, echoes it and judges its contractions again: the same
// analytics as an upload with those parameters (the contractions do not
// depend on them), as the old backend recalculated.
func TestRecalc(t *testing.T) {
	e := newEnv(t, api.Config{}, nil)
	f := rec()
	code, existing := e.post("/upload", nil, name, f)
	if code != 200 {
		t.Fatalf("upload: %d %v", code, existing["error"])
	}
	params := map[string]any{"session_mvc_value": 0.0001, "session_mvc_threshold_percentage": 60, "contraction_duration_threshold": 1500,
		"session_expected_contractions_ch1": 5}
	b := jsonBody(t, map[string]any{"existing": existing, "session_params": params})
	size := b.Len()
	code, out := e.send("/analysis/recalc", b, "application/json", int64(size))
	if code != 200 {
		t.Fatalf("recalc: %d %v", code, out)
	}
	t.Logf("body %.1f MB", float64(size)/1e6)
	for _, k := range []string{"file_id", "timestamp", "source_filename", "emg_signals", "c3d_parameters", "user_id", "session_id", "patient_id"} {
		if !reflect.DeepEqual(out[k], existing[k]) {
			t.Errorf("%s not echoed", k)
		}
	}
	for _, k := range []string{"session_parameters", "session_configuration", "processing_parameters", "performance_analysis", "scoring_configuration"} {
		if v, ok := out[k]; !ok || v != nil {
			t.Errorf("%s = %v, want null", k, v)
		}
	}
	var errs []string
	checkOld("answer", "EMGAnalysisResult", out, &errs)
	if len(errs) > 0 {
		t.Errorf("not the old model: %v", errs)
	}
	used := out["metadata"].(map[string]any)["session_parameters_used"].(map[string]any)
	if used["session_mvc_value"] != 0.0001 || used["contraction_duration_threshold"] != 1500.0 ||
		!reflect.DeepEqual(used["session_mvc_values"], map[string]any{"CH1": 0.0001, "CH2": 0.0001}) ||
		!reflect.DeepEqual(used["session_mvc_threshold_percentages"], map[string]any{"CH1": 60.0, "CH2": 60.0}) {
		t.Errorf("session_parameters_used %v", used)
	}
	if avail := out["available_channels"]; !reflect.DeepEqual(avail, []any{"CH1", "CH2"}) {
		t.Errorf("available_channels %v, want the analytics' channels", avail)
	}
	_, direct := e.post("/upload", [][2]string{{"session_mvc_value", "0.0001"}, {"session_mvc_threshold_percentage", "60"},
		{"contraction_duration_threshold", "1500"}, {"include_signals", "false"}}, name, f)
	strip := func(an any) string {
		m := an.(map[string]any)
		for _, ca := range m {
			delete(ca.(map[string]any), "mvc_estimation_method")
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	if got, want := strip(out["analytics"]), strip(direct["analytics"]); got != want {
		t.Errorf("recalculated analytics differ from an upload's with the same parameters:\n%.400s\n%.400s", got, want)
	}
	ch1 := out["analytics"].(map[string]any)["CH1"].(map[string]any)
	if ch1["mvc75_threshold"] != 0.0001*0.6 || ch1["duration_threshold_actual_value"] != 1500.0 {
		t.Errorf("CH1 thresholds %v %v", ch1["mvc75_threshold"], ch1["duration_threshold_actual_value"])
	}

	// Without an MVC value there is no MVC threshold: nothing meets it.
	b = jsonBody(t, map[string]any{"existing": existing, "session_params": map[string]any{"session_duration_thresholds_per_muscle": map[string]any{"CH1": 1.0}}})
	code, out = e.send("/analysis/recalc", b, "application/json", int64(b.Len()))
	ch1 = out["analytics"].(map[string]any)["CH1"].(map[string]any)
	if code != 200 || ch1["mvc75_threshold"] != nil || ch1["mvc_compliant_count"] != 0.0 || ch1["duration_threshold_actual_value"] != 1000.0 {
		t.Errorf("no MVC: %d %v %v %v", code, ch1["mvc75_threshold"], ch1["mvc_compliant_count"], ch1["duration_threshold_actual_value"])
	}
}

// /analysis/recalc refuses what the old model refused, with FastAPI's
// details, and a body over the limit with 413.
func TestRecalcErrors(t *testing.T) {
	e := newEnv(t, api.Config{}, &upload.Handler{Limit: 1 << 20})
	existing := map[string]any{"file_id": "f", "timestamp": "t", "source_filename": "a.c3d", "metadata": map[string]any{},
		"analytics": map[string]any{}, "available_channels": []any{}, "emg_signals": map[string]any{}}
	cases := []struct {
		what, body string
		code       int
		typ        string
		loc        string
	}{
		{"empty", ``, 422, "missing", "body"},
		{"not JSON", `{"existing":`, 422, "json_invalid", "body"},
		{"array", `[1]`, 422, "model_attributes_type", "body"},
		{"nothing", `{}`, 422, "missing", "body.existing"},
		{"no file_id", mustJSONString(map[string]any{"existing": without(existing, "file_id"), "session_params": map[string]any{}}), 422, "missing", "body.existing.file_id"},
		{"percentage", mustJSONString(map[string]any{"existing": existing, "session_params": map[string]any{"session_mvc_threshold_percentage": 150}}), 422, "less_than_equal", "body.session_params.session_mvc_threshold_percentage"},
		{"count", mustJSONString(map[string]any{"existing": existing, "session_params": map[string]any{"session_expected_contractions": -1}}), 422, "greater_than_equal", "body.session_params.session_expected_contractions"},
		{"not a number", mustJSONString(map[string]any{"existing": existing, "session_params": map[string]any{"session_mvc_value": "x"}}), 422, "float_type", "body.session_params.session_mvc_value"},
		{"signal without rate", mustJSONString(map[string]any{"existing": with(existing, "emg_signals", map[string]any{"CH1": map[string]any{"data": []any{}}}), "session_params": map[string]any{}}), 422, "missing", "body.existing.emg_signals.CH1.sampling_rate"},
		{"ok", mustJSONString(map[string]any{"existing": existing, "session_params": map[string]any{}}), 200, "", ""},
		{"too large", `{"existing":{"emg_signals":{"CH1":{"sampling_rate":1,"data":[` + strings.Repeat("0,", 1<<20) + `0]}}}}`, 413, "", ""},
	}
	for _, c := range cases {
		code, out := e.send("/analysis/recalc", strings.NewReader(c.body), "application/json", int64(len(c.body)))
		if code != c.code {
			t.Errorf("%s: %d %v, want %d", c.what, code, out, c.code)
			continue
		}
		if code == 413 && (out["error"] != "HTTP_ERROR" || out["status_code"] != 413.0) {
			t.Errorf("%s: %v", c.what, out)
		}
		if c.typ == "" {
			continue
		}
		d, _ := out["detail"].([]any)
		found := false
		for _, x := range d {
			m := x.(map[string]any)
			var loc []string
			for _, l := range m["loc"].([]any) {
				if s, ok := l.(string); ok {
					loc = append(loc, s)
				}
			}
			if m["type"] == c.typ && strings.Join(loc, ".") == c.loc {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: detail %v, want %s at %s", c.what, out["detail"], c.typ, c.loc)
		}
	}
}

func mustJSONString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func without(m map[string]any, k string) map[string]any {
	out := map[string]any{}
	for kk, v := range m {
		if kk != k {
			out[kk] = v
		}
	}
	return out
}

func with(m map[string]any, k string, v any) map[string]any {
	out := without(m, k)
	out[k] = v
	return out
}

// POST /mvc/calibrate answers the shape its frontend reads: each channel's
// MVC, the 95th percentile of its RMS envelope (the channel's 50 ms
// envelope from a file; a 100 ms RMS of the data sent back otherwise).
func TestMVCCalibrate(t *testing.T) {
	e := newEnv(t, api.Config{}, nil)
	f := rec()
	code, out := e.post("/mvc/calibrate", [][2]string{{"threshold_percentage", "60"}, {"user_id", "u"}}, name, f)
	if code != 200 || out["status"] != "success" || out["calibration_type"] != "initial" {
		t.Fatalf("%d %v", code, out)
	}
	est := out["mvc_estimations"].(map[string]any)
	info := out["file_info"].(map[string]any)
	if info["filename"] != name || info["sampling_rate"] != 990.0 || len(est) != 4 {
		t.Errorf("file_info %v, %d estimations", info, len(est))
	}
	_, up := e.post("/upload", nil, name, f)
	sig := up["emg_signals"].(map[string]any)
	floatsOf := func(v any) []float64 {
		l := v.([]any)
		x := make([]float64, len(l))
		for i := range l {
			x[i] = l[i].(float64)
		}
		return x
	}
	raw := floatsOf(sig["CH1 Raw"].(map[string]any)["data"])
	env, _ := emg.RMSEnvelope(raw, 990)
	p95, _ := emg.Percentile(env, 95)
	ch1 := est["CH1 Raw"].(map[string]any)
	if ch1["mvc_value"] != p95 || math.Abs(ch1["threshold_value"].(float64)-p95*0.6) > 1e-18 || ch1["threshold_percentage"] != 60.0 ||
		ch1["estimation_method"] != "clinical_estimation" {
		t.Errorf("CH1 Raw %v, want mvc %v", ch1, p95)
	}
	if c := ch1["confidence_score"].(float64); !(c >= 0 && c <= 1) {
		t.Errorf("confidence %v", c)
	}
	md := ch1["metadata"].(map[string]any)
	if md["signal_type"] != "rms_envelope" || md["percentile_95"] != p95 || md["rms_window_ms"] != 100.0 {
		t.Errorf("metadata %v", md)
	}

	// From the answer sent back: a 100 ms RMS of each entry's data.
	b := jsonBody(t, map[string]any{"existing": up, "session_params": map[string]any{"session_mvc_threshold_percentage": 70}})
	code, out = e.send("/mvc/calibrate", b, "application/json", int64(b.Len()))
	if code != 200 || out["calibration_type"] != "recalibration" {
		t.Fatalf("%d %v", code, out)
	}
	est = out["mvc_estimations"].(map[string]any)
	var keys []string
	for k := range est {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) != len(sig) {
		t.Errorf("estimations for %v, want every emg_signals entry (%d)", keys, len(sig))
	}
	sq := make([]float64, len(raw))
	for i, v := range raw {
		sq[i] = v * v
	}
	ma, _ := emg.MovingAverage(nil, sq, 99)
	for i := range ma {
		ma[i] = math.Sqrt(ma[i])
	}
	p95, _ = emg.Percentile(ma, 95)
	ch1 = est["CH1 Raw"].(map[string]any)
	if !close6(ch1["mvc_value"].(float64), p95) || ch1["threshold_percentage"] != 70.0 || ch1["metadata"].(map[string]any)["signal_type"] != "calculated_rms" {
		t.Errorf("recalibrated CH1 Raw %v, want mvc %v", ch1, p95)
	}
}

func TestMVCCalibrateErrors(t *testing.T) {
	e := newEnv(t, api.Config{}, nil)
	for _, c := range []struct {
		what   string
		fields [][2]string
		file   string
		data   []byte
		code   int
	}{
		{"no file", [][2]string{{"user_id", "u"}}, "", nil, 400},
		{"not .c3d", nil, "a.txt", rec(), 400},
		{"not a C3D", nil, "a.c3d", []byte("nope"), 400},
		{"threshold not a number", [][2]string{{"threshold_percentage", "x"}}, name, rec(), 422},
	} {
		code, out := e.post("/mvc/calibrate", c.fields, c.file, c.data)
		if code != c.code {
			t.Errorf("%s: %d %v, want %d", c.what, code, out, c.code)
		}
		if code == 400 && (out["error"] != "HTTP_ERROR" || out["message"] == "") {
			t.Errorf("%s: %v", c.what, out)
		}
	}
	code, out := e.send("/mvc/calibrate", strings.NewReader("x"), "text/plain", 1)
	if code != 400 || !strings.Contains(out["message"].(string), "Invalid request format") {
		t.Errorf("text: %d %v", code, out)
	}
	b := jsonBody(t, map[string]any{"existing": map[string]any{"file_id": "f", "timestamp": "t", "source_filename": "a.c3d", "metadata": map[string]any{},
		"analytics": map[string]any{}, "available_channels": []any{}, "emg_signals": map[string]any{}}, "session_params": map[string]any{}})
	code, out = e.send("/mvc/calibrate", b, "application/json", int64(b.Len()))
	if code != 400 || !strings.Contains(out["message"].(string), "No EMG signals") {
		t.Errorf("no signals: %d %v", code, out)
	}
}
