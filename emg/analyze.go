package emg

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
)

// Channel is one analog channel of a recording: its label as written and its
// samples, given directly or produced on demand by Load (so that a long
// recording is held in memory one channel at a time). When Load is set,
// Release, if set, is called with the samples Load returned once the
// analysis no longer uses them, so that the caller can reuse the buffer.
type Channel struct {
	Label   string
	Samples []float64
	Load    func() ([]float64, error)
	Release func([]float64)
}

func (c *Channel) samples() ([]float64, error) {
	if c.Load != nil {
		return c.Load()
	}
	return c.Samples, nil
}

// loaded is a channel's samples obtained from its Load, to be released.
type loaded struct {
	ch int
	x  []float64
}

// load returns the samples of channel i, noting those to release.
func (ws *workspace) load(rec Recording, i int) ([]float64, error) {
	c := &rec.Channels[i]
	x, err := c.samples()
	if err == nil && c.Load != nil && c.Release != nil {
		ws.loaded = append(ws.loaded, loaded{i, x})
	}
	return x, err
}

// release hands the samples loaded since the last call back to their
// channels' Release.
func (ws *workspace) release(rec Recording) {
	for i, l := range ws.loaded {
		rec.Channels[l.ch].Release(l.x)
		ws.loaded[i] = loaded{}
	}
	ws.loaded = ws.loaded[:0]
}

// Recording is the input of Analyze: the analog channels of one file and
// their common sampling rate in Hz.
type Recording struct {
	Rate     float64
	Channels []Channel
}

// Result is the analysis of one recording. Metadata is left to the caller
// (the file's context); the rest is filled by Analyze.
type Result struct {
	Metadata            any                          `json:"metadata"`
	Analytics           map[string]*ChannelAnalytics `json:"analytics"`
	AvailableChannels   []string                     `json:"available_channels"`
	PerformanceAnalysis *Performance                 `json:"performance_analysis"`
	ProcessingVersion   string                       `json:"processing_version"`
}

// ChannelAnalytics is the analysis of one base channel (spec step 7). A
// channel that failed validation has Errors set, null features and thresholds
// and no contractions.
type ChannelAnalytics struct {
	RMS                          *float64      `json:"rms"`
	MAV                          *float64      `json:"mav"`
	MPF                          *float64      `json:"mpf"`
	MDF                          *float64      `json:"mdf"`
	FatigueIndexFINSM5           *float64      `json:"fatigue_index_fi_nsm5"`
	ContractionCount             int           `json:"contraction_count"`
	GoodContractionCount         int           `json:"good_contraction_count"`
	MVCCompliantCount            int           `json:"mvc_compliant_count"`
	DurationCompliantCount       int           `json:"duration_compliant_count"`
	MVC75Threshold               *float64      `json:"mvc75_threshold"`
	DurationThresholdActualValue *float64      `json:"duration_threshold_actual_value"`
	MVCEstimationMethod          string        `json:"mvc_estimation_method"`
	AvgDurationMs                float64       `json:"avg_duration_ms"`
	MaxDurationMs                float64       `json:"max_duration_ms"`
	MinDurationMs                float64       `json:"min_duration_ms"`
	TotalTimeUnderTensionMs      float64       `json:"total_time_under_tension_ms"`
	AvgAmplitude                 float64       `json:"avg_amplitude"`
	MaxAmplitude                 float64       `json:"max_amplitude"`
	ComplianceRate               float64       `json:"compliance_rate"`
	RMSTemporalStats             TemporalStats `json:"rms_temporal_stats"`
	MAVTemporalStats             TemporalStats `json:"mav_temporal_stats"`
	MPFTemporalStats             TemporalStats `json:"mpf_temporal_stats"`
	MDFTemporalStats             TemporalStats `json:"mdf_temporal_stats"`
	FatigueIndexTemporalStats    TemporalStats `json:"fatigue_index_temporal_stats"`
	Contractions                 []Contraction `json:"contractions"`
	Errors                       *string       `json:"errors"`

	// TimingSource names the signal that timed the contractions: the
	// activated channel's label, or "<base> Processed".
	TimingSource string `json:"-"`
}

