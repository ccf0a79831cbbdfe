package review

import (
	"net/http"

	"emgd/internal/auth"
	"emgd/internal/store"
)

// The audit trail's actions of the review's reading and settings routes.
const (
	actionPatientsList     = "patients.list"     // GET /patients
	actionPatientRead      = "patient.read"      // GET /patients/{code}: the current settings
	actionTrendsRead       = "trends.read"       // GET /patients/{code}/trends
	actionExportCSV        = "export.csv"        // GET /sessions/{id}/export.csv, /patients/{code}/export.csv
	actionReportRead       = "report.read"       // GET /sessions/{id}/report, /patients/{code}/report
	actionSettingsRead     = "settings.read"     // GET /patients/{code}/settings/history
	actionSettingsUpdate   = "settings.update"   // PUT /patients/{code}/settings
	actionPatientReanalyze = "patient.reanalyze" // POST /patients/{code}/reanalyze
	actionMVCCalibrate     = "mvc.calibrate"     // POST /patients/{code}/mvc
)

// updatedBy names who saves settings: the principal's email, or
// UpdatedByAPI without one (no accounts, the read token).
func updatedBy(r *http.Request) string {
	if p := auth.FromContext(r.Context()); p != nil && p.Email != "" {
		return p.Email
	}
	return UpdatedByAPI
}

// allowed checks the path's patient code (400 when it is none) and that
// the request's principal may see that patient (404 as for an absent one,
// when not).
func allowed(r *http.Request) (string, error) {
	code := r.PathValue("code")
	if !store.IsPatientCode(code) {
		return "", badRequest("patient code %q is not P followed by 1 to 12 digits", code)
	}
	if !auth.May(r.Context(), code) {
		return "", notFound("no patient %s", code)
	}
	return code, nil
}
