package service_test

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"

	"emgd/emg"
	"emgd/internal/analysis"
	"emgd/internal/service"
	"emgd/internal/testenv"
)

func TestCompactContractionsRoundTrip(t *testing.T) {
	in := service.CompactContractions{
		{StartTimeMs: 1.5, EndTimeMs: 2000.25, DurationMs: 1998.75, MeanAmplitude: 1.2345678901234567e-4, MaxAmplitude: 3e-4, MeetsMVC: true, IsGood: false},
		{StartTimeMs: 3000, EndTimeMs: 5500, DurationMs: 2500, MeanAmplitude: 2e-4, MaxAmplitude: 5e-4, MeetsMVC: true, MeetsDuration: true, IsGood: true},
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out service.CompactContractions
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n%v\n%v", in, out)
	}
	// The expanded form (a list of objects) reads too.
	exp, _ := json.Marshal([]emg.Contraction(in))
	var out2 service.CompactContractions
	if err := json.Unmarshal(exp, &out2); err != nil || !reflect.DeepEqual(in, out2) {
		t.Fatalf("expanded form: %v %v", out2, err)
	}
	if err := json.Unmarshal([]byte(`{"columns":["a"],"rows":[]}`), &out2); err == nil {
		t.Error("wrong column count accepted")
	}
}

// The stored aggregates of every real GHOSTLY recording stay within 16 KB,
// and expand back to exactly what emgd analyze prints.
func TestStoredSummarySize(t *testing.T) {
	dir := testenv.Testdata(t, "ghostly")
	paths, _ := filepath.Glob(filepath.Join(dir, "*.c3d"))
	for _, p := range paths {
		res, err := analysis.AnalyzeFile(p, emg.Params{}, emg.Analyzer{})
		if err != nil {
			t.Fatal(err)
		}
		stored, _ := json.Marshal(service.Summary(res))
		scores, _ := json.Marshal(res.PerformanceAnalysis)
		md, _ := json.Marshal(res.Metadata)
		if total := len(stored) + len(scores) + len(md); total > 16<<10 {
			t.Errorf("%s: %d bytes stored", filepath.Base(p), total)
		}
		expanded, err := service.ExpandJSON(stored)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(map[string]any{"analytics": res.Analytics, "available_channels": res.AvailableChannels, "processing_version": res.ProcessingVersion})
		var a, b any
		json.Unmarshal(expanded, &a)
		json.Unmarshal(want, &b)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: expanded summary differs from the analysis", filepath.Base(p))
		}
		if testing.Verbose() {
			t.Logf("%s: summary %d bytes, scores %d, metadata %d", filepath.Base(p), len(stored), len(scores), len(md))
		}
	}
}
