package review

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"

	"emgd/emg"
	"emgd/internal/apidoc"
	"emgd/internal/auth"
	"emgd/internal/service"
	"emgd/internal/store"
)

// MVCRequest is POST /patients/{code}/mvc's JSON body: calibrate from a
// stored session of the patient.
type MVCRequest struct {
	SessionID string `json:"session_id" required:"true" doc:"a session of this patient: its id or session code"`
	Save      bool   `json:"save,omitempty" doc:"write the estimate into the patient's settings as a new version"`
}

// MVCResponse is POST /patients/{code}/mvc's answer.
type MVCResponse struct {
	PatientCode string `json:"patient_code"`
	// MVC is keyed by base channel.
	MVC         map[string]float64 `json:"mvc" doc:"per channel (CH1, ...), in the recording's units: the 95th percentile of the channel's Processed envelope, as the analysis estimates the MVC when none is set"`
	Source      string             `json:"source" enum:"session,recording"`
	SessionID   *string            `json:"session_id,omitempty" doc:"the session calibrated from (source session)"`
	SessionCode *string            `json:"session_code,omitempty"`
	// FailedChannels are the recording's channels that gave no estimate.
	FailedChannels  map[string]string `json:"failed_channels" doc:"channels that gave no estimate, with why (empty: none)"`
	Saved           bool              `json:"saved"`
	SettingsVersion int               `json:"settings_version" doc:"the new version when saved, else the current one (0: none)"`
}

// maxFormField bounds a form field other than the file.
const maxFormField = 1 << 10

// formSlack is what the multipart envelope and the fields may add to the
// file's size in the body (as POST /upload).
const formSlack = 1 << 20