// MVC estimation methods.
const (
	MVCUserProvided       = "user_provided"
	MVCGlobalProvided     = "global_provided"
	MVCBackendEstimation  = "backend_estimation"
	DefaultThresholdPct   = 75.0
	mvcEstimatePercentile = 95.0
)

// ErrAllChannelsFailed is matched (errors.Is) by the error of an analysis
// in which no channel could be analysed.
var ErrAllChannelsFailed = errors.New("every channel failed")

// FailedError is returned when every channel failed; Channels maps base
// names to their error messages.
type FailedError struct {
	Channels map[string]string
}

func (e *FailedError) Error() string {
	var b strings.Builder
	b.WriteString("analysis failed: every channel failed")
	const shown = 4
	keys := sortedKeys(e.Channels)
	for i, k := range keys {
		if i == shown {
			fmt.Fprintf(&b, "; and %d more channels", len(keys)-shown)
			break
		}
		fmt.Fprintf(&b, "; %s: %s", k, e.Channels[k])
	}
	return b.String()
}

func (e *FailedError) Is(target error) bool { return target == ErrAllChannelsFailed }

// ChannelKeys returns unique keys for labels: a blank label becomes
// "analog_<n>" and a repeat of an earlier key "<label>#<n>", n being the
// 1-based channel index. Other labels are kept as written.
func ChannelKeys(labels []string) []string {
	keys := make([]string, len(labels))
	seen := make(map[string]bool, len(labels))
	for i, l := range labels {
		k := l
		if strings.TrimSpace(l) == "" {
			k = "analog_" + strconv.Itoa(i+1)
		}
		if seen[k] {
			k = k + "#" + strconv.Itoa(i+1)
		}
		seen[k] = true
		keys[i] = k
	}
	return keys
}

// BaseName returns the key without a trailing " Raw" or " activated".
func BaseName(key string) string {
	if b, ok := strings.CutSuffix(key, " Raw"); ok {
		return b
	}
	if b, ok := strings.CutSuffix(key, " activated"); ok {
		return b
	}
	return key
}

// Analyzer runs analyses. The zero value works on one goroutine; Workers > 1
// analyses that many channels at once.
type Analyzer struct {
	Workers int

	// Alloc, when set, makes the arrays of n samples that a base's
	// envelope needs (the envelope and its padded filter buffer, kept by
	// the goroutine for its next bases) instead of make, so that the
	// caller can hand out memory prepared for it. It returns n samples;
	// their contents are overwritten. A shorter slice is not used.
	Alloc func(n int) []float64
}

// Analyze runs Analyzer{}.Analyze.
func Analyze(rec Recording, p Params) (*Result, error) {
	return Analyzer{}.Analyze(rec, p)
}

// plan is what Analyze resolved before processing the channels.
type plan struct {
	prof   Profile
	p      *Params
	rate   float64
	keys   []string
	index  map[string]int // key -> channel index
	bases  []string       // analysed bases, sorted
	limits Profile
	alloc  func(n int) []float64 // Analyzer.Alloc
}

// resolveChannel maps a parameter's channel name (base or key) to a base.
func (pl *plan) resolveChannel(field, name string, allBases map[string]bool) (string, error) {
	if allBases[name] {
		return name, nil
	}
	if _, ok := pl.index[name]; ok {
		return BaseName(name), nil
	}
	return "", perr(field, "no channel %q in the recording", name)
}

// Analyze analyses every base channel of rec (or those p selects) with the
// profile p names, then scores the session. It returns a *ParamError for
// invalid parameters, an error for an unusable recording, and a *FailedError
// (with the Result, whose channels carry their errors) when no channel could
// be analysed.
func (a Analyzer) Analyze(rec Recording, p Params) (*Result, error) {
	return a.AnalyzeContext(context.Background(), rec, p)
}

