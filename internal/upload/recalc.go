package upload

import (
	"bufio"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"emgd/emg"
	"emgd/internal/api/httperr"
	"emgd/internal/apidoc"
	"emgd/internal/auth"
	"emgd/internal/oldapi"
)

// RecalcRequest is POST /analysis/recalc's body (and /mvc/calibrate's
// JSON body): a previous answer of /upload, signals included, and the
// session parameters to apply.
type RecalcRequest struct {
	Existing      AnalysisResponse      `json:"existing" required:"true" doc:"a previous answer of POST /upload (EMGAnalysisResult), as it was answered"`
	SessionParams GameSessionParameters `json:"session_params" required:"true"`
}

// RecalcResponse is POST /analysis/recalc's answer (EMGAnalysisResult):
// the existing answer's identifiers, metadata (with the new
// session_parameters_used), signals and C3D parameters, its contractions
// judged again against the new thresholds.
type RecalcResponse struct {
	Analytics            map[string]*emg.ChannelAnalytics `json:"analytics"`
	AvailableChannels    []string                         `json:"available_channels" doc:"the analytics' channels, as the old backend answered"`
	C3DParameters        map[string]any                   `json:"c3d_parameters" nullable:"true"`
	EMGSignals           signalMap                        `json:"emg_signals" doc:"the existing answer's, echoed"`
	FileID               string                           `json:"file_id"`
	Metadata             map[string]any                   `json:"metadata"`
	PatientID            *string                          `json:"patient_id"`
	PerformanceAnalysis  map[string]any                   `json:"performance_analysis" nullable:"true" doc:"null, as the old backend answered"`
	ProcessingParameters map[string]any                   `json:"processing_parameters" nullable:"true" doc:"null"`
	ScoringConfiguration map[string]any                   `json:"scoring_configuration" nullable:"true" doc:"null"`
	SessionConfiguration map[string]any                   `json:"session_configuration" nullable:"true" doc:"null"`
	SessionID            *string                          `json:"session_id"`
	SessionParameters    map[string]any                   `json:"session_parameters" nullable:"true" doc:"null"`
	SourceFilename       string                           `json:"source_filename"`
	Timestamp            string                           `json:"timestamp"`
	UserID               *string                          `json:"user_id"`
}

var (
	oldJSON       = "application/json"
	oldHTTPError  = apidoc.Response{Description: "Error (the old backend's HTTP_ERROR)", ContentType: oldJSON, Type: oldapi.HTTPErrorResponse{}}
	oldValidation = apidoc.Response{Status: http.StatusUnprocessableEntity, Description: "Validation error (pydantic's details)", ContentType: oldJSON, Type: oldapi.ValidationErrorResponse{}}
	oldTooLarge   = apidoc.Response{Status: http.StatusRequestEntityTooLarge, Description: "Body over the upload limit", ContentType: oldJSON, Type: oldapi.HTTPErrorResponse{}}
	oldNotYours   = apidoc.Response{Status: http.StatusNotFound, Description: "The request names a patient the user may not see (patient_id, a patient field or the file name)", ContentType: oldJSON, Type: oldapi.HTTPErrorResponse{}}
	unauthorized  = apidoc.Response{Status: http.StatusUnauthorized, Description: "Read token required", ContentType: oldJSON, Type: apidoc.ErrorResponse{}}
)

// recalcRoute documents POST /analysis/recalc.
func recalcRoute() apidoc.Op {
	return apidoc.Op{Method: "POST", Path: "/analysis/recalc", Tags: []string{"old API"},
		Summary: "Judge a previous upload's contractions again with new session parameters (old backend)",
		Description: "Takes `{existing, session_params}`: a whole previous answer of POST /upload (signals included, read one channel at a time " +
			"and echoed) and GameSessionParameters. Each channel's contractions are judged again against the new MVC and duration thresholds, " +
			"as the old backend did (from the contractions, not the signals); the rest is echoed. The body may be at most --upload-limit-mb.",
		Body: &apidoc.Body{ContentType: oldJSON, Type: RecalcRequest{}, Required: true},
		Responses: []apidoc.Response{
			{Status: http.StatusOK, Description: "The answer with its analytics recalculated (EMGAnalysisResult)", ContentType: oldJSON, Type: RecalcResponse{}},
			oldNotYours, oldValidation, oldTooLarge, unauthorized, oldHTTPError,
		},
		Security: []string{apidoc.ReadToken}}
}

// recalc serves POST /analysis/recalc.
func (h *Handler) recalc(w http.ResponseWriter, r *http.Request) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); r.Header.Get("Content-Type") != "" && (err != nil || !(mt == oldJSON || strings.HasSuffix(mt, "+json"))) {
		oldInvalid(w, []oldapi.ValidationError{{Type: "model_attributes_type", Loc: []any{"body"},
			Msg: "Input should be a valid dictionary or object to extract fields from", Input: mustJSON("")}})
		return
	}
	select {
	case h.sem <- struct{}{}:
	case <-r.Context().Done():
		return
	}
	defer func() { <-h.sem }()
	spool, err := newSignalSpool()
	if err != nil {
		oldError(w, r, http.StatusServiceUnavailable, "no room for the signals: "+err.Error())
		return
	}
	defer spool.close()
	body, errs, err := readOldBody(http.MaxBytesReader(w, r.Body, h.limit()+formSlack), func(name string, s *signalIn) error { return spool.add(name, s) })
	if h.bodyFailed(w, r, errs, err) {
		return
	}
	// The answer's patient must be the principal's (404 as if absent).
	patients := body.existing.patients()
	if oldNotMine(w, r, patients) {
		return
	}
	if err := auth.Audit(r, actionRecalc, firstOr(patients, ""), ""); err != nil {
		oldError(w, r, httperr.Status(err), err.Error())
		return
	}
	signals, err := spool.finish()
	if err != nil {
		oldError(w, r, http.StatusServiceUnavailable, err.Error())
		return
	}
	ex := &body.existing
	an, avail := recalcAnalytics(ex.Analytics, &body.sessionParams)
	md := ex.Metadata
	if md == nil {
		md = map[string]any{}
	}
	md["session_parameters_used"] = body.sessionParams
	res := &RecalcResponse{FileID: ex.FileID, Timestamp: ex.Timestamp, SourceFilename: ex.SourceFilename, Metadata: md,
		Analytics: an, AvailableChannels: avail, EMGSignals: signalMap{}, C3DParameters: ex.C3DParameters,
		UserID: ex.UserID, PatientID: ex.PatientID, SessionID: ex.SessionID}
	h.streamJSON(w, r, res, func(bw *bufio.Writer) error {
		_, err := io.Copy(bw, signals)
		return err
	})
}