func (h *handler) mvc(w http.ResponseWriter, r *http.Request) {
	out, err := h.doMVC(w, r)
	if err != nil {
		h.failService(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) doMVC(w http.ResponseWriter, r *http.Request) (*MVCResponse, error) {
	code, err := allowed(r)
	if err != nil {
		return nil, err
	}
	svc, err := h.pipeline()
	if err != nil {
		return nil, err
	}
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var est *service.MVCEstimate
	var save bool
	out := &MVCResponse{PatientCode: code}
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		var q MVCRequest
		if err := readJSONBody(w, r, &q, false); err != nil {
			return nil, err
		}
		if strings.TrimSpace(q.SessionID) == "" {
			return nil, badRequest("session_id is required (or send a calibration recording as multipart/form-data)")
		}
		sess, err := svc.FindSession(r.Context(), q.SessionID)
		if errors.Is(err, service.ErrSessionNotFound) || err == nil && sess.PatientCode != code {
			return nil, notFound("no session %q of patient %s", q.SessionID, code)
		}
		if err != nil {
			return nil, err
		}
		if err := auth.Audit(r, actionMVCCalibrate, code, sess.ID); err != nil {
			return nil, err
		}
		release, err := h.turn(r.Context())
		if err != nil {
			return nil, err
		}
		est, err = svc.SessionMVC(r.Context(), sess)
		release()
		if err != nil {
			return nil, err
		}
		save, out.Source, out.SessionID, out.SessionCode = q.Save, "session", &sess.ID, &sess.SessionCode
	case mt == "multipart/form-data" && params["boundary"] != "":
		if save, est, err = h.mvcRecording(w, r, code); err != nil {
			return nil, err
		}
		out.Source = "recording"
	default:
		return nil, &requestError{http.StatusUnsupportedMediaType,
			"send JSON {\"session_id\": ..., \"save\": ...} or a calibration recording as multipart/form-data (file, save)"}
	}
	out.MVC, out.FailedChannels = est.MVC, est.Failed
	if !save {
		v, err := h.currentVersion(r.Context(), code)
		if err != nil {
			return nil, err
		}
		out.SettingsVersion = v
		return out, nil
	}
	p, err := h.saveMVC(r.Context(), code, est.MVC, updatedBy(r))
	if err != nil {
		return nil, err
	}
	out.Saved, out.SettingsVersion = true, p.Version
	return out, nil
}

// turn waits for one of the server's MVC estimate turns; release gives it
// back.
func (h *handler) turn(ctx context.Context) (release func(), err error) {
	select {
	case h.act.turns <- struct{}{}:
		return func() { <-h.act.turns }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// mvcRecording reads the multipart form (file and save, in any order),
// holding the file in a temporary file, and estimates the MVC from it.
func (h *handler) mvcRecording(w http.ResponseWriter, r *http.Request, code string) (bool, *service.MVCEstimate, error) {
	limit := h.act.limit
	if r.ContentLength > limit+formSlack {
		return false, nil, tooLarge(limit)
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit+formSlack)
	mr, err := r.MultipartReader()
	if err != nil {
		return false, nil, badRequest("not a multipart form: %v", err)
	}
	var file *os.File
	defer func() {
		if file != nil {
			file.Close()
			os.Remove(file.Name())
		}
	}()
	var name string
	var size int64
	save := false
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return false, nil, bodyError(err, limit)
		}
		switch part.FormName() {
		case "file":
			if file != nil {
				return false, nil, badRequest("more than one file part")
			}
			if file, err = os.CreateTemp("", "emgd-mvc-*.c3d"); err != nil {
				return false, nil, err
			}
			name = part.FileName()
			if size, err = io.Copy(file, io.LimitReader(part, limit+1)); err != nil {
				return false, nil, bodyError(err, limit)
			}
			if size > limit {
				return false, nil, tooLarge(limit)
			}
		case "save":
			b, err := io.ReadAll(io.LimitReader(part, maxFormField+1))
			if err != nil {
				return false, nil, bodyError(err, limit)
			}
			if save, err = strconv.ParseBool(strings.TrimSpace(string(b))); err != nil || len(b) > maxFormField {
				return false, nil, badRequest("save: %q is not true or false", strings.TrimSpace(string(b)))
			}
		default:
			return false, nil, badRequest("unknown form field %q (the form has file and save)", part.FormName())
		}
		part.Close()
	}
	if file == nil {
		return false, nil, badRequest("the form has no file part (the calibration recording)")
	}
	if size == 0 {
		return false, nil, &requestError{http.StatusUnprocessableEntity, "the file is empty: not a C3D file"}
	}
	if err := auth.Audit(r, actionMVCCalibrate, code, ""); err != nil {
		return false, nil, err
	}
	release, err := h.turn(r.Context())
	if err != nil {
		return false, nil, err
	}
	defer release()
	est, err := h.act.svc.EstimateMVC(r.Context(), code, file, size, name)
	return save, est, err
}

func tooLarge(limit int64) error {
	return &requestError{http.StatusRequestEntityTooLarge, fmt.Sprintf("the recording is over the limit of %d MiB", limit>>20)}
}

// bodyError is a failure to read the request's form: over the limit
// (413), or malformed (400).
func bodyError(err error, limit int64) error {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return tooLarge(limit)
	}
	return badRequest("reading the form: %v", err)
}

// currentVersion is the patient's current settings version (0: none, or
// the server keeps no settings).
func (h *handler) currentVersion(ctx context.Context, code string) (int, error) {
	if h.ps == nil {
		return 0, nil
	}
	p, err := h.ps.CurrentSettings(ctx, code)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return 0, nil
	case err != nil:
		return 0, err
	}
	return p.Version, nil
}

// saveMVCAttempts bounds the saves of an MVC estimate that find the
// settings changed since they were read.
const saveMVCAttempts = 5

