// Package upload serves POST /upload: a C3D file sent as multipart form data
// is analysed at once and answered with the full result in the old backend's
// shape (EMGAnalysisResult), signals included on request. With store=true the
// file is also saved in the bucket as <patient>/<file name> and sent through
// the webhook's pipeline (phase 1 now, phase 2 in a worker), so that it
// becomes a session like any other.
package upload

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"emgd/c3d"
	"emgd/emg"
	"emgd/internal/analysis"
	"emgd/internal/api/httperr"
	"emgd/internal/apidoc"
	"emgd/internal/jsonsafe"
	"emgd/internal/service"
	"emgd/internal/store"
)

// DefaultLimit is the largest file accepted unless configured (413 above).
const DefaultLimit = 256 << 20

// formSlack is what the multipart envelope and the form fields may add to
// the file's size in the request body.
const formSlack = 1 << 20

// maxField is the longest form field value accepted (400 above).
const maxField = 64 << 10

// maxFields is the most bytes all form field values may take together (413
// above), and maxParts the most parts a form may have (400 above): the form
// has about twenty fields.
const (
	maxFields = 1 << 20
	maxParts  = 100
)

// DefaultInMemory is the largest file held in memory unless configured;
// DefaultMemoryBudget bounds the bytes of all uploads held in memory at once.
const (
	DefaultInMemory     = 4 << 20
	DefaultMemoryBudget = 64 << 20
)

// Handler serves POST /upload.
type Handler struct {
	Svc *service.Service
	// Limit is the largest file in bytes (0: DefaultLimit).
	Limit int64
	// Analyzer runs the analytics.
	Analyzer emg.Analyzer
	// InMemory is the largest file held in memory; larger files are
	// spooled to a temporary file (0: DefaultInMemory).
	InMemory int64
	// MemoryBudget bounds the bytes of all uploads held in memory at once
	// (0: DefaultMemoryBudget); an upload that finds it spent is spooled
	// to a temporary file whatever its size. Bodies therefore wait for
	// their analysis on disk, not in memory.
	MemoryBudget int64
	// Concurrent bounds the analyses running at once (0: 2); further
	// uploads wait for their turn.
	Concurrent int
	Log        *slog.Logger

	sem chan struct{}

	mu    sync.Mutex
	inMem int64 // bytes of bodies held in memory now
}

// Register adds POST /upload to mux, wrapped by guard (e.g. the read token).
// Its documentation (apidoc.Op) is in types.go.
func (h *Handler) Register(mux apidoc.Router, guard func(http.HandlerFunc) http.HandlerFunc) {
	if guard == nil {
		guard = func(f http.HandlerFunc) http.HandlerFunc { return f }
	}
	n := h.Concurrent
	if n <= 0 {
		n = 2
	}
	h.sem = make(chan struct{}, n)
	apidoc.HandleFunc(mux, route(), guard(h.ServeHTTP))
}

func (h *Handler) limit() int64 {
	if h.Limit > 0 {
		return h.Limit
	}
	return DefaultLimit
}

