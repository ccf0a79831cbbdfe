package review

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"emgd/emg"
	"emgd/internal/apidoc"
	"emgd/internal/auth"
	"emgd/internal/store"
)

// SettingsDocument is a patient's settings: session parameters (the JSON
// of `emgd analyze --params`) plus the muscle names and the prescribed
// sessions a week. What GET answers, PUT accepts back.
type SettingsDocument struct {
	emg.Params
	// MuscleNames maps a channel base ("CH1") to the muscle's name.
	MuscleNames map[string]string `json:"muscle_names,omitempty"`
	// SessionsPerWeek is the prescription (default 3).
	SessionsPerWeek *int `json:"sessions_per_week,omitempty"`
}

// Limits of a settings document.
const (
	maxSettingsBody     = 1 << 20
	maxSessionsPerWeek  = 21
	maxMuscleNameLength = 200
)

// ParseSettings decodes and validates a settings document: unknown keys,
// values of the wrong type and values emg.Params.Validate refuses are an
// *emg.ParamError naming the field.
func ParseSettings(b []byte) (SettingsDocument, error) {
	var d SettingsDocument
	if len(bytes.TrimSpace(b)) == 0 {
		return d, &emg.ParamError{Field: "settings", Msg: "a JSON object is required"}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te):
			field := te.Field
			if field == "" {
				field = "settings"
			}
			return d, &emg.ParamError{Field: field, Msg: fmt.Sprintf("must be a JSON %s, got %s", jsonKind(te.Type.Kind().String()), te.Value)}
		case errors.As(err, &se):
			return d, &emg.ParamError{Field: "settings", Msg: "not valid JSON: " + err.Error()}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return d, &emg.ParamError{Field: name, Msg: "unknown key"}
		}
		return d, &emg.ParamError{Field: "settings", Msg: err.Error()}
	}
	if dec.More() {
		return d, &emg.ParamError{Field: "settings", Msg: "trailing data after the JSON object"}
	}
	if err := d.Params.Validate(); err != nil {
		return d, err
	}
	if n := d.SessionsPerWeek; n != nil && (*n < 1 || *n > maxSessionsPerWeek) {
		return d, &emg.ParamError{Field: "sessions_per_week", Msg: fmt.Sprintf("must be from 1 to %d, got %d", maxSessionsPerWeek, *n)}
	}
	for ch, name := range d.MuscleNames {
		if strings.TrimSpace(ch) == "" || strings.TrimSpace(name) == "" || len(name) > maxMuscleNameLength {
			return d, &emg.ParamError{Field: "muscle_names", Msg: fmt.Sprintf("channel %q: a non-empty channel and a name of at most %d bytes are required", ch, maxMuscleNameLength)}
		}
	}
	return d, nil
}

func jsonKind(k string) string {
	switch k {
	case "map", "struct":
		return "object"
	case "slice":
		return "array"
	case "float64", "int":
		return "number"
	}
	return k
}

// PatientSettingsResponse is GET /patients/{code} and PUT
// /patients/{code}/settings.
type PatientSettingsResponse struct {
	PatientCode     string           `json:"patient_code"`
	Settings        SettingsDocument `json:"settings" doc:"{} when the patient has no settings"`
	SettingsVersion int              `json:"settings_version" doc:"0: no settings"`
	UpdatedAt       *string          `json:"updated_at" doc:"RFC 3339, UTC; null without settings"`
	UpdatedBy       *string          `json:"updated_by" doc:"who saved this version: the user's email (\"api\" without accounts or with the read token); null without settings"`
}

// SettingsVersionItem is one version of a patient's settings.
type SettingsVersionItem struct {
	Settings        SettingsDocument `json:"settings"`
	SettingsVersion int              `json:"settings_version"`
	UpdatedAt       string           `json:"updated_at" doc:"RFC 3339, UTC"`
	UpdatedBy       string           `json:"updated_by"`
}

// SettingsHistoryResponse is GET /patients/{code}/settings/history.
type SettingsHistoryResponse struct {
	PatientCode string                `json:"patient_code"`
	Versions    []SettingsVersionItem `json:"versions" doc:"newest first; empty without settings"`
}

// UpdatedByAPI is the author of settings saved through the API by no
// user (no accounts, or the read token).
const UpdatedByAPI = "api"

// StoreSettings is the SettingsSource of the store's versioned settings.
type StoreSettings struct{ Store store.Settings }

// Settings implements SettingsSource.
func (s StoreSettings) Settings(ctx context.Context, code string) (Settings, error) {
	p, err := s.Store.CurrentSettings(ctx, code)
	if errors.Is(err, store.ErrNotFound) {
		return NoSettings{}.Settings(ctx, code)
	}
	if err != nil {
		return Settings{}, err
	}
	var d SettingsDocument
	_ = json.Unmarshal(p.Document, &d)
	out := Settings{Version: p.Version, MuscleNames: d.MuscleNames, SessionsPerWeek: DefaultSessionsPerWeek}
	if d.SessionsPerWeek != nil && *d.SessionsPerWeek > 0 {
		out.SessionsPerWeek = *d.SessionsPerWeek
	}
	return out, nil
}

