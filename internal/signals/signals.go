// Package signals serves recordings' signals on demand: the database keeps
// no time series, so charts read them from the stored C3D file when someone
// looks.
//
// A session reads exactly the version of its object that phase 1 pinned
// (store.Session.StorageVersion); once the object is replaced under the
// same key, the session's signals answer 409. Every cache and ETag is keyed
// by that version, and answers (which name their session) by the session.
//
// Memory is bounded by configuration: answers not in the cache are computed
// at most Handler.Decodes at a time, identical requests share one
// computation, a raw channel (and its RMS envelope) is reduced to max_points
// while it streams from the file, and the Processed envelope, which needs
// its whole channel, is computed once for all the requests that want it and
// cached within the byte budget. Answers carry an ETag and an immutable
// Cache-Control, gzip-compressed when accepted.
package signals

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"emgd/c3d"
	"emgd/emg"
	"emgd/internal/analysis"
	"emgd/internal/api/httperr"
	"emgd/internal/apidoc"
	"emgd/internal/auth"
	"emgd/internal/service"
	"emgd/internal/storage"
	"emgd/internal/store"

	"golang.org/x/sync/singleflight"
)

// Handler serves GET /signals/jit/{session_id}/{channel} and
// GET /signals/jit/{session_id}/channels.
type Handler struct {
	Store   store.Store
	Storage storage.Backend
	Cache   *Cache
	Log     *slog.Logger
	// MaxPoints caps every answer (0: DefaultMaxPoints); callers ask for
	// fewer with max_points.
	MaxPoints int
	// Decodes is how many answers not in the cache are computed at once
	// (0: DefaultDecodes); more requests wait for a turn. Each computation
	// holds at most about three times the channel's samples (a Processed
	// envelope: the channel, the envelope and the filter's buffer) plus its
	// answer; a raw channel streams from the file and holds only the picked
	// samples.
	Decodes int

	once      sync.Once
	slots     chan struct{}
	answers   singleflight.Group // identical requests
	envelopes singleflight.Group // Processed envelopes of one channel
}

// DefaultDecodes is the default of Handler.Decodes.
const DefaultDecodes = 2

func (h *Handler) init() {
	h.once.Do(func() {
		n := h.Decodes
		if n <= 0 {
			n = DefaultDecodes
		}
		h.slots = make(chan struct{}, n)
	})
}

// acquire waits for a decode slot, or for ctx to end.
func (h *Handler) acquire(ctx context.Context) error {
	h.init()
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Handler) release() { <-h.slots }

// shared runs fn once for all the concurrent callers with the same key
// and gives each its result. fn runs with the context of the caller that
// started it; when that caller goes away, the others start again rather
// than fail.
func (h *Handler) shared(ctx context.Context, g *singleflight.Group, key string, fn func(context.Context) (any, error)) (any, error) {
	for {
		ch := g.DoChan(key, func() (v any, err error) {
			// A panic here would end the process (DoChan re-panics in a
			// goroutine of its own): it fails the requests instead.
			defer func() {
				if p := recover(); p != nil {
					h.logger().Error("signals: panic", "panic", p, "stack", string(debug.Stack()))
					v, err = nil, &errResp{http.StatusInternalServerError, "internal error"}
				}
			}()
			v, err = fn(ctx)
			if err != nil && ctx.Err() != nil {
				err = errLeaderGone
			}
			return v, err
		})
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case res := <-ch:
			if errors.Is(res.Err, errLeaderGone) {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				continue
			}
			return res.Val, res.Err
		}
	}
}

func (h *Handler) logger() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

// errLeaderGone: the request computing a shared result went away.
var errLeaderGone = errors.New("the request computing this answer went away")

// DefaultMaxPoints caps answers without max_points: enough for every
// sample of a 10-minute 990 Hz channel, far below what would hurt a browser
// when a recording is longer.
const DefaultMaxPoints = 1_000_000

