package emg

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

func f64(v float64) *float64 { return &v }

func TestScoresWorkedExample(t *testing.T) {
	// spec: CH1 18/18/0, CH2 8/8/0, RPE 4 -> overall 78.2523
	l := &MuscleCounts{Channel: "CH1", Contractions: 18, MVCCompliant: 18, Expected: 12}
	r := &MuscleCounts{Channel: "CH2", Contractions: 8, MVCCompliant: 8, Expected: 12}
	p, err := Scores(l, r, &Params{RPE: f64(4)})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(*p.OverallScore-78.2523) > 5e-5 {
		t.Errorf("overall %v", *p.OverallScore)
	}
	if math.Abs(*p.LeftMuscleCompliance-66.6) > 1e-12 || math.Abs(*p.RightMuscleCompliance-(0.333*8.0/12+0.333)*100) > 1e-12 {
		t.Errorf("muscle compliance %v %v", *p.LeftMuscleCompliance, *p.RightMuscleCompliance)
	}
	if *p.CompletionRateLeft != 1 || *p.IntensityRateRight != 1 || *p.DurationRateLeft != 0 || !p.BFRCompliant {
		t.Errorf("rates %+v", p)
	}
	wantSym := (1 - math.Abs(*p.LeftMuscleCompliance-*p.RightMuscleCompliance)/(*p.LeftMuscleCompliance+*p.RightMuscleCompliance)) * 100
	if *p.SymmetryScore != wantSym || *p.EffortScore != 100 || p.GameScore != nil {
		t.Errorf("symmetry %v effort %v game %v", *p.SymmetryScore, *p.EffortScore, p.GameScore)
	}
}

