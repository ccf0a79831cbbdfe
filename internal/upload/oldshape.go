package upload

import (
	"emgd/emg"
	"emgd/internal/analysis"

	"github.com/google/uuid"
)

// The old backend's constants it documented in processing_parameters.
const (
	oldFilterLowCutoffHz  = 20.0
	oldFilterHighCutoffHz = 500.0
	oldFilterOrder        = 4
	oldRMSWindowMs        = 50.0
	oldRMSOverlapPercent  = 50.0
	oldMVCWindowSeconds   = 3.0
	oldActivatedFactor    = 0.05
	oldMergeThresholdMs   = 200.0
	oldRefractoryMs       = 0.0
	oldBFRPressureAOP     = 50.0
	// oldZeroPctFallback is the percentage the old backend recorded for a
	// channel when the session's was 0 ("or 70").
	oldZeroPctFallback = 70.0
)

// sessionParametersUsed is the form's GameSessionParameters with, per
// analysed channel, the MVC value it was analysed with (the estimate when
// none was given) and its threshold percentage, as the old backend filled
// them in. With a session percentage of 0 the old backend reported a
// channel's threshold at 70 % of its MVC value; an (analytics) channel so
// reported is changed the same way.
func sessionParametersUsed(o *options, an map[string]*emg.ChannelAnalytics) GameSessionParameters {
	g := o.given
	g.SessionMVCValues = map[string]*float64{}
	g.SessionMVCThresholdPercentages = map[string]*float64{}
	for k, v := range o.params.MVC {
		g.SessionMVCValues[k] = ptr(v)
	}
	for k, v := range o.params.MVCThresholdPct {
		g.SessionMVCThresholdPercentages[k] = ptr(v)
	}
	if len(o.params.DurationThresholdsS) > 0 && g.SessionDurationThresholdsPerMuscle == nil {
		g.SessionDurationThresholdsPerMuscle = map[string]*float64{}
		for k, v := range o.params.DurationThresholdsS {
			g.SessionDurationThresholdsPerMuscle[k] = ptr(v)
		}
	}
	pct := *g.SessionMVCThresholdPercentage
	for _, b := range sortedKeys(an) {
		ca := an[b]
		chPct, own := o.params.MVCThresholdPct[b]
		if !own {
			chPct = pct
			if o.zeroPct {
				chPct = defThresholdPct // the estimate's percentage
			}
		}
		if ca.MVCEstimationMethod == emg.MVCBackendEstimation && ca.MVC75Threshold != nil && chPct > 0 {
			g.SessionMVCValues[b] = ptr(*ca.MVC75Threshold / (chPct / 100))
		}
		if !own {
			reported := pct
			if reported == 0 {
				reported = oldZeroPctFallback
			}
			g.SessionMVCThresholdPercentages[b] = ptr(reported)
			if mvc := g.SessionMVCValues[b]; o.zeroPct && mvc != nil {
				ca.MVC75Threshold = ptr(*mvc * oldZeroPctFallback / 100)
			}
		}
	}
	return g
}

// sides are the channels scored as left (ch1) and right (ch2).
func sides(perf *emg.Performance) (left, right string) {
	left, right = "CH1", "CH2"
	if perf != nil && perf.LeftChannel != "" {
		left = perf.LeftChannel
	}
	if perf != nil && perf.RightChannel != "" {
		right = perf.RightChannel
	}
	return left, right
}

// sessionParameters is the old backend's session settings with the values
// the analysis used.
func sessionParameters(o *options, used GameSessionParameters, an map[string]*emg.ChannelAnalytics, perf *emg.Performance) SessionParameters {
	left, right := sides(perf)
	mvc := func(b string) *float64 {
		if v := used.SessionMVCValues[b]; v != nil {
			return v
		}
		return o.params.MVCGlobal
	}
	duration := func(b string) float64 {
		if ca := an[b]; ca != nil && ca.DurationThresholdActualValue != nil {
			return *ca.DurationThresholdActualValue
		}
		return *used.ContractionDurationThreshold
	}
	expected := func(b string) int {
		if v, ok := o.params.ExpectedContractionsPerChannel[b]; ok {
			return v
		}
		if o.params.ExpectedContractions != nil {
			return *o.params.ExpectedContractions
		}
		return emg.DefaultExpectedContractions
	}
	sp := SessionParameters{MVCCh1: mvc(left), MVCCh2: mvc(right), MVCThresholdPercentage: *used.SessionMVCThresholdPercentage,
		TargetDurationCh1Ms: duration(left), TargetDurationCh2Ms: duration(right),
		TargetContractionsCh1: expected(left), TargetContractionsCh2: expected(right), BFRPressureAOP: oldBFRPressureAOP}
	if o.params.BFRPressureAOP != nil {
		sp.BFREnabled, sp.BFRPressureAOP = true, *o.params.BFRPressureAOP
	}
	return sp
}