// AnalyzeContext is Analyze that stops when ctx is done: ctx is checked
// before each base (or pair of bases) is loaded and analysed, and a done
// ctx makes it return ctx.Err() (no result) once the bases in hand are
// finished and their samples released.
func (a Analyzer) AnalyzeContext(ctx context.Context, rec Recording, p Params) (*Result, error) {
	pl, err := newPlan(rec, p)
	if err != nil {
		return nil, err
	}
	pl.alloc = a.Alloc
	results := a.analyzeBases(ctx, pl, rec)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return pl.result(results)
}

// newPlan checks p and rec, resolves p's channel names to the recording's
// bases and picks the bases to analyse.
func newPlan(rec Recording, p Params) (*plan, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	prof, _ := LookupProfile(p.Profile)
	if !(rec.Rate > 0) || math.IsInf(rec.Rate, 0) {
		return nil, fmt.Errorf("emg: sampling rate %v must be positive and finite", rec.Rate)
	}
	if len(rec.Channels) == 0 {
		return nil, errors.New("emg: the recording has no analog channels")
	}
	labels := make([]string, len(rec.Channels))
	for i, c := range rec.Channels {
		labels[i] = c.Label
	}
	pl := &plan{prof: prof, rate: rec.Rate, keys: ChannelKeys(labels), index: map[string]int{},
		limits: limitsFor(prof, p.Validation)}
	allBases := map[string]bool{}
	for i, k := range pl.keys {
		pl.index[k] = i
		allBases[BaseName(k)] = true
	}
	var err error
	if pl.p, err = pl.resolveParams(p, allBases); err != nil {
		return nil, err
	}
	if pl.bases, err = pl.selectBases(p.Channels, allBases); err != nil {
		return nil, err
	}
	return pl, nil
}

// limitsFor returns the profile's validation limits with those v gives
// instead.
func limitsFor(prof Profile, v *ValidationLimits) Profile {
	if v == nil {
		return prof
	}
	if v.MinSamples != nil {
		prof.MinSamples = *v.MinSamples
	}
	if v.MinSeconds != nil {
		prof.MinSeconds = *v.MinSeconds
	}
	if v.MaxSeconds != nil {
		prof.MaxSeconds = *v.MaxSeconds
	}
	return prof
}

// resolveParams returns a copy of p whose channel-keyed maps are keyed by
// base (side names in lower case). A name that is neither a base nor a key
// of the recording is a *ParamError; the fields are checked in a fixed
// order, each map in sorted key order.
func (pl *plan) resolveParams(p Params, allBases map[string]bool) (*Params, error) {
	var err error
	rp := p
	if rp.MVC, err = resolveKeys(pl, "mvc", p.MVC, allBases, identity); err != nil {
		return nil, err
	}
	if rp.MVCThresholdPct, err = resolveKeys(pl, "mvc_threshold_pct", p.MVCThresholdPct, allBases, identity); err != nil {
		return nil, err
	}
	if rp.DurationThresholdsS, err = resolveKeys(pl, "duration_thresholds_s", p.DurationThresholdsS, allBases, identity); err != nil {
		return nil, err
	}
	if rp.ExpectedContractionsPerChannel, err = resolveKeys(pl, "expected_contractions_per_channel", p.ExpectedContractionsPerChannel, allBases, identity); err != nil {
		return nil, err
	}
	if rp.Muscles, err = resolveKeys(pl, "muscles", p.Muscles, allBases, strings.ToLower); err != nil {
		return nil, err
	}
	return &rp, nil
}

func identity[V any](v V) V { return v }

