package emg

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
)

func mustAnalyze(t *testing.T, rec Recording, p Params) *Result {
	t.Helper()
	res, err := Analyze(rec, p)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// ghostlyLike is a 60 s recording at 990 Hz: CH1 and CH2 raw and activated,
// a 3 s burst every 10 s from 2 s.
func ghostlyLike() Recording { return synthRecording(990, 60, 2) }

func TestAnalyzeSynthetic(t *testing.T) {
	res := mustAnalyze(t, ghostlyLike(), Params{})
	if res.ProcessingVersion != "ghostly/1" {
		t.Errorf("processing_version %q", res.ProcessingVersion)
	}
	want := []string{"CH1 Raw", "CH2 Raw", "CH1 activated", "CH2 activated", "CH1 Processed", "CH2 Processed"}
	if !reflect.DeepEqual(res.AvailableChannels, want) {
		t.Errorf("available_channels %q", res.AvailableChannels)
	}
	for _, b := range []string{"CH1", "CH2"} {
		ca := res.Analytics[b]
		if ca == nil || ca.Errors != nil {
			t.Fatalf("%s: %+v", b, ca)
		}
		// bursts start at 2, 12, 22, 32, 42, 52 s and last 3 s
		if ca.ContractionCount != 6 {
			t.Fatalf("%s: %d contractions", b, ca.ContractionCount)
		}
		for i, c := range ca.Contractions {
			start := float64(2000 + 10000*i)
			if math.Abs(c.StartTimeMs-start) > 100 || math.Abs(c.DurationMs-3000) > 200 {
				t.Errorf("%s contraction %d: %.1f ms for %.1f ms", b, i, c.StartTimeMs, c.DurationMs)
			}
			if !c.MeetsDuration {
				t.Errorf("%s contraction %d does not meet 2000 ms", b, i)
			}
		}
		if ca.TimingSource != b+" activated" || ca.MVCEstimationMethod != MVCBackendEstimation {
			t.Errorf("%s: timing %q, method %q", b, ca.TimingSource, ca.MVCEstimationMethod)
		}
		if ca.MPF == nil || ca.MDF == nil || ca.FatigueIndexFINSM5 == nil || ca.RMSTemporalStats.ValidWindows != 119 {
			t.Errorf("%s: features %v %v %v, %d windows", b, ca.MPF, ca.MDF, ca.FatigueIndexFINSM5, ca.RMSTemporalStats.ValidWindows)
		}
		sum := 0.0
		for _, c := range ca.Contractions {
			sum += c.DurationMs
		}
		if math.Abs(ca.TotalTimeUnderTensionMs-sum) > 1e-9 || ca.ComplianceRate != float64(ca.GoodContractionCount)/6 {
			t.Errorf("%s: summary %+v", b, ca)
		}
	}
	pa := res.PerformanceAnalysis
	if pa.LeftChannel != "CH1" || pa.RightChannel != "CH2" || pa.EffortScore != nil || pa.OverallScore == nil {
		t.Errorf("performance %+v", pa)
	}
}

func TestAnalyzeWithoutActivatedChannels(t *testing.T) {
	rec := ghostlyLike()
	rec.Channels = rec.Channels[:2] // raw only
	res := mustAnalyze(t, rec, Params{})
	for _, b := range []string{"CH1", "CH2"} {
		ca := res.Analytics[b]
		if ca.TimingSource != b+" Processed" {
			t.Errorf("%s timed by %q", b, ca.TimingSource)
		}
		if ca.ContractionCount != 6 {
			t.Errorf("%s: %d contractions from the envelope", b, ca.ContractionCount)
		}
	}
	// threshold_factor changes envelope timing only
	hi := 0.9
	res2 := mustAnalyze(t, rec, Params{ThresholdFactor: &hi})
	if res2.Analytics["CH1"].TotalTimeUnderTensionMs >= res.Analytics["CH1"].TotalTimeUnderTensionMs {
		t.Errorf("a higher threshold factor did not shorten the contractions")
	}
	withAct := mustAnalyze(t, ghostlyLike(), Params{ThresholdFactor: &hi})
	base := mustAnalyze(t, ghostlyLike(), Params{})
	if !reflect.DeepEqual(withAct.Analytics["CH1"].Contractions, base.Analytics["CH1"].Contractions) {
		t.Errorf("threshold_factor changed activated-channel timing")
	}
}

func TestAnalyzeChannelFailures(t *testing.T) {
	rec := ghostlyLike()
	nan := append([]float64(nil), rec.Channels[1].Samples...)
	nan[500] = math.NaN()
	rec.Channels[1].Samples = nan
	res, err := Analyze(rec, Params{})
	if err != nil {
		t.Fatal(err)
	}
	if e := res.Analytics["CH2"].Errors; e == nil || !strings.Contains(*e, "NaN") {
		t.Fatalf("CH2 errors %v", e)
	}
	ch2 := res.Analytics["CH2"]
	if ch2.RMS != nil || ch2.ContractionCount != 0 || ch2.Contractions == nil {
		t.Errorf("failed channel %+v", ch2)
	}
	if res.Analytics["CH1"].Errors != nil || res.Analytics["CH1"].ContractionCount != 6 {
		t.Errorf("CH1 should go on: %+v", res.Analytics["CH1"].Errors)
	}
	for _, c := range res.AvailableChannels {
		if c == "CH2 Processed" {
			t.Error("failed channel listed as processed")
		}
	}
	if pa := res.PerformanceAnalysis; pa.RightMuscleCompliance != nil || pa.SymmetryScore != nil || pa.ComplianceScore == nil {
		t.Errorf("scores with a failed right muscle: %+v", pa)
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatalf("result with a failed channel does not encode: %v", err)
	}
	if !strings.Contains(string(b), `"errors":"signal contains NaN`) {
		t.Errorf("errors not in JSON: %s", b[:200])
	}
}

func TestAnalyzeNonFiniteActivatedChannel(t *testing.T) {
	rec := ghostlyLike()
	act := append([]float64(nil), rec.Channels[2].Samples...)
	act[1234] = math.Inf(-1)
	rec.Channels[2].Samples = act
	rec.Channels[3].Samples = rec.Channels[3].Samples[:1000] // another length
	res := mustAnalyze(t, rec, Params{})
	for _, b := range []string{"CH1", "CH2"} {
		ca := res.Analytics[b]
		if ca.Errors != nil || ca.TimingSource != b+" Processed" || ca.ContractionCount != 6 {
			t.Errorf("%s: timing %q, %d contractions, errors %v", b, ca.TimingSource, ca.ContractionCount, ca.Errors)
		}
	}
}

func TestAnalyzeValidation(t *testing.T) {
	sig := func(fs float64, n int) []float64 {
		x, _ := synthEMG(fs, n, 5)
		return x
	}
	inf := sig(1000, 20000)
	inf[7] = math.Inf(1)
	cases := []struct {
		name    string
		x       []float64
		fs      float64
		profile string
		want    string // "" = valid
	}{
		{"short", sig(1000, 999), 1000, "", "too short"},
		{"short standard", sig(1000, 999), 1000, "standard", "too short"},
		{"9 s", sig(1000, 9000), 1000, "", "duration insufficient"},
		{"9 s standard", sig(1000, 9000), 1000, "standard", ""},
		{"601 s", sig(100, 60100), 100, "", "too long"},
		{"601 s standard", sig(100, 60100), 100, "standard", ""},
		{"flat", make([]float64, 20000), 1000, "", "lacks variation"},
		{"infinite", inf, 1000, "", "NaN or infinite"},
		{"10 s", sig(1000, 10000), 1000, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := Recording{Rate: c.fs, Channels: []Channel{{Label: "EMG", Samples: c.x}}}
			res, err := Analyze(rec, Params{Profile: c.profile})
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if res.Analytics["EMG"].Errors != nil {
					t.Fatalf("unexpected error %s", *res.Analytics["EMG"].Errors)
				}
				return
			}
			if !errors.Is(err, ErrAllChannelsFailed) {
				t.Fatalf("error %v, want every channel failed", err)
			}
			var fe *FailedError
			if !errors.As(err, &fe) || !strings.Contains(fe.Channels["EMG"], c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			if res == nil || res.Analytics["EMG"].Errors == nil || !strings.Contains(*res.Analytics["EMG"].Errors, c.want) {
				t.Fatalf("result does not carry the error")
			}
		})
	}
	// limits are configurable
	minS := 5.0
	rec := Recording{Rate: 1000, Channels: []Channel{{Label: "EMG", Samples: sig(1000, 9000)}}}
	if _, err := Analyze(rec, Params{Validation: &ValidationLimits{MinSeconds: &minS}}); err != nil {
		t.Errorf("min_seconds 5: %v", err)
	}
}

