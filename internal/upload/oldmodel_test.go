package upload_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"emgd/internal/api"
	"emgd/internal/testenv"
)

// The old backend's pydantic models (backend/models/api/request_response.py
// at 6ec705a), restated as field lists: name -> type. Types: str, float,
// int, bool, any, list[T], dict[T] (string keys), or a model's name; "?"
// before a type: None is valid. Required fields are marked "!".
var oldModels = map[string]map[string]string{
	"TemporalAnalysisStats": {"mean_value": "?float", "std_value": "?float", "min_value": "?float", "max_value": "?float",
		"valid_windows": "?int", "coefficient_of_variation": "?float"},
	"Contraction": {"start_time_ms": "!float", "end_time_ms": "!float", "duration_ms": "!float", "mean_amplitude": "!float",
		"max_amplitude": "!float", "is_good": "?bool", "meets_mvc": "?bool", "meets_duration": "?bool"},
	"ChannelAnalytics": {"contraction_count": "int", "avg_duration_ms": "float", "min_duration_ms": "float", "max_duration_ms": "float",
		"total_time_under_tension_ms": "float", "avg_amplitude": "float", "max_amplitude": "float", "rms": "float", "mav": "float",
		"mpf": "?float", "mdf": "?float", "fatigue_index_fi_nsm5": "?float", "contractions": "?list[Contraction]", "errors": "?dict[str]",
		"mvc75_threshold": "?float", "duration_threshold_actual_value": "?float", "good_contraction_count": "?int",
		"mvc_compliant_count": "?int", "duration_compliant_count": "?int",
		"rms_temporal_stats": "?TemporalAnalysisStats", "mav_temporal_stats": "?TemporalAnalysisStats", "mpf_temporal_stats": "?TemporalAnalysisStats",
		"mdf_temporal_stats": "?TemporalAnalysisStats", "fatigue_index_temporal_stats": "?TemporalAnalysisStats",
		"clinical_quality": "?dict[any]", "clinical_timing": "?dict[any]", "clinical_activation": "?dict[any]", "clinical_fatigue": "?dict[any]"},
	"GameSessionParameters": {"session_mvc_value": "?float", "session_mvc_threshold_percentage": "?float", "session_expected_contractions": "?int",
		"session_expected_contractions_ch1": "?int", "session_expected_contractions_ch2": "?int", "contraction_duration_threshold": "?int",
		"session_duration_thresholds_per_muscle": "?dict[?float]", "channel_muscle_mapping": "?dict[str]",
		"session_mvc_values": "?dict[?float]", "session_mvc_threshold_percentages": "?dict[?float]"},
	"GameMetadata": {"game_name": "?str", "level": "?str", "duration": "?float", "therapist_id": "?str", "group_id": "?str", "time": "?str",
		"player_name": "?str", "score": "?float", "session_parameters_used": "?GameSessionParameters"},
	"EMGChannelSignalData": {"sampling_rate": "!float", "time_axis": "!list[float]", "data": "!list[float]", "rms_envelope": "?list[float]",
		"activated_data": "?list[float]", "processed_data": "?list[float]"},
	"EMGAnalysisResult": {"file_id": "!str", "timestamp": "!str", "source_filename": "!str", "metadata": "!GameMetadata",
		"analytics": "!dict[ChannelAnalytics]", "available_channels": "!list[str]", "emg_signals": "!dict[EMGChannelSignalData]",
		"c3d_parameters": "?dict[any]", "user_id": "?str", "session_id": "?str", "patient_id": "?str", "session_parameters": "?dict[any]",
		"session_configuration": "?dict[any]", "processing_parameters": "?dict[any]", "performance_analysis": "?dict[any]",
		"scoring_configuration": "?dict[any]"},
}

