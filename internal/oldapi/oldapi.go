package oldapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"emgd/emg"
	"emgd/internal/api/httperr"
	"emgd/internal/apidoc"
	"emgd/internal/auth"
	"emgd/internal/store"
)

// Store is what the old routes need of emgd's database.
type Store interface {
	store.ScoringConfigs
	ListSessions(ctx context.Context, opts store.ListOptions) (*store.SessionPage, error)
}

// Deps are the package's dependencies.
type Deps struct {
	Store Store // required
	Log   *slog.Logger
	// Now is the clock (time.Now when nil): /health's timestamp and the
	// adherence protocol day.
	Now func() time.Time
	// Guard, when set, wraps every route but /health (for instance the
	// read API's bearer-token check).
	Guard func(http.HandlerFunc) http.HandlerFunc
}

// MaxBody is the largest request body the scoring routes read (413 above).
const MaxBody = 1 << 20

type handler struct {
	st  Store
	log *slog.Logger
	now func() time.Time
}

// Register adds the old backend's health, configuration-defaults, scoring
// configuration and adherence routes to mux. Other methods on these paths
// answer 405 as FastAPI did. Each route's documentation (apidoc.Op) is in
// routes.go.
func Register(mux apidoc.Router, d Deps) {
	h := &handler{st: d.Store, log: d.Log, now: d.Now}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	guard := d.Guard
	if guard == nil {
		guard = func(f http.HandlerFunc) http.HandlerFunc { return f }
	}
	apidoc.HandleFunc(mux, healthRoute, h.health)
	for _, r := range routes() {
		apidoc.HandleFunc(mux, r.op, guard(r.h(h)))
	}
	// FastAPI answers 405 when the path exists for another method.
	for path, allow := range map[string]string{
		"/health":                                      "GET",
		"/config/defaults":                             "GET",
		"/scoring/configurations":                      "GET, POST",
		"/scoring/configurations/{config_id}":          "DELETE",
		"/scoring/configurations/{config_id}/activate": "PUT",
		"/scoring/adherence/{patient_code}":            "GET",
	} {
		apidoc.NotAllowed(mux, path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeJSON(w, http.StatusMethodNotAllowed, DetailResponse{Detail: "Method Not Allowed"})
		}))
	}
}

// DetailResponse is Starlette's answer for a method not allowed.
type DetailResponse struct {
	Detail string `json:"detail"`
}

// HTTPErrorResponse is the old backend's answer for an HTTPException (its
// exception handler replaced FastAPI's {"detail": ...}).
type HTTPErrorResponse struct {
	Error      string `json:"error"` // always "HTTP_ERROR"
	Message    string `json:"message"`
	StatusCode int    `json:"status_code"`
	Path       string `json:"path"` // the request's full URL
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"HTTP_ERROR","message":"response encoding failed","status_code":500}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(b)
}

func requestURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.RequestURI()
}

func httpError(w http.ResponseWriter, r *http.Request, code int, msg string) {
	writeJSON(w, code, HTTPErrorResponse{Error: "HTTP_ERROR", Message: msg, StatusCode: code, Path: requestURL(r)})
}

func (h *handler) internal(w http.ResponseWriter, r *http.Request, what string, err error) {
	h.log.Error("old API: "+what, "path", r.URL.Path, "err", err)
	httpError(w, r, http.StatusInternalServerError, what+" failed")
}

func validationError(w http.ResponseWriter, errs []ValidationError) {
	writeJSON(w, http.StatusUnprocessableEntity, ValidationErrorResponse{Detail: errs})
}

// HealthResponse is GET /health.
type HealthResponse struct {
	Status    string `json:"status"`    // "healthy"
	Timestamp string `json:"timestamp"` // local time, Python isoformat
}

func pyISOFormat(t time.Time) string {
	if t.Nanosecond()/1000 == 0 {
		return t.Format("2006-01-02T15:04:05")
	}
	return t.Format("2006-01-02T15:04:05.000000")
}

func (h *handler) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, HealthResponse{Status: "healthy", Timestamp: pyISOFormat(h.now())})
}