// Register adds the routes to mux, each wrapped by guard (e.g. auth).
// Each route's documentation (apidoc.Op) is in routes.go.
func (h *Handler) Register(mux apidoc.Router, guard func(http.HandlerFunc) http.HandlerFunc) {
	if guard == nil {
		guard = func(f http.HandlerFunc) http.HandlerFunc { return f }
	}
	ops := routes()
	apidoc.HandleFunc(mux, ops[0], guard(h.channels))
	apidoc.HandleFunc(mux, ops[1], guard(h.signal))
}

type errResp struct {
	code int
	msg  string
}

func (e *errResp) Error() string { return e.msg }

// answerOf is the answer to err (httperr.Status and Message): a lookup
// that failed, or an audit entry not written (auth.Audit: 503, nothing is
// served unrecorded).
func answerOf(err error) *errResp {
	return &errResp{httperr.Status(err), httperr.Message(err, "database unavailable")}
}

func fail(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprintf(w, `{"success":false,"error":%s}`+"\n", strconv.Quote(msg))
}

// recording is an opened session file.
type recording struct {
	sess    *store.Session
	obj     storage.Object
	f       *c3d.File
	chans   *analysis.Channels
	version string // file identity for caching
}

func (h *Handler) session(ctx context.Context, ref string) (*store.Session, *errResp) {
	sess, err := service.LookupSession(ctx, h.Store, ref)
	if err != nil {
		return nil, answerOf(err)
	}
	// Another patient's session than the principal's answers as an absent
	// one.
	if !auth.May(ctx, sess.PatientCode) {
		return nil, notMine(ref)
	}
	return sess, nil
}

// replaced is the answer for a session whose version of the object is no
// longer in storage: the key now holds another file (with its own session).
func replaced(sess *store.Session) *errResp {
	return &errResp{http.StatusConflict, fmt.Sprintf("the session's file %s/%s was replaced in storage after this session was created: its recording is no longer available (the new file has its own session)", sess.Bucket, sess.ObjectKey)}
}

// storageErr answers a failed storage access for sess.
func storageErr(sess *store.Session, err error) *errResp {
	switch httperr.Status(err) {
	case http.StatusConflict:
		return replaced(sess)
	case http.StatusNotFound:
		return &errResp{404, "the session's file is no longer in storage"}
	case http.StatusUnprocessableEntity:
		return &errResp{422, "the session's file cannot be read: " + err.Error()}
	}
	return &errResp{503, "storage unavailable"}
}

// objectVersion returns the storage's version of the object the session
// reads: the one phase 1 pinned, checked to be still there; for a session
// made before versions were recorded, the current one, unless phase 2
// recorded a size the object no longer has.
func (h *Handler) objectVersion(ctx context.Context, sess *store.Session) (string, *errResp) {
	info, err := h.Storage.Stat(ctx, sess.Bucket, sess.ObjectKey)
	if err != nil {
		return "", storageErr(sess, err)
	}
	if e := checkVersion(sess, info); e != nil {
		return "", e
	}
	return info.Version, nil
}

// checkVersion tells whether info (the object as found) is the session's.
func checkVersion(sess *store.Session, info storage.ObjectInfo) *errResp {
	if sess.StorageVersion != "" {
		if info.Version != sess.StorageVersion {
			return replaced(sess)
		}
		return nil
	}
	if sess.FileSHA256 != "" && sess.FileSizeBytes != nil && *sess.FileSizeBytes != info.Size {
		return replaced(sess)
	}
	return nil
}

func (h *Handler) open(ctx context.Context, ref string) (*recording, *errResp) {
	sess, e := h.session(ctx, ref)
	if e != nil {
		return nil, e
	}
	return h.openSession(ctx, sess, sess.StorageVersion)
}

