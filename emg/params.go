package emg

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// Params are the session parameters of one analysis. Every field is
// optional; nil or empty means the default named in its comment. Channel
// keys are base names ("CH1"); a full label ("CH1 Raw") is accepted too.
// The JSON form is the params file of `emgd analyze --params`.
type Params struct {
	// Profile names the processing profile: "ghostly" (default) or "standard".
	Profile string `json:"profile,omitempty"`

	// MVC holds per-channel MVC values (signal units, volts for GHOSTLY).
	MVC map[string]float64 `json:"mvc,omitempty"`
	// MVCThresholdPct holds per-channel threshold percentages of the MVC.
	MVCThresholdPct map[string]float64 `json:"mvc_threshold_pct,omitempty"`
	// MVCGlobal is a session-wide MVC value used for channels without their own.
	MVCGlobal *float64 `json:"mvc_global,omitempty"`
	// ThresholdPct is the session threshold percentage (default 75).
	ThresholdPct *float64 `json:"threshold_pct,omitempty"`

	// ThresholdFactor replaces 0.10 when the Processed envelope times the contractions.
	ThresholdFactor *float64 `json:"threshold_factor,omitempty"`
	// ActivatedThresholdFactor replaces 0.05 when an activated channel does.
	ActivatedThresholdFactor *float64 `json:"activated_threshold_factor,omitempty"`
	// MinDurationMs drops shorter runs (default 100 ms).
	MinDurationMs *float64 `json:"min_duration_ms,omitempty"`
	// SmoothingWindow is the timing moving average in samples (default 100).
	SmoothingWindow *int `json:"smoothing_window,omitempty"`

	// DurationThresholdMs is the session duration threshold (default 2000 ms).
	DurationThresholdMs *float64 `json:"duration_threshold_ms,omitempty"`
	// DurationThresholdsS holds per-muscle duration thresholds in seconds.
	DurationThresholdsS map[string]float64 `json:"duration_thresholds_s,omitempty"`

	// ExpectedContractions per muscle (default 12).
	ExpectedContractions *int `json:"expected_contractions,omitempty"`
	// ExpectedContractionsPerChannel overrides it per channel.
	ExpectedContractionsPerChannel map[string]int `json:"expected_contractions_per_channel,omitempty"`

	// RPE is the post-session Borg CR-10 rating, an integer 0..10.
	RPE *float64 `json:"rpe,omitempty"`
	// BFRPressureAOP is the blood-flow-restriction pressure in % of arterial occlusion pressure.
	BFRPressureAOP *float64 `json:"bfr_pressure_aop,omitempty"`
	// GamePoints and GameMaxPoints give the game score when both are known.
	GamePoints    *float64 `json:"game_points,omitempty"`
	GameMaxPoints *float64 `json:"game_max_points,omitempty"`
	// Weights of the overall score (default compliance 0.50, symmetry 0.25,
	// effort 0.25, game 0; compliance sub-weights 0.333/0.333/0.334).
	Weights *Weights `json:"weights,omitempty"`

	// Channels selects the bases to analyse (default: all).
	Channels []string `json:"channels,omitempty"`
	// Muscles maps bases to "left" or "right" (default: the first two bases
	// in sorted order are left and right).
	Muscles map[string]string `json:"muscles,omitempty"`

	// Validation overrides the profile's validation limits.
	Validation *ValidationLimits `json:"validation,omitempty"`
}

// ValidationLimits are the per-channel checks of a profile. A zero duration
// limit is no limit.
type ValidationLimits struct {
	MinSamples *int     `json:"min_samples,omitempty"`
	MinSeconds *float64 `json:"min_seconds,omitempty"`
	MaxSeconds *float64 `json:"max_seconds,omitempty"`
}

// Weights of the session scores.
type Weights struct {
	Compliance float64 `json:"w_compliance"`
	Symmetry   float64 `json:"w_symmetry"`
	Effort     float64 `json:"w_effort"`
	Game       float64 `json:"w_game"`
	Completion float64 `json:"w_completion"`
	Intensity  float64 `json:"w_intensity"`
	Duration   float64 `json:"w_duration"`
}

// DefaultWeights are the GHOSTLY+ scoring weights.
var DefaultWeights = Weights{Compliance: 0.50, Symmetry: 0.25, Effort: 0.25, Game: 0.00,
	Completion: 0.333, Intensity: 0.333, Duration: 0.334}