// bodyFailed answers a body that could not be read or was refused.
func (h *Handler) bodyFailed(w http.ResponseWriter, r *http.Request, errs []oldapi.ValidationError, err error) bool {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		oldError(w, r, http.StatusRequestEntityTooLarge, "body too large: the limit is "+mib(h.limit()))
	case err != nil:
		oldError(w, r, http.StatusBadRequest, "reading the body: "+err.Error())
	case len(errs) > 0:
		oldInvalid(w, errs)
	default:
		return false
	}
	return true
}

// recalcAnalytics judges each channel's contractions again against the
// thresholds of p, as the old backend's recalculation did: every base
// channel without its own MVC value or percentage takes the session's
// (recorded in p), a channel's MVC threshold is its value times its
// percentage (none when either is null), its duration threshold its own
// (seconds) or the session's; a contraction is good when it meets every
// threshold there is. available_channels lists the analytics' channels.
func recalcAnalytics(existing map[string]*emg.ChannelAnalytics, p *GameSessionParameters) (map[string]*emg.ChannelAnalytics, []string) {
	avail := sortedKeys(existing)
	set := map[string]bool{}
	for _, k := range avail {
		set[strings.ReplaceAll(strings.ReplaceAll(k, " Raw", ""), " activated", "")] = true
	}
	bases := sortedKeys(set)
	if len(p.SessionMVCValues) == 0 {
		p.SessionMVCValues = map[string]*float64{}
	}
	if len(p.SessionMVCThresholdPercentages) == 0 {
		p.SessionMVCThresholdPercentages = map[string]*float64{}
	}
	out := map[string]*emg.ChannelAnalytics{}
	for _, base := range bases {
		if _, ok := p.SessionMVCValues[base]; !ok {
			p.SessionMVCValues[base] = p.SessionMVCValue
		}
		if _, ok := p.SessionMVCThresholdPercentages[base]; !ok {
			p.SessionMVCThresholdPercentages[base] = p.SessionMVCThresholdPercentage
		}
		ca := &emg.ChannelAnalytics{}
		if e := existing[base]; e != nil {
			c := *e
			ca = &c
		}
		var mvcThr, durThr *float64
		if mvc, pct := p.SessionMVCValues[base], p.SessionMVCThresholdPercentages[base]; mvc != nil && pct != nil {
			mvcThr = ptr(*mvc * (*pct / 100))
		}
		if v, ok := p.SessionDurationThresholdsPerMuscle[base]; ok {
			if v != nil {
				durThr = ptr(*v * 1000)
			}
		} else if p.ContractionDurationThreshold != nil {
			durThr = ptr(*p.ContractionDurationThreshold)
		}
		judge(ca, mvcThr, durThr)
		out[base] = ca
	}
	return out, avail
}

// judge re-evaluates ca's contractions and counts.
func judge(ca *emg.ChannelAnalytics, mvcThr, durThr *float64) {
	cs := make([]emg.Contraction, len(ca.Contractions))
	good, mvcN, durN := 0, 0, 0
	for i, c := range ca.Contractions {
		c.MeetsMVC = mvcThr != nil && c.MaxAmplitude >= *mvcThr
		c.MeetsDuration = durThr != nil && c.DurationMs >= *durThr
		switch {
		case mvcThr != nil && durThr != nil:
			c.IsGood = c.MeetsMVC && c.MeetsDuration
		case mvcThr != nil:
			c.IsGood = c.MeetsMVC
		case durThr != nil:
			c.IsGood = c.MeetsDuration
		default:
			c.IsGood = false
		}
		if c.MeetsMVC {
			mvcN++
		}
		if c.MeetsDuration {
			durN++
		}
		if c.IsGood {
			good++
		}
		cs[i] = c
	}
	ca.Contractions = cs
	ca.MVC75Threshold, ca.DurationThresholdActualValue = mvcThr, durThr
	ca.GoodContractionCount, ca.MVCCompliantCount, ca.DurationCompliantCount = good, mvcN, durN
	if ca.ContractionCount > 0 {
		ca.ComplianceRate = float64(good) / float64(ca.ContractionCount)
	}
}

// streamJSON writes v as JSON (gzip when accepted), its signalMap filled
// by fill.
func (h *Handler) streamJSON(w http.ResponseWriter, r *http.Request, v any, fill func(*bufio.Writer) error) {
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(answerTimeout))
	if err := h.writeStreamed(w, r, v, fill); err != nil {
		oldError(w, r, http.StatusUnprocessableEntity, err.Error())
	}
}
