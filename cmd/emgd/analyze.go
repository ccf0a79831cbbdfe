package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"emgd/emg"
	"emgd/internal/analysis"
)

const analyzeUsage = `[--json | --csv] [--profile P] [--params FILE] [parameter flags] FILE|DIR...

Analyses C3D recordings (folders are searched recursively for *.c3d). One
file prints a summary, or with --json the result object; several files print
JSON lines (one object per file), or with --csv one row per file and channel.
Exit status 1 names the files that failed; the others are still analysed.`

// kvFlag collects repeated CHANNEL=VALUE flags.
type kvFlag struct {
	name string
	m    map[string]string
	keys []string
}

func (f *kvFlag) String() string { return "" }

func (f *kvFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	k, v = strings.TrimSpace(k), strings.TrimSpace(v)
	if !ok || k == "" || v == "" {
		return fmt.Errorf("want CHANNEL=VALUE, got %q", s)
	}
	if f.m == nil {
		f.m = map[string]string{}
	}
	if _, dup := f.m[k]; !dup {
		f.keys = append(f.keys, k)
	}
	f.m[k] = v
	return nil
}

// optFloat is a float flag that records whether it was given.
type optFloat struct{ v *float64 }

func (o *optFloat) String() string {
	if o.v == nil {
		return ""
	}
	return strconv.FormatFloat(*o.v, 'g', -1, 64)
}

func (o *optFloat) Set(s string) error {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return fmt.Errorf("not a number: %q", s)
	}
	o.v = &v
	return nil
}

type optInt struct{ v *int }

func (o *optInt) String() string {
	if o.v == nil {
		return ""
	}
	return strconv.Itoa(*o.v)
}

func (o *optInt) Set(s string) error {
	v, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("not an integer: %q", s)
	}
	o.v = &v
	return nil
}

// analyzeFlags are the session-parameter flags; they override a params file.
type analyzeFlags struct {
	mvc, mvcPct, durS, expectedCh, muscle, weight kvFlag
	mvcGlobal, thresholdPct, thresholdFactor      optFloat
	activatedFactor, minDurationMs, durationMs    optFloat
	rpe, bfr, gamePoints, gameMax                 optFloat
	smoothing, expected                           optInt
	channels                                      string
}

func (af *analyzeFlags) bind(fs *flag.FlagSet) {
	fs.Var(&af.mvc, "mvc", "per-channel MVC value, `CH=V` (repeatable; e.g. --mvc CH1=0.0002)")
	fs.Var(&af.mvcPct, "mvc-pct", "per-channel MVC threshold percentage, `CH=PCT` (repeatable)")
	fs.Var(&af.mvcGlobal, "mvc-global", "session-wide MVC `value` for channels without their own")
	fs.Var(&af.thresholdPct, "threshold-pct", "session MVC threshold `percentage` (default 75)")
	fs.Var(&af.thresholdFactor, "threshold-factor", "detection threshold `factor` of the envelope's maximum (default 0.10)")
	fs.Var(&af.activatedFactor, "activated-threshold-factor", "detection threshold `factor` on an activated channel (default 0.05)")
	fs.Var(&af.minDurationMs, "min-duration-ms", "drop contractions shorter than `ms` (default 100)")
	fs.Var(&af.smoothing, "smoothing-window", "timing moving average in `samples` (default 100)")
	fs.Var(&af.durationMs, "duration-threshold-ms", "session duration threshold in `ms` (default 2000)")
	fs.Var(&af.durS, "duration-s", "per-muscle duration threshold in seconds, `CH=S` (repeatable)")
	fs.Var(&af.expected, "expected", "expected contractions per muscle, `N` (default 12)")
	fs.Var(&af.expectedCh, "expected-ch", "expected contractions of one channel, `CH=N` (repeatable)")
	fs.Var(&af.rpe, "rpe", "post-session RPE, integer `0..10` (Borg CR-10)")
	fs.Var(&af.bfr, "bfr", "BFR pressure in `%AOP`")
	fs.Var(&af.gamePoints, "game-points", "game `points` achieved (default: SUBJECTS:GAME_SCORE)")
	fs.Var(&af.gameMax, "game-max-points", "game maximum `points`")
	fs.Var(&af.weight, "weight", "score weight, `NAME=W` with NAME compliance, symmetry, effort, game, completion, intensity or duration (repeatable)")
	fs.Var(&af.muscle, "muscle", "channel side, `CH=left|right` (repeatable)")
	fs.StringVar(&af.channels, "channels", "", "analyse only these `bases`, comma-separated (e.g. CH1,CH2)")
}