// ConfigDefaultsResponse is GET /config/defaults.
type ConfigDefaultsResponse struct {
	TargetContractionsCh1          int     `json:"target_contractions_ch1"`
	TargetContractionsCh2          int     `json:"target_contractions_ch2"`
	MVCThresholdPercentage         float64 `json:"mvc_threshold_percentage"`
	TherapeuticDurationThresholdMs int     `json:"therapeutic_duration_threshold_ms"`
}

func (h *handler) configDefaults(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, ConfigDefaultsResponse{
		TargetContractionsCh1:          emg.DefaultExpectedContractions,
		TargetContractionsCh2:          emg.DefaultExpectedContractions,
		MVCThresholdPercentage:         emg.DefaultThresholdPct,
		TherapeuticDurationThresholdMs: int(emg.DefaultDurationThresholdMs),
	})
}

// ScoringConfigurationRequest is the body of POST /scoring/configurations,
// POST /scoring/configurations/custom and PUT
// /scoring/configurations/default. Omitted weights take the old defaults
// (0.5, 0.25, 0.25, 0 and 0.333, 0.333, 0.334); each weight is in [0, 1].
// When weight_game is given, the four main weights must sum to 1 (±0.001);
// when weight_duration is given, the three compliance weights must.
type ScoringConfigurationRequest struct {
	ConfigurationName string  `json:"configuration_name" required:"true"` // at most 100 characters
	Description       *string `json:"description,omitempty"`              // at most 500 characters
	WeightCompliance  float64 `json:"weight_compliance"`
	WeightSymmetry    float64 `json:"weight_symmetry"`
	WeightEffort      float64 `json:"weight_effort"`
	WeightGame        float64 `json:"weight_game"`
	WeightCompletion  float64 `json:"weight_completion"`
	WeightIntensity   float64 `json:"weight_intensity"`
	WeightDuration    float64 `json:"weight_duration"`
	TherapistID       *string `json:"therapist_id,omitempty"`
	PatientID         *string `json:"patient_id,omitempty"`
}

func (q *ScoringConfigurationRequest) weights() store.ScoringWeights {
	return store.ScoringWeights{Compliance: q.WeightCompliance, Symmetry: q.WeightSymmetry, Effort: q.WeightEffort,
		Game: q.WeightGame, Completion: q.WeightCompletion, Intensity: q.WeightIntensity, Duration: q.WeightDuration}
}

// decodeScoringRequest validates a body as the old pydantic model did,
// collecting every error in field order.
func decodeScoringRequest(r *http.Request, w http.ResponseWriter) (*ScoringConfigurationRequest, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			httpError(w, r, http.StatusRequestEntityTooLarge, "Request body too large")
		} else {
			httpError(w, r, http.StatusBadRequest, "Request body unreadable")
		}
		return nil, false
	}
	m, whole, errs := parseBody(r.Header.Get("Content-Type"), body)
	if errs != nil {
		validationError(w, errs)
		return nil, false
	}
	f := &fields{m: m, body: whole, valid: map[string]bool{}}
	def := store.DefaultScoringWeights()
	var q ScoringConfigurationRequest
	if name := f.str("configuration_name", true, false, 100); name != nil {
		q.ConfigurationName = *name
	}
	q.Description = f.str("description", false, true, 500)
	q.WeightCompliance = f.weight("weight_compliance", def.Compliance)
	q.WeightSymmetry = f.weight("weight_symmetry", def.Symmetry)
	q.WeightEffort = f.weight("weight_effort", def.Effort)
	q.WeightGame = f.weight("weight_game", def.Game)
	// The old validators ran only on a given, valid field, and counted a
	// refused earlier field as 0.
	given := func(name string, v float64) float64 {
		if _, ok := m[name]; ok && !f.valid[name] {
			return 0
		}
		return v
	}
	if f.valid["weight_game"] {
		total := given("weight_compliance", q.WeightCompliance) + given("weight_symmetry", q.WeightSymmetry) +
			given("weight_effort", q.WeightEffort) + q.WeightGame
		if abs(total-1) > 0.001 {
			f.fail("weight_game", "value_error", "Value error, Main weights must sum to 1.0, got "+pyRepr(total),
				m["weight_game"], &ErrorContext{Error: json.RawMessage("{}")})
		}
	}
	q.WeightCompletion = f.weight("weight_completion", def.Completion)
	q.WeightIntensity = f.weight("weight_intensity", def.Intensity)
	q.WeightDuration = f.weight("weight_duration", def.Duration)
	if f.valid["weight_duration"] {
		total := given("weight_completion", q.WeightCompletion) + given("weight_intensity", q.WeightIntensity) + q.WeightDuration
		if abs(total-1) > 0.001 {
			f.fail("weight_duration", "value_error", "Value error, Compliance weights must sum to 1.0, got "+pyRepr(total),
				m["weight_duration"], &ErrorContext{Error: json.RawMessage("{}")})
		}
	}
	q.TherapistID = f.str("therapist_id", false, true, 0)
	q.PatientID = f.str("patient_id", false, true, 0)
	if len(f.errs) > 0 {
		validationError(w, f.errs)
		return nil, false
	}
	return &q, true
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// ScoringConfigurationResponse is a scoring configuration as the old
// routes answered it (their response model).
type ScoringConfigurationResponse struct {
	ID                string  `json:"id"`
	ConfigurationName string  `json:"configuration_name"`
	Description       *string `json:"description"`
	WeightCompliance  float64 `json:"weight_compliance"`
	WeightSymmetry    float64 `json:"weight_symmetry"`
	WeightEffort      float64 `json:"weight_effort"`
	WeightGame        float64 `json:"weight_game"`
	WeightCompletion  float64 `json:"weight_completion"`
	WeightIntensity   float64 `json:"weight_intensity"`
	WeightDuration    float64 `json:"weight_duration"`
	Active            bool    `json:"active"`
	CreatedAt         string  `json:"created_at"` // ISO 8601 with offset, as PostgREST wrote it
	UpdatedAt         string  `json:"updated_at"`
	TherapistID       *string `json:"therapist_id"`
	PatientID         *string `json:"patient_id"`
}

