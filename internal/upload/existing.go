package upload

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"emgd/emg"
	"emgd/internal/oldapi"
)

// existingResult is the parts of an EMGAnalysisResult sent back to
// /analysis/recalc or /mvc/calibrate that they read. Its emg_signals are
// read one channel at a time (see readOldBody), never whole.
type existingResult struct {
	FileID            string                           `json:"file_id"`
	Timestamp         string                           `json:"timestamp"`
	SourceFilename    string                           `json:"source_filename"`
	Metadata          map[string]any                   `json:"metadata"`
	Analytics         map[string]*emg.ChannelAnalytics `json:"analytics"`
	AvailableChannels []string                         `json:"available_channels"`
	C3DParameters     map[string]any                   `json:"c3d_parameters"`
	UserID            *string                          `json:"user_id"`
	SessionID         *string                          `json:"session_id"`
	PatientID         *string                          `json:"patient_id"`
}

// signalIn is one channel of the emg_signals sent back.
type signalIn struct {
	SamplingRate  *float64  `json:"sampling_rate"`
	TimeAxis      []float64 `json:"time_axis"`
	Data          []float64 `json:"data"`
	RMSEnvelope   []float64 `json:"rms_envelope"`
	ActivatedData []float64 `json:"activated_data"`
	ProcessedData []float64 `json:"processed_data"`
	IsProcessed   bool      `json:"is_processed"`
}

// oldBody is a decoded {existing, session_params} body.
type oldBody struct {
	existing      existingResult
	sessionParams GameSessionParameters
	signals       int // channels of emg_signals
}

// existingRequired are EMGAnalysisResult's required fields.
var existingRequired = []string{"file_id", "timestamp", "source_filename", "metadata", "analytics", "available_channels", "emg_signals"}

// readOldBody decodes {existing: EMGAnalysisResult, session_params:
// GameSessionParameters} as it streams in: every member of existing but
// emg_signals is decoded whole (a few MB at most); emg_signals is handed
// to onSignal one channel at a time. Refused values are pydantic's
// details (422).
func readOldBody(r io.Reader, onSignal func(name string, s *signalIn) error) (*oldBody, []oldapi.ValidationError, error) {
	er := &errReader{r: r}
	body, errs, err := decodeOldBody(json.NewDecoder(er), onSignal)
	if er.err != nil {
		// The body could not be read (over the limit, connection gone):
		// not the client's JSON.
		return nil, nil, er.err
	}
	return body, errs, err
}

// errReader records the first read error other than EOF.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

func decodeOldBody(dec *json.Decoder, onSignal func(name string, s *signalIn) error) (*oldBody, []oldapi.ValidationError, error) {
	out := &oldBody{}
	seen := map[string]bool{}
	var errs []oldapi.ValidationError
	tok, err := dec.Token()
	if err == io.EOF {
		return nil, []oldapi.ValidationError{missing("body")}, nil
	}
	if err != nil {
		return nil, jsonInvalid(dec, err), nil
	}
	if tok != json.Delim('{') {
		return nil, []oldapi.ValidationError{{Type: "model_attributes_type", Loc: []any{"body"},
			Msg: "Input should be a valid dictionary or object to extract fields from", Input: json.RawMessage("null")}}, nil
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil, jsonInvalid(dec, err), nil
		}
		switch key {
		case "existing":
			seen["existing"] = true
			es, bad, err := readExisting(dec, &out.existing, onSignal, &out.signals)
			if err != nil {
				return nil, nil, err
			}
			if bad != nil {
				return nil, bad, nil
			}
			for _, f := range existingRequired {
				if !es[f] {
					errs = append(errs, missing("body", "existing", f))
				}
			}
		case "session_params":
			seen["session_params"] = true
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, jsonInvalid(dec, err), nil
			}
			errs = append(errs, decodeSessionParams(raw, &out.sessionParams)...)
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, jsonInvalid(dec, err), nil
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, jsonInvalid(dec, err), nil
	}
	for _, f := range []string{"existing", "session_params"} {
		if !seen[f] {
			errs = append(errs, missing("body", f))
		}
	}
	return out, errs, nil
}