// apply merges the flags into p.
func (af *analyzeFlags) apply(p *emg.Params) error {
	floats := func(f *kvFlag, dst *map[string]float64) error {
		for _, k := range f.keys {
			v, err := strconv.ParseFloat(f.m[k], 64)
			if err != nil {
				return fmt.Errorf("--%s %s=%s: not a number", f.name, k, f.m[k])
			}
			if *dst == nil {
				*dst = map[string]float64{}
			}
			(*dst)[k] = v
		}
		return nil
	}
	if err := floats(&af.mvc, &p.MVC); err != nil {
		return err
	}
	if err := floats(&af.mvcPct, &p.MVCThresholdPct); err != nil {
		return err
	}
	if err := floats(&af.durS, &p.DurationThresholdsS); err != nil {
		return err
	}
	for _, k := range af.expectedCh.keys {
		v, err := strconv.Atoi(af.expectedCh.m[k])
		if err != nil {
			return fmt.Errorf("--expected-ch %s=%s: not an integer", k, af.expectedCh.m[k])
		}
		if p.ExpectedContractionsPerChannel == nil {
			p.ExpectedContractionsPerChannel = map[string]int{}
		}
		p.ExpectedContractionsPerChannel[k] = v
	}
	for _, k := range af.muscle.keys {
		if p.Muscles == nil {
			p.Muscles = map[string]string{}
		}
		p.Muscles[k] = af.muscle.m[k]
	}
	if len(af.weight.keys) > 0 {
		w := emg.DefaultWeights
		if p.Weights != nil {
			w = *p.Weights
		}
		for _, k := range af.weight.keys {
			v, err := strconv.ParseFloat(af.weight.m[k], 64)
			if err != nil {
				return fmt.Errorf("--weight %s=%s: not a number", k, af.weight.m[k])
			}
			switch strings.TrimPrefix(strings.ToLower(k), "w_") {
			case "compliance":
				w.Compliance = v
			case "symmetry":
				w.Symmetry = v
			case "effort":
				w.Effort = v
			case "game":
				w.Game = v
			case "completion":
				w.Completion = v
			case "intensity":
				w.Intensity = v
			case "duration":
				w.Duration = v
			default:
				return fmt.Errorf("--weight: unknown weight %q", k)
			}
		}
		p.Weights = &w
	}
	set := func(dst **float64, o optFloat) {
		if o.v != nil {
			*dst = o.v
		}
	}
	set(&p.MVCGlobal, af.mvcGlobal)
	set(&p.ThresholdPct, af.thresholdPct)
	set(&p.ThresholdFactor, af.thresholdFactor)
	set(&p.ActivatedThresholdFactor, af.activatedFactor)
	set(&p.MinDurationMs, af.minDurationMs)
	set(&p.DurationThresholdMs, af.durationMs)
	set(&p.RPE, af.rpe)
	set(&p.BFRPressureAOP, af.bfr)
	set(&p.GamePoints, af.gamePoints)
	set(&p.GameMaxPoints, af.gameMax)
	if af.smoothing.v != nil {
		p.SmoothingWindow = af.smoothing.v
	}
	if af.expected.v != nil {
		p.ExpectedContractions = af.expected.v
	}
	if af.channels != "" {
		p.Channels = nil
		for _, c := range strings.Split(af.channels, ",") {
			if c = strings.TrimSpace(c); c != "" {
				p.Channels = append(p.Channels, c)
			}
		}
	}
	return nil
}

// inputFile is one file to analyse; err is set when its input could not be listed.
type inputFile struct {
	path string
	err  error
}

