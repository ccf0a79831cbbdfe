package upload_test

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"

	"emgd/c3d"
	"emgd/internal/api"
)

// shortRecording is a C3D of 30 frames of two EMG channels at 990 Hz (one
// sample per frame) with the game's parameters, and points points per
// frame (motion data that makes the file large).
func shortRecording(t *testing.T, points int) []byte {
	t.Helper()
	groups := []*c3d.Group{
		{Name: "INFO", Params: []*c3d.Parameter{c3d.NewStrings("GAME_NAME", "", "Ghostly"), c3d.NewStrings("THERAPIST_ID", "", "T001"),
			c3d.NewFloats("GAME_LEVEL", "", []float64{1})}},
		{Name: "SUBJECTS", Params: []*c3d.Parameter{c3d.NewStrings("PLAYER_NAME", "", "P001")}},
	}
	labels := make([]string, points)
	for i := range labels {
		labels[i] = fmt.Sprintf("M%d", i)
	}
	var buf bytes.Buffer
	w, err := c3d.NewWriter(&buf, c3d.WriterConfig{Frames: 30, PointRate: 990, PointLabels: labels,
		AnalogLabels: []string{"CH1", "CH2"}, AnalogRate: 990, Groups: groups})
	if err != nil {
		t.Fatal(err)
	}
	pts := make([]c3d.Point, points)
	for i := range pts {
		pts[i] = c3d.Point{Valid: true, X: float64(i)}
	}
	for f := 0; f < 30; f++ {
		if err := w.WriteFrame(pts, []float64{0.1, 0.2}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// The old backend's backend/tests/test_upload_error_handling.py, over
// HTTP: a recording too short for an analysis answers the structured
// error with what could be read, the requirements, guidance and context;
// a file that is not a C3D answers file_corruption.
func TestReplayUploadErrorHandling(t *testing.T) {
	e := newEnv(t, api.Config{}, nil)
	short := shortRecording(t, 1)
	fields := [][2]string{{"include_signals", "false"}}

	// test_upload_endpoint_returns_structured_error_on_emg_failure
	code, out := e.post("/upload", fields, "test.c3d", short)
	if code != 400 && code != 422 {
		t.Fatalf("short recording: %d, want a client error", code)
	}
	if out["error_type"] != "emg_validation_failure" || out["message"] != "EMG analysis not possible" {
		t.Errorf("error_type %v, message %v", out["error_type"], out["message"])
	}
	md, _ := out["c3d_metadata"].(map[string]any)
	if d, _ := md["duration_seconds"].(float64); math.Abs(d-30.0/990) > 30.0/990*1e-2 || md["sampling_rate"] != 990.0 ||
		md["frame_count"] != 30.0 || md["channel_count"] != 2.0 || md["game_name"] != "Ghostly" || md["player_name"] != "P001" {
		t.Errorf("c3d_metadata %v", md)
	}
	req, _ := out["clinical_requirements"].(map[string]any)
	if req["min_duration_seconds"] != 10.0 || req["max_duration_seconds"] != 600.0 ||
		req["reason"] != "EMG analysis requires sufficient signal duration for therapeutic assessment" {
		t.Errorf("clinical_requirements %v", req)
	}

	// test_upload_endpoint_extracts_metadata_before_emg_processing
	fi, _ := out["file_info"].(map[string]any)
	for k, want := range map[string]any{"filename": "test.c3d", "contains_motion_data": true, "emg_channels": 2.0, "file_type": "c3d",
		"processing_attempted": true, "processing_successful": false} {
		if got, ok := fi[k]; !ok || got != want {
			t.Errorf("file_info[%s] = %v, want %v", k, got, want)
		}
	}

	// test_upload_endpoint_provides_actionable_guidance_on_failure
	g, _ := out["user_guidance"].(map[string]any)
	recs, _ := g["secondary_recommendations"].([]any)
	var text []string
	for _, r := range recs {
		text = append(text, r.(string))
	}
	joined := strings.Join(text, " ")
	if len(recs) < 2 || !strings.Contains(joined, "10 seconds") || !strings.Contains(joined, "EMG") {
		t.Errorf("user_guidance %v", g)
	}

	// test_upload_endpoint_preserves_error_context_across_processing_stages
	ctx, _ := out["processing_context"].(map[string]any)
	for k, want := range map[string]any{"stage_reached": "emg_validation", "c3d_load_successful": true, "metadata_extraction_successful": true,
		"emg_validation_successful": false, "failure_reason": "insufficient_signal_duration"} {
		if got, ok := ctx[k]; !ok || got != want {
			t.Errorf("processing_context[%s] = %v, want %v", k, got, want)
		}
	}
	if ms, ok := ctx["processing_time_ms"].(float64); !ok || !(ms > 0) {
		t.Errorf("processing_time_ms %v", ctx["processing_time_ms"])
	}

	// test_corrupted_c3d_file_error_response
	_, out = e.post("/upload", fields, "corrupted.c3d", []byte("not a valid c3d file"))
	fi, _ = out["file_info"].(map[string]any)
	if et := out["error_type"]; (et != "file_corruption" && et != "invalid_c3d_format") || fi["filename"] != "corrupted.c3d" || fi["processing_successful"] != false {
		t.Errorf("corrupted file: %v", out)
	}

	// test_large_c3d_with_minimal_emg_error_explanation: 2.7 MB of motion
	// data around 30 EMG samples.
	large := shortRecording(t, 5650)
	_, out = e.post("/upload", fields, "large_file.c3d", large)
	fa, _ := out["file_analysis"].(map[string]any)
	if fa == nil {
		t.Fatalf("no file_analysis: %v", out["error"])
	}
	if mb, _ := fa["file_size_mb"].(float64); math.Abs(mb-2.7) > 0.27 {
		t.Errorf("file_size_mb %v (%d bytes)", fa["file_size_mb"], len(large))
	}
	for k, want := range map[string]any{"size_duration_discrepancy": true, "likely_contains_motion_data": true, "emg_portion_of_file": "minimal"} {
		if fa[k] != want {
			t.Errorf("file_analysis[%s] = %v, want %v", k, fa[k], want)
		}
	}
	if d, _ := fa["emg_duration_seconds"].(float64); math.Abs(d-30.0/990) > 30.0/990*1e-2 {
		t.Errorf("emg_duration_seconds %v", d)
	}
}

// The upload cases of the old backend's backend/tests/api/test_api_endpoints.py.
func TestReplayAPIEndpointsUpload(t *testing.T) {
	e := newEnv(t, api.Config{}, nil)
	// test_upload_endpoint_no_file: a POST without a body.
	code, out := e.send("/upload", strings.NewReader(""), "", 0)
	if code != 422 {
		t.Errorf("no file: %d %v", code, out)
	}
	// test_upload_endpoint_with_mock_file
	code, out = e.post("/upload", nil, "test.c3d", []byte("fake c3d content"))
	if code != 200 && code != 400 && code != 422 && code != 500 {
		t.Errorf("mock file: %d %v", code, out)
	}
	// test_upload_invalid_file_type
	code, out = e.post("/upload", nil, "test.txt", []byte("not a c3d file"))
	if code != 400 && code != 422 {
		t.Errorf("text file: %d %v", code, out)
	}
}

// The old form's validation: a count given as 12.0 is 12, 12.5 is not an
// integer; 0 expected contractions are accepted and scored against 12 (as
// the old /upload scored every count); a 0 % threshold is accepted: with
// an MVC value every contraction reaches it (0), without one the estimate
// is taken at 75 % and reported at 70 % as the old backend did.
func TestOldFormValidation(t *testing.T) {
	e := newEnv(t, api.Config{}, nil)
	f := rec()
	post := func(fields ...[2]string) map[string]any {
		t.Helper()
		code, out := e.post("/upload", append(fields, [2]string{"include_signals", "false"}), name, f)
		if code != 200 {
			t.Fatalf("%v: %d %v", fields, code, out["detail"])
		}
		return out
	}
	perf := func(out map[string]any) any { return out["performance_analysis"].(map[string]any)["overall_score"] }
	ch1 := func(out map[string]any) map[string]any {
		return out["analytics"].(map[string]any)["CH1"].(map[string]any)
	}
	used := func(out map[string]any) map[string]any {
		return out["metadata"].(map[string]any)["session_parameters_used"].(map[string]any)
	}
	base := post()
	twelve := post([2]string{"session_expected_contractions", "12"})
	if out := post([2]string{"session_expected_contractions", "12.0"}); perf(out) != perf(twelve) || used(out)["session_expected_contractions"] != 12.0 {
		t.Errorf("12.0: %v %v", perf(out), used(out)["session_expected_contractions"])
	}
	if perf(post([2]string{"session_expected_contractions", "3"})) == perf(base) {
		t.Fatal("the expected count does not change the score: pick another")
	}
	zero := post([2]string{"session_expected_contractions", "0"}, [2]string{"session_expected_contractions_ch1", "0"})
	if perf(zero) != perf(base) || used(zero)["session_expected_contractions"] != 0.0 || used(zero)["session_expected_contractions_ch1"] != 0.0 {
		t.Errorf("0 expected: score %v (12: %v), echoed %v", perf(zero), perf(base), used(zero))
	}
	code, out := e.post("/upload", [][2]string{{"session_expected_contractions", "12.5"}}, name, f)
	if d, _ := out["detail"].([]any); code != 422 || len(d) != 1 || d[0].(map[string]any)["type"] != "int_from_float" {
		t.Errorf("12.5: %d %v", code, out["detail"])
	}

	// 0 % with an MVC value: a threshold of 0, every contraction meets it.
	withMVC := post([2]string{"session_mvc_value", "0.5"}, [2]string{"session_mvc_threshold_percentage", "0"})
	c := ch1(withMVC)
	if c["mvc75_threshold"] != 0.0 || c["mvc_compliant_count"] != c["contraction_count"] || used(withMVC)["session_mvc_threshold_percentage"] != 0.0 {
		t.Errorf("0 %% with an MVC: threshold %v, %v of %v compliant", c["mvc75_threshold"], c["mvc_compliant_count"], c["contraction_count"])
	}
	// 0 % without: the estimate at 75 % decides, reported at 70 %.
	noMVC := post([2]string{"session_mvc_threshold_percentage", "0"})
	c, b := ch1(noMVC), ch1(base)
	est := used(noMVC)["session_mvc_values"].(map[string]any)["CH1"].(float64)
	if c["mvc_compliant_count"] != b["mvc_compliant_count"] || !close6(est*0.75, b["mvc75_threshold"].(float64)) ||
		!close6(c["mvc75_threshold"].(float64), est*0.70) || used(noMVC)["session_mvc_threshold_percentages"].(map[string]any)["CH1"] != 70.0 {
		t.Errorf("0 %% without an MVC: %v compliant (75 %%: %v), threshold %v, estimate %v", c["mvc_compliant_count"], b["mvc_compliant_count"], c["mvc75_threshold"], est)
	}
}

// A recording whose game metadata holds NaN and infinity: the old backend
// answered them as JSON's invalid NaN and Infinity (its frontend could not
// parse the answer); emgd answers 200 in the old shape, those values null
// and said in metadata.warnings.
func TestSalvagedRecordingAnswersTheOldShape(t *testing.T) {
	const rate, seconds = 990.0, 15
	groups := []*c3d.Group{
		{Name: "INFO", Params: []*c3d.Parameter{c3d.NewStrings("GAME_NAME", "", "Ghostly"), c3d.NewFloats("DURATION", "", []float64{math.Inf(1)})}},
		{Name: "SUBJECTS", Params: []*c3d.Parameter{c3d.NewFloats("GAME_SCORE", "", []float64{math.NaN()})}},
	}
	var buf bytes.Buffer
	w, err := c3d.NewWriter(&buf, c3d.WriterConfig{Frames: seconds * 33, PointRate: 33, PointLabels: []string{"P"},
		AnalogLabels: []string{"CH1", "CH2"}, AnalogRate: rate, Groups: groups})
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]float64, 60)
	for f := 0; f < seconds*33; f++ {
		for s := 0; s < 30; s++ {
			i := f*30 + s
			amp := 2e-5
			if tm := float64(i) / rate; int(tm)%5 >= 2 && int(tm)%5 < 4 {
				amp = 3e-4
			}
			frame[2*s], frame[2*s+1] = amp*math.Sin(float64(i)*1.3), amp*math.Cos(float64(i)*0.7)
		}
		if err := w.WriteFrame([]c3d.Point{{Valid: true}}, frame); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, api.Config{}, nil)
	code, out := e.post("/upload", nil, "nan.c3d", buf.Bytes())
	if code != 200 {
		t.Fatalf("%d %v", code, out["error"])
	}
	var errs []string
	checkOld("answer", "EMGAnalysisResult", out, &errs)
	if len(errs) > 0 {
		t.Errorf("not the old model: %v", errs)
	}
	md := out["metadata"].(map[string]any)
	warnings, _ := md["warnings"].([]any)
	if md["score"] != nil || md["duration"] != nil || len(warnings) == 0 {
		t.Errorf("score %v, duration %v, warnings %v", md["score"], md["duration"], warnings)
	}
	// "CH1" is the raw channel of CH1: the frontend finds its plot as "CH1 Raw".
	sig := out["emg_signals"].(map[string]any)
	if sig["CH1 Raw"] == nil || sig["CH1 Processed"] == nil || !contains(out["available_channels"].([]any), "CH1 Raw") {
		t.Errorf("available_channels %v", out["available_channels"])
	}
}
