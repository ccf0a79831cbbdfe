package review

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"emgd/emg"
	"emgd/internal/auth"
	"emgd/internal/store"
)

// csvRow is one row of an export: a session and one of its channels (ch nil
// and base "" for a session without an analysis).
type csvRow struct {
	d    *sessionData
	set  Settings
	base string
	ch   *channelStats
}

type column struct {
	name  string
	value func(r *csvRow) string
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func optNum(v *float64) string {
	if v == nil {
		return ""
	}
	return num(*v)
}

func optInt(v *int) string {
	if v == nil {
		return ""
	}
	return strconv.Itoa(*v)
}

func optTime(t *time.Time, layout string) string {
	if t == nil {
		return ""
	}
	return t.Format(layout)
}

// chNum is a channel's number (empty without a channel).
func chNum(f func(c *channelStats) *float64) func(r *csvRow) string {
	return func(r *csvRow) string {
		if r.ch == nil {
			return ""
		}
		return optNum(f(r.ch))
	}
}

func chInt(f func(c *channelStats) int) func(r *csvRow) string {
	return func(r *csvRow) string {
		if r.ch == nil {
			return ""
		}
		return strconv.Itoa(f(r.ch))
	}
}

func chVal(f func(c *channelStats) float64) func(r *csvRow) string {
	return chNum(func(c *channelStats) *float64 { v := f(c); return &v })
}

func scoreNum(f func(p *emg.Performance) *float64) func(r *csvRow) string {
	return func(r *csvRow) string { return optNum(r.d.score(f)) }
}

func weight(f func(w *emg.Weights) float64) func(r *csvRow) string {
	return func(r *csvRow) string {
		if r.d.Scores == nil {
			return ""
		}
		return num(f(&r.d.Scores.Weights))
	}
}

func temporal(name string, f func(c *channelStats) *emg.TemporalStats) []column {
	return []column{
		{name + "_mean", chNum(func(c *channelStats) *float64 { return f(c).MeanValue })},
		{name + "_std", chNum(func(c *channelStats) *float64 { return f(c).StdValue })},
		{name + "_min", chNum(func(c *channelStats) *float64 { return f(c).MinValue })},
		{name + "_max", chNum(func(c *channelStats) *float64 { return f(c).MaxValue })},
		{name + "_valid_windows", chInt(func(c *channelStats) int { return f(c).ValidWindows })},
		{name + "_cv", chNum(func(c *channelStats) *float64 { return f(c).CoefficientOfVariation })},
	}
}

// chParam is a per-channel parameter: the channel's own value, else the
// session-wide one.
func chParam(own func(p *emg.Params) map[string]float64, global func(p *emg.Params) *float64) func(r *csvRow) string {
	return func(r *csvRow) string {
		if r.d.A == nil {
			return ""
		}
		if v, ok := own(&r.d.Params)[r.base]; ok && r.base != "" {
			return num(v)
		}
		if global != nil {
			return optNum(global(&r.d.Params))
		}
		return ""
	}
}

func param(f func(p *emg.Params) string) func(r *csvRow) string {
	return func(r *csvRow) string {
		if r.d.A == nil {
			return ""
		}
		return f(&r.d.Params)
	}
}

// columns are the export's columns, in order: the session, the channel and
// every analytics field, the scores, the parameters' key values (built on
// first use: nothing at init).
var columns = sync.OnceValue(func() []column {
	cols := []column{
		{"session_id", func(r *csvRow) string { return r.d.S.ID }},
		{"session_code", func(r *csvRow) string { return r.d.S.SessionCode }},
		{"patient_code", func(r *csvRow) string { return r.d.S.PatientCode }},
		{"recorded_at", func(r *csvRow) string { return optTime(r.d.S.RecordedAt, store.RecordedAtLayout) }},
		{"status", func(r *csvRow) string { return string(r.d.S.Status) }},
		{"error", func(r *csvRow) string { return r.d.S.Error }},
		{"object_key", func(r *csvRow) string { return r.d.S.ObjectKey }},
		{"created_at", func(r *csvRow) string { return r.d.S.CreatedAt.UTC().Format(time.RFC3339Nano) }},
		{"processed_at", func(r *csvRow) string { return optTime(r.d.S.ProcessedAt, time.RFC3339Nano) }},
		{"superseded_by", func(r *csvRow) string { return r.d.S.SupersededBy }},
		{"player", func(r *csvRow) string { return r.d.game("player") }},
		{"game_name", func(r *csvRow) string { return r.d.game("name") }},
		{"game_level", func(r *csvRow) string { return r.d.game("level") }},
		{"game_score", func(r *csvRow) string { return r.d.game("score") }},
		{"duration_seconds", func(r *csvRow) string { return metaNum(r.d.Meta["duration_seconds"]) }},
		{"sampling_rate", func(r *csvRow) string { return metaNum(r.d.Meta["sampling_rate"]) }},
		{"processing_version", func(r *csvRow) string {
			if r.d.A == nil {
				return ""
			}
			return r.d.A.ProcessingVersion
		}},
		{"analysed_at", func(r *csvRow) string {
			if r.d.A == nil {
				return ""
			}
			return r.d.A.CreatedAt.UTC().Format(time.RFC3339Nano)
		}},
		{"settings_version", func(r *csvRow) string { return strconv.Itoa(r.d.SettingsVersion) }},
		{"channel", func(r *csvRow) string { return r.base }},
		{"muscle", func(r *csvRow) string {
			if m := muscleOf(r.set, r.base); m != nil && r.base != "" {
				return *m
			}
			return ""
		}},
		{"rms", chNum(func(c *channelStats) *float64 { return c.RMS })},
		{"mav", chNum(func(c *channelStats) *float64 { return c.MAV })},
		{"mpf", chNum(func(c *channelStats) *float64 { return c.MPF })},
		{"mdf", chNum(func(c *channelStats) *float64 { return c.MDF })},
		{"fatigue_index_fi_nsm5", chNum(func(c *channelStats) *float64 { return c.FatigueIndexFINSM5 })},
		{"contraction_count", chInt(func(c *channelStats) int { return c.ContractionCount })},
		{"good_contraction_count", chInt(func(c *channelStats) int { return c.GoodContractionCount })},
		{"mvc_compliant_count", chInt(func(c *channelStats) int { return c.MVCCompliantCount })},
		{"duration_compliant_count", chInt(func(c *channelStats) int { return c.DurationCompliantCount })},
		{"expected_contractions", func(r *csvRow) string {
			if r.ch == nil {
				return ""
			}
			return strconv.Itoa(r.d.expected(r.base))
		}},
		{"mvc75_threshold", chNum(func(c *channelStats) *float64 { return c.MVC75Threshold })},
		{"duration_threshold_actual_value", chNum(func(c *channelStats) *float64 { return c.DurationThresholdActualValue })},
		{"mvc_estimation_method", func(r *csvRow) string {
			if r.ch == nil {
				return ""
			}
			return r.ch.MVCEstimationMethod
		}},
		{"avg_duration_ms", chVal(func(c *channelStats) float64 { return c.AvgDurationMs })},
		{"max_duration_ms", chVal(func(c *channelStats) float64 { return c.MaxDurationMs })},
		{"min_duration_ms", chVal(func(c *channelStats) float64 { return c.MinDurationMs })},
		{"total_time_under_tension_ms", chVal(func(c *channelStats) float64 { return c.TotalTimeUnderTensionMs })},
		{"avg_amplitude", chVal(func(c *channelStats) float64 { return c.AvgAmplitude })},
		{"max_amplitude", chVal(func(c *channelStats) float64 { return c.MaxAmplitude })},
		{"compliance_rate", chVal(func(c *channelStats) float64 { return c.ComplianceRate })},
	}
	cols = append(cols, temporal("rms_temporal", func(c *channelStats) *emg.TemporalStats { return &c.RMSTemporalStats })...)
	cols = append(cols, temporal("mav_temporal", func(c *channelStats) *emg.TemporalStats { return &c.MAVTemporalStats })...)
	cols = append(cols, temporal("mpf_temporal", func(c *channelStats) *emg.TemporalStats { return &c.MPFTemporalStats })...)
	cols = append(cols, temporal("mdf_temporal", func(c *channelStats) *emg.TemporalStats { return &c.MDFTemporalStats })...)
	cols = append(cols, temporal("fatigue_index_temporal", func(c *channelStats) *emg.TemporalStats { return &c.FatigueIndexTemporalStats })...)
	cols = append(cols,
		column{"channel_error", func(r *csvRow) string {
			if r.ch == nil || r.ch.Errors == nil {
				return ""
			}
			return *r.ch.Errors
		}},
		column{"overall_score", scoreNum(func(p *emg.Performance) *float64 { return p.OverallScore })},
		column{"compliance_score", scoreNum(func(p *emg.Performance) *float64 { return p.ComplianceScore })},
		column{"symmetry_score", scoreNum(func(p *emg.Performance) *float64 { return p.SymmetryScore })},
		column{"effort_score", scoreNum(func(p *emg.Performance) *float64 { return p.EffortScore })},
		column{"game_score_pct", scoreNum(func(p *emg.Performance) *float64 { return p.GameScore })},
		column{"left_muscle_compliance", scoreNum(func(p *emg.Performance) *float64 { return p.LeftMuscleCompliance })},
		column{"right_muscle_compliance", scoreNum(func(p *emg.Performance) *float64 { return p.RightMuscleCompliance })},
		column{"completion_rate_left", scoreNum(func(p *emg.Performance) *float64 { return p.CompletionRateLeft })},
		column{"completion_rate_right", scoreNum(func(p *emg.Performance) *float64 { return p.CompletionRateRight })},
		column{"intensity_rate_left", scoreNum(func(p *emg.Performance) *float64 { return p.IntensityRateLeft })},
		column{"intensity_rate_right", scoreNum(func(p *emg.Performance) *float64 { return p.IntensityRateRight })},
		column{"duration_rate_left", scoreNum(func(p *emg.Performance) *float64 { return p.DurationRateLeft })},
		column{"duration_rate_right", scoreNum(func(p *emg.Performance) *float64 { return p.DurationRateRight })},
		column{"bfr_compliant", func(r *csvRow) string {
			if r.d.Scores == nil {
				return ""
			}
			return strconv.FormatBool(r.d.Scores.BFRCompliant)
		}},
		column{"left_channel", func(r *csvRow) string {
			if r.d.Scores == nil {
				return ""
			}
			return r.d.Scores.LeftChannel
		}},
		column{"right_channel", func(r *csvRow) string {
			if r.d.Scores == nil {
				return ""
			}
			return r.d.Scores.RightChannel
		}},
		column{"weight_compliance", weight(func(w *emg.Weights) float64 { return w.Compliance })},
		column{"weight_symmetry", weight(func(w *emg.Weights) float64 { return w.Symmetry })},
		column{"weight_effort", weight(func(w *emg.Weights) float64 { return w.Effort })},
		column{"weight_game", weight(func(w *emg.Weights) float64 { return w.Game })},
		column{"weight_completion", weight(func(w *emg.Weights) float64 { return w.Completion })},
		column{"weight_intensity", weight(func(w *emg.Weights) float64 { return w.Intensity })},
		column{"weight_duration", weight(func(w *emg.Weights) float64 { return w.Duration })},
		column{"scoring_config_id", func(r *csvRow) string {
			if r.d.Scores == nil || r.d.Scores.ScoringConfigID == nil {
				return ""
			}
			return *r.d.Scores.ScoringConfigID
		}},
		column{"param_profile", param(func(p *emg.Params) string { return p.Profile })},
		column{"param_mvc", chParam(func(p *emg.Params) map[string]float64 { return p.MVC }, func(p *emg.Params) *float64 { return p.MVCGlobal })},
		column{"param_threshold_pct", chParam(func(p *emg.Params) map[string]float64 { return p.MVCThresholdPct }, func(p *emg.Params) *float64 { return p.ThresholdPct })},
		column{"param_duration_threshold_ms", chParam(func(p *emg.Params) map[string]float64 {
			ms := map[string]float64{}
			for k, v := range p.DurationThresholdsS {
				ms[k] = v * 1000
			}
			return ms
		}, func(p *emg.Params) *float64 { return p.DurationThresholdMs })},
		column{"param_expected_contractions", param(func(p *emg.Params) string { return optInt(p.ExpectedContractions) })},
		column{"param_rpe", param(func(p *emg.Params) string { return optNum(p.RPE) })},
		column{"param_bfr_pressure_aop", param(func(p *emg.Params) string { return optNum(p.BFRPressureAOP) })},
		column{"param_game_points", param(func(p *emg.Params) string { return optNum(p.GamePoints) })},
		column{"param_game_max_points", param(func(p *emg.Params) string { return optNum(p.GameMaxPoints) })},
		column{"param_min_duration_ms", param(func(p *emg.Params) string { return optNum(p.MinDurationMs) })},
		column{"param_smoothing_window", param(func(p *emg.Params) string { return optInt(p.SmoothingWindow) })},
		column{"param_threshold_factor", param(func(p *emg.Params) string { return optNum(p.ThresholdFactor) })},
		column{"params_json", func(r *csvRow) string {
			if r.d.A == nil {
				return ""
			}
			var v any
			if json.Unmarshal(r.d.A.Params, &v) != nil {
				return string(r.d.A.Params)
			}
			b, _ := json.Marshal(v)
			return string(b)
		}},
	)
	return cols
})

// ColumnNames is the export's header row.
func ColumnNames() []string {
	cols := columns()
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.name
	}
	return out
}