// The keys of the old backend's free-form dicts (upload.py, processor.py,
// performance_scoring_service.py), each with its type.
var oldDicts = map[string]map[string]string{
	"performance_analysis": {"session_id": "str", "scoring_config_id": "?str", "overall_score": "?float", "compliance_score": "?float",
		"symmetry_score": "?float", "effort_score": "?float", "game_score": "?float", "bfr_compliant": "bool", "bfr_pressure_aop": "?float",
		"rpe_post_session": "?float", "rpe_value": "?float", "rpe_source": "str",
		"left_muscle_compliance": "?float", "right_muscle_compliance": "?float", "completion_rate_left": "?float", "completion_rate_right": "?float",
		"intensity_rate_left": "?float", "intensity_rate_right": "?float", "duration_rate_left": "?float", "duration_rate_right": "?float",
		"compliance_components": "compliance_components", "weights": "scoring_configuration", "weights_used": "weights_used",
		"rpe_mapping": "rpe_mapping", "data_completeness": "data_completeness"},
	"compliance_components": {"left_muscle_compliance": "?float", "right_muscle_compliance": "?float", "overall_compliance": "?float",
		"completion_rate_left": "?float", "completion_rate_right": "?float", "intensity_rate_left": "?float", "intensity_rate_right": "?float",
		"duration_rate_left": "?float", "duration_rate_right": "?float"},
	"scoring_configuration": {"weight_compliance": "float", "weight_symmetry": "float", "weight_effort": "float", "weight_game": "float",
		"weight_completion": "float", "weight_intensity": "float", "weight_duration": "float"},
	"weights_used": {"w_compliance": "float", "w_symmetry": "float", "w_effort": "float", "w_game": "float", "w_completion": "float",
		"w_intensity": "float", "w_duration": "float"},
	"rpe_mapping": {"optimal_range": "list[int]", "acceptable_range": "list[int]", "suboptimal_range": "list[int]", "poor_range": "list[int]",
		"optimal_score": "float", "acceptable_score": "float", "suboptimal_score": "float", "poor_score": "float"},
	"data_completeness": {"has_emg_data": "bool", "has_rpe": "bool", "has_game_data": "bool", "has_bfr_data": "bool", "rpe_source": "?str"},
	"processing_parameters": {"sampling_rate_hz": "float", "processing_version": "str", "filter_low_cutoff_hz": "float",
		"filter_high_cutoff_hz": "float", "filter_order": "int", "rms_window_ms": "float", "rms_overlap_percent": "float",
		"mvc_window_seconds": "float", "mvc_threshold_percentage": "float", "threshold_factor": "float", "min_duration_ms": "int",
		"smoothing_window": "int", "activated_threshold_factor": "float", "merge_threshold_ms": "float", "refractory_period_ms": "float"},
	"session_parameters": {"mvc_ch1": "?float", "mvc_ch2": "?float", "mvc_threshold_percentage": "float", "target_duration_ch1_ms": "float",
		"target_duration_ch2_ms": "float", "target_contractions_ch1": "int", "target_contractions_ch2": "int", "bfr_enabled": "bool",
		"bfr_pressure_aop": "float"},
	"c3d_parameters": {"sampling_rate": "float", "duration": "float", "frame_count": "int", "channel_count": "int", "game_name": "?str",
		"level": "?str", "therapist_id": "?str", "group_id": "?str", "player_name": "?str", "player_id": "?str", "time": "?str",
		"processing_version": "str", "processed_at": "str", "stateless_mode": "bool"},
}