// resolveKeys returns m keyed by base (never nil), each value passed
// through f.
func resolveKeys[V any](pl *plan, field string, m map[string]V, allBases map[string]bool, f func(V) V) (map[string]V, error) {
	out := make(map[string]V, len(m))
	for _, k := range sortedKeys(m) {
		b, err := pl.resolveChannel(field, k, allBases)
		if err != nil {
			return nil, err
		}
		out[b] = f(m[k])
	}
	return out, nil
}

// selectBases returns the bases channels names, or every base when it names
// none, sorted.
func (pl *plan) selectBases(channels []string, allBases map[string]bool) ([]string, error) {
	if len(channels) == 0 {
		return sortedKeys(allBases), nil
	}
	sel := map[string]bool{}
	for _, c := range channels {
		b, err := pl.resolveChannel("channels", c, allBases)
		if err != nil {
			return nil, err
		}
		sel[b] = true
	}
	return sortedKeys(sel), nil
}

// analyzeBases analyses pl.bases, on a.Workers goroutines when that is more
// than one, and returns their analyses in the same order. When ctx is done
// it stops before the next base; the bases not analysed are left nil.
func (a Analyzer) analyzeBases(ctx context.Context, pl *plan, rec Recording) []*ChannelAnalytics {
	results := make([]*ChannelAnalytics, len(pl.bases))
	if workers := max(1, min(a.Workers, len(pl.bases))); workers > 1 {
		pl.analyzeParallel(ctx, rec, results, workers)
	} else {
		pl.analyzeSerial(ctx, rec, results)
	}
	return results
}

// analyzeSerial analyses the bases two at a time on this goroutine, their
// envelope filters running interleaved.
func (pl *plan) analyzeSerial(ctx context.Context, rec Recording, results []*ChannelAnalytics) {
	ws := getWorkspace()
	defer putWorkspace(ws)
	for i := 0; i < len(pl.bases); i += 2 {
		if ctx.Err() != nil {
			return
		}
		if i+1 < len(pl.bases) {
			results[i], results[i+1] = pl.analyzePair(ws, rec, pl.bases[i], pl.bases[i+1])
		} else {
			results[i] = pl.analyzeBase(ws, rec, pl.bases[i])
		}
		ws.release(rec)
	}
}

// analyzeParallel analyses the bases one at a time on each of workers
// goroutines.
func (pl *plan) analyzeParallel(ctx context.Context, rec Recording, results []*ChannelAnalytics, workers int) {
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ws := getWorkspace()
			defer putWorkspace(ws)
			for i := range next {
				if ctx.Err() != nil {
					continue // drain: the sender stops at once too
				}
				results[i] = pl.analyzeBase(ws, rec, pl.bases[i])
				ws.release(rec)
			}
		}()
	}
send:
	for i := range pl.bases {
		select {
		case next <- i:
		case <-ctx.Done():
			break send
		}
	}
	close(next)
	wg.Wait()
}

// result gathers the analyses of pl.bases (results, in the same order) and
// the session scores into a Result; when every channel failed it returns
// the Result with a *FailedError.
func (pl *plan) result(results []*ChannelAnalytics) (*Result, error) {
	res := &Result{
		Analytics:         make(map[string]*ChannelAnalytics, len(pl.bases)),
		AvailableChannels: append([]string(nil), pl.keys...),
		ProcessingVersion: pl.prof.ProcessingVersion(),
	}
	failed := map[string]string{}
	for i, b := range pl.bases {
		ca := results[i]
		res.Analytics[b] = ca
		if ca.Errors != nil {
			failed[b] = *ca.Errors
		} else {
			res.AvailableChannels = append(res.AvailableChannels, b+" Processed")
		}
	}
	var err error
	if res.PerformanceAnalysis, err = pl.scores(res.Analytics); err != nil {
		return nil, err
	}
	if len(failed) == len(pl.bases) {
		return res, &FailedError{Channels: failed}
	}
	return res, nil
}