// openSession opens exactly version of the session's object ("" the
// current one, for sessions made before versions were recorded). Every
// cache is keyed by the version read.
func (h *Handler) openSession(ctx context.Context, sess *store.Session, version string) (*recording, *errResp) {
	obj, err := h.Storage.OpenVersion(ctx, sess.Bucket, sess.ObjectKey, version)
	if err != nil {
		return nil, storageErr(sess, err)
	}
	if e := checkVersion(sess, obj.Info()); e != nil {
		obj.Close()
		return nil, e
	}
	f, err := c3d.Open(obj, obj.Size())
	if err != nil {
		obj.Close()
		if errors.Is(err, storage.ErrVersionGone) {
			return nil, replaced(sess)
		}
		return nil, &errResp{422, "the session's file is not a readable C3D file: " + err.Error()}
	}
	rec := &recording{sess: sess, obj: obj, f: f, chans: analysis.NewChannels(f.Analog.Labels)}
	rec.version = sess.Bucket + "/" + sess.ObjectKey + "@" + obj.Info().Version
	return rec, nil
}

// names lists the channels: every channel of the file, then each base's
// Processed envelope.
func (rec *recording) names() []string { return rec.chans.Names() }

func (h *Handler) channels(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Has("channel") {
		h.serveSignal(w, r, r.URL.Query().Get("channel"))
		return
	}
	rec, e := h.open(r.Context(), r.PathValue("session_id"))
	if e != nil {
		fail(w, e.code, e.msg)
		return
	}
	defer rec.obj.Close()
	if err := auth.Audit(r, actionChannelsRead, rec.sess.PatientCode, rec.sess.ID); err != nil {
		e := answerOf(err)
		fail(w, e.code, e.msg)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, encodeChannels(rec.sess.ID, rec.f.Analog.Rate, rec.f.Duration(), rec.names()))
}

// encodeChannels writes a ChannelsResponse.
func encodeChannels(sessionID string, rate, duration float64, names []string) string {
	var b strings.Builder
	b.WriteString(`{"success":true,"session_id":`)
	b.WriteString(strconv.Quote(sessionID))
	b.WriteString(`,"sampling_rate":`)
	b.WriteString(num(rate))
	b.WriteString(`,"duration_seconds":`)
	b.WriteString(num(duration))
	b.WriteString(`,"channels":[`)
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(n))
	}
	b.WriteString("]}\n")
	return b.String()
}

func (h *Handler) signal(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("channel")
	if q := r.URL.Query(); q.Has("channel") {
		name = q.Get("channel")
	}
	h.serveSignal(w, r, name)
}

// query holds the parsed parameters.
type query struct {
	includeRMS bool
	k          int
	maxPoints  int
	start, end float64
}

func parseQuery(r *http.Request, cap int) (query, error) {
	q := r.URL.Query()
	// The RMS envelope is included unless include_rms=false, as the old
	// backend's default was.
	out := query{includeRMS: true, k: 1, maxPoints: cap, start: 0, end: math.Inf(1)}
	if v := q.Get("include_rms"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return out, fmt.Errorf("include_rms must be true or false")
		}
		out.includeRMS = b
	}
	if v := q.Get("downsample_factor"); v != "" {
		k, err := strconv.Atoi(v)
		if err != nil || k < 1 || k > 1_000_000 {
			return out, fmt.Errorf("downsample_factor must be an integer from 1 to 1000000")
		}
		out.k = k
	}
	if v := q.Get("max_points"); v != "" {
		m, err := strconv.Atoi(v)
		if err != nil || m < 2 {
			return out, fmt.Errorf("max_points must be an integer of at least 2")
		}
		out.maxPoints = min(m, cap)
	}
	for _, p := range []struct {
		name string
		dst  *float64
	}{{"start_s", &out.start}, {"end_s", &out.end}} {
		if v := q.Get(p.name); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
				return out, fmt.Errorf("%s must be a finite number of seconds, at least 0", p.name)
			}
			*p.dst = f
		}
	}
	if out.end <= out.start {
		return out, fmt.Errorf("end_s must be greater than start_s")
	}
	return out, nil
}

