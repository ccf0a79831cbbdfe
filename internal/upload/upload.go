// Package upload serves POST /upload: a C3D file sent as multipart form data
// is analysed at once and answered with the full result in the old backend's
// shape (EMGAnalysisResult), signals included on request. With store=true the
// file is also saved in the bucket as <patient>/<file name> and sent through
// the webhook's pipeline (phase 1 now, phase 2 in a worker), so that it
// becomes a session like any other.
package upload

import (
	"context"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"emgd/emg"
	"emgd/internal/api/httperr"
	"emgd/internal/apidoc"
	"emgd/internal/auth"
	"emgd/internal/service"
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

// Register adds POST /upload, and the old backend's POST /analysis/recalc
// and POST /mvc/calibrate, to mux, wrapped by guard (e.g. the read token).
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
	// The old backend's routes that work on an upload's answer: they share
	// its limit and analysis turns.
	apidoc.HandleFunc(mux, recalcRoute(), guard(h.recalc))
	apidoc.HandleFunc(mux, mvcRoute(), guard(h.calibrate))
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

// answerTimeout is how long writing an answer may take once it is ready,
// renewed before each channel of the signals: the time an upload waited
// for its turn does not count against the server's write timeout.
const answerTimeout = 2 * time.Minute

// ServeHTTP handles one upload.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h.serve(w, r); err != nil {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(answerTimeout))
		var he *httpError
		if !errors.As(err, &he) {
			he = errorf(http.StatusServiceUnavailable, "%v", err)
		}
		if he.code >= 500 {
			h.log().Warn("upload failed", "error", he.msg)
		}
		writeError(w, he)
	}
}

// serve reads, analyses, (with store) stores and answers the upload. The
// answer is written within the analysis turn: with signals it is as large
// as the recording many times over, streamed from the file, so that only
// Concurrent such answers are under way at once. An error is returned
// only before anything was written.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request) error {
	limit := h.limit()
	if r.ContentLength > limit+formSlack {
		return tooLarge(limit)
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		if r.ContentLength == 0 || err != nil || mt != "multipart/form-data" {
			// FastAPI: a body that is not a form has no file.
			return missingFile()
		}
		return errorf(http.StatusBadRequest, "the multipart/form-data body has no boundary")
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit+formSlack)
	f := &form{values: map[string]string{}, query: r.URL.Query()}
	file, err := h.readForm(r, f, limit)
	if file != nil {
		defer file.cleanup()
	}
	if err != nil {
		return err
	}
	opt, err := parseOptions(f)
	if err != nil {
		return err
	}
	if file == nil {
		return missingFile()
	}
	if file.name == "" {
		return errorf(http.StatusBadRequest, "the file part has no file name")
	}
	if !strings.HasSuffix(strings.ToLower(file.name), ".c3d") {
		return errorf(http.StatusBadRequest, "File must be a C3D file (.c3d extension required): %q", file.name)
	}
	var key string
	if opt.store {
		if key, err = objectKey(opt.patient, file.name); err != nil {
			return err
		}
	}
	// A patient the principal may not see answers 404 as an absent one,
	// before anything is analysed or stored.
	patients := uploadPatients(file, f, opt)
	if e := notMine(r, patients); e != nil {
		return e
	}
	// Recorded before anything is stored (nothing changes unrecorded).
	if err := auth.Audit(r, actionUpload, firstOr(patients, ""), ""); err != nil {
		return errorf(httperr.Status(err), "%v", err)
	}
	weights, configID := h.weights(r.Context(), file, opt)

	select {
	case h.sem <- struct{}{}:
	case <-r.Context().Done():
		return errorf(httperr.StatusClientClosed, "the client went away")
	}
	defer func() { <-h.sem }()
	a, err := h.analyse(r.Context(), file, opt, weights, configID)
	if err != nil {
		return err
	}
	if opt.store {
		if err := h.store(r.Context(), file, key, opt, a.res); err != nil {
			return err
		}
	}
	if !opt.includeSignals {
		a.file = nil
	}
	return h.writeAnswer(w, r, a)
}

// weights are the scores' weights as service.ScoringWeights resolves them
// (the form's params, the patient's current settings, the custom
// configuration of the recording's therapist and that patient, the active
// configuration) with the configuration's id; the old default when the
// store cannot say. The patient is the one the form names (or the stored
// file goes under).
func (h *Handler) weights(ctx context.Context, file *received, o *options) (emg.Weights, *string) {
	if h.Svc == nil || h.Svc.Store == nil {
		return emg.DefaultWeights, nil
	}
	who := service.WeightsFor{CurrentSettings: true}
	if o.store || o.patient != "P000" {
		who.Patient, who.Therapist = o.patient, service.TherapistID(file.ra, file.size)
	}
	c, err := h.Svc.ScoringWeights(ctx, o.params.Weights, who)
	if err != nil {
		if ctx.Err() == nil {
			h.log().Warn("upload: the scoring weights could not be read; default weights", "error", err)
		}
		return emg.DefaultWeights, nil
	}
	if c.ConfigID == "" {
		return c.Weights, nil
	}
	return c.Weights, &c.ConfigID
}
