package review

import (
	"math"
	"time"

	"emgd/emg"
)

// TrendsResponse is GET /patients/{code}/trends.
type TrendsResponse struct {
	PatientCode string         `json:"patient_code"`
	Sessions    []TrendSession `json:"sessions" doc:"current (not superseded) sessions, oldest recording first"`
	Weeks       []TrendWeek    `json:"weeks" doc:"every ISO week of the range (from/to when given, else the first to the last session's), oldest first"`
}

// TrendSession is one session of a trend, from its current analysis.
type TrendSession struct {
	SessionID       string                  `json:"session_id"`
	SessionCode     string                  `json:"session_code"`
	RecordedAt      *string                 `json:"recorded_at" doc:"the device's wall clock, no zone"`
	Status          string                  `json:"status"`
	SettingsVersion int                     `json:"settings_version" doc:"the settings version the analysis used (0: none)"`
	OverallScore    *float64                `json:"overall_score"`
	ComplianceScore *float64                `json:"compliance_score"`
	SymmetryScore   *float64                `json:"symmetry_score"`
	EffortScore     *float64                `json:"effort_score"`
	Channels        map[string]TrendChannel `json:"channels" doc:"by channel base name; empty when not analysed"`
}

// TrendChannel is one channel of a session's analysis.
type TrendChannel struct {
	Muscle            *string  `json:"muscle" doc:"the muscle named in the patient's settings, null without"`
	Contractions      int      `json:"contractions"`
	Good              int      `json:"good"`
	Expected          int      `json:"expected" doc:"contractions expected by the analysis's parameters"`
	MVCCompliant      int      `json:"mvc_compliant"`
	DurationCompliant int      `json:"duration_compliant"`
	RMS               *float64 `json:"rms"`
	MAV               *float64 `json:"mav"`
	MPF               *float64 `json:"mpf"`
	MDF               *float64 `json:"mdf"`
	FatigueIndex      *float64 `json:"fatigue_index" doc:"fatigue_index_fi_nsm5"`
	MVC               *float64 `json:"mvc" doc:"the MVC (V) the analysis used: the settings' own value for the channel or the session-wide one, else the estimate from the session; null when the analysis has no MVC threshold"`
	MVCEstimated      bool     `json:"mvc_estimated" doc:"true when the MVC was estimated from the session (95th percentile of its envelope), not given in the settings"`
}

// TrendWeek is one ISO week's adherence.
type TrendWeek struct {
	Week       string   `json:"week" doc:"ISO week, e.g. 2026-W48"`
	Sessions   int      `json:"sessions" doc:"sessions recorded that week"`
	Prescribed int      `json:"prescribed" doc:"sessions per week of the patient's settings"`
	Adherence  *float64 `json:"adherence" doc:"sessions / prescribed in percent, at most 100; null when none are prescribed"`
}

func trendSession(d *sessionData, set Settings) TrendSession {
	ts := TrendSession{SessionID: d.S.ID, SessionCode: d.S.SessionCode, RecordedAt: d.recordedAt(), Status: string(d.S.Status),
		SettingsVersion: d.SettingsVersion,
		OverallScore:    d.score(func(p *emg.Performance) *float64 { return p.OverallScore }),
		ComplianceScore: d.score(func(p *emg.Performance) *float64 { return p.ComplianceScore }),
		SymmetryScore:   d.score(func(p *emg.Performance) *float64 { return p.SymmetryScore }),
		EffortScore:     d.score(func(p *emg.Performance) *float64 { return p.EffortScore }),
		Channels:        map[string]TrendChannel{}}
	for _, base := range d.Bases {
		ch := d.Channels[base]
		ts.Channels[base] = TrendChannel{Muscle: muscleOf(set, base), Contractions: ch.ContractionCount, Good: ch.GoodContractionCount,
			Expected: d.expected(base), MVCCompliant: ch.MVCCompliantCount, DurationCompliant: ch.DurationCompliantCount,
			RMS: ch.RMS, MAV: ch.MAV, MPF: ch.MPF, MDF: ch.MDF, FatigueIndex: ch.FatigueIndexFINSM5}
		c := ts.Channels[base]
		c.MVC, c.MVCEstimated = d.mvcUsed(base, ch)
		ts.Channels[base] = c
	}
	return ts
}

// mvcUsed is the MVC the analysis used for base, and whether it was
// estimated from the session: a given MVC as the parameters hold it,
// else the threshold divided by its percentage of the MVC.
func (d *sessionData) mvcUsed(base string, ch *channelStats) (*float64, bool) {
	p := d.Params
	switch ch.MVCEstimationMethod {
	case emg.MVCUserProvided:
		if v, ok := p.MVC[base]; ok && v > 0 {
			return &v, false
		}
	case emg.MVCGlobalProvided:
		if p.MVCGlobal != nil && *p.MVCGlobal > 0 {
			v := *p.MVCGlobal
			return &v, false
		}
	}
	if ch.MVC75Threshold == nil {
		return nil, false
	}
	pct := p.ThresholdPctFor(base)
	v := *ch.MVC75Threshold / (pct / 100)
	if !(pct > 0) || math.IsNaN(v) || math.IsInf(v, 0) {
		return nil, false
	}
	return &v, ch.MVCEstimationMethod == emg.MVCBackendEstimation
}

// weeks counts sessions per ISO week from the week of from (else of the
// first day) to the week of to (else of the last day).
func weeks(days []time.Time, from, to time.Time, prescribed int) []TrendWeek {
	out := []TrendWeek{}
	if from.IsZero() && len(days) > 0 {
		from = days[0]
		for _, d := range days {
			if d.Before(from) {
				from = d
			}
		}
	}
	if to.IsZero() && len(days) > 0 {
		to = days[0]
		for _, d := range days {
			if d.After(to) {
				to = d
			}
		}
	}
	if from.IsZero() || to.IsZero() || to.Before(from) {
		return out
	}
	count := map[string]int{}
	for _, d := range days {
		count[isoWeek(d)]++
	}
	for w := weekStart(from); !w.After(to); w = w.AddDate(0, 0, 7) {
		tw := TrendWeek{Week: isoWeek(w), Sessions: count[isoWeek(w)], Prescribed: prescribed}
		if prescribed > 0 {
			a := math.Min(100, float64(tw.Sessions)/float64(prescribed)*100)
			tw.Adherence = &a
		}
		out = append(out, tw)
	}
	return out
}
