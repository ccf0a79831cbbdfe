package upload

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"emgd/emg"
	"emgd/internal/store"
)

// options are the parsed form fields.
type options struct {
	params emg.Params
	// given is the old backend's GameSessionParameters as the form set
	// them (with its defaults), echoed in session_parameters_used.
	given GameSessionParameters
	// zeroPct: session_mvc_threshold_percentage was 0 (see sessionFields).
	zeroPct        bool
	thresholdFac   float64
	minDurationMs  float64
	smoothing      int
	includeSignals bool
	store          bool
	patient        string
	patientID      *string
	userID         *string
	sessionID      *string
}

// Defaults of the old backend's form (and of emg).
const (
	defThresholdFactor = 0.10
	defMinDurationMs   = 100
	defSmoothing       = 100
	defThresholdPct    = 75
	defDurationMs      = 2000
)

// formField names the form field that sets each emg parameter.
var formField = map[string]string{
	"threshold_factor": "threshold_factor", "min_duration_ms": "min_duration_ms", "smoothing_window": "smoothing_window",
	"mvc_global": "session_mvc_value", "threshold_pct": "session_mvc_threshold_percentage",
	"duration_threshold_ms": "contraction_duration_threshold", "expected_contractions": "session_expected_contractions",
	"rpe": "rpe", "profile": "profile",
}

// parseOptions reads the form: emgd's params JSON, then the old backend's
// processing and session fields over it (a value of the wrong type or out
// of the old model's range is FastAPI's 422), emgd's own switches and the
// identifiers echoed.
func parseOptions(f *form) (*options, error) {
	o := &options{thresholdFac: defThresholdFactor, minDurationMs: defMinDurationMs, smoothing: defSmoothing, includeSignals: true}
	if v, ok := f.get("params"); ok && v != "" {
		p, err := emg.ReadParams(strings.NewReader(v))
		if err != nil {
			return nil, paramStatus("params", err)
		}
		o.params = p
	}
	fr := &fieldReader{f: f}
	o.processingFields(fr)
	o.sessionFields(fr)
	if len(fr.errs) > 0 {
		return nil, fieldErrors(fr.errs...)
	}
	if err := o.validate(f); err != nil {
		return nil, err
	}
	if err := o.switches(f); err != nil {
		return nil, err
	}
	if err := o.identifiers(f); err != nil {
		return nil, err
	}
	return o, nil
}

// fieldReader reads the old form's typed fields, collecting what pydantic
// would refuse.
type fieldReader struct {
	f    *form
	errs []FieldError
}

func (r *fieldReader) refuse(name, typ, msg, input string, ctx map[string]any) {
	in, _ := json.Marshal(input)
	r.errs = append(r.errs, FieldError{Type: typ, Loc: []any{"body", name}, Msg: msg, Input: in, Ctx: ctx})
}

// float reads a number; "" or absent is nil.
func (r *fieldReader) float(name string) *float64 {
	v, ok := r.f.get(name)
	if !ok || v == "" {
		return nil
	}
	x, err := strconv.ParseFloat(v, 64)
	switch {
	case err != nil && !errors.Is(err, strconv.ErrRange):
		r.refuse(name, "float_parsing", "Input should be a valid number, unable to parse string as a number", v, nil)
		return nil
	case err != nil || math.IsNaN(x) || math.IsInf(x, 0):
		// pydantic takes nan and inf; no analysis does.
		r.refuse(name, "finite_number", "Input should be a finite number", v, nil)
		return nil
	}
	return &x
}

// integer reads an integer; a number without a fraction (12.0) is one, as
// pydantic takes it.
func (r *fieldReader) integer(name string) *int {
	v, ok := r.f.get(name)
	if !ok || v == "" {
		return nil
	}
	if x, err := strconv.Atoi(v); err == nil {
		return &x
	}
	x, err := strconv.ParseFloat(v, 64)
	switch {
	case err != nil && !errors.Is(err, strconv.ErrRange):
		r.refuse(name, "int_parsing", "Input should be a valid integer, unable to parse string as an integer", v, nil)
	case err != nil || math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(x) > 1<<53:
		r.refuse(name, "finite_number", "Input should be a finite number", v, nil)
	case x != math.Trunc(x):
		r.refuse(name, "int_from_float", "Input should be a valid integer, got a number with a fractional part", v, nil)
	default:
		n := int(x)
		return &n
	}
	return nil
}