// collectInputs expands folders (recursively, *.c3d in any case) and keeps
// files as given.
func collectInputs(args []string) (files []inputFile, fromDir bool) {
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			files = append(files, inputFile{path: a, err: err})
			continue
		}
		if !st.IsDir() {
			files = append(files, inputFile{path: a})
			continue
		}
		fromDir = true
		var found []string
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				files = append(files, inputFile{path: p, err: err})
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if !d.IsDir() && strings.EqualFold(filepath.Ext(p), ".c3d") {
				found = append(found, p)
			}
			return nil
		})
		if err != nil {
			files = append(files, inputFile{path: a, err: err})
		}
		sort.Strings(found)
		for _, p := range found {
			files = append(files, inputFile{path: p})
		}
	}
	return files, fromDir
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func cmdAnalyze(args []string, stdout, stderr io.Writer) int {
	// Interrupted (Ctrl-C, SIGTERM), the analysis under way stops at its
	// next base and what was written is flushed.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return analyzeFiles(ctx, args, stdout, stderr)
}

// analyzeFiles is emgd analyze until ctx is done (exit status 130).
func analyzeFiles(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fset := newFlagSet("analyze", analyzeUsage, stderr)
	asJSON := fset.Bool("json", false, "print JSON: the result object for one file, JSON lines for several")
	asCSV := fset.Bool("csv", false, "print CSV, one row per file and channel")
	profile := fset.String("profile", "", "processing `profile`: ghostly (default) or standard")
	paramsFile := fset.String("params", "", "JSON session-parameters `file`")
	workers := fset.Int("workers", min(runtime.GOMAXPROCS(0), 4), "channels analysed at once per file")
	maxSamples := fset.Int("max-samples-per-channel", analysis.DefaultMaxSamplesPerChannel,
		"most samples per analog channel a file may have to be analysed (more: the file fails); an analysis holds about 32 bytes per sample of a channel for each of max(2, --workers) channels at once (EMGD_MAX_SAMPLES_PER_CHANNEL)")
	var af analyzeFlags
	af.mvc.name, af.mvcPct.name, af.durS.name = "mvc", "mvc-pct", "duration-s"
	af.bind(fset)
	paths, err := parseInterspersed(fset, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(paths) == 0 {
		fset.Usage()
		return 2
	}
	if *asJSON && *asCSV {
		fmt.Fprintln(stderr, "emgd analyze: --json and --csv exclude each other")
		return 2
	}
	if *workers < 1 {
		fmt.Fprintln(stderr, "emgd analyze: --workers must be at least 1")
		return 2
	}
	if *maxSamples < 1 {
		fmt.Fprintln(stderr, "emgd analyze: --max-samples-per-channel must be at least 1")
		return 2
	}
	analysis.SetLimits(analysis.Limits{MaxSamplesPerChannel: *maxSamples})
	var p emg.Params
	if *paramsFile != "" {
		fh, err := os.Open(*paramsFile)
		if err != nil {
			fmt.Fprintf(stderr, "emgd analyze: %v\n", err)
			return 2
		}
		p, err = emg.ReadParams(fh)
		fh.Close()
		if err != nil {
			fmt.Fprintf(stderr, "emgd analyze: %s: %v\n", *paramsFile, err)
			return 2
		}
	}
	if *profile != "" {
		p.Profile = *profile
	}
	if err := af.apply(&p); err != nil {
		fmt.Fprintf(stderr, "emgd analyze: %v\n", err)
		return 2
	}
	if err := p.Validate(); err != nil {
		fmt.Fprintf(stderr, "emgd analyze: %v\n", err)
		return 2
	}

	if os.Getenv("GOMEMLIMIT") == "" {
		// Channels are read, analysed and dropped one base at a time; a soft
		// limit makes the collector return their memory before the heap
		// doubles (a 10-minute, 16-channel 2 kHz file stays near 150 MB).
		debug.SetMemoryLimit(150 << 20)
		if os.Getenv("GOGC") == "" {
			// A short-lived process: collect at 5x the live heap rather than
			// 2x (the limit above still bounds it), which spares a GHOSTLY
			// file's collections (about 4 ms of a 40 ms process).
			debug.SetGCPercent(400)
		}
	}
	// Under a soft memory limit, the memory a long file's analysis frees
	// stays with the process for the next file (debug.FreeOSMemory after
	// each would make it fault every page in again).
	analysis.KeepFreedMemory(debug.SetMemoryLimit(-1) < math.MaxInt64)
	// Every buffer of this process is new: the large ones are faulted in
	// at once, in huge pages where the system has them, rather than a trap
	// per page on first touch.
	analysis.PrefaultBuffers(true)
	defer analysis.PrefaultBuffers(false)
	files, fromDir := collectInputs(paths)
	if len(files) == 0 {
		fmt.Fprintln(stderr, "emgd analyze: no .c3d files found")
		return 1
	}
	single := len(files) == 1 && !fromDir
	var cw *csv.Writer
	if *asCSV {
		cw = csv.NewWriter(stdout)
		cw.Write(csvHeader)
	}
	progress := !single && isTerminal(stderr)
	an := emg.Analyzer{Workers: *workers}
	var failed []string
	for i, in := range files {
		if ctx.Err() != nil {
			break
		}
		if progress {
			drawProgress(stderr, i, len(files), in.path)
		}
		var res *emg.Result
		err := in.err
		if err == nil {
			res, err = analysis.AnalyzeFileContext(ctx, in.path, p, an)
		}
		if err != nil && ctx.Err() != nil {
			break // interrupted during this file: nothing written for it
		}
		if err != nil {
			failed = append(failed, in.path)
			if progress {
				fmt.Fprint(stderr, "\r\033[K")
			}
			fmt.Fprintf(stderr, "emgd analyze: %s: %v\n", in.path, err)
		}
		switch {
		case cw != nil:
			writeCSVRows(cw, in.path, res, err)
		case *asJSON || !single:
			if err != nil && res == nil {
				writeJSONLine(stdout, map[string]string{"file": in.path, "error": err.Error()}, false)
			} else {
				writeJSONLine(stdout, res, single)
			}
		default:
			if res != nil {
				printAnalysis(stdout, in.path, res)
			}
		}
	}
	if cw != nil {
		cw.Flush()
		if err := cw.Error(); err != nil {
			fmt.Fprintf(stderr, "emgd analyze: writing CSV: %v\n", err)
			return 1
		}
	}
	if progress {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "emgd analyze: interrupted")
		return 130
	}
	if !single {
		fmt.Fprintf(stderr, "emgd analyze: %d files, %d analysed, %d failed\n", len(files), len(files)-len(failed), len(failed))
	}
	if len(failed) > 0 {
		if !single {
			fmt.Fprintf(stderr, "emgd analyze: failed: %s\n", strings.Join(failed, ", "))
		}
		return 1
	}
	return 0
}