// UnmarshalJSON starts from DefaultWeights, so a params file may give only
// the weights it changes.
func (w *Weights) UnmarshalJSON(b []byte) error {
	type plain Weights
	v := plain(DefaultWeights)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return err
	}
	*w = Weights(v)
	return nil
}

// ParamError reports an invalid session parameter: Field is its JSON name,
// Msg what is wrong with it. Callers tell it from other errors (an unusable
// recording, a failed analysis) with errors.As.
type ParamError struct {
	Field string
	Msg   string
}

func (e *ParamError) Error() string { return "invalid parameter " + e.Field + ": " + e.Msg }

func perr(field, format string, a ...any) error {
	return &ParamError{Field: field, Msg: fmt.Sprintf(format, a...)}
}

// ReadParams decodes a JSON params file, rejecting unknown fields, and validates it.
func ReadParams(r io.Reader) (Params, error) {
	var p Params
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Params{}, fmt.Errorf("params: %w", err)
	}
	if dec.More() {
		return Params{}, fmt.Errorf("params: trailing data after the JSON object")
	}
	if err := p.Validate(); err != nil {
		return Params{}, err
	}
	return p, nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ThresholdPctFor is the percentage of the MVC at which channel base's MVC
// threshold lies: its own (MVCThresholdPct), else the session's
// (ThresholdPct), else DefaultThresholdPct. Keys are compared as given:
// the analysis asks with base names ("CH1") after resolving the keys of
// the parameters it was handed ("CH1 Raw") to them.
func (p *Params) ThresholdPctFor(base string) float64 {
	if v, ok := p.MVCThresholdPct[base]; ok {
		return v
	}
	if p.ThresholdPct != nil {
		return *p.ThresholdPct
	}
	return DefaultThresholdPct
}

