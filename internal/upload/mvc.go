package upload

import (
	"context"
	"errors"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"emgd/c3d"
	"emgd/emg"
	"emgd/internal/analysis"
	"emgd/internal/api/httperr"
	"emgd/internal/apidoc"
	"emgd/internal/auth"
	"emgd/internal/oldapi"
)

// MVCCalibrationResponse is POST /mvc/calibrate's answer: the MVC estimated
// from each channel.
type MVCCalibrationResponse struct {
	Status          string                   `json:"status" enum:"success"`
	CalibrationType string                   `json:"calibration_type" enum:"initial,recalibration" doc:"initial from a file, recalibration from an existing analysis"`
	FileInfo        MVCFileInfo              `json:"file_info"`
	MVCEstimations  map[string]MVCEstimation `json:"mvc_estimations" doc:"per channel"`
}

// MVCFileInfo names what was calibrated from.
type MVCFileInfo struct {
	Filename          string   `json:"filename"`
	ChannelsProcessed []string `json:"channels_processed"`
	SamplingRate      float64  `json:"sampling_rate"`
}

// MVCEstimation is one channel's MVC: the 95th percentile of its RMS
// envelope, and the threshold at the percentage asked.
type MVCEstimation struct {
	MVCValue            float64     `json:"mvc_value"`
	ThresholdValue      float64     `json:"threshold_value"`
	ThresholdPercentage float64     `json:"threshold_percentage"`
	EstimationMethod    string      `json:"estimation_method" enum:"clinical_estimation"`
	ConfidenceScore     float64     `json:"confidence_score" doc:"0..1: 0.4 (1 - CV) + 0.4 min(1, P95/mean/5) + 0.2 min(1, samples/10000)"`
	Metadata            MVCMetadata `json:"metadata"`
	Timestamp           string      `json:"timestamp" doc:"local time, Python isoformat"`
}

// MVCMetadata is how an estimate was made.
type MVCMetadata struct {
	SignalLengthSeconds float64 `json:"signal_length_seconds"`
	SignalType          string  `json:"signal_type" enum:"rms_envelope,calculated_rms" doc:"rms_envelope: the channel's 50 ms RMS envelope; calculated_rms: a 100 ms RMS of the samples sent"`
	RMSWindowMs         float64 `json:"rms_window_ms" doc:"100, as the old backend stated it"`
	SignalStd           float64 `json:"signal_std"`
	SignalMean          float64 `json:"signal_mean"`
	Percentile95        float64 `json:"percentile_95"`
	Percentile90        float64 `json:"percentile_90"`
	Percentile99        float64 `json:"percentile_99"`
	EstimationAlgorithm string  `json:"estimation_algorithm"`
	ClinicalReference   string  `json:"clinical_reference"`
}

// MVCForm is /mvc/calibrate's multipart form.
type MVCForm struct {
	File                apidoc.Binary `json:"file" required:"true" doc:"the C3D recording"`
	UserID              string        `json:"user_id,omitempty"`
	SessionID           string        `json:"session_id,omitempty"`
	ThresholdPercentage float64       `json:"threshold_percentage,omitempty" doc:"default 75"`
}

// mvcRoute documents POST /mvc/calibrate.
func mvcRoute() apidoc.Op {
	return apidoc.Op{Method: "POST", Path: "/mvc/calibrate", Tags: []string{"old API"},
		Summary: "Estimate each channel's MVC from a file or an existing analysis (old backend)",
		Description: "A multipart form with the recording in `file` (initial calibration: each channel's 50 ms RMS envelope), or JSON " +
			"`{existing, session_params}` as POST /analysis/recalc takes (recalibration: a 100 ms RMS of each emg_signals entry's data, at " +
			"session_params.session_mvc_threshold_percentage). The MVC is the envelope's 95th percentile. The old backend answered 500 to " +
			"every request (it called methods its processor did not have); this is the answer its frontend reads.",
		Body: &apidoc.Body{ContentType: "multipart/form-data", Type: MVCForm{}, Required: true,
			Description: "Or application/json: {existing, session_params} (see POST /analysis/recalc)."},
		Responses: []apidoc.Response{
			{Status: http.StatusOK, Description: "The estimates", ContentType: oldJSON, Type: MVCCalibrationResponse{}},
			{Status: http.StatusBadRequest, Description: "Neither a form with a file nor JSON, not a .c3d name, not a readable C3D file, no channel", ContentType: oldJSON, Type: oldapi.HTTPErrorResponse{}},
			oldNotYours, oldValidation, oldTooLarge, unauthorized, oldHTTPError,
		},
		Security: []string{apidoc.ReadToken}}
}