func TestAnalyzeOtherRateInt16(t *testing.T) {
	// int16-like samples at 2 kHz: values quantised to 1/32768 of 1 mV full scale.
	raw, act := synthEMG(2000, 40000, 9)
	q := func(x []float64) []float64 {
		out := make([]float64, len(x))
		for i, v := range x {
			out[i] = math.Round(v/1e-3*32767) * 1e-3 / 32767
		}
		return out
	}
	rec := Recording{Rate: 2000, Channels: []Channel{{Label: "EMG1", Samples: q(raw)}, {Label: "EMG1 activated", Samples: q(act)}}}
	res := mustAnalyze(t, rec, Params{})
	ca := res.Analytics["EMG1"]
	if ca.Errors != nil || ca.ContractionCount != 2 {
		t.Fatalf("int16 at 2 kHz: %d contractions, errors %v", ca.ContractionCount, ca.Errors)
	}
	if ca.RMSTemporalStats.ValidWindows != 39 {
		t.Errorf("%d temporal windows at 2 kHz over 20 s", ca.RMSTemporalStats.ValidWindows)
	}
}

func TestAnalyzeChannelNames(t *testing.T) {
	x, _ := synthEMG(1000, 20000, 3)
	rec := Recording{Rate: 1000, Channels: []Channel{
		{Label: "", Samples: x}, {Label: "EMG", Samples: x}, {Label: "EMG", Samples: x}, {Label: "  ", Samples: x},
		{Label: "Quad activated", Samples: x},
	}}
	res, err := Analyze(rec, Params{})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range res.Analytics {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if want := []string{"EMG", "EMG#3", "Quad", "analog_1", "analog_4"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("bases %q, want %q", keys, want)
	}
	if e := res.Analytics["Quad"].Errors; e == nil || !strings.Contains(*e, "no raw signal") {
		t.Errorf("activated-only base: %v", e)
	}
	if got := ChannelKeys([]string{"A", "A", "A", ""}); !reflect.DeepEqual(got, []string{"A", "A#2", "A#3", "analog_4"}) {
		t.Errorf("ChannelKeys %q", got)
	}
	if BaseName("CH1 Raw") != "CH1" || BaseName("CH1 activated") != "CH1" || BaseName("CH1 Raw extra") != "CH1 Raw extra" {
		t.Error("BaseName")
	}
}

func TestAnalyzeParams(t *testing.T) {
	rec := ghostlyLike()
	base := mustAnalyze(t, rec, Params{})
	mvc, pct := 2e-4, 50.0
	res := mustAnalyze(t, rec, Params{MVC: map[string]float64{"CH1 Raw": mvc}, MVCThresholdPct: map[string]float64{"CH1": pct}})
	if ca := res.Analytics["CH1"]; ca.MVCEstimationMethod != MVCUserProvided || *ca.MVC75Threshold != mvc*pct/100 {
		t.Errorf("user MVC: %s %v", ca.MVCEstimationMethod, *ca.MVC75Threshold)
	}
	if ca := res.Analytics["CH2"]; ca.MVCEstimationMethod != MVCBackendEstimation || *ca.MVC75Threshold != *base.Analytics["CH2"].MVC75Threshold {
		t.Errorf("CH2 should still be estimated: %s", ca.MVCEstimationMethod)
	}
	g, sp := 1e-3, 80.0
	res = mustAnalyze(t, rec, Params{MVCGlobal: &g, ThresholdPct: &sp})
	if ca := res.Analytics["CH2"]; ca.MVCEstimationMethod != MVCGlobalProvided || *ca.MVC75Threshold != g*0.8 || ca.MVCCompliantCount != 0 {
		t.Errorf("global MVC: %s %v, %d compliant", ca.MVCEstimationMethod, *ca.MVC75Threshold, ca.MVCCompliantCount)
	}
	// backend estimate at another session percentage scales the threshold
	res = mustAnalyze(t, rec, Params{ThresholdPct: &sp})
	if got, want := *res.Analytics["CH1"].MVC75Threshold, *base.Analytics["CH1"].MVC75Threshold/75*80; math.Abs(got-want) > 1e-15*want {
		t.Errorf("estimate at 80%%: %v, want %v", got, want)
	}
	// duration thresholds: per muscle in seconds beats the session value in ms
	ms := 5000.0
	res = mustAnalyze(t, rec, Params{DurationThresholdMs: &ms, DurationThresholdsS: map[string]float64{"CH2": 1.5}})
	if *res.Analytics["CH1"].DurationThresholdActualValue != 5000 || res.Analytics["CH1"].DurationCompliantCount != 0 {
		t.Errorf("CH1 duration threshold %v", *res.Analytics["CH1"].DurationThresholdActualValue)
	}
	if *res.Analytics["CH2"].DurationThresholdActualValue != 1500 || res.Analytics["CH2"].DurationCompliantCount != 6 {
		t.Errorf("CH2 duration threshold %v", *res.Analytics["CH2"].DurationThresholdActualValue)
	}
	// min duration and smoothing window reach the detection
	minD := 4000.0
	if res := mustAnalyze(t, rec, Params{MinDurationMs: &minD}); res.Analytics["CH1"].ContractionCount != 0 {
		t.Errorf("min_duration_ms 4000 kept %d contractions", res.Analytics["CH1"].ContractionCount)
	}
	// channel selection and muscle mapping
	res = mustAnalyze(t, rec, Params{Channels: []string{"CH2"}})
	if len(res.Analytics) != 1 || res.Analytics["CH2"] == nil || res.PerformanceAnalysis.LeftChannel != "CH2" {
		t.Errorf("selection: %v, left %q", len(res.Analytics), res.PerformanceAnalysis.LeftChannel)
	}
	res = mustAnalyze(t, rec, Params{Muscles: map[string]string{"CH1": "right", "CH2": "Left"}})
	if res.PerformanceAnalysis.LeftChannel != "CH2" || res.PerformanceAnalysis.RightChannel != "CH1" {
		t.Errorf("mapping: %+v", res.PerformanceAnalysis)
	}
	// unknown channels are parameter errors
	for _, p := range []Params{
		{Channels: []string{"CH9"}},
		{MVC: map[string]float64{"CH9": 1}},
		{Muscles: map[string]string{"CH9": "left"}},
		{ExpectedContractionsPerChannel: map[string]int{"X": 3}},
	} {
		_, err := Analyze(rec, p)
		var pe *ParamError
		if !errors.As(err, &pe) {
			t.Errorf("%+v: error %v, want a ParamError", p, err)
		}
	}
	// expected contractions per channel reach the completion rate
	e := 3
	res = mustAnalyze(t, rec, Params{ExpectedContractionsPerChannel: map[string]int{"CH1": e}, ExpectedContractions: &e})
	if *res.PerformanceAnalysis.CompletionRateLeft != 1 {
		t.Errorf("completion with 3 expected: %v", *res.PerformanceAnalysis.CompletionRateLeft)
	}
	e = 60
	res = mustAnalyze(t, rec, Params{ExpectedContractions: &e})
	if *res.PerformanceAnalysis.CompletionRateLeft != 0.1 {
		t.Errorf("completion with 60 expected: %v", *res.PerformanceAnalysis.CompletionRateLeft)
	}
}

// TestAnalyzeParamNames: every channel-keyed parameter names its field when
// it names no channel of the recording; with several bad, the first in the
// fixed order (the order of Params) is reported; the validation limits
// given override the profile's; and the caller's Params are left as given.
func TestAnalyzeParamNames(t *testing.T) {
	rec := ghostlyLike()
	bad := map[string]float64{"CH9": 1}
	for _, c := range []struct {
		p     Params
		field string
	}{
		{Params{MVC: bad}, "mvc"},
		{Params{MVCThresholdPct: bad}, "mvc_threshold_pct"},
		{Params{DurationThresholdsS: bad}, "duration_thresholds_s"},
		{Params{ExpectedContractionsPerChannel: map[string]int{"CH9": 2}}, "expected_contractions_per_channel"},
		{Params{Muscles: map[string]string{"CH9": "left"}}, "muscles"},
		{Params{Channels: []string{"CH9"}}, "channels"},
		{Params{Channels: []string{"CH9"}, Muscles: map[string]string{"CH9": "left"}, MVC: bad}, "mvc"},
		{Params{Channels: []string{"CH9"}, Muscles: map[string]string{"CH8": "left"}}, "muscles"},
		{Params{MVCThresholdPct: bad, DurationThresholdsS: bad}, "mvc_threshold_pct"},
	} {
		_, err := Analyze(rec, c.p)
		var pe *ParamError
		if !errors.As(err, &pe) || pe.Field != c.field || !strings.Contains(pe.Msg, "CH") {
			t.Errorf("%+v: error %v, want a ParamError on %s", c.p, err, c.field)
		}
	}
	// keys (full labels) resolve to their bases; sides are case-blind
	muscles := map[string]string{"CH1 Raw": "RIGHT", "CH2 activated": "Left"}
	p := Params{Muscles: muscles, Channels: []string{"CH1 activated", "CH2"}}
	res := mustAnalyze(t, rec, p)
	if pa := res.PerformanceAnalysis; pa.LeftChannel != "CH2" || pa.RightChannel != "CH1" || len(res.Analytics) != 2 {
		t.Errorf("keys: left %q right %q, %d bases", pa.LeftChannel, pa.RightChannel, len(res.Analytics))
	}
	if len(muscles) != 2 || muscles["CH1 Raw"] != "RIGHT" || muscles["CH2 activated"] != "Left" || len(p.Channels) != 2 {
		t.Errorf("Analyze changed the caller's parameters: %v %v", muscles, p.Channels)
	}
	// validation limits: each given limit replaces the profile's, the others stay
	maxS := 30.0
	res, err := Analyze(rec, Params{Validation: &ValidationLimits{MaxSeconds: &maxS}})
	if !errors.Is(err, ErrAllChannelsFailed) || res.Analytics["CH1"].Errors == nil || !strings.Contains(*res.Analytics["CH1"].Errors, "30 s maximum") {
		t.Errorf("max_seconds 30 on 60 s: %v", err)
	}
	minN := 100000
	res, err = Analyze(rec, Params{Validation: &ValidationLimits{MinSamples: &minN}})
	if !errors.Is(err, ErrAllChannelsFailed) || !strings.Contains(*res.Analytics["CH2"].Errors, "at least 100000 samples") {
		t.Errorf("min_samples 100000: %v", err)
	}
	zero := 0.0
	short := synthRecording(990, 5, 2) // below the ghostly profile's 10 s
	if _, err := Analyze(short, Params{}); !errors.Is(err, ErrAllChannelsFailed) {
		t.Errorf("5 s with the profile's limits: %v", err)
	}
	if _, err := Analyze(short, Params{Validation: &ValidationLimits{MinSeconds: &zero}}); err != nil {
		t.Errorf("5 s with min_seconds 0: %v", err)
	}
}

func TestFailedErrorMessage(t *testing.T) {
	e := &FailedError{Channels: map[string]string{}}
	for _, k := range []string{"A", "B", "C", "D", "E", "F"} {
		e.Channels[k] = "too short"
	}
	msg := e.Error()
	if !strings.Contains(msg, "A: too short") || !strings.Contains(msg, "and 2 more channels") || strings.Contains(msg, "E:") {
		t.Errorf("message %q", msg)
	}
	if !errors.Is(e, ErrAllChannelsFailed) {
		t.Error("errors.Is")
	}
}

func TestAnalyzeErrors(t *testing.T) {
	if _, err := Analyze(Recording{Rate: 0, Channels: []Channel{{Label: "A", Samples: []float64{1}}}}, Params{}); err == nil {
		t.Error("rate 0: no error")
	}
	if _, err := Analyze(Recording{Rate: math.NaN(), Channels: []Channel{{Label: "A"}}}, Params{}); err == nil {
		t.Error("rate NaN: no error")
	}
	if _, err := Analyze(Recording{Rate: 1000}, Params{}); err == nil {
		t.Error("no channels: no error")
	}
	if _, err := Analyze(ghostlyLike(), Params{Profile: "fancy"}); err == nil {
		t.Error("unknown profile: no error")
	}
	// a channel whose loader fails carries the error
	rec := ghostlyLike()
	rec.Channels[0] = Channel{Label: "CH1 Raw", Load: func() ([]float64, error) { return nil, errors.New("disk on fire") }}
	res, err := Analyze(rec, Params{})
	if err != nil {
		t.Fatal(err)
	}
	if e := res.Analytics["CH1"].Errors; e == nil || !strings.Contains(*e, "disk on fire") {
		t.Errorf("loader error: %v", e)
	}
	// empty samples
	res, err = Analyze(Recording{Rate: 1000, Channels: []Channel{{Label: "A"}}}, Params{})
	if !errors.Is(err, ErrAllChannelsFailed) || res.Analytics["A"].Errors == nil {
		t.Errorf("empty channel: %v", err)
	}
}

// TestAnalyzeWorkersAgree: one worker analyses bases in pairs (envelope
// filters interleaved), several workers one base at a time; the results
// must be identical, also for an odd count and a pair with a failed base.
func TestAnalyzeWorkersAgree(t *testing.T) {
	flat := synthRecording(990, 30, 3)
	flat.Channels[1].Samples = make([]float64, len(flat.Channels[1].Samples)) // CH2 Raw fails validation
	for name, rec := range map[string]Recording{"four": synthRecording(990, 30, 4), "three": synthRecording(990, 30, 3), "flat": flat} {
		one, err := Analyzer{Workers: 1}.Analyze(rec, Params{})
		if err != nil {
			t.Fatal(err)
		}
		two, err := Analyzer{Workers: 2}.Analyze(rec, Params{})
		if err != nil {
			t.Fatal(err)
		}
		a, _ := json.Marshal(one)
		b, _ := json.Marshal(two)
		if string(a) != string(b) {
			t.Errorf("%s: two workers give another result than one", name)
		}
	}
}

func TestAnalyzeStandardProfile(t *testing.T) {
	rec := ghostlyLike()
	// a slow drift pulls the ghostly MDF into the first bins; standard removes it
	raw := append([]float64(nil), rec.Channels[0].Samples...)
	for i := range raw {
		raw[i] += 1e-3 * math.Sin(2*math.Pi*2*float64(i)/990)
	}
	rec.Channels[0].Samples = raw
	g := mustAnalyze(t, rec, Params{})
	s := mustAnalyze(t, rec, Params{Profile: "standard"})
	if s.ProcessingVersion != "standard/1" {
		t.Errorf("processing_version %q", s.ProcessingVersion)
	}
	if *g.Analytics["CH1"].MDF > 10 || *s.Analytics["CH1"].MDF < 20 {
		t.Errorf("MDF ghostly %v, standard %v", *g.Analytics["CH1"].MDF, *s.Analytics["CH1"].MDF)
	}
	// envelope, MVC and contractions are unchanged
	if !reflect.DeepEqual(g.Analytics["CH1"].Contractions, s.Analytics["CH1"].Contractions) ||
		*g.Analytics["CH1"].MVC75Threshold != *s.Analytics["CH1"].MVC75Threshold {
		t.Error("standard profile changed detection")
	}
	// features equal those of the band-passed signal
	z, _ := Butter(4, Bandpass, 990, 20, 445.5)
	b, a := z.TF()
	y, _ := FiltFilt(b, a, raw)
	f, _ := ComputeFeatures(y, 990)
	if math.Abs(*s.Analytics["CH1"].MPF-*f.MPF) > 1e-12**f.MPF || *s.Analytics["CH1"].RMS != f.RMS {
		t.Errorf("standard MPF %v, band-passed %v", *s.Analytics["CH1"].MPF, *f.MPF)
	}
}

func TestChannelAnalyticsJSONFields(t *testing.T) {
	res := mustAnalyze(t, ghostlyLike(), Params{})
	b, _ := json.Marshal(res.Analytics["CH1"])
	var m map[string]any
	json.Unmarshal(b, &m)
	want := []string{"avg_amplitude", "avg_duration_ms", "compliance_rate", "contraction_count", "contractions",
		"duration_compliant_count", "duration_threshold_actual_value", "errors", "fatigue_index_fi_nsm5",
		"fatigue_index_temporal_stats", "good_contraction_count", "mav", "mav_temporal_stats", "max_amplitude",
		"max_duration_ms", "mdf", "mdf_temporal_stats", "min_duration_ms", "mpf", "mpf_temporal_stats",
		"mvc75_threshold", "mvc_compliant_count", "mvc_estimation_method", "rms", "rms_temporal_stats",
		"total_time_under_tension_ms"}
	var got []string
	for k := range m {
		got = append(got, k)
	}
	sort.Strings(got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("fields %q", got)
	}
	c := m["contractions"].([]any)[0].(map[string]any)
	if len(c) != 8 {
		t.Errorf("contraction fields %v", c)
	}
	var top map[string]any
	b, _ = json.Marshal(res)
	json.Unmarshal(b, &top)
	for _, k := range []string{"metadata", "analytics", "available_channels", "performance_analysis", "processing_version"} {
		if _, ok := top[k]; !ok {
			t.Errorf("result lacks %q", k)
		}
	}
}

// TestAnalyzeOddInputsDoNotPanic runs the whole analysis on short signals at
// unusual rates with every validation limit lifted: results or clear errors,
// never a panic.
func TestAnalyzeOddInputsDoNotPanic(t *testing.T) {
	zero, zeroS := 0, 0.0
	lim := &ValidationLimits{MinSamples: &zero, MinSeconds: &zeroS, MaxSeconds: &zeroS}
	for _, fs := range []float64{1, 5, 37.5, 100, 990, 2000, 1e5} {
		for _, n := range []int{1, 2, 17, 50, 99, 100, 257, 999, 1500, 5000} {
			for _, profile := range []string{"ghostly", "standard"} {
				raw, act := synthEMG(math.Max(fs, 10), n, uint64(n))
				rec := Recording{Rate: fs, Channels: []Channel{{Label: "A", Samples: raw}, {Label: "A activated", Samples: act}, {Label: "B", Samples: raw[:n/2]}}}
				res, err := Analyze(rec, Params{Profile: profile, Validation: lim})
				if err != nil && !errors.Is(err, ErrAllChannelsFailed) {
					t.Errorf("fs %v n %d %s: %v", fs, n, profile, err)
					continue
				}
				if _, err := json.Marshal(res); err != nil {
					t.Errorf("fs %v n %d %s: result does not encode: %v", fs, n, profile, err)
				}
			}
		}
	}
}

// TestAnalyzerAlloc: the arrays of a base's envelope come from Alloc when it
// is set (the signal is longer than a pooled workspace keeps, so they are
// new each time), whatever they hold, and the result is the one make's
// arrays give; a slice shorter than asked for is not used.
func TestAnalyzerAlloc(t *testing.T) {
	rec := synthRecording(990, 530, 1)
	if n := len(rec.Channels[0].Samples); n <= maxPooledSamples {
		t.Fatalf("%d samples: not longer than a pooled workspace keeps", n)
	}
	want, err := Analyzer{}.Analyze(rec, Params{})
	if err != nil {
		t.Fatal(err)
	}
	wantJSON, _ := json.Marshal(want)
	for _, short := range []bool{false, true} {
		for _, workers := range []int{1, 2} {
			var mu sync.Mutex
			var asked []int
			a := Analyzer{Workers: workers, Alloc: func(n int) []float64 {
				mu.Lock()
				asked = append(asked, n)
				mu.Unlock()
				if short {
					n--
				}
				x := make([]float64, n)
				for i := range x {
					x[i] = math.NaN()
				}
				return x
			}}
			got, err := a.Analyze(rec, Params{})
			if err != nil {
				t.Fatal(err)
			}
			if len(asked) < 2 {
				t.Errorf("short %v, %d workers: Alloc asked for %v, want the envelope and its filter buffer", short, workers, asked)
			}
			for _, n := range asked {
				if n < len(rec.Channels[0].Samples) {
					t.Errorf("short %v, %d workers: Alloc asked for %d samples, fewer than the signal's", short, workers, n)
				}
			}
			if b, _ := json.Marshal(got); string(b) != string(wantJSON) {
				t.Errorf("short %v, %d workers: the result differs from make's arrays'", short, workers)
			}
		}
	}
}
