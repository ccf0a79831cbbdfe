package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"emgd/c3d"
	"emgd/internal/testenv"
)

// writeEMGFile writes a GHOSTLY-like recording: labels at 990 Hz for the
// given seconds, raw channels with a 3 s burst every 10 s from 2 s and
// activated channels marking the bursts, INFO/SUBJECTS groups with a game score.
func writeEMGFile(t *testing.T, dir, name string, labels []string, seconds int) string {
	t.Helper()
	path := filepath.Join(dir, name)
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	const pointRate, per = 33, 30
	frames := seconds * pointRate
	groups := []*c3d.Group{
		{Name: "INFO", Params: []*c3d.Parameter{c3d.NewStrings("GAME_NAME", "", "Ghostly"), c3d.NewInts("GAME_LEVEL", "", []int{2})}},
		{Name: "SUBJECTS", Params: []*c3d.Parameter{c3d.NewFloats("GAME_SCORE", "", []float64{30}), c3d.NewStrings("PLAYER_NAME", "", "Test")}},
	}
	w, err := c3d.NewWriter(fh, c3d.WriterConfig{Frames: frames, PointRate: pointRate, AnalogRate: pointRate * per,
		AnalogLabels: labels, PointLabels: []string{"PlayerPosition"}, Groups: groups})
	if err != nil {
		t.Fatal(err)
	}
	an := make([]float64, per*len(labels))
	k := 0
	for f := 0; f < frames; f++ {
		for s := 0; s < per; s++ {
			tt := float64(k) / 990
			on := tt >= 2 && math.Mod(tt-2, 10) < 3
			for c, l := range labels {
				v := 0.0
				switch {
				case strings.HasSuffix(l, "activated"):
					if on {
						v = 1e-4
					}
				default:
					amp := 3e-6
					if on {
						amp = 6e-5
					}
					v = amp * (math.Sin(2*math.Pi*83*tt+float64(c)) + 0.7*math.Sin(2*math.Pi*141*tt) + 0.3*math.Sin(2*math.Pi*217*tt+1))
				}
				an[s*len(labels)+c] = v
			}
			k++
		}
		if err := w.WriteFrame([]c3d.Point{{Valid: true}}, an); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

var ghostlyLabels = []string{"CH1 Raw", "CH2 Raw", "CH1 activated", "CH2 activated"}

func TestAnalyzeOneFileJSON(t *testing.T) {
	path := writeEMGFile(t, t.TempDir(), "rec.c3d", ghostlyLabels, 40)
	code, out, stderr := runCLI("analyze", "--json", "--rpe", "4", "--game-max-points", "60", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, k := range []string{"metadata", "analytics", "available_channels", "performance_analysis", "processing_version"} {
		if _, ok := res[k]; !ok {
			t.Errorf("no %q in %s", k, out[:200])
		}
	}
	an := res["analytics"].(map[string]any)
	ch1 := an["CH1"].(map[string]any)
	if n := ch1["contraction_count"].(float64); n != 4 {
		t.Errorf("CH1: %v contractions, want 4", n)
	}
	md := res["metadata"].(map[string]any)
	if md["sampling_rate"].(float64) != 990 || md["samples_per_channel"].(float64) != 39600 || md["game_name"] != "Ghostly" || md["duration_seconds"].(float64) != 40 {
		t.Errorf("metadata %v", md)
	}
	pa := res["performance_analysis"].(map[string]any)
	if pa["effort_score"].(float64) != 100 || pa["game_score"].(float64) != 50 {
		t.Errorf("scores %v", pa)
	}
	if res["processing_version"] != "ghostly/1" {
		t.Errorf("processing_version %v", res["processing_version"])
	}
	// the human summary names the channels
	code, out, _ = runCLI("analyze", path)
	if code != 0 || !strings.Contains(out, "CH1") || !strings.Contains(out, "4 contractions") {
		t.Errorf("summary (exit %d):\n%s", code, out)
	}
}

func TestAnalyzeParamsAndFlags(t *testing.T) {
	dir := t.TempDir()
	path := writeEMGFile(t, dir, "rec.c3d", ghostlyLabels, 30)
	params := filepath.Join(dir, "params.json")
	os.WriteFile(params, []byte(`{"mvc": {"CH1": 0.001}, "duration_threshold_ms": 1000, "rpe": 5}`), 0o644)
	code, out, stderr := runCLI("analyze", "--json", "--params", params, "--mvc", "CH2=0.00002", "--threshold-pct", "50", "--profile", "standard", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res struct {
		Analytics map[string]struct {
			MVC75Threshold    float64 `json:"mvc75_threshold"`
			Method            string  `json:"mvc_estimation_method"`
			DurationThreshold float64 `json:"duration_threshold_actual_value"`
			DurationCompliant int     `json:"duration_compliant_count"`
			MVCCompliant      int     `json:"mvc_compliant_count"`
			ContractionCount  int     `json:"contraction_count"`
		} `json:"analytics"`
		ProcessingVersion string `json:"processing_version"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	ch1, ch2 := res.Analytics["CH1"], res.Analytics["CH2"]
	if ch1.Method != "user_provided" || math.Abs(ch1.MVC75Threshold-0.0005) > 1e-18 || ch1.MVCCompliant != 0 {
		t.Errorf("CH1 %+v", ch1)
	}
	if ch2.Method != "user_provided" || math.Abs(ch2.MVC75Threshold-0.00001) > 1e-18 || ch2.MVCCompliant != ch2.ContractionCount {
		t.Errorf("CH2 %+v", ch2)
	}
	if ch1.DurationThreshold != 1000 || ch1.DurationCompliant != ch1.ContractionCount || res.ProcessingVersion != "standard/1" {
		t.Errorf("duration %+v, version %s", ch1, res.ProcessingVersion)
	}
}

func TestAnalyzeBadInput(t *testing.T) {
	dir := t.TempDir()
	path := writeEMGFile(t, dir, "rec.c3d", ghostlyLabels, 12)
	params := filepath.Join(dir, "bad.json")
	os.WriteFile(params, []byte(`{"rpe": 11}`), 0o644)
	unknown := filepath.Join(dir, "unknown.json")
	os.WriteFile(unknown, []byte(`{"rpee": 1}`), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"analyze"}, "usage"},
		{[]string{"analyze", "--rpe", "11", path}, "rpe"},
		{[]string{"analyze", "--rpe", "4.5", path}, "rpe"},
		{[]string{"analyze", "--rpe", "x", path}, "not a number"},
		{[]string{"analyze", "--mvc", "CH1", path}, "CHANNEL=VALUE"},
		{[]string{"analyze", "--mvc", "CH1=abc", path}, "not a number"},
		{[]string{"analyze", "--profile", "fancy", path}, "profile"},
		{[]string{"analyze", "--params", params, path}, "rpe"},
		{[]string{"analyze", "--params", unknown, path}, "unknown field"},
		{[]string{"analyze", "--params", filepath.Join(dir, "none.json"), path}, "no such file"},
		{[]string{"analyze", "--json", "--csv", path}, "exclude"},
		{[]string{"analyze", "--weight", "speed=1", path}, "unknown weight"},
		{[]string{"analyze", "--muscle", "CH1=up", path}, "left or right"},
	} {
		code, _, stderr := runCLI(c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
	// a channel the file does not have is a parameter error for that file
	code, _, stderr := runCLI("analyze", "--json", "--mvc", "CH7=0.001", path)
	if code != 1 || !strings.Contains(stderr, "CH7") {
		t.Errorf("unknown channel: exit %d, %q", code, stderr)
	}
}

func TestAnalyzeFolderJSONLinesAndFailures(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o755)
	writeEMGFile(t, dir, "a.c3d", ghostlyLabels, 15)
	writeEMGFile(t, sub, "b.C3D", ghostlyLabels, 15)
	writeEMGFile(t, sub, "short.c3d", ghostlyLabels, 5) // every channel fails (< 10 s)
	os.WriteFile(filepath.Join(sub, "broken.c3d"), []byte("this is not a C3D file at all, not even close............"), 0o644)
	os.WriteFile(filepath.Join(sub, "notes.txt"), []byte("ignored"), 0o644)
	code, out, stderr := runCLI("analyze", dir)
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d JSON lines:\n%s", len(lines), out)
	}
	var okFiles, errFiles int
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("bad JSON line %q: %v", l, err)
		}
		if _, ok := m["error"]; ok {
			errFiles++
		} else if _, ok := m["analytics"]; ok {
			okFiles++
		}
	}
	if okFiles != 3 || errFiles != 1 { // the short file still has its result, with channel errors
		t.Errorf("%d results, %d error lines", okFiles, errFiles)
	}
	for _, want := range []string{"broken.c3d", "short.c3d", "4 files, 2 analysed, 2 failed", "not a C3D"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "\r") {
		t.Error("progress bar drawn on a non-terminal")
	}
}

func TestAnalyzeCSV(t *testing.T) {
	dir := t.TempDir()
	a := writeEMGFile(t, dir, "a.c3d", ghostlyLabels, 15)
	b := writeEMGFile(t, dir, "b.c3d", []string{"EMG1", "EMG2"}, 15) // no activated channels
	missing := filepath.Join(dir, "missing.c3d")
	code, out, stderr := runCLI("analyze", "--csv", a, b, missing)
	if code != 1 || !strings.Contains(stderr, "missing.c3d") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+2+2+1 {
		t.Fatalf("%d rows:\n%s", len(rows), out)
	}
	if rows[0][0] != "file" || rows[1][1] != "CH1" || rows[3][1] != "EMG1" || rows[5][0] != missing || rows[5][2] == "" {
		t.Errorf("rows %q", rows)
	}
	for _, r := range rows[1:5] {
		if len(r) != len(rows[0]) || r[2] != "" || r[4] == "0" {
			t.Errorf("row %q", r)
		}
	}
}

func TestAnalyzeGhostlyFiles(t *testing.T) {
	dir := testenv.Testdata(t, "ghostly")
	var out, errb bytes.Buffer
	code := cmdAnalyze([]string{"--csv", dir}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	rows, _ := csv.NewReader(&out).ReadAll()
	if len(rows) != 1+10 {
		t.Errorf("%d rows for the five GHOSTLY files", len(rows))
	}
	if !strings.Contains(errb.String(), "5 files, 5 analysed, 0 failed") {
		t.Errorf("summary: %s", errb.String())
	}
}

// --max-samples-per-channel bounds what analyze decodes: a file over it
// exits 1 naming the limit; at the limit it is analysed.
func TestAnalyzeMaxSamplesPerChannel(t *testing.T) {
	dir := t.TempDir()
	path := writeEMGFile(t, dir, "rec.c3d", ghostlyLabels, 12) // 12 s at 990 Hz: 11,880 samples
	code, _, stderr := runCLI("analyze", "--max-samples-per-channel", "11879", path)
	if code != 1 || !strings.Contains(stderr, "over the limit of 11879 samples per channel") {
		t.Errorf("over the limit: exit %d, %q", code, stderr)
	}
	if code, _, stderr := runCLI("analyze", "--max-samples-per-channel", "11880", path); code != 0 {
		t.Errorf("at the limit: exit %d, %q", code, stderr)
	}
	if code, _, stderr := runCLI("analyze", "--max-samples-per-channel", "0", path); code != 2 || !strings.Contains(stderr, "at least 1") {
		t.Errorf("zero: exit %d, %q", code, stderr)
	}
}