// atLeast refuses a value under min as pydantic's ge does.
func (r *fieldReader) atLeast(name string, x float64, min float64) bool {
	if x >= min {
		return true
	}
	v, _ := r.f.get(name)
	r.refuse(name, "greater_than_equal", "Input should be greater than or equal to "+pyNum(min), v, map[string]any{"ge": min})
	return false
}

// atMost refuses a value over max as pydantic's le does.
func (r *fieldReader) atMost(name string, x float64, max float64) bool {
	if x <= max {
		return true
	}
	v, _ := r.f.get(name)
	r.refuse(name, "less_than_equal", "Input should be less than or equal to "+pyNum(max), v, map[string]any{"le": max})
	return false
}

func pyNum(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

// processingFields reads ProcessingOptions: threshold_factor,
// min_duration_ms, smoothing_window (no range in the old model; emg
// validates them).
func (o *options) processingFields(r *fieldReader) {
	p := &o.params
	if x := r.float("threshold_factor"); x != nil {
		p.ThresholdFactor = x
	}
	if x := r.integer("min_duration_ms"); x != nil {
		p.MinDurationMs = ptr(float64(*x))
	}
	if x := r.integer("smoothing_window"); x != nil {
		p.SmoothingWindow = x
	}
}

// sessionFields reads GameSessionParameters within the old model's ranges.
// Expected contractions of 0 count as not given (the old backend scored
// against 12 whatever it was sent). A threshold percentage of 0 is the old
// backend's: with an MVC value every contraction reaches the threshold (0);
// without one the estimate is taken at 75 %.
func (o *options) sessionFields(r *fieldReader) {
	p, g := &o.params, &o.given
	g.SessionMVCThresholdPercentage = ptr(float64(defThresholdPct))
	g.ContractionDurationThreshold = ptr(float64(defDurationMs))
	if x := r.float("session_mvc_value"); x != nil {
		p.MVCGlobal, g.SessionMVCValue = x, x
	}
	if x := r.float("session_mvc_threshold_percentage"); x != nil {
		name := "session_mvc_threshold_percentage"
		if r.atLeast(name, *x, 0) && r.atMost(name, *x, 100) {
			g.SessionMVCThresholdPercentage = x
			p.ThresholdPct = x
			o.zeroPct = *x == 0
		}
	} else if p.ThresholdPct != nil {
		g.SessionMVCThresholdPercentage = p.ThresholdPct
	}
	if x := r.integer("contraction_duration_threshold"); x != nil && r.atLeast("contraction_duration_threshold", float64(*x), 0) {
		p.DurationThresholdMs = ptr(float64(*x))
		g.ContractionDurationThreshold = p.DurationThresholdMs
	} else if p.DurationThresholdMs != nil {
		g.ContractionDurationThreshold = p.DurationThresholdMs
	}
	if x := r.integer("session_expected_contractions"); x != nil && r.atLeast("session_expected_contractions", float64(*x), 0) {
		g.SessionExpectedContractions = x
		if *x > 0 {
			p.ExpectedContractions = x
		}
	}
	for _, ch := range []string{"ch1", "ch2"} {
		name := "session_expected_contractions_" + ch
		x := r.integer(name)
		if x == nil || !r.atLeast(name, float64(*x), 0) {
			continue
		}
		if ch == "ch1" {
			g.SessionExpectedContractionsCh1 = x
		} else {
			g.SessionExpectedContractionsCh2 = x
		}
		if *x > 0 {
			if p.ExpectedContractionsPerChannel == nil {
				p.ExpectedContractionsPerChannel = map[string]int{}
			}
			p.ExpectedContractionsPerChannel[strings.ToUpper(ch)] = *x
		}
	}
	if x := r.float("rpe"); x != nil {
		p.RPE = x
	}
	if o.zeroPct {
		if p.MVCGlobal != nil || len(p.MVC) > 0 {
			// The smallest positive percentage: emg's MVC * (pct/100)
			// underflows to exactly 0, the old threshold.
			p.ThresholdPct = ptr(math.SmallestNonzeroFloat64)
		} else {
			p.ThresholdPct = ptr(float64(defThresholdPct))
		}
	}
}

// validate checks the parameters as emg does, naming the form field that
// set a refused value.
func (o *options) validate(f *form) error {
	p := &o.params
	if v, ok := f.get("profile"); ok && v != "" {
		p.Profile = v
	}
	if err := p.Validate(); err != nil {
		var pe *emg.ParamError
		if errors.As(err, &pe) {
			if field, ok := formField[pe.Field]; ok {
				if _, given := f.get(field); given {
					return errorf(http.StatusUnprocessableEntity, "invalid parameter %s: %s", field, pe.Msg)
				}
			}
		}
		return paramStatus("", err)
	}
	if p.ThresholdFactor != nil {
		o.thresholdFac = *p.ThresholdFactor
	}
	if p.MinDurationMs != nil {
		o.minDurationMs = *p.MinDurationMs
	}
	if p.SmoothingWindow != nil {
		o.smoothing = *p.SmoothingWindow
	}
	return nil
}

// switches reads emgd's include_signals (default true) and store.
func (o *options) switches(f *form) error {
	boolean := func(name string, def bool) (bool, error) {
		v, ok := f.get(name)
		if !ok || v == "" {
			return def, nil
		}
		switch strings.ToLower(v) {
		case "1", "true", "yes", "on":
			return true, nil
		case "0", "false", "no", "off":
			return false, nil
		}
		return false, errorf(http.StatusBadRequest, "%s must be true or false, got %q", name, v)
	}
	var err error
	if o.includeSignals, err = boolean("include_signals", true); err != nil {
		return err
	}
	o.store, err = boolean("store", false)
	return err
}

// identifiers reads user_id, session_id and patient_id (echoed) and the
// patient code a stored file goes under.
func (o *options) identifiers(f *form) error {
	unprocessable := func(name, format string, a ...any) error {
		return errorf(http.StatusUnprocessableEntity, "invalid parameter %s: %s", name, fmt.Sprintf(format, a...))
	}
	str := func(name string) *string {
		if v, ok := f.get(name); ok && v != "" {
			return &v
		}
		return nil
	}
	o.userID, o.sessionID, o.patientID = str("user_id"), str("session_id"), str("patient_id")
	o.patient = "P000"
	if v, ok := f.get("patient"); ok && v != "" {
		if !store.IsPatientCode(v) {
			return unprocessable("patient", "must be a patient code such as P001 (P followed by 1 to 12 digits), got %q", v)
		}
		o.patient = v
	} else if o.patientID != nil {
		if store.IsPatientCode(*o.patientID) {
			o.patient = *o.patientID
		} else if o.store {
			return unprocessable("patient_id", "must be a patient code such as P001 (P followed by 1 to 12 digits) to store the file, got %q", *o.patientID)
		}
	}
	if o.patientID == nil && o.store {
		pid := o.patient
		o.patientID = &pid
	}
	return nil
}

// paramStatus maps an emg parameter error to 422 and anything the JSON
// decoder refused to 400.
func paramStatus(field string, err error) error {
	var pe *emg.ParamError
	if errors.As(err, &pe) {
		return errorf(http.StatusUnprocessableEntity, "%v", err)
	}
	if field != "" {
		return errorf(http.StatusBadRequest, "%s: %v", field, err)
	}
	return errorf(http.StatusBadRequest, "%v", err)
}

func ptr[T any](v T) *T { return &v }