// scores picks the left and right muscles and computes the session scores.
func (pl *plan) scores(an map[string]*ChannelAnalytics) (*Performance, error) {
	var left, right string
	for b, side := range pl.p.Muscles {
		if side == "left" {
			left = b
		} else {
			right = b
		}
	}
	if len(pl.p.Muscles) == 0 {
		if len(pl.bases) > 0 {
			left = pl.bases[0]
		}
		if len(pl.bases) > 1 {
			right = pl.bases[1]
		}
	}
	counts := func(b string) *MuscleCounts {
		ca, ok := an[b]
		if b == "" || !ok || ca.Errors != nil {
			return nil
		}
		return &MuscleCounts{Channel: b, Contractions: ca.ContractionCount, MVCCompliant: ca.MVCCompliantCount,
			DurationCompliant: ca.DurationCompliantCount, Expected: pl.expected(b)}
	}
	return Scores(counts(left), counts(right), pl.p)
}

func (pl *plan) expected(base string) int {
	if v, ok := pl.p.ExpectedContractionsPerChannel[base]; ok {
		return v
	}
	if pl.p.ExpectedContractions != nil {
		return *pl.p.ExpectedContractions
	}
	return DefaultExpectedContractions
}

// validate applies the profile's checks to a raw signal; "" means valid.
// It also returns the signal's moments (sum, sum of squares, sum of |x|).
func (pl *plan) validate(x []float64) (msg string, m [3]float64) {
	lim := pl.limits
	fs := pl.rate
	n := len(x)
	dur := float64(n) / fs
	if n < lim.MinSamples {
		return fmt.Sprintf("signal too short: %d samples (%.3f s at %g Hz); at least %d samples are required", n, dur, fs, lim.MinSamples), m
	}
	if n == 0 {
		return "signal has no samples", m
	}
	if lim.MinSeconds > 0 && dur < lim.MinSeconds {
		return fmt.Sprintf("signal duration insufficient: %.2f s (%d samples at %g Hz); at least %g s are required", dur, n, fs, lim.MinSeconds), m
	}
	if lim.MaxSeconds > 0 && dur > lim.MaxSeconds {
		return fmt.Sprintf("signal too long: %.1f min exceeds the %g s maximum", dur/60, lim.MaxSeconds), m
	}
	sum, sumsq, sumabs := moments(x)
	m = [3]float64{sum, sumsq, sumabs}
	if math.IsNaN(sum) || math.IsInf(sum, 0) || math.IsNaN(sumsq) || math.IsInf(sumsq, 0) {
		if !allFinite(x) {
			return "signal contains NaN or infinite values", m
		}
	}
	if !varies(x, sum, sumsq) {
		return fmt.Sprintf("signal lacks variation: std=%.2e < %.2e", Std(x), minSpectralStd), m
	}
	return "", m
}

// workspace holds the buffers and plans one goroutine reuses across channels.
type workspace struct {
	fw     *featureWork
	tv     temporalValues
	ef     *envelopeFilters
	bp     *ZeroPhase
	bpRate float64
	buf    []float64
	env    []float64
	feat   []float64
	buf2   []float64 // the second base's of a pair (analyzePair)
	env2   []float64
	loaded []loaded // samples to release after the current base or pair
}

var wsPool = sync.Pool{New: func() any { return &workspace{fw: newFeatureWork()} }}

// maxPooledSamples is the longest signal whose arrays a pooled workspace
// keeps: 4 MiB per array, 524,288 samples (about 9 minutes at 990 Hz, so a
// GHOSTLY file's are kept). Longer arrays are dropped when the workspace
// goes back to the pool, so that what a server holds between jobs, and the
// heap goal the collector derives from it, does not grow with the longest
// recording it has analysed (a 600 s, 10 kHz base's arrays are about 48 MB
// each, seven of them per workspace).
const maxPooledSamples = 1 << 19

func getWorkspace() *workspace { return wsPool.Get().(*workspace) }

func putWorkspace(w *workspace) {
	w.trim(maxPooledSamples)
	wsPool.Put(w)
}