func (h *Handler) serveSignal(w http.ResponseWriter, r *http.Request, name string) {
	cap := h.MaxPoints
	if cap <= 0 {
		cap = DefaultMaxPoints
	}
	q, err := parseQuery(r, cap)
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	sess, e := h.session(r.Context(), r.PathValue("session_id"))
	if e != nil {
		fail(w, e.code, e.msg)
		return
	}
	// Answers are keyed by the version of the object the session reads
	// (checked on every request, so that a replaced object answers 409 even
	// where answers are cached) and name the session: the tag and the
	// answer cache are the session's, not only the file's.
	ver, e := h.objectVersion(r.Context(), sess)
	if e != nil {
		fail(w, e.code, e.msg)
		return
	}
	etag := `"` + shortHash(answerFormat, sess.Bucket+"/"+sess.ObjectKey+"@"+ver, sess.ID, name, r.URL.Query().Encode()) + `"`
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, etag) {
		// The client shows the signal it holds: a read as well.
		if err := auth.Audit(r, actionSignalsRead, sess.PatientCode, sess.ID); err != nil {
			e := answerOf(err)
			fail(w, e.code, e.msg)
			return
		}
		w.Header().Set("ETag", etag)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	gz := strings.Contains(r.Header.Get("Accept-Encoding"), "gzip")
	respKey := etag
	if gz {
		respKey += "\x00gzip"
	}
	if body, hit := h.Cache.GetBytes(respKey); hit {
		if err := auth.Audit(r, actionSignalsRead, sess.PatientCode, sess.ID); err != nil {
			e := answerOf(err)
			fail(w, e.code, e.msg)
			return
		}
		writeBody(w, etag, gz, body)
		return
	}
	// Identical requests share one computation; each computation holds one
	// of the decode slots.
	v, err := h.shared(r.Context(), &h.answers, respKey, func(ctx context.Context) (any, error) {
		if err := h.acquire(ctx); err != nil {
			return nil, err
		}
		defer h.release()
		if body, hit := h.Cache.GetBytes(respKey); hit {
			return body, nil
		}
		body, e := h.build(ctx, sess, ver, name, q, gz)
		if e != nil {
			return nil, e
		}
		h.Cache.PutBytes(respKey, body)
		return body, nil
	})
	if err != nil {
		var e *errResp
		if errors.As(err, &e) {
			fail(w, e.code, e.msg)
		} else {
			fail(w, http.StatusServiceUnavailable, "request cancelled")
		}
		return
	}
	if err := auth.Audit(r, actionSignalsRead, sess.PatientCode, sess.ID); err != nil {
		e := answerOf(err)
		fail(w, e.code, e.msg)
		return
	}
	writeBody(w, etag, gz, v.([]byte))
}

// build computes one answer: the channel's window (see plan), its samples
// (see sources), reduced to the query's points, encoded and compressed
// when gz.
func (h *Handler) build(ctx context.Context, sess *store.Session, version, name string, q query, gz bool) ([]byte, error) {
	rec, e := h.openSession(ctx, sess, version)
	if e != nil {
		return nil, e
	}
	defer rec.obj.Close()
	p, e := plan(rec, name, q)
	if e != nil {
		return nil, e
	}
	raw, data, err := h.sources(ctx, rec, p)
	if err != nil {
		return nil, err
	}
	pts, err := reduce(ctx, p.n, p.lo, p.hi, q.k, q.maxPoints, raw, data, p.rms)
	if err != nil {
		return nil, reduceErr(ctx, sess, err)
	}
	f := rec.f
	body := encode(name, rec.sess.ID, f.Analog.Rate, f.Duration(), pts, q.k)
	if gz {
		body = gzipped(body)
	}
	return body, nil
}

// signalPlan is what one answer reads: channel ch (its Processed envelope
// when processed) of n samples, samples [lo, hi), with its RMS envelope
// when rms is not nil.
type signalPlan struct {
	ch        int
	processed bool
	n, lo, hi int
	rms       *rmsWindow
}