// CustomScoringConfigurationResponse is GET /scoring/configurations/custom,
// which answered the whole stored row.
type CustomScoringConfigurationResponse struct {
	ScoringConfigurationResponse
	IsGlobal       bool                `json:"is_global"`
	RPEMapping     map[string]RPEScore `json:"rpe_mapping"`
	TargetDefaults TargetDefaults      `json:"target_defaults"`
}

// RPEScore is the effort score of one RPE value (Borg CR-10, keys "0" to
// "10"), the old table's rpe_mapping column default.
type RPEScore struct {
	Score    float64 `json:"score"`
	Category string  `json:"category"`
	Clinical string  `json:"clinical"`
}

// TargetDefaults is the old table's target_defaults column default.
type TargetDefaults struct {
	MVCThresholdPercentage    float64 `json:"mvc_threshold_percentage"`
	TargetDurationCh1Ms       float64 `json:"target_duration_ch1_ms"`
	TargetDurationCh2Ms       float64 `json:"target_duration_ch2_ms"`
	TargetContractionsCh1     int     `json:"target_contractions_ch1"`
	TargetContractionsCh2     int     `json:"target_contractions_ch2"`
	BFRTargetLOPPercentageCh1 float64 `json:"bfr_target_lop_percentage_ch1"`
	BFRTargetLOPPercentageCh2 float64 `json:"bfr_target_lop_percentage_ch2"`
}

func defaultRPEMapping() map[string]RPEScore {
	return map[string]RPEScore{
		"0":  {10, "no_exertion", "concerning_lack_of_effort"},
		"1":  {25, "very_light", "below_therapeutic_minimum"},
		"2":  {50, "light", "warm_up_intensity"},
		"3":  {85, "moderate_low", "therapeutic_entry_range"},
		"4":  {100, "optimal_moderate", "ideal_therapeutic_intensity"},
		"5":  {100, "optimal_moderate", "peak_therapeutic_intensity"},
		"6":  {75, "somewhat_hard", "approaching_upper_limit"},
		"7":  {50, "hard", "excessive_for_elderly"},
		"8":  {25, "very_hard", "dangerous_overexertion"},
		"9":  {15, "extremely_hard", "immediate_intervention_needed"},
		"10": {10, "maximum", "emergency_stop_protocol"},
	}
}

// pgTime formats a time as PostgREST wrote a timestamptz in UTC.
func pgTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.999999-07:00")
}

