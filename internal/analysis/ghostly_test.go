package analysis

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"emgd/emg"
	"emgd/internal/testenv"
)

const featTol = 1e-9

// toMap round-trips v through JSON so that the result is compared field by
// field under the reference's own names.
func toMap(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// compareValue compares one reference value with ours: numbers at featTol
// relative (counts exactly), strings and booleans exactly, objects and
// arrays recursively.
func compareValue(t *testing.T, path string, want, got any) {
	t.Helper()
	switch w := want.(type) {
	case nil:
		if got != nil {
			t.Errorf("%s = %v, want null", path, got)
		}
	case float64:
		g, ok := got.(float64)
		if !ok {
			t.Errorf("%s = %v, want %v", path, got, w)
			return
		}
		if w == math.Trunc(w) && (strings.HasSuffix(path, "count") || strings.HasSuffix(path, "valid_windows")) {
			if g != w {
				t.Errorf("%s = %v, want %v", path, g, w)
			}
			return
		}
		if !(math.Abs(g-w) <= featTol*math.Abs(w)) {
			t.Errorf("%s = %.17g, want %.17g (rel diff %.3g)", path, g, w, math.Abs(g-w)/math.Abs(w))
		}
	case string, bool:
		if got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			t.Errorf("%s = %v, want an object", path, got)
			return
		}
		for k, wv := range w {
			gv, present := g[k]
			if !present {
				t.Errorf("%s.%s missing", path, k)
				continue
			}
			compareValue(t, path+"."+k, wv, gv)
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			t.Errorf("%s: %d entries, want %d", path, len(g), len(w))
			return
		}
		for i := range w {
			compareValue(t, fmt.Sprintf("%s[%d]", path, i), w[i], g[i])
		}
	default:
		t.Fatalf("%s: unexpected reference type %T", path, want)
	}
}

type ghostlyRef struct {
	Files []struct {
		File              string                    `json:"file"`
		AvailableChannels []string                  `json:"available_channels"`
		Channels          map[string]map[string]any `json:"channels"`
	} `json:"files"`
}