// Validate checks every given parameter; the error is a *ParamError.
func (p *Params) Validate() error {
	if _, err := LookupProfile(p.Profile); err != nil {
		return perr("profile", "%v", err)
	}
	for _, k := range sortedKeys(p.MVC) {
		if v := p.MVC[k]; !(v > 0) || !finite(v) {
			return perr("mvc", "value for %s must be a positive number, got %v", k, v)
		}
	}
	for _, k := range sortedKeys(p.MVCThresholdPct) {
		if v := p.MVCThresholdPct[k]; !(v > 0 && v <= 100) {
			return perr("mvc_threshold_pct", "percentage for %s must be in (0, 100], got %v", k, v)
		}
	}
	if p.MVCGlobal != nil && (!(*p.MVCGlobal > 0) || !finite(*p.MVCGlobal)) {
		return perr("mvc_global", "must be a positive number, got %v", *p.MVCGlobal)
	}
	if p.ThresholdPct != nil && !(*p.ThresholdPct > 0 && *p.ThresholdPct <= 100) {
		return perr("threshold_pct", "must be in (0, 100], got %v", *p.ThresholdPct)
	}
	if p.ThresholdFactor != nil && !(*p.ThresholdFactor > 0 && *p.ThresholdFactor < 1) {
		return perr("threshold_factor", "must be in (0, 1), got %v", *p.ThresholdFactor)
	}
	if p.ActivatedThresholdFactor != nil && !(*p.ActivatedThresholdFactor > 0 && *p.ActivatedThresholdFactor < 1) {
		return perr("activated_threshold_factor", "must be in (0, 1), got %v", *p.ActivatedThresholdFactor)
	}
	if p.MinDurationMs != nil && (!(*p.MinDurationMs >= 0) || !finite(*p.MinDurationMs)) {
		return perr("min_duration_ms", "must be a number >= 0, got %v", *p.MinDurationMs)
	}
	if p.SmoothingWindow != nil && *p.SmoothingWindow < 1 {
		return perr("smoothing_window", "must be at least 1 sample, got %d", *p.SmoothingWindow)
	}
	if p.DurationThresholdMs != nil && (!(*p.DurationThresholdMs >= 0) || !finite(*p.DurationThresholdMs)) {
		return perr("duration_threshold_ms", "must be a number >= 0, got %v", *p.DurationThresholdMs)
	}
	for _, k := range sortedKeys(p.DurationThresholdsS) {
		if v := p.DurationThresholdsS[k]; !(v >= 0) || !finite(v) {
			return perr("duration_thresholds_s", "value for %s must be a number >= 0, got %v", k, v)
		}
	}
	if p.ExpectedContractions != nil && *p.ExpectedContractions < 1 {
		return perr("expected_contractions", "must be at least 1, got %d", *p.ExpectedContractions)
	}
	for _, k := range sortedKeys(p.ExpectedContractionsPerChannel) {
		if v := p.ExpectedContractionsPerChannel[k]; v < 1 {
			return perr("expected_contractions_per_channel", "value for %s must be at least 1, got %d", k, v)
		}
	}
	if p.RPE != nil {
		if v := *p.RPE; !(v >= 0 && v <= 10) || v != math.Trunc(v) {
			return perr("rpe", "must be an integer from 0 to 10 (Borg CR-10), got %v", v)
		}
	}
	if p.BFRPressureAOP != nil && (!(*p.BFRPressureAOP >= 0) || !finite(*p.BFRPressureAOP)) {
		return perr("bfr_pressure_aop", "must be a percentage >= 0, got %v", *p.BFRPressureAOP)
	}
	if p.GamePoints != nil && (!(*p.GamePoints >= 0) || !finite(*p.GamePoints)) {
		return perr("game_points", "must be a number >= 0, got %v", *p.GamePoints)
	}
	if p.GameMaxPoints != nil && (!(*p.GameMaxPoints > 0) || !finite(*p.GameMaxPoints)) {
		return perr("game_max_points", "must be a number > 0, got %v", *p.GameMaxPoints)
	}
	if w := p.Weights; w != nil {
		all := []float64{w.Compliance, w.Symmetry, w.Effort, w.Game, w.Completion, w.Intensity, w.Duration}
		for _, v := range all {
			if !(v >= 0) || !finite(v) {
				return perr("weights", "every weight must be a number >= 0, got %v", v)
			}
		}
		if w.Compliance+w.Symmetry+w.Effort+w.Game == 0 {
			return perr("weights", "the main weights must not all be 0")
		}
		if w.Completion+w.Intensity+w.Duration == 0 {
			return perr("weights", "the compliance sub-weights must not all be 0")
		}
	}
	seen := map[string]string{}
	for _, k := range sortedKeys(p.Muscles) {
		side := strings.ToLower(p.Muscles[k])
		if side != "left" && side != "right" {
			return perr("muscles", "side of %s must be left or right, got %q", k, p.Muscles[k])
		}
		if other, dup := seen[side]; dup {
			return perr("muscles", "both %s and %s are mapped to %s", other, k, side)
		}
		seen[side] = k
	}
	if v := p.Validation; v != nil {
		if v.MinSamples != nil && *v.MinSamples < 0 {
			return perr("validation.min_samples", "must be >= 0, got %d", *v.MinSamples)
		}
		if v.MinSeconds != nil && (!(*v.MinSeconds >= 0) || !finite(*v.MinSeconds)) {
			return perr("validation.min_seconds", "must be a number >= 0, got %v", *v.MinSeconds)
		}
		if v.MaxSeconds != nil && (!(*v.MaxSeconds >= 0) || !finite(*v.MaxSeconds)) {
			return perr("validation.max_seconds", "must be a number >= 0 (0: no limit), got %v", *v.MaxSeconds)
		}
	}
	return nil
}

// Profile is a processing profile.
type Profile struct {
	Name    string
	Version int
	// Validation limits (spec step 1); 0 duration means no limit.
	MinSamples int
	MinSeconds float64
	MaxSeconds float64
	// BandPassFeatures computes the features of steps 3 and 4 on the raw
	// signal band-passed 20..min(450, 0.45*fs) Hz instead of the raw signal.
	BandPassFeatures bool
}

// ProcessingVersion returns "<name>/<version>", e.g. "ghostly/1".
func (p Profile) ProcessingVersion() string { return fmt.Sprintf("%s/%d", p.Name, p.Version) }

// Profiles.
var (
	ProfileGhostly  = Profile{Name: "ghostly", Version: 1, MinSamples: 1000, MinSeconds: 10, MaxSeconds: 600}
	ProfileStandard = Profile{Name: "standard", Version: 1, MinSamples: 1000, BandPassFeatures: true}
)

// LookupProfile returns the profile of that name; "" is ghostly.
func LookupProfile(name string) (Profile, error) {
	switch name {
	case "", "ghostly":
		return ProfileGhostly, nil
	case "standard":
		return ProfileStandard, nil
	}
	return Profile{}, fmt.Errorf("unknown profile %q (ghostly, standard)", name)
}
