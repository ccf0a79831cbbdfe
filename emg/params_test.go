package emg

import "testing"

// TestThresholdPctFor: a channel's own percentage beats the session's,
// which beats the default; and the analysis places each channel's MVC
// threshold at exactly that percentage of its MVC.
func TestThresholdPctFor(t *testing.T) {
	sess, own := 80.0, 40.0
	for _, tc := range []struct {
		name string
		p    Params
		want map[string]float64
	}{
		{"none", Params{}, map[string]float64{"CH1": DefaultThresholdPct, "CH2": DefaultThresholdPct}},
		{"session", Params{ThresholdPct: &sess}, map[string]float64{"CH1": sess, "CH2": sess}},
		{"channel", Params{MVCThresholdPct: map[string]float64{"CH1": own}}, map[string]float64{"CH1": own, "CH2": DefaultThresholdPct}},
		{"both", Params{ThresholdPct: &sess, MVCThresholdPct: map[string]float64{"CH2": own}}, map[string]float64{"CH1": sess, "CH2": own}},
	} {
		for base, want := range tc.want {
			if got := tc.p.ThresholdPctFor(base); got != want {
				t.Errorf("%s: ThresholdPctFor(%s) = %v, want %v", tc.name, base, got, want)
			}
		}
	}

	rec := ghostlyLike()
	mvc := map[string]float64{"CH1": 2e-4, "CH2": 1e-4}
	p := Params{MVC: mvc, ThresholdPct: &sess, MVCThresholdPct: map[string]float64{"CH2 Raw": own}}
	res := mustAnalyze(t, rec, p)
	resolved := Params{MVC: mvc, ThresholdPct: &sess, MVCThresholdPct: map[string]float64{"CH2": own}}
	for base, m := range mvc {
		ca := res.Analytics[base]
		if ca == nil || ca.MVC75Threshold == nil {
			t.Fatalf("%s: no MVC threshold", base)
		}
		if want := m * (resolved.ThresholdPctFor(base) / 100); *ca.MVC75Threshold != want {
			t.Errorf("%s: MVC threshold %v, want %v", base, *ca.MVC75Threshold, want)
		}
	}
}