func TestScoresRenormalisation(t *testing.T) {
	l := &MuscleCounts{Contractions: 12, MVCCompliant: 6, DurationCompliant: 3, Expected: 12}
	r := &MuscleCounts{Contractions: 6, MVCCompliant: 6, DurationCompliant: 6, Expected: 12}
	// no RPE, no game: overall over compliance and symmetry only
	p, err := Scores(l, r, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := (0.5**p.ComplianceScore + 0.25**p.SymmetryScore) / 0.75
	if p.EffortScore != nil || math.Abs(*p.OverallScore-want) > 1e-12 {
		t.Errorf("overall %v, want %v (effort %v)", *p.OverallScore, want, p.EffortScore)
	}
	// game score counts once its weight is set
	w := DefaultWeights
	w.Game = 0.5
	p, err = Scores(l, r, &Params{RPE: f64(7), GamePoints: f64(30), GameMaxPoints: f64(40), Weights: &w})
	if err != nil {
		t.Fatal(err)
	}
	want = (0.5**p.ComplianceScore + 0.25**p.SymmetryScore + 0.25*80 + 0.5*75) / 1.5
	if *p.GameScore != 75 || *p.EffortScore != 80 || math.Abs(*p.OverallScore-want) > 1e-12 {
		t.Errorf("game %v effort %v overall %v want %v", *p.GameScore, *p.EffortScore, *p.OverallScore, want)
	}
	// BFR outside 45..55 zeroes compliance
	p, _ = Scores(l, r, &Params{BFRPressureAOP: f64(60)})
	if *p.ComplianceScore != 0 || p.BFRCompliant {
		t.Errorf("BFR 60: compliance %v", *p.ComplianceScore)
	}
	p, _ = Scores(l, r, &Params{BFRPressureAOP: f64(45)})
	if *p.ComplianceScore == 0 || !p.BFRCompliant {
		t.Errorf("BFR 45: compliance %v", *p.ComplianceScore)
	}
	// no contractions at all
	z := &MuscleCounts{Expected: 12}
	p, _ = Scores(z, z, nil)
	if *p.SymmetryScore != 0 || *p.ComplianceScore != 0 || *p.IntensityRateLeft != 0 {
		t.Errorf("empty session %+v", p)
	}
	// a single muscle: no symmetry
	p, _ = Scores(l, nil, nil)
	if p.SymmetryScore != nil || *p.ComplianceScore != *p.LeftMuscleCompliance || *p.OverallScore != *p.ComplianceScore {
		t.Errorf("one muscle %+v", p)
	}
	p, _ = Scores(nil, nil, nil)
	if p.OverallScore != nil || p.ComplianceScore != nil {
		t.Errorf("no muscle %+v", p)
	}
}

func TestEffortScoreAndRPEValidation(t *testing.T) {
	want := map[float64]float64{0: 20, 1: 20, 2: 60, 3: 80, 4: 100, 5: 100, 6: 100, 7: 80, 8: 60, 9: 20, 10: 20}
	for rpe, w := range want {
		if got, err := EffortScore(rpe); err != nil || got != w {
			t.Errorf("RPE %v: %v %v, want %v", rpe, got, err, w)
		}
	}
	for _, bad := range []float64{-1, 11, 4.5, math.NaN()} {
		_, err := Scores(&MuscleCounts{}, &MuscleCounts{}, &Params{RPE: f64(bad)})
		var pe *ParamError
		if !errors.As(err, &pe) || pe.Field != "rpe" {
			t.Errorf("RPE %v: error %v, want a *ParamError on rpe", bad, err)
		}
	}
}

func TestParamsValidate(t *testing.T) {
	neg := -1
	bad := []struct {
		p     Params
		field string
	}{
		{Params{MVC: map[string]float64{"CH1": -1}}, "mvc"},
		{Params{MVC: map[string]float64{"CH1": math.Inf(1)}}, "mvc"},
		{Params{MVCThresholdPct: map[string]float64{"CH1": 0}}, "mvc_threshold_pct"},
		{Params{MVCGlobal: f64(0)}, "mvc_global"},
		{Params{ThresholdPct: f64(120)}, "threshold_pct"},
		{Params{ThresholdFactor: f64(1)}, "threshold_factor"},
		{Params{ActivatedThresholdFactor: f64(0)}, "activated_threshold_factor"},
		{Params{MinDurationMs: f64(-5)}, "min_duration_ms"},
		{Params{SmoothingWindow: &neg}, "smoothing_window"},
		{Params{DurationThresholdMs: f64(math.NaN())}, "duration_threshold_ms"},
		{Params{DurationThresholdsS: map[string]float64{"CH1": -2}}, "duration_thresholds_s"},
		{Params{ExpectedContractions: &neg}, "expected_contractions"},
		{Params{ExpectedContractionsPerChannel: map[string]int{"CH1": 0}}, "expected_contractions_per_channel"},
		{Params{RPE: f64(12)}, "rpe"},
		{Params{BFRPressureAOP: f64(-3)}, "bfr_pressure_aop"},
		{Params{GamePoints: f64(-1)}, "game_points"},
		{Params{GameMaxPoints: f64(0)}, "game_max_points"},
		{Params{Weights: &Weights{}}, "weights"},
		{Params{Weights: &Weights{Compliance: -1, Completion: 1}}, "weights"},
		{Params{Muscles: map[string]string{"CH1": "up"}}, "muscles"},
		{Params{Muscles: map[string]string{"CH1": "left", "CH2": "left"}}, "muscles"},
		{Params{Profile: "x"}, "profile"},
		{Params{Validation: &ValidationLimits{MinSamples: &neg}}, "validation.min_samples"},
	}
	for _, c := range bad {
		err := c.p.Validate()
		var pe *ParamError
		if !errors.As(err, &pe) || pe.Field != c.field {
			t.Errorf("%+v: error %v, want one on %s", c.p, err, c.field)
		}
	}
	if err := (&Params{}).Validate(); err != nil {
		t.Errorf("empty params: %v", err)
	}
}

func TestReadParams(t *testing.T) {
	p, err := ReadParams(strings.NewReader(`{"mvc": {"CH1": 0.0002}, "rpe": 5, "weights": {"w_game": 0.1},
		"duration_thresholds_s": {"CH2": 1.5}, "muscles": {"CH1": "left", "CH2": "right"}, "profile": "standard"}`))
	if err != nil {
		t.Fatal(err)
	}
	if p.MVC["CH1"] != 0.0002 || *p.RPE != 5 || p.Weights.Game != 0.1 || p.Weights.Compliance != 0.5 || p.Profile != "standard" {
		t.Errorf("decoded %+v, weights %+v", p, *p.Weights)
	}
	for _, in := range []string{`{"rpe": 11}`, `{"mvcc": 1}`, `{"weights": {"w_x": 1}}`, `{"rpe": "four"}`, `[]`, `{} {}`, `{"smoothing_window": 1.5}`} {
		if _, err := ReadParams(strings.NewReader(in)); err == nil {
			t.Errorf("%s: no error", in)
		}
	}
}

func ExampleScores() {
	left := &MuscleCounts{Channel: "CH1", Contractions: 18, MVCCompliant: 18, Expected: 12}
	right := &MuscleCounts{Channel: "CH2", Contractions: 8, MVCCompliant: 8, Expected: 12}
	rpe := 4.0
	p, err := Scores(left, right, &Params{RPE: &rpe})
	if err != nil {
		panic(err)
	}
	fmt.Printf("compliance %.2f, symmetry %.2f, effort %.0f, overall %.4f\n",
		*p.ComplianceScore, *p.SymmetryScore, *p.EffortScore, *p.OverallScore)
	// Output: compliance 61.05, symmetry 90.91, effort 100, overall 78.2523
}