func configResponse(c *store.ScoringConfig) ScoringConfigurationResponse {
	w := c.Weights
	return ScoringConfigurationResponse{ID: c.ID, ConfigurationName: c.Name, Description: c.Description,
		WeightCompliance: w.Compliance, WeightSymmetry: w.Symmetry, WeightEffort: w.Effort, WeightGame: w.Game,
		WeightCompletion: w.Completion, WeightIntensity: w.Intensity, WeightDuration: w.Duration,
		Active: c.Active, CreatedAt: pgTime(c.CreatedAt), UpdatedAt: pgTime(c.UpdatedAt),
		TherapistID: c.TherapistID, PatientID: c.PatientID}
}

func (h *handler) listConfigs(w http.ResponseWriter, r *http.Request) {
	l, err := h.st.ListScoringConfigs(r.Context())
	if err != nil {
		h.internal(w, r, "Listing scoring configurations", err)
		return
	}
	out := make([]ScoringConfigurationResponse, 0, len(l))
	for i := range l {
		if mayConfig(r, &l[i]) { // another patient's are left out
			out = append(out, configResponse(&l[i]))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) activeConfig(w http.ResponseWriter, r *http.Request) {
	c, err := h.st.ActiveScoringConfig(r.Context())
	if errors.Is(err, store.ErrNotFound) || err == nil && !mayConfig(r, c) {
		httpError(w, r, http.StatusNotFound, "No active scoring configuration found")
		return
	}
	if err != nil {
		h.internal(w, r, "Reading the active scoring configuration", err)
		return
	}
	writeJSON(w, http.StatusOK, configResponse(c))
}

func (h *handler) createConfig(w http.ResponseWriter, r *http.Request) {
	if !adminOnly(w, r, "a scoring configuration without a patient can be activated for every patient; a therapist saves a patient's with POST /scoring/configurations/custom") {
		return
	}
	q, ok := decodeScoringRequest(r, w)
	if !ok {
		return
	}
	// As the old route, therapist_id and patient_id are not stored here
	// (POST /scoring/configurations/custom stores them).
	if err := auth.Audit(r, actionScoringCreate, "", ""); err != nil {
		httpError(w, r, httperr.Status(err), err.Error())
		return
	}
	c, err := h.st.CreateScoringConfig(r.Context(), store.ScoringConfig{Name: q.ConfigurationName,
		Description: q.Description, Weights: q.weights()})
	if err != nil {
		h.internal(w, r, "Creating the scoring configuration", err)
		return
	}
	writeJSON(w, http.StatusOK, configResponse(c))
}

// MessageResponse is the answer of the activate and delete routes.
type MessageResponse struct {
	Message  string `json:"message"`
	ConfigID string `json:"config_id,omitempty"` // activate only
}

func (h *handler) activateConfig(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("config_id")
	// Whatever configuration it names: the active configuration scores
	// every patient without their own (the store keeps one active).
	if !adminOnly(w, r, "the active scoring configuration scores every patient") {
		return
	}
	c, ok := h.configInScope(w, r, id)
	if !ok {
		return
	}
	if err := auth.Audit(r, actionScoringActive, configPatient(c), ""); err != nil {
		httpError(w, r, httperr.Status(err), err.Error())
		return
	}
	_, err := h.st.ActivateScoringConfig(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		httpError(w, r, http.StatusNotFound, "Scoring configuration not found")
		return
	}
	if err != nil {
		h.internal(w, r, "Activating the scoring configuration", err)
		return
	}
	writeJSON(w, http.StatusOK, MessageResponse{Message: "Configuration activated successfully", ConfigID: id})
}

func (h *handler) deleteConfig(w http.ResponseWriter, r *http.Request) {
	c, ok := h.configInScope(w, r, r.PathValue("config_id"))
	if !ok {
		return
	}
	if c != nil && configPatient(c) == "" && !adminOnly(w, r, "this scoring configuration names no patient: it can apply to every patient") {
		return
	}
	if err := auth.Audit(r, actionScoringDelete, configPatient(c), ""); err != nil {
		httpError(w, r, httperr.Status(err), err.Error())
		return
	}
	err := h.st.DeleteScoringConfig(r.Context(), r.PathValue("config_id"))
	switch {
	case errors.Is(err, store.ErrScoringConfigActive):
		httpError(w, r, http.StatusBadRequest, "Cannot delete active scoring configuration")
	case errors.Is(err, store.ErrNotFound):
		httpError(w, r, http.StatusNotFound, "Scoring configuration not found")
	case err != nil:
		h.internal(w, r, "Deleting the scoring configuration", err)
	default:
		writeJSON(w, http.StatusOK, MessageResponse{Message: "Configuration deleted successfully"})
	}
}

func (h *handler) getCustom(w http.ResponseWriter, r *http.Request) {
	therapist, patient := r.URL.Query().Get("therapist_id"), r.URL.Query().Get("patient_id")
	if therapist == "" {
		httpError(w, r, http.StatusBadRequest, "therapist_id is required")
		return
	}
	var p *string
	if patient != "" {
		p = &patient
	}
	c, err := h.st.CustomScoringConfig(r.Context(), therapist, p)
	if errors.Is(err, store.ErrNotFound) || err == nil && !mayConfig(r, c) {
		httpError(w, r, http.StatusNotFound, "No custom configuration found")
		return
	}
	if err != nil {
		h.internal(w, r, "Reading the custom scoring configuration", err)
		return
	}
	if patient != "" {
		if err := auth.Audit(r, actionScoringRead, patient, ""); err != nil {
			httpError(w, r, httperr.Status(err), err.Error())
			return
		}
	}
	writeJSON(w, http.StatusOK, CustomScoringConfigurationResponse{
		ScoringConfigurationResponse: configResponse(c),
		IsGlobal:                     c.Global,
		RPEMapping:                   defaultRPEMapping(),
		TargetDefaults: TargetDefaults{MVCThresholdPercentage: emg.DefaultThresholdPct,
			TargetDurationCh1Ms: emg.DefaultDurationThresholdMs, TargetDurationCh2Ms: emg.DefaultDurationThresholdMs,
			TargetContractionsCh1: emg.DefaultExpectedContractions, TargetContractionsCh2: emg.DefaultExpectedContractions,
			BFRTargetLOPPercentageCh1: 50, BFRTargetLOPPercentageCh2: 50},
	})
}

func (h *handler) saveCustom(w http.ResponseWriter, r *http.Request) {
	q, ok := decodeScoringRequest(r, w)
	if !ok {
		return
	}
	if q.TherapistID == nil || *q.TherapistID == "" {
		httpError(w, r, http.StatusBadRequest, "therapist_id is required for custom configurations")
		return
	}
	if q.PatientID != nil && *q.PatientID == "" {
		q.PatientID = nil // the old route looked an empty patient up as none
	}
	var patient string // the audited patient, "" for none
	if q.PatientID != nil {
		if !auth.May(r.Context(), *q.PatientID) {
			httpError(w, r, http.StatusNotFound, "Patient not found: "+*q.PatientID)
			return
		}
		patient = *q.PatientID
	}
	if err := auth.Audit(r, actionScoringCustom, patient, ""); err != nil {
		httpError(w, r, httperr.Status(err), err.Error())
		return
	}
	c, err := h.st.SaveCustomScoringConfig(r.Context(), store.ScoringConfig{Name: q.ConfigurationName,
		Description: q.Description, Weights: q.weights(), TherapistID: q.TherapistID, PatientID: q.PatientID})
	if err != nil {
		h.internal(w, r, "Saving the custom scoring configuration", err)
		return
	}
	writeJSON(w, http.StatusOK, configResponse(c))
}

func (h *handler) saveDefault(w http.ResponseWriter, r *http.Request) {
	if !adminOnly(w, r, "the default scoring configuration scores every patient") {
		return
	}
	q, ok := decodeScoringRequest(r, w)
	if !ok {
		return
	}
	if err := auth.Audit(r, actionScoringDefault, "", ""); err != nil {
		httpError(w, r, httperr.Status(err), err.Error())
		return
	}
	c, err := h.st.SaveDefaultScoringConfig(r.Context(), q.Description, q.weights())
	if err != nil {
		h.internal(w, r, "Saving the default scoring configuration", err)
		return
	}
	writeJSON(w, http.StatusOK, configResponse(c))
}