func loadGhostlyRef(t *testing.T) (dir string, ref ghostlyRef) {
	dir = testenv.Testdata(t, "ghostly")
	b, err := os.ReadFile(filepath.Join(dir, "reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Files) == 0 {
		t.Fatal("reference.json lists no files")
	}
	return dir, ref
}

// nullEverywhere returns the per-channel fields that are null in every
// channel of every file; the spec allows leaving them out.
func nullEverywhere(ref ghostlyRef) map[string]bool {
	null := map[string]bool{}
	seen := map[string]bool{}
	for _, f := range ref.Files {
		for _, ch := range f.Channels {
			for k, v := range ch {
				if !seen[k] {
					seen[k] = true
					null[k] = true
				}
				if v != nil {
					null[k] = false
				}
			}
		}
	}
	return null
}

func TestGhostlyReference(t *testing.T) {
	dir, ref := loadGhostlyRef(t)
	skip := nullEverywhere(ref)
	for _, rf := range ref.Files {
		t.Run(rf.File, func(t *testing.T) {
			res, err := AnalyzeFile(filepath.Join(dir, rf.File), emg.Params{}, emg.Analyzer{})
			if err != nil {
				t.Fatal(err)
			}
			if res.ProcessingVersion != "ghostly/1" {
				t.Errorf("processing_version %q", res.ProcessingVersion)
			}
			var bases []string
			for b := range rf.Channels {
				bases = append(bases, b)
			}
			sort.Strings(bases)
			var gotBases []string
			for b := range res.Analytics {
				gotBases = append(gotBases, b)
			}
			sort.Strings(gotBases)
			if fmt.Sprint(gotBases) != fmt.Sprint(bases) {
				t.Fatalf("analytics for %v, reference has %v", gotBases, bases)
			}
			for _, b := range bases {
				got := toMap(t, res.Analytics[b])
				for k, wv := range rf.Channels[b] {
					if skip[k] {
						continue
					}
					gv, ok := got[k]
					if !ok {
						t.Errorf("%s.%s missing", b, k)
						continue
					}
					compareValue(t, b+"."+k, wv, gv)
				}
				// Boundaries as sample indices.
				fs := res.Metadata.(*Metadata).SamplingRate
				wc := rf.Channels[b]["contractions"].([]any)
				for i, c := range res.Analytics[b].Contractions {
					if i >= len(wc) {
						break
					}
					w := wc[i].(map[string]any)
					ws := int(math.Round(w["start_time_ms"].(float64) / 1000 * fs))
					we := int(math.Round(w["end_time_ms"].(float64) / 1000 * fs))
					if c.StartSample != ws || c.EndSample != we {
						t.Errorf("%s contraction %d: samples %d..%d, reference %d..%d", b, i, c.StartSample, c.EndSample, ws, we)
					}
				}
			}
			// available_channels: the reference's "<x> activated Raw" entries are an old bug.
			var want []string
			for _, c := range rf.AvailableChannels {
				if !strings.HasSuffix(c, " activated Raw") {
					want = append(want, c)
				}
			}
			if fmt.Sprint(res.AvailableChannels) != fmt.Sprint(want) {
				t.Errorf("available_channels %q, want %q", res.AvailableChannels, want)
			}
		})
	}
}

// TestGhostlyWorkedExample checks the spec's worked example: 17-50-17 with
// RPE 4 scores overall 78.2523.
func TestGhostlyWorkedExample(t *testing.T) {
	dir := testenv.Testdata(t, "ghostly")
	rpe := 4.0
	res, err := AnalyzeFile(filepath.Join(dir, "Ghostly_Emg_20230321_17-50-17-0881.c3d"), emg.Params{RPE: &rpe}, emg.Analyzer{})
	if err != nil {
		t.Fatal(err)
	}
	pa := res.PerformanceAnalysis
	if pa.OverallScore == nil || math.Abs(*pa.OverallScore-78.2523) > 5e-5 {
		t.Fatalf("overall score %v, want 78.2523", pa.OverallScore)
	}
	if pa.LeftChannel != "CH1" || pa.RightChannel != "CH2" {
		t.Errorf("left/right %s/%s", pa.LeftChannel, pa.RightChannel)
	}
	md := res.Metadata.(*Metadata)
	if md.SamplesPerChannel == 0 || math.Abs(md.DurationSeconds-float64(md.SamplesPerChannel)/md.SamplingRate) > 1e-12 {
		t.Errorf("duration %v s for %d samples at %v Hz", md.DurationSeconds, md.SamplesPerChannel, md.SamplingRate)
	}
	if md.DurationSeconds < 100 {
		t.Errorf("duration %v s: expected the samples/rate duration of a 175 s file", md.DurationSeconds)
	}
}

// TestGhostlyStandardProfile checks the spec's statement that profile
// standard gives an MDF of 58.0 Hz for CH1 of 17-50-17 (the ghostly profile
// reports a first-bins MDF there).
func TestGhostlyStandardProfile(t *testing.T) {
	dir := testenv.Testdata(t, "ghostly")
	path := filepath.Join(dir, "Ghostly_Emg_20230321_17-50-17-0881.c3d")
	std, err := AnalyzeFile(path, emg.Params{Profile: "standard"}, emg.Analyzer{})
	if err != nil {
		t.Fatal(err)
	}
	gh, err := AnalyzeFile(path, emg.Params{}, emg.Analyzer{})
	if err != nil {
		t.Fatal(err)
	}
	if std.ProcessingVersion != "standard/1" {
		t.Errorf("processing_version %q", std.ProcessingVersion)
	}
	if mdf := *std.Analytics["CH1"].MDF; math.Abs(mdf-58.0) > 0.05 {
		t.Errorf("standard MDF of CH1 %v Hz, want 58.0", mdf)
	}
	if mdf := *gh.Analytics["CH1"].MDF; mdf > 10 {
		t.Errorf("ghostly MDF of CH1 %v Hz, expected the first bins", mdf)
	}
	a, _ := json.Marshal(std.Analytics["CH1"].Contractions)
	b, _ := json.Marshal(gh.Analytics["CH1"].Contractions)
	if string(a) != string(b) {
		t.Error("profile standard changed the contractions")
	}
}