// Versions implements SettingsSource.
func (s StoreSettings) Versions(ctx context.Context) (map[string]int, error) {
	return s.Store.SettingsVersions(ctx)
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func settingsItem(p store.PatientSettings) SettingsVersionItem {
	var d SettingsDocument
	_ = json.Unmarshal(p.Document, &d)
	return SettingsVersionItem{Settings: d, SettingsVersion: p.Version, UpdatedAt: formatTime(p.UpdatedAt), UpdatedBy: p.UpdatedBy}
}

func settingsResponse(code string, p *store.PatientSettings) PatientSettingsResponse {
	out := PatientSettingsResponse{PatientCode: code}
	if p != nil {
		it := settingsItem(*p)
		out.Settings, out.SettingsVersion, out.UpdatedAt, out.UpdatedBy = it.Settings, it.SettingsVersion, &it.UpdatedAt, &it.UpdatedBy
	}
	return out
}

// settingsStore is the store's settings, or an error answer when the
// server's store keeps none.
func (h *handler) settingsStore() (store.Settings, error) {
	if h.ps == nil {
		return nil, &requestError{http.StatusNotImplemented, "this server keeps no patient settings"}
	}
	return h.ps, nil
}

func (h *handler) getPatient(w http.ResponseWriter, r *http.Request) {
	code, _, err := h.patient(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ps, err := h.settingsStore()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p, err := ps.CurrentSettings(r.Context(), code)
	switch {
	case errors.Is(err, store.ErrNotFound):
		p = nil
	case err != nil:
		h.fail(w, r, err)
		return
	}
	if err := auth.Audit(r, actionPatientRead, code, ""); err != nil {
		h.fail(w, r, err)
		return
	}
	out := settingsResponse(code, p)
	setVersionTag(w, out.SettingsVersion)
	writeJSON(w, http.StatusOK, out)
}

// setVersionTag answers the settings version as the ETag that a PUT's
// If-Match gives back.
func setVersionTag(w http.ResponseWriter, version int) {
	w.Header().Set("ETag", `"`+strconv.Itoa(version)+`"`)
}

// ifMatch reads a PUT's If-Match: the settings versions it names, and
// all for "*" (any existing version); present is false without the
// header. A tag that is not
// a quoted version number never matches (a weak one either: If-Match
// compares strongly); a header that is not a list of entity tags is a
// 400.
func ifMatch(r *http.Request) (versions []int, all, present bool, err error) {
	vals := r.Header.Values("If-Match")
	if len(vals) == 0 {
		return nil, false, false, nil
	}
	for _, v := range vals {
		for _, tag := range strings.Split(v, ",") {
			tag = strings.TrimSpace(tag)
			switch {
			case tag == "":
			case tag == "*":
				all = true
			case strings.HasPrefix(tag, `W/"`) && strings.HasSuffix(tag, `"`) && len(tag) >= 4:
				// weak: never matches
			case len(tag) >= 2 && tag[0] == '"' && tag[len(tag)-1] == '"' && !strings.Contains(tag[1:len(tag)-1], `"`):
				if n, err := strconv.Atoi(tag[1 : len(tag)-1]); err == nil && strconv.Itoa(n) == tag[1:len(tag)-1] && n >= 0 {
					versions = append(versions, n)
				}
			default:
				return nil, false, true, badRequest(`If-Match: %q is not an entity tag; send the settings_version read, quoted ("3"), as GET /patients/{code} answers it in ETag`, tag)
			}
		}
	}
	return versions, all, true, nil
}

// versionConflict is the 412 of a save whose If-Match (or read) version
// is not the current one.
func versionConflict(w http.ResponseWriter, code string, sent []int, current int) {
	setVersionTag(w, current)
	read := "the version sent"
	if len(sent) == 1 {
		read = "version " + strconv.Itoa(sent[0])
	}
	writeJSON(w, http.StatusPreconditionFailed, apidoc.ErrorResponse{Error: fmt.Sprintf(
		"the settings of patient %s are at version %d, not %s (If-Match): they were saved meanwhile; read version %d (GET /patients/%s), apply the change to it and save again",
		code, current, read, current, code)})
}

func (h *handler) putSettings(w http.ResponseWriter, r *http.Request) {
	code, err := allowed(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ps, err := h.settingsStore()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	matches, matchAny, conditional, err := ifMatch(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSettingsBody))
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, apidoc.ErrorResponse{Error: "settings over 1 MiB"})
		return
	}
	d, err := ParseSettings(body)
	if err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, apidoc.ErrorResponse{Error: err.Error()})
		return
	}
	doc, err := json.Marshal(d)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// With If-Match the save is made only on the version the client read
	// (a compare-and-swap in the store), so that a save made meanwhile is
	// never silently replaced; without it the last writer wins.
	expected := -1
	if conditional {
		cur := 0
		p, err := ps.CurrentSettings(r.Context(), code)
		switch {
		case err == nil:
			cur = p.Version
		case !errors.Is(err, store.ErrNotFound):
			h.fail(w, r, err)
			return
		}
		if !slices.Contains(matches, cur) && !(matchAny && cur > 0) {
			versionConflict(w, code, matches, cur)
			return
		}
		expected = cur
	}
	// The change is recorded before it is made.
	if err := auth.Audit(r, actionSettingsUpdate, code, ""); err != nil {
		h.fail(w, r, err)
		return
	}
	var p *store.PatientSettings
	if expected >= 0 {
		p, err = ps.SaveSettingsIf(r.Context(), code, doc, updatedBy(r), expected)
	} else {
		p, err = ps.SaveSettings(r.Context(), code, doc, updatedBy(r))
	}
	var conflict *store.VersionConflictError
	if errors.As(err, &conflict) {
		versionConflict(w, code, []int{expected}, conflict.Current)
		return
	}
	if errors.Is(err, store.ErrInvalidInput) {
		writeJSON(w, http.StatusUnprocessableEntity, apidoc.ErrorResponse{Error: err.Error()})
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	setVersionTag(w, p.Version)
	writeJSON(w, http.StatusOK, settingsResponse(code, p))
}

