package upload

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"

	"emgd/internal/auth"
	"emgd/internal/store"
)

// The audit trail's actions of this package's routes.
const (
	actionUpload       = "upload"          // POST /upload, stored or not (patient: the stored one, else the first named; no session: recorded before it is made)
	actionRecalc       = "analysis.recalc" // POST /analysis/recalc
	actionMVCCalibrate = "mvc.calibrate"   // POST /mvc/calibrate
)

// patientWordRe matches a word naming a patient: its code
// (store.PatientCodePattern), or a session code of it (P002S001, P002R001).
var patientWordRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(` + store.PatientCodePattern + `)(?:[SR]\d{1,12})?$`)
})

// namedPatients lists, once each and in order, the patient codes a request
// names: each of values that is a patient code, and each word of the file
// name naming one (words split at anything but letters and digits, so
// that "P002/x.c3d", "P002_x.c3d" and "P002S001.c3d" name P002).
func namedPatients(fileName string, values ...string) []string {
	var out []string
	add := func(code string) {
		if !slices.Contains(out, code) {
			out = append(out, code)
		}
	}
	for _, v := range values {
		if store.IsPatientCode(v) {
			add(v)
		}
	}
	words := strings.FieldsFunc(fileName, func(c rune) bool {
		return !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9')
	})
	for _, w := range words {
		if m := patientWordRe().FindStringSubmatch(w); m != nil {
			add(m[1])
		}
	}
	return out
}

// notMine returns the first of codes the request's principal may not see,
// as the 404 an absent patient gets; nil when it may see them all.
func notMine(r *http.Request, codes []string) *httpError {
	for _, c := range codes {
		if !auth.May(r.Context(), c) {
			return errorf(http.StatusNotFound, "no patient %s", c)
		}
	}
	return nil
}

// firstOr is codes[0], or def without any.
func firstOr(codes []string, def string) string {
	if len(codes) > 0 {
		return codes[0]
	}
	return def
}

// oldNotMine answers the old backend's 404 when the request names a
// patient its principal may not see, and reports whether it did.
func oldNotMine(w http.ResponseWriter, r *http.Request, codes []string) bool {
	if e := notMine(r, codes); e != nil {
		oldError(w, r, e.code, e.msg)
		return true
	}
	return false
}

// patients lists the patients an existing analysis sent back names: its
// patient_id and its source file name's.
func (e *existingResult) patients() []string {
	var pid string
	if e.PatientID != nil {
		pid = *e.PatientID
	}
	return namedPatients(e.SourceFilename, pid)
}

// uploadPatients lists the patients an upload names: the stored patient
// (with store), the patient and patient_id fields, and its file name's.
func uploadPatients(file *received, f *form, o *options) []string {
	p, _ := f.get("patient")
	pid, _ := f.get("patient_id")
	var stored string
	if o.store {
		stored = o.patient
	}
	return namedPatients(file.name, stored, p, pid)
}