func drawProgress(w io.Writer, done, total int, current string) {
	const width = 30
	n := done * width / total
	fmt.Fprintf(w, "\r\033[K[%s%s] %d/%d %s", strings.Repeat("#", n), strings.Repeat(" ", width-n), done, total, filepath.Base(current))
}

var csvHeader = []string{"file", "channel", "error", "processing_version", "contraction_count", "good_contraction_count",
	"mvc_compliant_count", "duration_compliant_count", "mvc75_threshold", "mvc_estimation_method",
	"duration_threshold_ms", "rms", "mav", "mpf", "mdf", "fatigue_index_fi_nsm5", "avg_duration_ms",
	"min_duration_ms", "max_duration_ms", "total_time_under_tension_ms", "avg_amplitude", "max_amplitude",
	"compliance_rate", "overall_score", "compliance_score", "symmetry_score", "effort_score", "game_score"}

func fmtNum(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func fmtOpt(v *float64) string {
	if v == nil {
		return ""
	}
	return fmtNum(*v)
}

func writeCSVRows(cw *csv.Writer, path string, res *emg.Result, err error) {
	if res == nil {
		row := make([]string, len(csvHeader))
		row[0] = path
		if err != nil {
			row[2] = err.Error()
		}
		cw.Write(row)
		return
	}
	pa := res.PerformanceAnalysis
	if pa == nil {
		pa = &emg.Performance{}
	}
	bases := make([]string, 0, len(res.Analytics))
	for b := range res.Analytics {
		bases = append(bases, b)
	}
	sort.Strings(bases)
	for _, b := range bases {
		ca := res.Analytics[b]
		errMsg := ""
		if ca.Errors != nil {
			errMsg = *ca.Errors
		}
		cw.Write([]string{path, b, errMsg, res.ProcessingVersion,
			strconv.Itoa(ca.ContractionCount), strconv.Itoa(ca.GoodContractionCount),
			strconv.Itoa(ca.MVCCompliantCount), strconv.Itoa(ca.DurationCompliantCount),
			fmtOpt(ca.MVC75Threshold), ca.MVCEstimationMethod, fmtOpt(ca.DurationThresholdActualValue),
			fmtOpt(ca.RMS), fmtOpt(ca.MAV), fmtOpt(ca.MPF), fmtOpt(ca.MDF), fmtOpt(ca.FatigueIndexFINSM5),
			fmtNum(ca.AvgDurationMs), fmtNum(ca.MinDurationMs), fmtNum(ca.MaxDurationMs),
			fmtNum(ca.TotalTimeUnderTensionMs), fmtNum(ca.AvgAmplitude), fmtNum(ca.MaxAmplitude),
			fmtNum(ca.ComplianceRate), fmtOpt(pa.OverallScore), fmtOpt(pa.ComplianceScore),
			fmtOpt(pa.SymmetryScore), fmtOpt(pa.EffortScore), fmtOpt(pa.GameScore)})
	}
}

func printAnalysis(w io.Writer, path string, res *emg.Result) {
	fmt.Fprintf(w, "%s  (%s", path, res.ProcessingVersion)
	if md, ok := res.Metadata.(*analysis.Metadata); ok {
		fmt.Fprintf(w, ", %d samples per channel at %g Hz, %.2f s", md.SamplesPerChannel, md.SamplingRate, md.DurationSeconds)
	}
	fmt.Fprintln(w, ")")
	bases := make([]string, 0, len(res.Analytics))
	for b := range res.Analytics {
		bases = append(bases, b)
	}
	sort.Strings(bases)
	opt := func(v *float64, format string) string {
		if v == nil {
			return "n/a"
		}
		return fmt.Sprintf(format, *v)
	}
	for _, b := range bases {
		ca := res.Analytics[b]
		if ca.Errors != nil {
			fmt.Fprintf(w, "  %-8s error: %s\n", b, *ca.Errors)
			continue
		}
		fmt.Fprintf(w, "  %-8s %d contractions (%d good, %d reach MVC threshold %s [%s], %d reach %s ms)\n",
			b, ca.ContractionCount, ca.GoodContractionCount, ca.MVCCompliantCount, opt(ca.MVC75Threshold, "%.4g"),
			ca.MVCEstimationMethod, ca.DurationCompliantCount, opt(ca.DurationThresholdActualValue, "%g"))
		fmt.Fprintf(w, "  %-8s RMS %s, MAV %s, MPF %s Hz, MDF %s Hz, FI_nsm5 %s\n", "",
			opt(ca.RMS, "%.4g"), opt(ca.MAV, "%.4g"), opt(ca.MPF, "%.2f"), opt(ca.MDF, "%.2f"), opt(ca.FatigueIndexFINSM5, "%.4g"))
	}
	if pa := res.PerformanceAnalysis; pa != nil {
		fmt.Fprintf(w, "  scores   overall %s, compliance %s, symmetry %s, effort %s, game %s\n",
			opt(pa.OverallScore, "%.2f"), opt(pa.ComplianceScore, "%.2f"), opt(pa.SymmetryScore, "%.2f"),
			opt(pa.EffortScore, "%.0f"), opt(pa.GameScore, "%.2f"))
	}
}