// plan checks that the recording can answer (an analog rate, within the
// limits analyses have), resolves the channel name and the query's time
// window; a channel that does not exist is 404, a window beyond the
// recording 400, a file that cannot be decoded 422.
func plan(rec *recording, name string, q query) (signalPlan, *errResp) {
	f := rec.f
	fs := f.Analog.Rate
	if !(fs > 0) {
		return signalPlan{}, &errResp{http.StatusUnprocessableEntity, "the file states no analog sampling rate"}
	}
	// Decoding is bounded by the limits analyses have (a Processed envelope
	// holds about 24 bytes per sample of its channel).
	if err := analysis.CheckLimits(f); err != nil {
		return signalPlan{}, &errResp{http.StatusUnprocessableEntity, err.Error()}
	}
	ch, processed, ok := rec.chans.Resolve(name)
	if !ok {
		return signalPlan{}, &errResp{http.StatusNotFound, fmt.Sprintf("no channel %q in this recording (channels: %s)", name, strings.Join(rec.names(), ", "))}
	}
	p := signalPlan{ch: ch, processed: processed, n: f.SamplesPerChannel()}
	p.lo, p.hi = window(p.n, fs, q.start, q.end)
	if p.lo >= p.n && p.n > 0 {
		return signalPlan{}, &errResp{http.StatusBadRequest, fmt.Sprintf("start_s %g is beyond the recording (%g s)", q.start, f.Duration())}
	}
	if q.includeRMS {
		if _, err := emg.RMSEnvelope(nil, fs); err != nil { // the rate's checks, nothing computed
			return signalPlan{}, &errResp{http.StatusUnprocessableEntity, "RMS envelope: " + err.Error()}
		}
		p.rms = newRMSWindow(p.n, fs)
	}
	return p, nil
}

// sources returns where plan p's samples come from: the raw channel (data
// nil) or the Processed envelope (data) with its raw channel.
//
// The raw channel comes from the cache when it is there, else streams from
// the file: only the picked samples are kept, whatever the length of the
// channel. A whole raw channel small enough (an eighth of the cache budget)
// is kept for the next requests. The Processed envelope needs its whole
// channel: it is computed once for all concurrent requests and cached.
func (h *Handler) sources(ctx context.Context, rec *recording, p signalPlan) (raw source, data *source, err error) {
	f := rec.f
	rawKey := rec.version + "\x00" + strconv.Itoa(p.ch)
	raw = source{f: f, ch: p.ch}
	if x, hit := h.Cache.Get(rawKey); hit {
		raw = memSource(x)
	}
	if p.processed {
		env, err := h.processed(ctx, rec, p.ch, rawKey, raw)
		if err != nil {
			return raw, nil, err
		}
		if !raw.inMem && env.raw != nil {
			raw = memSource(env.raw)
		}
		d := memSource(env.proc)
		return raw, &d, nil
	}
	if !raw.inMem && p.lo == 0 && p.hi == p.n && h.Cache != nil && int64(p.n)*8*8 <= h.Cache.budget {
		// A whole channel small enough is decoded in one pass and kept.
		x, err := f.ReadAnalog(p.ch)
		if err != nil {
			if errors.Is(err, storage.ErrVersionGone) {
				return raw, nil, replaced(rec.sess)
			}
			return raw, nil, &errResp{http.StatusUnprocessableEntity, "decoding the channel: " + err.Error()}
		}
		h.Cache.Put(rawKey, x)
		raw = memSource(x)
	}
	return raw, nil, nil
}

// reduceErr maps an error of reduce: an answer as it is, a cancelled
// request as its context's error, a replaced object 409, anything else a
// channel that cannot be decoded (422).
func reduceErr(ctx context.Context, sess *store.Session, err error) error {
	var e *errResp
	switch {
	case errors.As(err, &e):
		return e
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, storage.ErrVersionGone):
		return replaced(sess)
	}
	return &errResp{http.StatusUnprocessableEntity, "decoding the channel: " + err.Error()}
}

// gzipped returns body gzip-compressed.
func gzipped(body []byte) []byte {
	var buf bytes.Buffer
	zw := gzPool.Get().(*gzip.Writer)
	zw.Reset(&buf)
	zw.Write(body)
	zw.Close()
	gzPool.Put(zw)
	return buf.Bytes()
}

// envelope is a decoded channel and its Processed envelope.
type envelope struct{ raw, proc []float64 }