// trim drops the arrays of w longer than n samples (plans and short arrays
// are kept).
func (w *workspace) trim(n int) {
	for _, s := range []*[]float64{&w.buf, &w.env, &w.feat, &w.buf2, &w.env2,
		&w.tv.rms, &w.tv.mav, &w.tv.mpf, &w.tv.mdf, &w.tv.fi} {
		if cap(*s) > n {
			*s = nil
		}
	}
	if w.bp != nil && cap(w.bp.buf) > n {
		w.bp.buf = nil
	}
	if w.ef != nil {
		for _, z := range []*ZeroPhase{w.ef.hp, w.ef.lp} {
			if z != nil && cap(z.buf) > n {
				z.buf = nil
			}
		}
	}
	if cap(w.loaded) > 64 {
		w.loaded = nil
	}
}

// grow returns s with n samples, or a new array (from the Analyzer's
// Alloc when set) when s is too short; the contents are undefined.
func (pl *plan) grow(s []float64, n int) []float64 {
	if cap(s) >= n {
		return s[:n]
	}
	if pl.alloc != nil {
		if x := pl.alloc(n); len(x) >= n {
			return x[:n]
		}
	}
	return make([]float64, n)
}

func failedChannel(msg string) *ChannelAnalytics {
	return &ChannelAnalytics{Errors: &msg, Contractions: []Contraction{}}
}

// standardBand returns the band-pass edges of the standard profile.
func standardBand(fs float64) (lo, hi float64) {
	return 20, math.Min(450, 0.9*fs/2)
}

// baseState carries one base from the steps before the envelope
// (front) to the steps after it (back).
type baseState struct {
	base string
	x    []float64 // raw samples
	ca   *ChannelAnalytics
}

// analyzeBase runs steps 1-7 for one base.
func (pl *plan) analyzeBase(ws *workspace, rec Recording, base string) *ChannelAnalytics {
	st, failed := pl.front(ws, rec, base)
	if failed != nil {
		return failed
	}
	// Step 2: Processed envelope.
	n := len(st.x)
	ws.buf = pl.grow(ws.buf, n+2*ws.ef.padlen())
	ws.env = pl.grow(ws.env, n)
	if err := ws.ef.envelope(ws.env, st.x, ws.buf); err != nil {
		return failedChannel(err.Error())
	}
	return pl.back(ws, rec, st, ws.env)
}

// analyzePair is analyzeBase for two bases, whose envelopes (step 2) are
// filtered together when both passed the earlier steps with signals of the
// same length; the results are those of analyzeBase.
func (pl *plan) analyzePair(ws *workspace, rec Recording, b1, b2 string) (*ChannelAnalytics, *ChannelAnalytics) {
	s1, f1 := pl.front(ws, rec, b1)
	s2, f2 := pl.front(ws, rec, b2)
	switch {
	case f1 != nil && f2 != nil:
		return f1, f2
	case f1 != nil || f2 != nil || len(s1.x) != len(s2.x):
		one := func(st *baseState, failed *ChannelAnalytics) *ChannelAnalytics {
			if failed != nil {
				return failed
			}
			n := len(st.x)
			ws.buf = pl.grow(ws.buf, n+2*ws.ef.padlen())
			ws.env = pl.grow(ws.env, n)
			if err := ws.ef.envelope(ws.env, st.x, ws.buf); err != nil {
				return failedChannel(err.Error())
			}
			return pl.back(ws, rec, st, ws.env)
		}
		return one(s1, f1), one(s2, f2)
	}
	n := len(s1.x)
	ws.buf = pl.grow(ws.buf, n+2*ws.ef.padlen())
	ws.buf2 = pl.grow(ws.buf2, n+2*ws.ef.padlen())
	ws.env = pl.grow(ws.env, n)
	ws.env2 = pl.grow(ws.env2, n)
	if err := ws.ef.envelopePair(ws.env, ws.env2, s1.x, s2.x, ws.buf, ws.buf2); err != nil {
		return failedChannel(err.Error()), failedChannel(err.Error())
	}
	// back uses ws.buf as scratch; each base's envelope is its own.
	return pl.back(ws, rec, s1, ws.env), pl.back(ws, rec, s2, ws.env2)
}