// saveMVC writes the patient's current settings with mvc as their MVC per
// channel (a channel's earlier value, under any of its names, replaced;
// other channels and every other setting unchanged) as the next version,
// saved by by (updatedBy: the user's email, or UpdatedByAPI, as settings saves name it). The save is a compare-and-swap on the
// version read: when another save came in between, the estimate is merged
// again into that newer version (its other fields kept), up to
// saveMVCAttempts times; then 409.
func (h *handler) saveMVC(ctx context.Context, code string, mvc map[string]float64, by string) (*store.PatientSettings, error) {
	ps, err := h.settingsStore()
	if err != nil {
		return nil, err
	}
	for range saveMVCAttempts {
		var d SettingsDocument
		read := 0
		cur, err := ps.CurrentSettings(ctx, code)
		switch {
		case err == nil:
			if err := json.Unmarshal(cur.Document, &d); err != nil {
				return nil, fmt.Errorf("patient %s settings version %d: %w", code, cur.Version, err)
			}
			read = cur.Version
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
		b, err := withMVC(d, mvc)
		if err != nil {
			return nil, err
		}
		p, err := ps.SaveSettingsIf(ctx, code, b, by, read)
		if !errors.Is(err, store.ErrVersionConflict) {
			return p, err
		}
		// Saved meanwhile: merge into the newer version.
	}
	return nil, &requestError{http.StatusConflict, fmt.Sprintf(
		"the settings of patient %s changed %d times while this MVC was being saved; nothing was saved: save it again", code, saveMVCAttempts)}
}

// withMVC is the settings document d with mvc as its MVC per channel,
// checked as PUT checks a document.
func withMVC(d SettingsDocument, mvc map[string]float64) ([]byte, error) {
	next := map[string]float64{}
	for k, v := range d.MVC {
		if _, replaced := mvc[emg.BaseName(k)]; !replaced {
			next[k] = v
		}
	}
	maps.Copy(next, mvc)
	d.MVC = next
	b, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	if d, err = ParseSettings(b); err != nil {
		return nil, &requestError{http.StatusUnprocessableEntity, "the settings with this MVC are not valid: " + err.Error()}
	}
	return json.Marshal(d)
}

func mvcRoute(tags, guarded []string, code apidoc.Param, none apidoc.Response) route {
	return route{apidoc.Op{Method: "POST", Path: "/patients/{code}/mvc", Tags: tags, Security: guarded,
		Summary: "Estimate a patient's MVC per channel from a session or a calibration recording",
		Description: "JSON `{\"session_id\": ID, \"save\": bool}` estimates from a stored session of this patient (exactly the version of its file " +
			"the session describes); multipart/form-data with the recording in `file` (a C3D file, at most the size POST /upload takes) and " +
			"optionally `save` estimates from a calibration recording. Each channel's MVC is estimated exactly as the analysis estimates it when " +
			"no MVC is set (the 95th percentile of the channel's Processed envelope), with the profile and validation limits of the patient's " +
			"settings. With save, the patient's current settings are written as a new version with these values in `mvc` (other channels and " +
			"every other setting unchanged; updated_by the request's user); analyses already stored do not change. The save is made on the version " +
			"read only: a settings save that comes in between is kept, and the estimate merged into it (a few attempts, then 409). The request is recorded in " +
			"the audit trail (mvc.calibrate) before the estimate is made; when it cannot be, 503 and nothing is done.",
		Params: []apidoc.Param{code},
		Body: &apidoc.Body{ContentType: "application/json", Type: MVCRequest{}, Required: true,
			Description: "Or multipart/form-data: file (the C3D calibration recording), save (true or false)."},
		Responses: []apidoc.Response{jsonAnswer(http.StatusOK, "The estimate (and the settings version written)", MVCResponse{}),
			errAnswer(http.StatusBadRequest, "A malformed patient code, JSON or form, no session_id, no file part, an unknown key or field"),
			errAnswer(http.StatusNotFound, "No such session of this patient (or a patient the user may not see), or its file is no longer in storage"),
			errAnswer(http.StatusConflict, "The session's file was overwritten after the session was created (the newer version has its own session), or with save the settings kept changing while the estimate was being saved (nothing saved)"),
			errAnswer(http.StatusRequestEntityTooLarge, "A body over 64 KiB (JSON) or a recording over the upload limit"),
			errAnswer(http.StatusUnsupportedMediaType, "Neither JSON nor a multipart form"),
			errAnswer(http.StatusUnprocessableEntity, "Not a readable C3D file, over the analysis limits, no channel gives an estimate, or a rejected session"),
			none}},
		func(h *handler) http.HandlerFunc { return h.mvc }}
}