// checkOld validates v against an old type (a model, a dict of known keys
// or a type expression), as pydantic would (an integral float is an int,
// an int a float), reporting each mismatch at its path.
func checkOld(path string, typ string, v any, errs *[]string) {
	bad := func(format string, a ...any) { *errs = append(*errs, path+": "+fmt.Sprintf(format, a...)) }
	typ = strings.TrimPrefix(typ, "!")
	if nullable := strings.HasPrefix(typ, "?"); nullable {
		typ = typ[1:]
		if v == nil {
			return
		}
	}
	if v == nil && typ != "any" {
		bad("null, want %s", typ)
		return
	}
	fields, isModel := oldModels[typ]
	if !isModel {
		fields, isModel = oldDicts[typ]
	}
	switch {
	case isModel:
		m, ok := v.(map[string]any)
		if !ok {
			bad("%T, want %s", v, typ)
			return
		}
		for _, name := range sortedNames(fields) {
			ft := fields[name]
			x, present := m[name]
			_, isDict := oldDicts[typ]
			if !present && (strings.HasPrefix(ft, "!") || isDict) {
				bad("lacks %s", name)
				continue
			}
			if present {
				checkOld(path+"."+name, ft, x, errs)
			}
		}
	case typ == "any":
	case typ == "str":
		if _, ok := v.(string); !ok {
			bad("%v, want a string", v)
		}
	case typ == "bool":
		if _, ok := v.(bool); !ok {
			bad("%v, want a boolean", v)
		}
	case typ == "float", typ == "int":
		x, ok := v.(float64)
		if !ok {
			bad("%v, want a number", v)
		} else if typ == "int" && x != math.Trunc(x) {
			bad("%v, want an integer", v)
		}
	case strings.HasPrefix(typ, "list["):
		l, ok := v.([]any)
		if !ok {
			bad("%T, want a list", v)
			return
		}
		inner := typ[5 : len(typ)-1]
		for i, x := range l {
			checkOld(fmt.Sprintf("%s[%d]", path, i), inner, x, errs)
			if len(*errs) > 20 {
				return
			}
		}
	case strings.HasPrefix(typ, "dict["):
		m, ok := v.(map[string]any)
		if !ok {
			bad("%T, want a dict", v)
			return
		}
		inner := typ[5 : len(typ)-1]
		for _, k := range sortedNames(m) {
			checkOld(path+"."+k, inner, m[k], errs)
		}
	default:
		bad("unknown type %s in the test", typ)
	}
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// oldReference is the old backend's output on the shared recordings.
type oldReference struct {
	Files []struct {
		File              string                    `json:"file"`
		AvailableChannels []string                  `json:"available_channels"`
		Channels          map[string]map[string]any `json:"channels"`
	} `json:"files"`
}

func close6(a, b float64) bool {
	return math.Abs(a-b) <= 1e-6*math.Max(math.Abs(a), math.Abs(b))+1e-12
}

// Every shared GHOSTLY recording, uploaded as the frontend does (no
// fields; the frontend's fields; custom fields), answers a document that
// the old backend's models accept, with every key its frontend reads, each
// muscle's raw, activated and Processed plots, and the old backend's
// values (1e-6) where they are the old one's.
func TestOldModelOnGhostlyRecordings(t *testing.T) {
	dir := testenv.Testdata(t, "ghostly")
	files, _ := filepath.Glob(filepath.Join(dir, "*.c3d"))
	if len(files) == 0 {
		testenv.Require(t, "no recordings in "+dir)
	}
	var ref oldReference
	if b, err := os.ReadFile(filepath.Join(dir, "reference.json")); err != nil || json.Unmarshal(b, &ref) != nil {
		t.Fatalf("reference.json: %v", err)
	}
	e := newEnv(t, api.Config{}, nil)
	frontend := [][2]string{{"file_source", "supabase_storage"}, {"filename", "x.c3d"},
		{"session_mvc_threshold_percentage", "75"}, {"session_expected_contractions", "24"}, {"session_expected_contractions_ch1", "12.0"},
		{"session_expected_contractions_ch2", "12"}, {"contraction_duration_threshold", "2000"},
		{"channel_muscle_mapping", `{"CH1":"Left Quadriceps","CH2":"Right Quadriceps"}`},
		{"muscle_color_mapping", `{"CH1":"#3b82f6"}`}, {"session_mvc_values", `{"CH1":null,"CH2":null}`},
		{"session_mvc_threshold_percentages", `{"CH1":75,"CH2":75}`}}
	custom := [][2]string{{"threshold_factor", "0.2"}, {"min_duration_ms", "150"}, {"smoothing_window", "50"},
		{"session_mvc_value", "0.0002"}, {"session_mvc_threshold_percentage", "60"}, {"contraction_duration_threshold", "1500"},
		{"session_expected_contractions_ch1", "8"}, {"session_expected_contractions_ch2", "10"}, {"user_id", "u1"}, {"patient_id", "P007"}}
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(path)
		for _, v := range []struct {
			what   string
			fields [][2]string
		}{{"no fields", nil}, {"frontend fields", frontend}, {"custom fields", custom}} {
			code, out := e.post("/upload", v.fields, name, data)
			if code != 200 {
				t.Fatalf("%s, %s: %d %v", name, v.what, code, out["error"])
			}
			var errs []string
			checkOld("answer", "EMGAnalysisResult", out, &errs)
			for _, k := range []string{"performance_analysis", "processing_parameters", "session_parameters", "c3d_parameters", "scoring_configuration"} {
				checkOld(k, k, out[k], &errs)
			}
			// The frontend's channel management: each muscle's plots.
			an, _ := out["analytics"].(map[string]any)
			avail, _ := out["available_channels"].([]any)
			sig, _ := out["emg_signals"].(map[string]any)
			for m := range an {
				for _, suffix := range []string{" Raw", " Processed", " activated"} {
					if !contains(avail, m+suffix) || sig[m+suffix] == nil {
						errs = append(errs, fmt.Sprintf("no %q plot (available_channels %v)", m+suffix, avail))
					}
				}
			}
			for _, a := range avail {
				if sig[a.(string)] == nil {
					errs = append(errs, fmt.Sprintf("available channel %v not in emg_signals", a))
				}
			}
			used := out["metadata"].(map[string]any)["session_parameters_used"].(map[string]any)
			mvcs, _ := used["session_mvc_values"].(map[string]any)
			pcts, _ := used["session_mvc_threshold_percentages"].(map[string]any)
			for m, ca := range an {
				thr := ca.(map[string]any)["mvc75_threshold"].(float64)
				pct, _ := pcts[m].(float64)
				if v.what == "custom fields" {
					if thr != 0.0002*0.6 || pct != 60 {
						errs = append(errs, fmt.Sprintf("%s: threshold %v at %v %%, want 0.0002 at 60 %%", m, thr, pct))
					}
					continue
				}
				if est, _ := mvcs[m].(float64); !close6(est*0.75, thr) || pct != 75 {
					errs = append(errs, fmt.Sprintf("%s: estimated MVC %v at %v %%, threshold %v", m, mvcs[m], pct, thr))
				}
			}
			if v.what == "no fields" {
				errs = append(errs, compareReference(&ref, name, an)...)
			}
			if v.what == "custom fields" {
				sp := out["session_parameters"].(map[string]any)
				if sp["mvc_ch1"] != 0.0002 || sp["mvc_threshold_percentage"] != 60.0 || sp["target_duration_ch1_ms"] != 1500.0 ||
					sp["target_contractions_ch1"] != 8.0 || sp["target_contractions_ch2"] != 10.0 {
					errs = append(errs, fmt.Sprintf("session_parameters %v", sp))
				}
				pp := out["processing_parameters"].(map[string]any)
				if pp["threshold_factor"] != 0.2 || pp["min_duration_ms"] != 150.0 || pp["smoothing_window"] != 50.0 || pp["sampling_rate_hz"] != 990.0 {
					errs = append(errs, fmt.Sprintf("processing_parameters %v", pp))
				}
			}
			if len(errs) > 0 {
				t.Errorf("%s, %s:\n  %s", name, v.what, strings.Join(errs[:min(len(errs), 20)], "\n  "))
			}
		}
	}
}