// processed returns the Processed envelope of channel ch (and the channel),
// from the cache or computed once for all the requests that want it.
func (h *Handler) processed(ctx context.Context, rec *recording, ch int, rawKey string, raw source) (envelope, error) {
	procKey := rawKey + "\x00processed"
	if v, hit := h.Cache.Get(procKey); hit {
		return envelope{proc: v}, nil
	}
	v, err := h.shared(ctx, &h.envelopes, procKey, func(ctx context.Context) (any, error) {
		x := raw.mem
		if !raw.inMem {
			var err error
			if x, err = rec.f.ReadAnalog(ch); err != nil {
				if errors.Is(err, storage.ErrVersionGone) {
					return nil, replaced(rec.sess)
				}
				return nil, &errResp{http.StatusUnprocessableEntity, "decoding the channel: " + err.Error()}
			}
			h.Cache.Put(rawKey, x)
		}
		proc, hit := h.Cache.Get(procKey)
		if !hit {
			var err error
			if proc, err = emg.ProcessedEnvelope(x, rec.f.Analog.Rate); err != nil {
				return nil, &errResp{http.StatusUnprocessableEntity, "Processed envelope: " + err.Error()}
			}
			h.Cache.Put(procKey, proc)
		}
		return envelope{x, proc}, nil
	})
	if err != nil {
		return envelope{}, err
	}
	return v.(envelope), nil
}

func writeBody(w http.ResponseWriter, etag string, gz bool, body []byte) {
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("ETag", etag)
	hd.Set("Cache-Control", "private, max-age=31536000, immutable")
	hd.Add("Vary", "Accept-Encoding") // beside CORS's Vary: Origin
	if gz {
		hd.Set("Content-Encoding", "gzip")
	}
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

var gzPool = sync.Pool{New: func() any {
	gz, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	return gz
}}

func shortHash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func num(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "null"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func appendNum(b []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// answerFormat is part of every ETag: a tag from a server that wrote the
// answers otherwise (before generated_at and the RMS envelope by default)
// is not taken for the current answer.
const answerFormat = "2"

// generatedAt is t as the old backend wrote generated_at (Python's
// datetime.now(timezone.utc).isoformat(): microseconds unless 0, "+00:00").
func generatedAt(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/1000 == 0 {
		return t.Format("2006-01-02T15:04:05") + "+00:00"
	}
	return t.Format("2006-01-02T15:04:05.000000") + "+00:00"
}

// encode writes the answer, a SignalResponse. time_axis is each picked
// sample's index over the sampling rate; generated_at is now (an answer
// served again from the cache keeps the time it was computed).
func encode(name, sessionID string, fs, duration float64, pts points, k int) []byte {
	per := 44
	if pts.rms != nil {
		per = 66
	}
	b := make([]byte, 0, 64+len(pts.idx)*per)
	b = append(b, `{"success":true,"session_id":`...)
	b = strconv.AppendQuote(b, sessionID)
	b = append(b, `,"channel_name":`...)
	b = strconv.AppendQuote(b, name)
	b = append(b, `,"generated_at":`...)
	b = strconv.AppendQuote(b, generatedAt(time.Now()))
	b = append(b, `,"sampling_rate":`...)
	b = appendNum(b, fs)
	b = append(b, `,"duration_seconds":`...)
	b = appendNum(b, duration)
	b = append(b, `,"downsample_factor":`...)
	b = strconv.AppendInt(b, int64(k), 10)
	b = append(b, `,"points":`...)
	b = strconv.AppendInt(b, int64(len(pts.idx)), 10)
	b = append(b, `,"time_axis":[`...)
	for j, i := range pts.idx {
		if j > 0 {
			b = append(b, ',')
		}
		b = appendNum(b, float64(i)/fs)
	}
	b = append(b, `],"data":[`...)
	for j, v := range pts.data {
		if j > 0 {
			b = append(b, ',')
		}
		b = appendNum(b, v)
	}
	b = append(b, ']')
	if pts.rms != nil {
		b = append(b, `,"rms_envelope":[`...)
		for j, v := range pts.rms {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendNum(b, v)
		}
		b = append(b, ']')
	}
	return append(b, "}\n"...)
}