// calibrate serves POST /mvc/calibrate.
func (h *Handler) calibrate(w http.ResponseWriter, r *http.Request) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case mt == "multipart/form-data":
		h.calibrateFile(w, r)
	case mt == oldJSON || strings.HasSuffix(mt, "+json"):
		h.calibrateExisting(w, r)
	default:
		oldError(w, r, http.StatusBadRequest, "Invalid request format. Send either FormData with file or JSON with existing analysis.")
	}
}

func (h *Handler) calibrateFile(w http.ResponseWriter, r *http.Request) {
	limit := h.limit()
	r.Body = http.MaxBytesReader(w, r.Body, limit+formSlack)
	f := &form{values: map[string]string{}, query: r.URL.Query()}
	file, err := h.readForm(r, f, limit)
	if file != nil {
		defer file.cleanup()
	}
	if err != nil {
		var he *httpError
		if errors.As(err, &he) {
			oldError(w, r, he.code, he.msg)
		} else {
			oldError(w, r, http.StatusBadRequest, err.Error())
		}
		return
	}
	fr := &fieldReader{f: f}
	pct := 75.0
	if x := fr.float("threshold_percentage"); x != nil {
		pct = *x
	}
	if len(fr.errs) > 0 {
		errs := make([]oldapi.ValidationError, len(fr.errs))
		for i, e := range fr.errs {
			errs[i] = oldapi.ValidationError{Type: e.Type, Loc: e.Loc, Msg: e.Msg, Input: e.Input}
		}
		oldInvalid(w, errs)
		return
	}
	if file == nil {
		oldError(w, r, http.StatusBadRequest, "Invalid request format. Send either FormData with file or JSON with existing analysis.")
		return
	}
	if !strings.HasSuffix(strings.ToLower(file.name), ".c3d") {
		oldError(w, r, http.StatusBadRequest, "File must be a C3D file")
		return
	}
	// A patient the principal may not see answers 404 as an absent one,
	// before anything is analysed.
	p, _ := f.get("patient")
	pid, _ := f.get("patient_id")
	patients := namedPatients(file.name, p, pid)
	if oldNotMine(w, r, patients) {
		return
	}
	select {
	case h.sem <- struct{}{}:
	case <-r.Context().Done():
		return
	}
	defer func() { <-h.sem }()
	c, err := c3d.Open(file.ra, file.size)
	if err != nil {
		oldError(w, r, http.StatusBadRequest, "Not a readable C3D file: "+err.Error())
		return
	}
	out := &MVCCalibrationResponse{Status: "success", CalibrationType: "initial", MVCEstimations: map[string]MVCEstimation{},
		FileInfo: MVCFileInfo{Filename: file.name, SamplingRate: c.Analog.Rate, ChannelsProcessed: []string{}}}
	keys := analysis.NewChannels(c.Analog.Labels).Keys
	for i, k := range keys {
		if err := r.Context().Err(); err != nil {
			return
		}
		x, err := c.ReadAnalog(i)
		if err != nil {
			oldError(w, r, http.StatusBadRequest, "Not a readable C3D file: "+err.Error())
			return
		}
		env, err := emg.RMSEnvelope(x, c.Analog.Rate)
		if err != nil || len(env) == 0 {
			continue
		}
		out.MVCEstimations[k] = estimateMVC(env, len(x), float64(int(c.Analog.Rate)), pct, "rms_envelope")
		out.FileInfo.ChannelsProcessed = append(out.FileInfo.ChannelsProcessed, k)
	}
	if len(out.MVCEstimations) == 0 {
		oldError(w, r, http.StatusBadRequest, "No EMG channels found in C3D file")
		return
	}
	if err := auth.Audit(r, actionMVCCalibrate, firstOr(patients, ""), ""); err != nil {
		oldError(w, r, httperr.Status(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) calibrateExisting(w http.ResponseWriter, r *http.Request) {
	select {
	case h.sem <- struct{}{}:
	case <-r.Context().Done():
		return
	}
	defer func() { <-h.sem }()
	type estimated struct {
		name string
		est  MVCEstimation
	}
	var got []estimated
	var fs *float64
	// The threshold is known only once session_params is read: each
	// channel's estimate is made at 100 % and scaled at the end.
	body, errs, err := readOldBody(http.MaxBytesReader(w, r.Body, h.limit()+formSlack), func(name string, s *signalIn) error {
		if err := r.Context().Err(); err != nil {
			return err
		}
		if fs == nil {
			fs = s.SamplingRate
		}
		if len(s.Data) == 0 {
			return nil
		}
		rate := float64(int(*s.SamplingRate))
		env, err := movingRMS(s.Data, int(0.1*rate))
		if err != nil {
			return nil
		}
		got = append(got, estimated{name, estimateMVC(env, len(s.Data), rate, 100, "calculated_rms")})
		return nil
	})
	if errors.Is(err, context.Canceled) {
		return
	}
	if h.bodyFailed(w, r, errs, err) {
		return
	}
	patients := body.existing.patients()
	if oldNotMine(w, r, patients) {
		return
	}
	if body.signals == 0 {
		oldError(w, r, http.StatusBadRequest, "No EMG signals found in existing analysis")
		return
	}
	if len(got) == 0 {
		oldError(w, r, http.StatusBadRequest, "No raw EMG signals available for MVC recalibration")
		return
	}
	pct := 75.0
	if p := body.sessionParams.SessionMVCThresholdPercentage; p != nil {
		pct = *p
	}
	rate := 1000.0
	if fs != nil {
		rate = *fs
	}
	out := &MVCCalibrationResponse{Status: "success", CalibrationType: "recalibration", MVCEstimations: map[string]MVCEstimation{},
		FileInfo: MVCFileInfo{Filename: body.existing.SourceFilename, SamplingRate: rate, ChannelsProcessed: []string{}}}
	for _, g := range got {
		g.est.ThresholdPercentage, g.est.ThresholdValue = pct, g.est.MVCValue*(pct/100)
		out.MVCEstimations[g.name] = g.est
		out.FileInfo.ChannelsProcessed = append(out.FileInfo.ChannelsProcessed, g.name)
	}
	if err := auth.Audit(r, actionMVCCalibrate, firstOr(patients, ""), ""); err != nil {
		oldError(w, r, httperr.Status(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// movingRMS is sqrt of the centred moving average of x² over w samples
// (the window shortened to len(x)), numpy.convolve's 'same'.
func movingRMS(x []float64, w int) ([]float64, error) {
	w = min(w, len(x))
	sq := make([]float64, len(x))
	for i, v := range x {
		sq[i] = v * v
	}
	out, err := emg.MovingAverage(nil, sq, w)
	if err != nil {
		return nil, err
	}
	for i, v := range out {
		out[i] = math.Sqrt(max(v, 0))
	}
	return out, nil
}

// estimateMVC is the 95th percentile of an RMS envelope env (of a signal
// of n samples at fs), its threshold at pct and its confidence.
func estimateMVC(env []float64, n int, fs, pct float64, signalType string) MVCEstimation {
	p95, _ := emg.Percentile(env, 95)
	p90, _ := emg.Percentile(env, 90)
	p99, _ := emg.Percentile(env, 99)
	mean, sd := meanStd(env)
	cv := 1.0
	if mean > 0 {
		cv = sd / mean
	}
	peak := 1.0
	if mean > 0 {
		peak = p95 / mean
	}
	conf := max(0, 1-cv)*0.4 + min(1, peak/5)*0.4 + min(1, float64(len(env))/10000)*0.2
	conf = min(max(conf, 0), 1)
	return MVCEstimation{MVCValue: p95, ThresholdValue: p95 * (pct / 100), ThresholdPercentage: pct,
		EstimationMethod: "clinical_estimation", ConfidenceScore: conf, Timestamp: pyNow(),
		Metadata: MVCMetadata{SignalLengthSeconds: float64(n) / fs, SignalType: signalType, RMSWindowMs: 100,
			SignalStd: sd, SignalMean: mean, Percentile95: p95, Percentile90: p90, Percentile99: p99,
			EstimationAlgorithm: "RMS_95th_percentile_gold_standard_2024",
			ClinicalReference:   "RMS envelope + 95th percentile (Clinical Best Practice 2024)"}}
}

// meanStd is the mean and population standard deviation (numpy's).
func meanStd(x []float64) (float64, float64) {
	if len(x) == 0 {
		return 0, 0
	}
	s := 0.0
	for _, v := range x {
		s += v
	}
	m := s / float64(len(x))
	ss := 0.0
	for _, v := range x {
		ss += (v - m) * (v - m)
	}
	return m, math.Sqrt(ss / float64(len(x)))
}

// pyNow is the local time as Python's datetime.isoformat writes it.
func pyNow() string {
	t := time.Now()
	s := t.Format("2006-01-02T15:04:05")
	if us := t.Nanosecond() / 1000; us != 0 {
		s += "." + strconv.FormatInt(int64(1e6+us), 10)[1:]
	}
	return s
}