func contains(l []any, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// compareReference compares the answered analytics with the old
// backend's on the file (1e-6).
func compareReference(ref *oldReference, name string, an map[string]any) []string {
	var errs []string
	for _, f := range ref.Files {
		if f.File != name {
			continue
		}
		for ch, want := range f.Channels {
			got, _ := an[ch].(map[string]any)
			if got == nil {
				errs = append(errs, "no analytics for "+ch)
				continue
			}
			n := 0
			for k, w := range want {
				wf, ok := w.(float64)
				gf, ok2 := got[k].(float64)
				if !ok || !ok2 {
					continue
				}
				n++
				if !close6(wf, gf) {
					errs = append(errs, fmt.Sprintf("%s.%s = %v, the old backend %v", ch, k, gf, wf))
				}
			}
			if n < 15 {
				errs = append(errs, fmt.Sprintf("%s: only %d numbers compared", ch, n))
			}
		}
		return errs
	}
	return []string{"not in reference.json"}
}

// The shape check fails on what the old models refuse.
func TestCheckOldRefuses(t *testing.T) {
	for _, c := range []struct {
		typ string
		v   string
	}{
		{"ChannelAnalytics", `{"rms":null}`},
		{"ChannelAnalytics", `{"errors":"too short"}`},
		{"ChannelAnalytics", `{"contraction_count":1.5}`},
		{"Contraction", `{"start_time_ms":1,"end_time_ms":2,"duration_ms":1,"mean_amplitude":1}`},
		{"EMGChannelSignalData", `{"sampling_rate":990,"time_axis":[0,null],"data":[]}`},
		{"performance_analysis", `{"overall_score":1}`},
	} {
		var v any
		json.NewDecoder(bytes.NewReader([]byte(c.v))).Decode(&v)
		var errs []string
		checkOld("x", c.typ, v, &errs)
		if len(errs) == 0 {
			t.Errorf("%s %s accepted", c.typ, c.v)
		}
	}
}