func (h *handler) settingsHistory(w http.ResponseWriter, r *http.Request) {
	code, _, err := h.patient(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ps, err := h.settingsStore()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	l, err := ps.SettingsHistory(r.Context(), code)
	if err == nil {
		err = auth.Audit(r, actionSettingsRead, code, "")
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := SettingsHistoryResponse{PatientCode: code, Versions: []SettingsVersionItem{}}
	for _, p := range l {
		out.Versions = append(out.Versions, settingsItem(p))
	}
	writeJSON(w, http.StatusOK, out)
}

// versionTag documents the ETag of a settings answer.
var versionTag = map[string]string{"ETag": "the current settings version, quoted (\"3\"; \"0\": none): PUT /patients/{code}/settings takes it back in If-Match"}

func withHeaders(r apidoc.Response, h map[string]string) apidoc.Response {
	r.Headers = h
	return r
}

func settingsRoutes(tags, guarded []string, code apidoc.Param, badPatient, noPatient apidoc.Response) []route {
	none := errAnswer(http.StatusNotImplemented, "The server's store keeps no patient settings")
	return []route{
		{apidoc.Op{Method: "GET", Path: "/patients/{code}", Tags: tags, Security: guarded, Summary: "A patient's current settings",
			Description: "The current settings version of the patient: session parameters (emg.Params, as `emgd analyze --params` reads them) plus muscle_names and sessions_per_week. A patient without settings has version 0 and settings {}.",
			Params:      []apidoc.Param{code},
			Responses: []apidoc.Response{withHeaders(jsonAnswer(http.StatusOK, "The settings in force", PatientSettingsResponse{}), versionTag),
				badPatient, noPatient, none}},
			func(h *handler) http.HandlerFunc { return h.getPatient }},
		{apidoc.Op{Method: "PUT", Path: "/patients/{code}/settings", Tags: tags, Security: guarded, Summary: "Save a patient's settings as a new version",
			Description: "The whole settings document (what GET /patients/{code} answers in settings). It becomes the next version; every version is kept. Phase 2 of sessions created from now on uses it; stored analyses do not change. " +
				"Send `If-Match` with the ETag GET /patients/{code} answered (`\"<settings_version>\"`, `\"0\"` for a patient without settings) to save only if nobody saved meanwhile: " +
				"when the current version is another, nothing is saved and the answer is 412 naming it (the edit is then made again on that version). " +
				"Without If-Match the save is unconditional: the last writer wins, and a version saved between the client's read and this save is replaced (it stays in the history).",
			Params: []apidoc.Param{code, {Name: "If-Match", In: "header",
				Description: "the settings version read, as GET /patients/{code} answers it in ETag (\"3\"); * : any existing version", Type: ""}},
			Body: &apidoc.Body{ContentType: "application/json", Type: SettingsDocument{}, Required: true},
			Responses: []apidoc.Response{withHeaders(jsonAnswer(http.StatusOK, "The saved version", PatientSettingsResponse{}), versionTag),
				errAnswer(http.StatusBadRequest, "A malformed patient code or If-Match header"),
				errAnswer(http.StatusNotFound, "A patient the user may not see (another therapist's)"),
				withHeaders(errAnswer(http.StatusPreconditionFailed, "If-Match names a version that is no longer current: another save came first; the message and ETag give the current version; nothing is saved"), versionTag),
				errAnswer(http.StatusRequestEntityTooLarge, "A document over 1 MiB"),
				errAnswer(http.StatusUnprocessableEntity, "An invalid value or an unknown key; the message names the field"), none}},
			func(h *handler) http.HandlerFunc { return h.putSettings }},
		{apidoc.Op{Method: "GET", Path: "/patients/{code}/settings/history", Tags: tags, Security: guarded, Summary: "Every version of a patient's settings",
			Description: "Newest first, each with who saved it and when.",
			Params:      []apidoc.Param{code},
			Responses:   []apidoc.Response{jsonAnswer(http.StatusOK, "The versions", SettingsHistoryResponse{}), badPatient, noPatient, none}},
			func(h *handler) http.HandlerFunc { return h.settingsHistory }},
	}
}