// reserve takes n bytes of the memory budget, if it has them.
func (h *Handler) reserve(n int64) bool {
	budget := h.MemoryBudget
	if budget <= 0 {
		budget = DefaultMemoryBudget
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.inMem+n > budget {
		return false
	}
	h.inMem += n
	return true
}

func (h *Handler) release(n int64) {
	h.mu.Lock()
	h.inMem -= n
	h.mu.Unlock()
}

func (h *Handler) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

// httpError is an answer other than 200.
type httpError struct {
	code  int
	msg   string
	extra ErrorResponse // error_type, source_filename, c3d_metadata, analytics
}

func (e *httpError) Error() string { return e.msg }

func errorf(code int, format string, a ...any) *httpError {
	return &httpError{code: code, msg: fmt.Sprintf(format, a...)}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, _, err := jsonsafe.Marshal(v)
	if err != nil {
		code, b = http.StatusUnprocessableEntity, []byte(`{"success":false,"error":"the result could not be encoded as JSON"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, e *httpError) {
	out := e.extra
	out.Success, out.Error, out.Detail = false, e.msg, e.msg
	writeJSON(w, e.code, out)
}

// form is the request's fields: multipart values first, then the query
// string (so that POST /upload?store=true works as well).
type form struct {
	values map[string]string
	query  map[string][]string
}

func (f *form) get(name string) (string, bool) {
	if v, ok := f.values[name]; ok {
		return strings.TrimSpace(v), true
	}
	if vs, ok := f.query[name]; ok && len(vs) > 0 {
		return strings.TrimSpace(vs[0]), true
	}
	return "", false
}

// received is the file part, spooled.
type received struct {
	name    string
	ra      io.ReaderAt
	size    int64
	cleanup func()
}

// answerTimeout is how long writing an answer may take once it is ready:
// the time an upload waited for its turn does not count against the
// server's write timeout.
const answerTimeout = 2 * time.Minute

// ServeHTTP handles one upload.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	res, held, err := h.handle(w, r)
	if held {
		// An answer with signals is as large as the recording many times
		// over: it is encoded and written within the analysis turn, so
		// that only Concurrent such answers exist at once.
		defer func() { <-h.sem }()
	}
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(answerTimeout))
	if err != nil {
		var he *httpError
		if !errors.As(err, &he) {
			he = errorf(http.StatusServiceUnavailable, "%v", err)
		}
		if he.code >= 500 {
			h.log().Warn("upload failed", "error", he.msg)
		}
		writeError(w, he)
		return
	}
	w.Header().Add("Vary", "Accept-Encoding")
	b, replaced, err := jsonsafe.Marshal(res)
	if err == nil && len(replaced) > 0 {
		// Metadata with non-finite numbers is left out when read; this is
		// the last line of defence for anything computed: null, and said.
		h.log().Warn("upload answer had non-finite numbers; null instead", "fields", replaced)
		res.Metadata.Warnings = append(append([]string(nil), res.Metadata.Warnings...), jsonsafe.Warnings("result", replaced)...)
		b, _, err = jsonsafe.Marshal(res)
	}
	if err != nil {
		writeError(w, errorf(http.StatusUnprocessableEntity, "the result could not be encoded as JSON: %v", err))
		return
	}
	if !acceptsGzip(r) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.Write(append(b, '\n'))
		return
	}
	// Signals make answers of tens of megabytes (60 MB for a 175 s
	// recording): compress whenever the client accepts it.
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Encoding", "gzip")
	w.WriteHeader(http.StatusOK)
	zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
	zw.Write(append(b, '\n'))
	zw.Close()
}

func acceptsGzip(r *http.Request) bool {
	for part := range strings.SplitSeq(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(strings.TrimSpace(q), " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// handle reads, analyses and (with store) stores the upload. held reports
// that the analysis turn is still taken (an answer with signals), for the
// caller to give back once the answer is written.
func (h *Handler) handle(w http.ResponseWriter, r *http.Request) (res *AnalysisResponse, held bool, err error) {
	res, err = h.handleTurn(w, r, &held)
	return res, held, err
}

func (h *Handler) handleTurn(w http.ResponseWriter, r *http.Request, held *bool) (*AnalysisResponse, error) {
	limit := h.limit()
	if r.ContentLength > limit+formSlack {
		return nil, tooLarge(limit)
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, errorf(http.StatusUnsupportedMediaType, "the body must be multipart/form-data with the recording in the field \"file\"")
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit+formSlack)
	f := &form{values: map[string]string{}, query: r.URL.Query()}
	file, err := h.readForm(r, f, limit)
	if file != nil {
		defer file.cleanup()
	}
	if err != nil {
		return nil, err
	}
	opt, err := parseOptions(f)
	if err != nil {
		return nil, err
	}
	if file == nil {
		return nil, errorf(http.StatusBadRequest, "no file: send the recording in the multipart field \"file\"")
	}
	if file.name == "" {
		return nil, errorf(http.StatusBadRequest, "the file part has no file name")
	}
	if !strings.HasSuffix(strings.ToLower(file.name), ".c3d") {
		return nil, errorf(http.StatusUnprocessableEntity, "%q is not a C3D file (.c3d extension required)", file.name)
	}
	var key string
	if opt.store {
		if key, err = objectKey(opt.patient, file.name); err != nil {
			return nil, err
		}
	}

	select {
	case h.sem <- struct{}{}:
	case <-r.Context().Done():
		return nil, errorf(httperr.StatusClientClosed, "the client went away")
	}
	res, err := h.analyse(r.Context(), file, opt)
	if err == nil && opt.includeSignals {
		*held = true
	} else {
		<-h.sem
	}
	if err != nil {
		return nil, err
	}
	if opt.store {
		if err := h.store(r.Context(), file, key, opt, res); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func tooLarge(limit int64) *httpError {
	return errorf(http.StatusRequestEntityTooLarge, "file too large: the limit is %s", mib(limit))
}

func mib(n int64) string {
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', -1, 64) + " MiB"
}

// readForm streams the multipart body: fields into f, the "file" part into
// memory or a temporary file, counting its bytes against the limit.
func (h *Handler) readForm(r *http.Request, f *form, limit int64) (*received, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "reading the multipart body: %v", err)
	}
	var file *received
	parts, fieldBytes := 0, 0
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return file, nil
		}
		if err != nil {
			return file, bodyError(err, limit)
		}
		if parts++; parts > maxParts {
			part.Close()
			return file, errorf(http.StatusBadRequest, "too many form parts: at most %d are accepted", maxParts)
		}
		name := part.FormName()
		switch {
		case name == "file":
			if file != nil {
				part.Close()
				return file, errorf(http.StatusBadRequest, "more than one \"file\" part")
			}
			file, err = h.spool(part, limit, r.ContentLength)
			part.Close()
			if err != nil {
				return file, err
			}
		case name != "":
			b, err := io.ReadAll(io.LimitReader(part, maxField+1))
			part.Close()
			if err != nil {
				return file, bodyError(err, limit)
			}
			if len(b) > maxField {
				return file, errorf(http.StatusBadRequest, "form field %q is longer than %d bytes", name, maxField)
			}
			if fieldBytes += len(b); fieldBytes > maxFields {
				return file, errorf(http.StatusRequestEntityTooLarge, "form fields too large: at most %s together", mib(maxFields))
			}
			if _, dup := f.values[name]; !dup {
				f.values[name] = string(b)
			}
		default:
			part.Close()
		}
	}
}

func bodyError(err error, limit int64) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooLarge(limit)
	}
	return errorf(http.StatusBadRequest, "reading the multipart body: %v", err)
}

// spool copies the part into memory, or into a temporary file past
// InMemory bytes or when the memory budget is spent. hint is the request's
// Content-Length (-1 when unknown): the file part is no longer than it.
func (h *Handler) spool(part *multipart.Part, limit, hint int64) (*received, error) {
	inMem := h.InMemory
	if inMem <= 0 {
		inMem = DefaultInMemory
	}
	rec := &received{name: part.FileName(), cleanup: func() {}}
	size := inMem + 1
	if hint >= 0 && hint < inMem {
		size = hint + 1
	}
	var head []byte
	if h.reserve(size) {
		buf := make([]byte, size)
		n, err := io.ReadFull(part, buf)
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF: // the whole part
			if int64(n) > limit {
				h.release(size)
				return nil, tooLarge(limit)
			}
			rec.ra, rec.size, rec.cleanup = bytes.NewReader(buf[:n]), int64(n), func() { h.release(size) }
			return rec, nil
		case err != nil:
			h.release(size)
			return nil, bodyError(err, limit)
		}
		head = buf // full: the rest goes to disk after it
		defer func() {
			if head != nil {
				h.release(size)
			}
		}()
	}
	tmp, err := os.CreateTemp("", "emgd-upload-*.c3d")
	if err != nil {
		return nil, errorf(http.StatusServiceUnavailable, "no room for the upload: %v", err)
	}
	rec.cleanup = func() { tmp.Close(); os.Remove(tmp.Name()) }
	n := int64(len(head))
	if _, err := tmp.Write(head); err != nil {
		return rec, errorf(http.StatusServiceUnavailable, "no room for the upload: %v", err)
	}
	if head != nil {
		head = nil
		h.release(size)
	}
	m, err := io.Copy(tmp, io.LimitReader(part, limit-n+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return rec, tooLarge(limit)
		}
		if _, isPath := err.(*os.PathError); isPath {
			return rec, errorf(http.StatusServiceUnavailable, "no room for the upload: %v", err)
		}
		return rec, bodyError(err, limit)
	}
	if n+m > limit {
		return rec, tooLarge(limit)
	}
	rec.ra, rec.size = tmp, n+m
	return rec, nil
}

// options are the parsed form fields.
type options struct {
	params         emg.Params
	used           map[string]any // GameSessionParameters as the old backend echoed them
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

var patientRe = regexp.MustCompile(`^P\d{1,12}$`)

func parseOptions(f *form) (*options, error) {
	o := &options{thresholdFac: defThresholdFactor, minDurationMs: defMinDurationMs, smoothing: defSmoothing}
	if v, ok := f.get("params"); ok && v != "" {
		p, err := emg.ReadParams(strings.NewReader(v))
		if err != nil {
			return nil, paramStatus("params", err)
		}
		o.params = p
	}
	p := &o.params
	num := func(name string) (*float64, error) {
		v, ok := f.get(name)
		if !ok || v == "" {
			return nil, nil
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, errorf(http.StatusBadRequest, "%s must be a number, got %q", name, v)
		}
		return &x, nil
	}
	integer := func(name string) (*int, error) {
		v, ok := f.get(name)
		if !ok || v == "" {
			return nil, nil
		}
		x, err := strconv.Atoi(v)
		if err != nil {
			return nil, errorf(http.StatusBadRequest, "%s must be an integer, got %q", name, v)
		}
		return &x, nil
	}
	boolean := func(name string) (bool, error) {
		v, ok := f.get(name)
		if !ok || v == "" {
			return false, nil
		}
		switch strings.ToLower(v) {
		case "1", "true", "yes", "on":
			return true, nil
		case "0", "false", "no", "off":
			return false, nil
		}
		return false, errorf(http.StatusBadRequest, "%s must be true or false, got %q", name, v)
	}
	unprocessable := func(name, format string, a ...any) error {
		return errorf(http.StatusUnprocessableEntity, "invalid parameter %s: %s", name, fmt.Sprintf(format, a...))
	}

	// Processing options.
	if x, err := num("threshold_factor"); err != nil {
		return nil, err
	} else if x != nil {
		p.ThresholdFactor = x
	}
	if x, err := num("min_duration_ms"); err != nil {
		return nil, err
	} else if x != nil {
		p.MinDurationMs = x
	}
	if x, err := integer("smoothing_window"); err != nil {
		return nil, err
	} else if x != nil {
		p.SmoothingWindow = x
	}
	// Session parameters.
	if x, err := num("session_mvc_value"); err != nil {
		return nil, err
	} else if x != nil {
		p.MVCGlobal = x
	}
	if x, err := num("session_mvc_threshold_percentage"); err != nil {
		return nil, err
	} else if x != nil {
		p.ThresholdPct = x
	}
	if x, err := num("contraction_duration_threshold"); err != nil {
		return nil, err
	} else if x != nil {
		p.DurationThresholdMs = x
	}
	if x, err := integer("session_expected_contractions"); err != nil {
		return nil, err
	} else if x != nil {
		if *x < 1 {
			return nil, unprocessable("session_expected_contractions", "must be at least 1, got %d", *x)
		}
		p.ExpectedContractions = x
	}
	for _, ch := range []string{"ch1", "ch2"} {
		name := "session_expected_contractions_" + ch
		x, err := integer(name)
		if err != nil {
			return nil, err
		}
		if x == nil {
			continue
		}
		if *x < 1 {
			return nil, unprocessable(name, "must be at least 1, got %d", *x)
		}
		if p.ExpectedContractionsPerChannel == nil {
			p.ExpectedContractionsPerChannel = map[string]int{}
		}
		p.ExpectedContractionsPerChannel[strings.ToUpper(ch)] = *x
	}
	if x, err := num("rpe"); err != nil {
		return nil, err
	} else if x != nil {
		p.RPE = x
	}
	if v, ok := f.get("profile"); ok && v != "" {
		p.Profile = v
	}
	if err := p.Validate(); err != nil {
		var pe *emg.ParamError
		if errors.As(err, &pe) {
			if field, ok := formField[pe.Field]; ok {
				if _, given := f.get(field); given {
					return nil, unprocessable(field, "%s", pe.Msg)
				}
			}
		}
		return nil, paramStatus("", err)
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

	var err error
	if o.includeSignals, err = boolean("include_signals"); err != nil {
		return nil, err
	}
	if o.store, err = boolean("store"); err != nil {
		return nil, err
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
		if !patientRe.MatchString(v) {
			return nil, unprocessable("patient", "must be a patient code such as P001 (P followed by digits), got %q", v)
		}
		o.patient = v
	} else if o.patientID != nil {
		if patientRe.MatchString(*o.patientID) {
			o.patient = *o.patientID
		} else if o.store {
			return nil, unprocessable("patient_id", "must be a patient code such as P001 (P followed by digits) to store the file, got %q", *o.patientID)
		}
	}
	if o.patientID == nil && o.store {
		pid := o.patient
		o.patientID = &pid
	}
	o.used = sessionParametersUsed(p)
	return o, nil
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

// sessionParametersUsed is the old backend's GameSessionParameters with the
// values the analysis used.
func sessionParametersUsed(p *emg.Params) map[string]any {
	pct := float64(defThresholdPct)
	if p.ThresholdPct != nil {
		pct = *p.ThresholdPct
	}
	dur := float64(defDurationMs)
	if p.DurationThresholdMs != nil {
		dur = *p.DurationThresholdMs
	}
	out := map[string]any{
		"session_mvc_value":                 p.MVCGlobal,
		"session_mvc_threshold_percentage":  pct,
		"session_expected_contractions":     p.ExpectedContractions,
		"session_expected_contractions_ch1": nil,
		"session_expected_contractions_ch2": nil,
		"contraction_duration_threshold":    dur,
		"session_duration_thresholds_per_muscle": func() any {
			if len(p.DurationThresholdsS) == 0 {
				return nil
			}
			return p.DurationThresholdsS
		}(),
		"channel_muscle_mapping": nil,
		"session_mvc_values": func() any {
			if len(p.MVC) == 0 {
				return nil
			}
			return p.MVC
		}(),
		"session_mvc_threshold_percentages": func() any {
			if len(p.MVCThresholdPct) == 0 {
				return nil
			}
			return p.MVCThresholdPct
		}(),
	}
	if v, ok := p.ExpectedContractionsPerChannel["CH1"]; ok {
		out["session_expected_contractions_ch1"] = v
	}
	if v, ok := p.ExpectedContractionsPerChannel["CH2"]; ok {
		out["session_expected_contractions_ch2"] = v
	}
	return out
}

var safeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// objectKey is <patient>/<sanitised file name>.
func objectKey(patient, name string) (string, error) {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = safeName.ReplaceAllString(name, "_")
	name = strings.TrimLeft(name, "._-")
	if len(name) > 200 {
		name = name[len(name)-200:]
		name = strings.TrimLeft(name, "._-")
	}
	stem := strings.TrimSuffix(strings.TrimSuffix(name, ".c3d"), ".C3D")
	if !strings.HasSuffix(strings.ToLower(name), ".c3d") || strings.Trim(stem, "._-") == "" {
		return "", errorf(http.StatusUnprocessableEntity, "the file name must have a name before its .c3d extension")
	}
	return patient + "/" + name, nil
}

// analyse runs the analysis and builds the answer; a client gone (ctx
// done) stops the analysis.
func (h *Handler) analyse(ctx context.Context, file *received, o *options) (*AnalysisResponse, error) {
	f, err := c3d.Open(file.ra, file.size)
	if err != nil {
		return nil, notC3D(file.name, err)
	}
	res, err := analysis.AnalyzeContext(ctx, file.ra, file.size, file.name, o.params, h.Analyzer)
	if err != nil && ctx.Err() != nil {
		return nil, errorf(httperr.StatusClientClosed, "the client went away")
	}
	if err != nil {
		var fe *c3d.FormatError
		if errors.As(err, &fe) {
			return nil, notC3D(file.name, err)
		}
		he := errorf(http.StatusUnprocessableEntity, "EMG analysis not possible: %v", err)
		he.extra = ErrorResponse{ErrorType: "emg_validation_failure", SourceFilename: file.name,
			C3DMetadata: analysis.ReadMetadata(f, file.name)}
		if res != nil {
			he.extra.Analytics = res.Analytics
		}
		return nil, he
	}
	md, _ := res.Metadata.(*analysis.Metadata)
	if md == nil {
		md = analysis.ReadMetadata(f, file.name)
	}
	metadata := Metadata{
		GameName: nullable(md.GameName), Level: nullable(md.Level), Duration: md.GameDuration,
		TherapistID: nullable(md.TherapistID), GroupID: nullable(md.GroupID), Time: nullable(md.Time),
		PlayerName: nullable(md.PlayerName), Score: md.GameScore, SessionParametersUsed: o.used,
		LevelName: nullable(md.LevelName), Version: nullable(md.Version), System: nullable(md.System),
		ChannelNames: md.ChannelNames, ChannelCount: md.ChannelCount, SamplingRate: md.SamplingRate,
		DurationSeconds: md.DurationSeconds, FrameCount: md.FrameCount, SamplesPerChannel: md.SamplesPerChannel,
		Warnings: md.Warnings,
	}
	now := time.Now()
	params, _ := json.Marshal(o.params)
	weights := emg.DefaultWeights
	if o.params.Weights != nil {
		weights = *o.params.Weights
	}
	scoring := ScoringConfiguration{
		WeightCompliance: weights.Compliance, WeightSymmetry: weights.Symmetry, WeightEffort: weights.Effort,
		WeightGame: weights.Game, WeightCompletion: weights.Completion, WeightIntensity: weights.Intensity,
		WeightDuration: weights.Duration,
	}
	out := &AnalysisResponse{
		Success:              true,
		FileID:               uuid.NewString(),
		Timestamp:            now.Format("20060102_150405"),
		SourceFilename:       file.name,
		Metadata:             metadata,
		Analytics:            res.Analytics,
		AvailableChannels:    res.AvailableChannels,
		EMGSignals:           map[string]signalJSON{},
		ProcessingVersion:    res.ProcessingVersion,
		UserID:               o.userID,
		SessionID:            o.sessionID,
		PatientID:            o.patientID,
		SessionParameters:    json.RawMessage(params),
		PerformanceAnalysis:  PerformanceAnalysis{Performance: res.PerformanceAnalysis, Weights: scoring},
		ScoringConfiguration: scoring,
		SessionConfiguration: sessionConfiguration(o.used),
		ProcessingParameters: ProcessingParameters{
			ThresholdFactor: o.thresholdFac, MinDurationMs: o.minDurationMs, SmoothingWindow: o.smoothing,
			Profile: profileName(o.params.Profile), ProcessingVersion: res.ProcessingVersion,
		},
		C3DParameters: C3DParameters{
			SamplingRate: md.SamplingRate, Duration: md.DurationSeconds, FrameCount: md.FrameCount,
			ChannelCount: md.ChannelCount, GameName: nullable(md.GameName), Level: nullable(md.Level),
			TherapistID: nullable(md.TherapistID), GroupID: nullable(md.GroupID),
			PlayerName: nullable(md.PlayerName), PlayerID: nil, Time: nullable(md.Time),
			ProcessingVersion: res.ProcessingVersion, ProcessedAt: now.Format(time.RFC3339), StatelessMode: !o.store,
		},
	}
	if o.includeSignals {
		sig, err := signals(f)
		if err != nil {
			return nil, notC3D(file.name, err)
		}
		out.EMGSignals = sig
	}
	return out, nil
}

func notC3D(name string, err error) *httpError {
	he := errorf(http.StatusUnprocessableEntity, "%q is not a readable C3D file: %v", name, err)
	he.extra = ErrorResponse{ErrorType: "file_corruption", SourceFilename: name}
	return he
}

func profileName(p string) string {
	if p == "" {
		return emg.ProfileGhostly.Name
	}
	return p
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// sessionConfiguration is the old backend's formatted session
// configuration: the values given, with their units converted.
func sessionConfiguration(used map[string]any) map[string]any {
	out := map[string]any{}
	if v, ok := used["session_mvc_value"].(*float64); ok && v != nil {
		out["session_mvc_value"] = *v
	}
	if v, ok := used["session_mvc_threshold_percentage"].(float64); ok {
		out["session_mvc_threshold_percentage"] = v
		out["session_mvc_threshold_decimal"] = v / 100
	}
	if v, ok := used["contraction_duration_threshold"].(float64); ok {
		out["contraction_duration_threshold"] = v
		out["contraction_duration_threshold_seconds"] = v / 1000
	}
	if v, ok := used["session_expected_contractions"].(*int); ok && v != nil {
		out["session_expected_contractions"] = *v
	}
	for _, k := range []string{"session_expected_contractions_ch1", "session_expected_contractions_ch2", "session_duration_thresholds_per_muscle"} {
		if v := used[k]; v != nil {
			out[k] = v
		}
	}
	return out
}

// floats encodes samples as a JSON array, non-finite values as null.
type floats []float64

func (x floats) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 2+len(x)*12)
	b = append(b, '[')
	for i, v := range x {
		if i > 0 {
			b = append(b, ',')
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			b = append(b, "null"...)
			continue
		}
		b = strconv.AppendFloat(b, v, 'g', -1, 64)
	}
	return append(b, ']'), nil
}

// signalJSON is one channel of emg_signals (EMGChannelSignalData).
type signalJSON struct {
	SamplingRate  float64 `json:"sampling_rate"`
	TimeAxis      floats  `json:"time_axis"`
	Data          floats  `json:"data"`
	RMSEnvelope   floats  `json:"rms_envelope"`
	ActivatedData *floats `json:"activated_data"`
	ProcessedData *floats `json:"processed_data"`
	IsProcessed   bool    `json:"is_processed,omitempty"`
}

// signals decodes every channel: each with its RMS envelope, and for each
// base's raw channel a "<base> Processed" entry holding the analytics
// envelope (its rms_envelope is the same envelope, as the old backend
// answered).
func signals(f *c3d.File) (map[string]signalJSON, error) {
	fs := f.Analog.Rate
	chans := analysis.NewChannels(f.Analog.Labels)
	keys := chans.Keys
	n := f.SamplesPerChannel()
	t := make(floats, n)
	for i := range t {
		t[i] = float64(i) / fs
	}
	out := map[string]signalJSON{}
	data := make([][]float64, len(keys))
	for i, k := range keys {
		x, err := f.ReadAnalog(i)
		if err != nil {
			return nil, err
		}
		data[i] = x
		rms, err := emg.RMSEnvelope(x, fs)
		if err != nil {
			rms = nil
		}
		out[k] = signalJSON{SamplingRate: fs, TimeAxis: t, Data: x, RMSEnvelope: rms}
	}
	for base, i := range chans.Raw {
		name := base + " Processed"
		if _, clash := out[name]; clash {
			continue
		}
		env, err := emg.ProcessedEnvelope(data[i], fs)
		if err != nil {
			continue // too short to filter: the analytics report it per channel
		}
		pd := floats(env)
		s := out[keys[i]]
		s.ProcessedData = &pd
		out[keys[i]] = s
		out[name] = signalJSON{SamplingRate: fs, TimeAxis: t, Data: env, RMSEnvelope: env, IsProcessed: true}
	}
	return out, nil
}

// store saves the file as key in the upload bucket and runs phase 1 on it,
// the analysis job carrying the upload's parameters.
func (h *Handler) store(ctx context.Context, file *received, key string, o *options, res *AnalysisResponse) error {
	svc := h.Svc
	bucket := svc.Storage.DefaultBucket()
	if len(svc.Config.Buckets) > 0 && !contains(svc.Config.Buckets, bucket) {
		bucket = svc.Config.Buckets[0]
	}
	info, err := svc.Storage.Put(ctx, bucket, key, io.NewSectionReader(file.ra, 0, file.size))
	if err != nil {
		if ctx.Err() != nil {
			return errorf(httperr.StatusClientClosed, "the client went away")
		}
		return errorf(http.StatusServiceUnavailable, "storage unavailable: %v", err)
	}
	// Phase 1 reads exactly the version stored here (another upload of the
	// same name may have replaced it since), and phase 2 analyses it with
	// the upload's parameters (a session that existed already for the
	// object is analysed again with them).
	out, err := svc.Ingest(ctx, service.Event{Bucket: info.Bucket, Key: info.Key, ETag: info.ETag, Size: info.Size, Version: info.Version},
		service.WithParams(o.params))
	if err != nil {
		return errorf(httperr.Status(err), "%v", err)
	}
	if out.Ignored || out.Session == nil {
		return errorf(http.StatusServiceUnavailable, "the stored file was not taken by the pipeline: %s", out.Message)
	}
	status := string(out.Session.Status)
	if out.Created || out.Session.Status == store.StatusPending {
		status = "processing"
	}
	id := out.Session.ID
	res.SessionID = &id
	res.SessionCode = out.Session.SessionCode
	res.FileID = out.Session.ID
	res.Stored = &Stored{SessionID: out.Session.ID, SessionCode: out.Session.SessionCode,
		PatientCode: out.Session.PatientCode, Bucket: info.Bucket, ObjectKey: info.Key, ETag: info.ETag,
		Size: info.Size, AnalyticsStatus: status, Duplicate: !out.Created}
	res.C3DParameters.StatelessMode = false
	h.log().Info("upload stored", "session", out.Session.SessionCode, "key", info.Key, "duplicate", !out.Created)
	return nil
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}