// readExisting decodes the existing object's members into e, handing
// emg_signals' channels to onSignal; it returns the members seen.
func readExisting(dec *json.Decoder, e *existingResult, onSignal func(string, *signalIn) error, n *int) (map[string]bool, []oldapi.ValidationError, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonInvalid(dec, err), nil
	}
	if tok != json.Delim('{') {
		return nil, []oldapi.ValidationError{{Type: "model_attributes_type", Loc: []any{"body", "existing"},
			Msg: "Input should be a valid dictionary or object to extract fields from", Input: json.RawMessage("null")}}, nil
	}
	seen := map[string]bool{}
	var errs []oldapi.ValidationError
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, jsonInvalid(dec, err), nil
		}
		key, _ := t.(string)
		seen[key] = true
		if key == "emg_signals" {
			bad, err := readSignals(dec, onSignal, n)
			if err != nil || bad != nil {
				return nil, bad, err
			}
			continue
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, jsonInvalid(dec, err), nil
		}
		var target any
		switch key {
		case "file_id":
			target = &e.FileID
		case "timestamp":
			target = &e.Timestamp
		case "source_filename":
			target = &e.SourceFilename
		case "metadata":
			target = &e.Metadata
		case "analytics":
			target = &e.Analytics
		case "available_channels":
			target = &e.AvailableChannels
		case "c3d_parameters":
			target = &e.C3DParameters
		case "user_id":
			target = &e.UserID
		case "session_id":
			target = &e.SessionID
		case "patient_id":
			target = &e.PatientID
		default:
			continue // the rest is not read (the answer's other fields)
		}
		if err := json.Unmarshal(raw, target); err != nil {
			errs = append(errs, typeError(err, raw, "body", "existing", key))
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, jsonInvalid(dec, err), nil
	}
	if errs != nil {
		return nil, errs, nil
	}
	return seen, nil, nil
}

// readSignals reads emg_signals one channel at a time.
func readSignals(dec *json.Decoder, onSignal func(string, *signalIn) error, n *int) ([]oldapi.ValidationError, error) {
	tok, err := dec.Token()
	if err != nil {
		return jsonInvalid(dec, err), nil
	}
	if tok != json.Delim('{') {
		return []oldapi.ValidationError{{Type: "dict_type", Loc: []any{"body", "existing", "emg_signals"},
			Msg: "Input should be a valid dictionary", Input: json.RawMessage("null")}}, nil
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return jsonInvalid(dec, err), nil
		}
		name, _ := t.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return jsonInvalid(dec, err), nil
		}
		s := &signalIn{}
		if err := json.Unmarshal(raw, s); err != nil || s.SamplingRate == nil {
			if err == nil {
				return []oldapi.ValidationError{missing("body", "existing", "emg_signals", name, "sampling_rate")}, nil
			}
			return []oldapi.ValidationError{typeError(err, nil, "body", "existing", "emg_signals", name)}, nil
		}
		*n++
		if err := onSignal(name, s); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil {
		return jsonInvalid(dec, err), nil
	}
	return nil, nil
}

// decodeSessionParams decodes GameSessionParameters within the old
// model's ranges (percentage 0..100, counts and duration >= 0).
func decodeSessionParams(raw json.RawMessage, p *GameSessionParameters) []oldapi.ValidationError {
	if string(raw) == "null" {
		return []oldapi.ValidationError{{Type: "model_type", Loc: []any{"body", "session_params"},
			Msg: "Input should be a valid dictionary or instance of GameSessionParameters", Input: raw}}
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return []oldapi.ValidationError{typeError(err, raw, "body", "session_params")}
	}
	var errs []oldapi.ValidationError
	if err := json.Unmarshal(raw, p); err != nil {
		var ute *json.UnmarshalTypeError
		field := ""
		if errors.As(err, &ute) {
			field = strings.SplitN(ute.Field, ".", 2)[0]
		}
		return []oldapi.ValidationError{typeError(err, fields[field], "body", "session_params", field)}
	}
	rng := func(name string, v *float64, lo, hi float64) {
		switch {
		case v == nil:
		case *v < lo:
			errs = append(errs, oldapi.ValidationError{Type: "greater_than_equal", Loc: []any{"body", "session_params", name},
				Msg: "Input should be greater than or equal to " + pyNum(lo), Input: fields[name], Ctx: &oldapi.ErrorContext{Ge: &lo}})
		case hi >= lo && *v > hi:
			errs = append(errs, oldapi.ValidationError{Type: "less_than_equal", Loc: []any{"body", "session_params", name},
				Msg: "Input should be less than or equal to " + pyNum(hi), Input: fields[name], Ctx: &oldapi.ErrorContext{Le: &hi}})
		}
	}
	intf := func(v *int) *float64 {
		if v == nil {
			return nil
		}
		return ptr(float64(*v))
	}
	rng("session_mvc_threshold_percentage", p.SessionMVCThresholdPercentage, 0, 100)
	rng("contraction_duration_threshold", p.ContractionDurationThreshold, 0, -1)
	rng("session_expected_contractions", intf(p.SessionExpectedContractions), 0, -1)
	rng("session_expected_contractions_ch1", intf(p.SessionExpectedContractionsCh1), 0, -1)
	rng("session_expected_contractions_ch2", intf(p.SessionExpectedContractionsCh2), 0, -1)
	return errs
}