// performanceAnalysis is the scores with every key of the old backend's.
func performanceAnalysis(perf *emg.Performance, p *emg.Params, w emg.Weights, scoring ScoringConfiguration, configID *string) PerformanceAnalysis {
	if perf == nil {
		perf = &emg.Performance{Weights: w}
	}
	cc := ComplianceComponents{LeftMuscleCompliance: perf.LeftMuscleCompliance, RightMuscleCompliance: perf.RightMuscleCompliance,
		CompletionRateLeft: perf.CompletionRateLeft, CompletionRateRight: perf.CompletionRateRight,
		IntensityRateLeft: perf.IntensityRateLeft, IntensityRateRight: perf.IntensityRateRight,
		DurationRateLeft: perf.DurationRateLeft, DurationRateRight: perf.DurationRateRight}
	if l, r := perf.LeftMuscleCompliance, perf.RightMuscleCompliance; l != nil && r != nil {
		cc.OverallCompliance = ptr((*l + *r) / 2)
	}
	pa := PerformanceAnalysis{Performance: perf, Weights: scoring, WeightsUsed: perf.Weights, ComplianceComponents: cc,
		RPEMapping: RPEMapping{OptimalRange: []int{4, 5, 6}, AcceptableRange: []int{3, 7}, SuboptimalRange: []int{2, 8}, PoorRange: []int{0, 1, 9, 10},
			OptimalScore: 100, AcceptableScore: 80, SuboptimalScore: 60, PoorScore: 20},
		RPESource: "no_rpe_data", RPEValue: p.RPE, RPEPostSession: p.RPE, BFRPressureAOP: p.BFRPressureAOP,
		ScoringConfigID: configID, SessionID: uuid.NewString(),
		DataCompleteness: DataCompleteness{
			HasEMGData:  perf.ComplianceScore != nil && *perf.ComplianceScore != 0,
			HasRPE:      p.RPE != nil,
			HasGameData: perf.GameScore != nil && *perf.GameScore != 0,
			HasBFRData:  p.BFRPressureAOP != nil,
		}}
	if p.RPE != nil {
		pa.RPESource = "c3d_metadata"
		pa.DataCompleteness.RPESource = ptr("session_parameters")
	}
	return pa
}

// processingParameters documents the processing with the old backend's
// keys and constants.
func processingParameters(o *options, fs float64, version string) ProcessingParameters {
	prof := o.params.Profile
	if prof == "" {
		prof = emg.ProfileGhostly.Name
	}
	return ProcessingParameters{SamplingRateHz: fs, ProcessingVersion: version,
		FilterLowCutoffHz: oldFilterLowCutoffHz, FilterHighCutoffHz: oldFilterHighCutoffHz, FilterOrder: oldFilterOrder,
		RMSWindowMs: oldRMSWindowMs, RMSOverlapPercent: oldRMSOverlapPercent, MVCWindowSeconds: oldMVCWindowSeconds,
		MVCThresholdPercentage: *o.given.SessionMVCThresholdPercentage,
		ThresholdFactor:        o.thresholdFac, MinDurationMs: o.minDurationMs, SmoothingWindow: o.smoothing,
		ActivatedThresholdFactor: oldActivatedFactor, MergeThresholdMs: oldMergeThresholdMs, RefractoryPeriodMs: oldRefractoryMs,
		Profile: prof}
}

// sessionConfiguration is the old backend's formatted session
// configuration: the values given (a 0 or absent value is left out, as it
// did), with their units converted.
func sessionConfiguration(g *GameSessionParameters) map[string]any {
	out := map[string]any{}
	if v := g.SessionMVCValue; v != nil && *v != 0 {
		out["session_mvc_value"] = *v
	}
	if v := g.SessionMVCThresholdPercentage; v != nil && *v != 0 {
		out["session_mvc_threshold_percentage"] = *v
		out["session_mvc_threshold_decimal"] = *v / 100
	}
	if v := g.ContractionDurationThreshold; v != nil && *v != 0 {
		out["contraction_duration_threshold"] = *v
		out["contraction_duration_threshold_seconds"] = *v / 1000
	}
	for k, v := range map[string]*int{"session_expected_contractions": g.SessionExpectedContractions,
		"session_expected_contractions_ch1": g.SessionExpectedContractionsCh1, "session_expected_contractions_ch2": g.SessionExpectedContractionsCh2} {
		if v != nil && *v != 0 {
			out[k] = *v
		}
	}
	if len(g.SessionDurationThresholdsPerMuscle) > 0 {
		out["session_duration_thresholds_per_muscle"] = g.SessionDurationThresholdsPerMuscle
	}
	return out
}

// availableChannels lists emg_signals' keys (see signalEntries).
func availableChannels(labels []string) []string {
	entries, _ := signalEntries(labels)
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.key
	}
	return out
}

// signalEntry is one key of emg_signals: channel ch's samples, or (kind
// processed) its Processed envelope.
type signalEntry struct {
	key       string
	ch        int
	processed bool
}

// signalEntries lists emg_signals' keys grouped by channel: each channel
// of the file; for each base's raw channel not already named "<base>
// Raw" that name too (the frontend plots "<base> Raw"); and each base's
// "<base> Processed". A name that another channel already has is not
// added.
func signalEntries(labels []string) ([]signalEntry, *analysis.Channels) {
	chans := analysis.NewChannels(labels)
	taken := map[string]bool{}
	for _, k := range chans.Keys {
		taken[k] = true
	}
	rawOf := map[int]string{}
	for base, i := range chans.Raw {
		rawOf[i] = base
	}
	var out []signalEntry
	for i, k := range chans.Keys {
		out = append(out, signalEntry{key: k, ch: i})
		base, isRaw := rawOf[i]
		if !isRaw {
			continue
		}
		if alias := base + " Raw"; !taken[alias] {
			taken[alias] = true
			out = append(out, signalEntry{key: alias, ch: i})
		}
		if proc := base + " Processed"; !taken[proc] {
			taken[proc] = true
			out = append(out, signalEntry{key: proc, ch: i, processed: true})
		}
	}
	return out, chans
}