// front runs steps 1, 3 and 4 for one base (validation, features, temporal
// statistics) and prepares the envelope filters; it returns the failed
// channel instead when a step fails.
func (pl *plan) front(ws *workspace, rec Recording, base string) (*baseState, *ChannelAnalytics) {
	fs := pl.rate
	rawIdx, ok := pl.index[base+" Raw"]
	if !ok {
		rawIdx, ok = pl.index[base]
	}
	if !ok {
		return nil, failedChannel(fmt.Sprintf("no raw signal for %s (expected a channel %q or %q)", base, base+" Raw", base))
	}
	x, err := ws.load(rec, rawIdx)
	if err != nil {
		return nil, failedChannel(fmt.Sprintf("reading %s: %v", pl.keys[rawIdx], err))
	}
	msg, mom := pl.validate(x)
	if msg != "" {
		return nil, failedChannel(msg)
	}
	ca := &ChannelAnalytics{}

	// Steps 3-4: features on the raw (or band-passed) signal.
	fx := x
	if pl.prof.BandPassFeatures {
		lo, hi := standardBand(fs)
		if ws.bp == nil || ws.bpRate != fs {
			z, err := Butter(4, Bandpass, fs, lo, hi)
			if err != nil {
				return nil, failedChannel(fmt.Sprintf("sampling rate %g Hz too low for the %g..%g Hz band-pass: %v", fs, lo, hi, err))
			}
			b, a := z.TF()
			if ws.bp, err = NewZeroPhase(b, a); err != nil {
				return nil, failedChannel(err.Error())
			}
			ws.bpRate = fs
		}
		ws.feat, err = ws.bp.Apply(ws.feat, x)
		if err != nil {
			return nil, failedChannel(err.Error())
		}
		fx = ws.feat
	}
	var f Features
	if pl.prof.BandPassFeatures {
		f, err = ws.fw.features(fx, fs)
	} else {
		f, err = ws.fw.featuresMoments(fx, fs, mom[0], mom[1], mom[2])
	}
	if err != nil {
		return nil, failedChannel(err.Error())
	}
	ca.RMS, ca.MAV, ca.MPF, ca.MDF, ca.FatigueIndexFINSM5 = ptr(f.RMS), ptr(f.MAV), f.MPF, f.MDF, f.FINSM5
	t, err := ws.fw.temporal(fx, fs, &ws.tv)
	if err != nil {
		return nil, failedChannel(err.Error())
	}
	ca.RMSTemporalStats, ca.MAVTemporalStats, ca.MPFTemporalStats, ca.MDFTemporalStats, ca.FatigueIndexTemporalStats =
		t.RMS, t.MAV, t.MPF, t.MDF, t.FatigueIndex

	// The envelope filters for step 2.
	if ws.ef == nil || ws.ef.fs != fs {
		if ws.ef, err = newEnvelopeFilters(fs); err != nil {
			return nil, failedChannel(err.Error())
		}
	}
	return &baseState{base: base, x: x, ca: ca}, nil
}

