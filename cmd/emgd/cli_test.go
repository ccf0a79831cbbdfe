package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"emgd/c3d"
	"emgd/internal/testenv"
)

// writeTestFile writes a small recording with odd labels and returns its path.
func writeTestFile(t *testing.T, labels []string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rec.c3d")
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := c3d.NewWriter(fh, c3d.WriterConfig{Frames: 10, PointRate: 50, AnalogLabels: labels, AnalogRate: 200,
		PointLabels: []string{"M1"}})
	if err != nil {
		t.Fatal(err)
	}
	an := make([]float64, 4*len(labels))
	for f := 0; f < 10; f++ {
		for k := range an {
			an[k] = float64(f*len(an)+k) / 3
		}
		if err := w.WriteFrame([]c3d.Point{{X: 1, Valid: true}}, an); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	return path
}

func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestInspectJSON(t *testing.T) {
	path := writeTestFile(t, []string{"CH1 Raw", "", "a,b \"q\""})
	code, out, stderr := runCLI("inspect", path, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := map[string]any{"processor": "intel", "storage": "float", "point_count": 1.0, "point_rate": 50.0, "frames": 10.0,
		"analog_rate": 200.0, "samples_per_channel": 40.0, "duration_seconds": 0.2}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	labels, _ := got["analog_labels"].([]any)
	if len(labels) != 3 || labels[0] != "CH1 Raw" || labels[1] != "" || labels[2] != "a,b \"q\"" {
		t.Errorf("analog_labels %q", labels)
	}
	params, _ := got["parameters"].(map[string]any)
	for _, g := range []string{"POINT", "ANALOG"} {
		if params[g] == nil {
			t.Errorf("parameters lack group %s", g)
		}
	}
	if fs, _ := got["file_size_bytes"].(float64); fs <= 0 || got["warnings"] == nil {
		t.Errorf("file_size_bytes %v warnings %v", got["file_size_bytes"], got["warnings"])
	}
}

func TestInspectBadFileAmongGood(t *testing.T) {
	good := writeTestFile(t, []string{"A"})
	bad := filepath.Join(t.TempDir(), "bad.c3d")
	os.WriteFile(bad, bytes.Repeat([]byte{7}, 2000), 0o644)
	code, out, stderr := runCLI("inspect", "--json", bad, good, filepath.Join(t.TempDir(), "missing.c3d"))
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], `"error"`) || !strings.Contains(lines[1], `"processor"`) {
		t.Fatalf("output:\n%s", out)
	}
	if !strings.Contains(stderr, "bad.c3d") || !strings.Contains(stderr, "not a C3D file") || !strings.Contains(stderr, "missing.c3d") {
		t.Errorf("stderr: %s", stderr)
	}
	if code, out, _ := runCLI("inspect", good); code != 0 || !strings.Contains(out, "1 channels at 200 Hz") {
		t.Errorf("summary (exit %d):\n%s", code, out)
	}
}

func TestExportCSV(t *testing.T) {
	labels := []string{"CH1 Raw", "", "a,b \"q\""}
	path := writeTestFile(t, labels)
	code, out, stderr := runCLI("export", "--csv", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 41 || strings.Join(rows[0], "|") != "time_s|CH1 Raw||a,b \"q\"" {
		t.Fatalf("%d rows, header %q", len(rows), rows[0])
	}
	fh, _ := os.Open(path)
	defer fh.Close()
	st, _ := fh.Stat()
	f, err := c3d.Open(fh, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	all, _ := f.ReadAllAnalog()
	for k := 0; k < 40; k++ {
		if tm, _ := strconv.ParseFloat(rows[k+1][0], 64); tm != float64(k)/200 {
			t.Fatalf("row %d time %v", k, rows[k+1][0])
		}
		for ch := range labels {
			if v, _ := strconv.ParseFloat(rows[k+1][ch+1], 64); v != all[ch][k] {
				t.Fatalf("row %d channel %d = %v, want %v (full precision)", k, ch, v, all[ch][k])
			}
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"nope"}, {"inspect"}, {"export", "x.c3d"}, {"export", "--csv"}, {"inspect", "--bogus", "x"}} {
		if code, _, _ := runCLI(args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
	if code, _, stderr := runCLI("export", "--csv", filepath.Join(t.TempDir(), "none.c3d")); code != 1 || stderr == "" {
		t.Errorf("missing file: exit %d, %q", code, stderr)
	}
}

// Every shared reference file inspects without error, with the labels the
// reference lists.
func TestInspectReferenceFiles(t *testing.T) {
	dir := testenv.Testdata(t, "c3d")
	raw, err := os.ReadFile(filepath.Join(dir, "reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref map[string]json.RawMessage
	json.Unmarshal(raw, &ref)
	for name, msg := range ref {
		if name == "_about" {
			continue
		}
		var want struct {
			AnalogCount int `json:"analog_count"`
			Channels    []struct {
				Label string `json:"label"`
			} `json:"analog_channels"`
		}
		json.Unmarshal(msg, &want)
		code, out, stderr := runCLI("inspect", "--json", filepath.Join(dir, name))
		if code != 0 {
			t.Errorf("%s: exit %d: %s", name, code, stderr)
			continue
		}
		var got struct {
			Labels []string `json:"analog_labels"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(got.Labels) != want.AnalogCount {
			t.Errorf("%s: %d labels, want %d", name, len(got.Labels), want.AnalogCount)
			continue
		}
		for i, c := range want.Channels {
			if got.Labels[i] != strings.Trim(c.Label, " \x00") {
				t.Errorf("%s: label %d = %q, want %q", name, i, got.Labels[i], c.Label)
			}
		}
	}
}