// csvExport writes rows as they come.
type csvExport struct {
	w   *csv.Writer
	rec []string
	set Settings
}

func newCSV(w http.ResponseWriter, filename string, set Settings) (*csvExport, error) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s"`, filename))
	w.WriteHeader(http.StatusOK)
	e := &csvExport{w: csv.NewWriter(w), rec: make([]string, len(columns())), set: set}
	return e, e.w.Write(ColumnNames())
}

// session writes a session's rows: one per channel, or one without a
// channel when it has no analysis (or no channel).
func (e *csvExport) session(d *sessionData) error {
	write := func(r *csvRow) error {
		for i, c := range columns() {
			e.rec[i] = c.value(r)
		}
		return e.w.Write(e.rec)
	}
	if len(d.Bases) == 0 {
		return write(&csvRow{d: d, set: e.set})
	}
	for _, base := range d.Bases {
		if err := write(&csvRow{d: d, set: e.set, base: base, ch: d.Channels[base]}); err != nil {
			return err
		}
	}
	return nil
}

func (e *csvExport) flush() error {
	e.w.Flush()
	return e.w.Error()
}

func (h *handler) sessionCSV(w http.ResponseWriter, r *http.Request) {
	d, err := h.session(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	set, err := h.set.Settings(r.Context(), d.S.PatientCode)
	if err == nil {
		err = auth.Audit(r, actionExportCSV, d.S.PatientCode, d.S.ID)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	e, err := newCSV(w, d.S.SessionCode+".csv", set)
	if err == nil {
		err = e.session(d)
	}
	if err == nil {
		err = e.flush()
	}
	if err != nil {
		h.log.Warn("session export cut short", "session", d.S.SessionCode, "error", err)
	}
}

// patientCSV streams the range: rows are written as the database returns
// them, flushed every few sessions.
func (h *handler) patientCSV(w http.ResponseWriter, r *http.Request) {
	code, set, err := h.patient(r)
	var dr dateRange
	if err == nil {
		dr, err = parseRange(r)
	}
	if err == nil {
		err = auth.Audit(r, actionExportCSV, code, "")
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	name := code
	if !dr.From.IsZero() {
		name += "_from_" + dr.From.Format(time.DateOnly)
	}
	if !dr.To.IsZero() {
		name += "_to_" + dr.To.Format(time.DateOnly)
	}
	e, err := newCSV(w, name+".csv", set)
	if err != nil {
		return
	}
	flusher, _ := w.(http.Flusher)
	n := 0
	err = h.eachSession(r.Context(), code, dr, func(d *sessionData) error {
		if err := e.session(d); err != nil {
			return err
		}
		if n++; n%32 == 0 {
			if err := e.flush(); err != nil {
				return err
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
		return nil
	})
	if err == nil {
		err = e.flush()
	}
	if err != nil {
		// The status is sent: cut the answer so that the client sees an
		// incomplete download rather than a short file.
		h.log.Warn("patient export cut short", "patient", code, "error", err)
		panic(http.ErrAbortHandler)
	}
}

// metaNum formats a number of the metadata ("" for anything else).
func metaNum(v any) string {
	if f, ok := v.(float64); ok {
		return num(f)
	}
	return ""
}