func missing(loc ...any) oldapi.ValidationError {
	return oldapi.ValidationError{Type: "missing", Loc: loc, Msg: "Field required", Input: json.RawMessage("null")}
}

// typeError is pydantic's error for a value of the wrong type.
func typeError(err error, input json.RawMessage, loc ...any) oldapi.ValidationError {
	typ, msg := "value_error", "Value error, "+err.Error()
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) {
		switch ute.Type.Kind().String() {
		case "string":
			typ, msg = "string_type", "Input should be a valid string"
		case "float64":
			typ, msg = "float_type", "Input should be a valid number"
		case "int":
			typ, msg = "int_type", "Input should be a valid integer"
		case "map", "struct":
			typ, msg = "dict_type", "Input should be a valid dictionary"
		case "slice":
			typ, msg = "list_type", "Input should be a valid list"
		case "bool":
			typ, msg = "bool_type", "Input should be a valid boolean"
		}
		if ute.Field != "" {
			for _, f := range strings.Split(ute.Field, ".") {
				if len(loc) == 0 || loc[len(loc)-1] != f {
					loc = append(loc, f)
				}
			}
		}
	}
	if len(input) > 1<<10 {
		input = nil // not the whole value back
	}
	if input == nil {
		input = json.RawMessage("null")
	}
	return oldapi.ValidationError{Type: typ, Loc: loc, Msg: msg, Input: input}
}

// jsonInvalid is FastAPI's answer to a body that is not JSON; a body over
// the limit is not that (the caller maps it to 413).
func jsonInvalid(dec *json.Decoder, err error) []oldapi.ValidationError {
	msg := "Expecting value"
	if err != io.EOF && err != io.ErrUnexpectedEOF {
		msg = err.Error()
	}
	return []oldapi.ValidationError{{Type: "json_invalid", Loc: []any{"body", dec.InputOffset()}, Msg: "JSON decode error",
		Input: json.RawMessage("{}"), Ctx: &oldapi.ErrorContext{Error: mustJSON(msg)}}}
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// signalSpool keeps the emg_signals sent back in a temporary file, each
// channel re-encoded as it is read, for the answer to echo.
type signalSpool struct {
	f     *os.File
	w     *bufio.Writer
	sw    *sampleWriter
	count int
}

func newSignalSpool() (*signalSpool, error) {
	f, err := os.CreateTemp("", "emgd-signals-*.json")
	if err != nil {
		return nil, err
	}
	s := &signalSpool{f: f, w: bufio.NewWriterSize(f, 64<<10)}
	s.sw = &sampleWriter{w: s.w}
	s.w.WriteByte('{')
	return s, nil
}

// add appends a channel (a channel sent twice keeps both, the last
// winning for a JSON reader).
func (s *signalSpool) add(name string, x *signalIn) error {
	if s.count > 0 {
		s.w.WriteByte(',')
	}
	s.count++
	s.sw.key(name)
	s.sw.w.WriteString(`{"sampling_rate":`)
	s.sw.w.Write(appendFloat(nil, *x.SamplingRate))
	for _, a := range []struct {
		k string
		v []float64
	}{{"time_axis", x.TimeAxis}, {"data", x.Data}, {"rms_envelope", x.RMSEnvelope}, {"activated_data", x.ActivatedData}, {"processed_data", x.ProcessedData}} {
		s.sw.w.WriteString(`,"` + a.k + `":`)
		s.sw.array(a.v)
	}
	if x.IsProcessed {
		s.sw.w.WriteString(`,"is_processed":true`)
	}
	s.sw.w.WriteByte('}')
	return nil
}

// finish closes the object and rewinds the file for reading.
func (s *signalSpool) finish() (io.Reader, error) {
	s.w.WriteByte('}')
	if err := s.w.Flush(); err != nil {
		return nil, fmt.Errorf("spooling the signals: %w", err)
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return s.f, nil
}

func (s *signalSpool) close() {
	s.f.Close()
	os.Remove(s.f.Name())
}

// oldError is the old backend's HTTPException answer.
func oldError(w http.ResponseWriter, r *http.Request, code int, msg string) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	writeJSON(w, code, oldapi.HTTPErrorResponse{Error: "HTTP_ERROR", Message: msg, StatusCode: code, Path: scheme + "://" + r.Host + r.URL.RequestURI()})
}

// oldInvalid is FastAPI's 422.
func oldInvalid(w http.ResponseWriter, errs []oldapi.ValidationError) {
	writeJSON(w, http.StatusUnprocessableEntity, oldapi.ValidationErrorResponse{Detail: errs})
}