// back runs steps 5-7 for a base given its Processed envelope env, using
// ws.buf (at least len(env)) as scratch.
func (pl *plan) back(ws *workspace, rec Recording, st *baseState, env []float64) *ChannelAnalytics {
	fs := pl.rate
	base, ca, n := st.base, st.ca, len(st.x)

	// Step 5: MVC threshold.
	p := pl.p
	pct := p.ThresholdPctFor(base)
	var mvcThr float64
	switch {
	case p.MVC[base] > 0:
		mvcThr = p.MVC[base] * (pct / 100)
		ca.MVCEstimationMethod = MVCUserProvided
	case p.MVCGlobal != nil:
		mvcThr = *p.MVCGlobal * (pct / 100)
		ca.MVCEstimationMethod = MVCGlobalProvided
	default:
		est, err := percentileScratch(env, mvcEstimatePercentile, ws.buf)
		if err != nil {
			return failedChannel(err.Error())
		}
		mvcThr = est * (pct / 100)
		ca.MVCEstimationMethod = MVCBackendEstimation
	}
	ca.MVC75Threshold = ptr(mvcThr)
	durThr := DefaultDurationThresholdMs
	if v, ok := p.DurationThresholdsS[base]; ok {
		durThr = v * 1000
	} else if p.DurationThresholdMs != nil {
		durThr = *p.DurationThresholdMs
	}
	ca.DurationThresholdActualValue = ptr(durThr)

	// Step 6: timing signal and detection.
	timing := env
	factor := DefaultThresholdFactor
	if p.ThresholdFactor != nil {
		factor = *p.ThresholdFactor
	}
	ca.TimingSource = base + " Processed"
	opt := NewDetectOptions(fs, factor)
	if p.SmoothingWindow != nil {
		opt.SmoothingWindow = *p.SmoothingWindow
	}
	if p.MinDurationMs != nil {
		opt.MinDurationMs = *p.MinDurationMs
	}
	var runs []Run
	timed := false
	if ai, ok := pl.index[base+" activated"]; ok {
		// An activated channel that cannot be read, has another length or
		// holds non-finite values leaves the timing to the envelope.
		act, err := ws.load(rec, ai)
		if err == nil && len(act) == n {
			ao := opt
			ao.ThresholdFactor = DefaultActivatedThresholdFactor
			if p.ActivatedThresholdFactor != nil {
				ao.ThresholdFactor = *p.ActivatedThresholdFactor
			}
			r, err := detectRuns(act, ao, ws.buf)
			if err == nil {
				runs, timed = r, true
				ca.TimingSource = pl.keys[ai]
			} else if !errors.Is(err, errNonFiniteTiming) {
				return failedChannel(err.Error())
			}
		}
	}
	if !timed {
		r, err := detectRuns(timing, opt, ws.buf)
		if err != nil {
			return failedChannel(err.Error())
		}
		runs = r
	}
	cs, err := Describe(runs, env, fs, &mvcThr, &durThr)
	if err != nil {
		return failedChannel(err.Error())
	}
	summarizeContractions(ca, cs)
	return ca
}

func allFinite(x []float64) bool {
	for _, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// summarizeContractions fills the step-7 summary from cs.
func summarizeContractions(ca *ChannelAnalytics, cs []Contraction) {
	ca.Contractions = cs
	ca.ContractionCount = len(cs)
	if len(cs) == 0 {
		ca.Contractions = []Contraction{}
		return
	}
	ca.MinDurationMs = math.Inf(1)
	ca.MaxDurationMs = math.Inf(-1)
	ca.MaxAmplitude = math.Inf(-1)
	sumAmp := 0.0
	for _, c := range cs {
		if c.IsGood {
			ca.GoodContractionCount++
		}
		if c.MeetsMVC {
			ca.MVCCompliantCount++
		}
		if c.MeetsDuration {
			ca.DurationCompliantCount++
		}
		ca.TotalTimeUnderTensionMs += c.DurationMs
		ca.MinDurationMs = math.Min(ca.MinDurationMs, c.DurationMs)
		ca.MaxDurationMs = math.Max(ca.MaxDurationMs, c.DurationMs)
		ca.MaxAmplitude = math.Max(ca.MaxAmplitude, c.MaxAmplitude)
		sumAmp += c.MeanAmplitude
	}
	k := float64(len(cs))
	ca.AvgDurationMs = ca.TotalTimeUnderTensionMs / k
	ca.AvgAmplitude = sumAmp / k
	ca.ComplianceRate = float64(ca.GoodContractionCount) / k
}
