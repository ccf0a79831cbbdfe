package emg

import "math"

// DefaultExpectedContractions is the expected number of contractions per muscle.
const DefaultExpectedContractions = 12

// MuscleCounts are one muscle's contraction counts used by the scores.
type MuscleCounts struct {
	Channel           string // base name
	Contractions      int
	MVCCompliant      int
	DurationCompliant int
	Expected          int // expected contractions (> 0)
}

// Performance holds the session scores (0..100, unrounded) and their
// components. Scores that cannot be computed are null.
type Performance struct {
	OverallScore          *float64 `json:"overall_score"`
	ComplianceScore       *float64 `json:"compliance_score"`
	SymmetryScore         *float64 `json:"symmetry_score"`
	EffortScore           *float64 `json:"effort_score"`
	GameScore             *float64 `json:"game_score"`
	LeftMuscleCompliance  *float64 `json:"left_muscle_compliance"`
	RightMuscleCompliance *float64 `json:"right_muscle_compliance"`
	CompletionRateLeft    *float64 `json:"completion_rate_left"`
	CompletionRateRight   *float64 `json:"completion_rate_right"`
	IntensityRateLeft     *float64 `json:"intensity_rate_left"`
	IntensityRateRight    *float64 `json:"intensity_rate_right"`
	DurationRateLeft      *float64 `json:"duration_rate_left"`
	DurationRateRight     *float64 `json:"duration_rate_right"`
	BFRCompliant          bool     `json:"bfr_compliant"`
	LeftChannel           string   `json:"left_channel,omitempty"`
	RightChannel          string   `json:"right_channel,omitempty"`
	Weights               Weights  `json:"weights"`
}

// EffortScore maps a Borg CR-10 rating to the effort score: 4-6 -> 100,
// 3 and 7 -> 80, 2 and 8 -> 60, 0, 1, 9 and 10 -> 20. Other values are a
// *ParamError.
func EffortScore(rpe float64) (float64, error) {
	switch rpe {
	case 4, 5, 6:
		return 100, nil
	case 3, 7:
		return 80, nil
	case 2, 8:
		return 60, nil
	case 0, 1, 9, 10:
		return 20, nil
	}
	return 0, perr("rpe", "must be an integer from 0 to 10 (Borg CR-10), got %v", rpe)
}

// BFRCompliant reports whether a BFR pressure (% AOP) lies in 45..55; an
// unknown pressure (nil) counts as compliant.
func BFRCompliant(pressureAOP *float64) bool {
	if pressureAOP == nil {
		return true
	}
	return *pressureAOP >= 45 && *pressureAOP <= 55
}

// Scores computes the session scores from the left and right muscles (nil
// when that muscle is absent or failed) and the session parameters p (RPE,
// BFR pressure, game points, weights):
//
//	muscle compliance = (w_completion*min(n/E, 1) + w_intensity*mvc/n + w_duration*dur/n) * 100
//	compliance = mean of the muscles present * C_BFR
//	symmetry = (1 - |L-R|/(L+R)) * 100 (0 when L+R = 0; null unless both present)
//	effort from RPE, game = points/max*100,
//	overall = weighted mean over the components present, weights renormalised.
func Scores(left, right *MuscleCounts, p *Params) (*Performance, error) {
	if p == nil {
		p = &Params{}
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	w := DefaultWeights
	if p.Weights != nil {
		w = *p.Weights
	}
	perf := &Performance{Weights: w, BFRCompliant: BFRCompliant(p.BFRPressureAOP)}
	gate := 0.0
	if perf.BFRCompliant {
		gate = 1
	}
	muscle := func(m *MuscleCounts) (comp, completion, intensity, duration *float64) {
		if m == nil {
			return
		}
		e := m.Expected
		if e <= 0 {
			e = DefaultExpectedContractions
		}
		c := min(float64(m.Contractions)/float64(e), 1)
		in, du := 0.0, 0.0
		if m.Contractions > 0 {
			in = float64(m.MVCCompliant) / float64(m.Contractions)
			du = float64(m.DurationCompliant) / float64(m.Contractions)
		}
		sc := w.Completion*c + w.Intensity*in + w.Duration*du
		if sum := w.Completion + w.Intensity + w.Duration; math.Abs(sum-1) > 1e-9 {
			sc /= sum // sub-weights that do not sum to 1 are renormalised
		}
		sc *= 100
		return ptr(sc), ptr(c), ptr(in), ptr(du)
	}
	perf.LeftMuscleCompliance, perf.CompletionRateLeft, perf.IntensityRateLeft, perf.DurationRateLeft = muscle(left)
	perf.RightMuscleCompliance, perf.CompletionRateRight, perf.IntensityRateRight, perf.DurationRateRight = muscle(right)
	if left != nil {
		perf.LeftChannel = left.Channel
	}
	if right != nil {
		perf.RightChannel = right.Channel
	}
	l, r := perf.LeftMuscleCompliance, perf.RightMuscleCompliance
	switch {
	case l != nil && r != nil:
		perf.ComplianceScore = ptr((*l + *r) / 2 * gate)
		if *l+*r == 0 {
			perf.SymmetryScore = ptr(0)
		} else {
			d := *l - *r
			if d < 0 {
				d = -d
			}
			perf.SymmetryScore = ptr((1 - d/(*l+*r)) * 100)
		}
	case l != nil:
		perf.ComplianceScore = ptr(*l * gate)
	case r != nil:
		perf.ComplianceScore = ptr(*r * gate)
	}
	if p.RPE != nil {
		e, err := EffortScore(*p.RPE)
		if err != nil {
			return nil, err
		}
		perf.EffortScore = ptr(e)
	}
	if p.GamePoints != nil && p.GameMaxPoints != nil {
		perf.GameScore = ptr(*p.GamePoints / *p.GameMaxPoints * 100)
	}
	num, den := 0.0, 0.0
	for _, c := range []struct {
		v *float64
		w float64
	}{{perf.ComplianceScore, w.Compliance}, {perf.SymmetryScore, w.Symmetry}, {perf.EffortScore, w.Effort}, {perf.GameScore, w.Game}} {
		if c.v != nil {
			num += c.w * *c.v
			den += c.w
		}
	}
	if den > 0 {
		perf.OverallScore = ptr(num / den)
	}
	return perf, nil
}
