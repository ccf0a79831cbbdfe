// Package service is emgd's two-phase pipeline. Phase 1 (Ingest) runs inside
// the request that tells of a new object (a storage webhook, an upload,
// reconcile): it reads only the header and parameter section of the C3D
// file, then creates the session and enqueues its analysis in one
// transaction. Phase 2 (Process) runs in a worker: it streams the file once,
// computing its SHA-256 and the EMG analytics, and stores only aggregates.
// Reanalyze queues a session's analysis again.
//
// The package knows no transport: callers describe objects with Event and
// parameters with emg.Params, and get sentinel errors back (ErrBadKey,
// ErrInvalidFile, ErrObjectMissing, ErrObjectChanged, ErrSessionNotFound,
// ErrInvalidParams, ErrUnavailable) for their own protocol to map.
package service

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"time"

	"emgd/c3d"
	"emgd/emg"
	"emgd/internal/analysis"
	"emgd/internal/jsonsafe"
	"emgd/internal/storage"
	"emgd/internal/store"
)

// Errors that map to HTTP statuses; test with errors.Is.
var (
	// ErrInvalidFile: the object is not a readable C3D file (422).
	ErrInvalidFile = errors.New("not a readable C3D file")
	// ErrObjectMissing: the object named by the event does not exist (404).
	ErrObjectMissing = errors.New("object not found in storage")
	// ErrBadKey: the bucket or key is not acceptable (400).
	ErrBadKey = errors.New("invalid bucket or object key")
	// ErrUnavailable: storage or database unreachable; retry later (503).
	ErrUnavailable = errors.New("temporarily unavailable")
	// ErrSessionNotFound: no session has the given id or code (404).
	ErrSessionNotFound = errors.New("no such session")
	// ErrInvalidParams: analysis parameters that cannot be used, such as an
	// unknown profile (422).
	ErrInvalidParams = errors.New("invalid analysis parameters")
)

// kindError is an error of one of the sentinel kinds above with its own
// message: errors.Is(err, kind) holds, and Error is msg alone.
type kindError struct {
	kind error
	msg  string
	err  error // the cause, if any
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.kind }
func (e *kindError) Unwrap() error        { return e.err }

func kindf(kind, cause error, format string, a ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, a...), err: cause}
}

// Event tells of one object to ingest, whatever told of it: a storage
// notification, an upload, reconcile.
type Event struct {
	Bucket string
	// Key is the object key; RawKey, when not "", is the key exactly as the
	// sender wrote it, tried when Key is not found (some senders URL-encode
	// keys, others do not).
	Key    string
	RawKey string
	// ETag is the sender's etag ("": the storage's own); Size the sender's
	// size (<= 0: the object's).
	ETag string
	Size int64
	// Version, when the caller knows it (the ObjectInfo.Version its own
	// Put returned), is the exact version of the object to ingest: phase 1
	// reads that version or fails with ErrObjectChanged, so a second
	// write of the same key in between is never taken for this one. "":
	// the current version.
	Version string
}

// IngestOption changes how Ingest treats its event.
type IngestOption func(*ingestOptions)

type ingestOptions struct {
	params json.RawMessage
}

// WithParams analyses the object with p rather than the defaults: the new
// session's job carries them, and a session that existed already for the
// object is analysed again with them (as Reanalyze, in one transaction).
// Zero parameters change nothing.
func WithParams(p emg.Params) IngestOption {
	return func(o *ingestOptions) {
		if !isZeroParams(p) {
			o.params, _ = json.Marshal(p)
		}
	}
}

func isZeroParams(p emg.Params) bool { return reflect.ValueOf(p).IsZero() }

// AnalyzeArgs are the arguments of a phase-2 job.
type AnalyzeArgs struct {
	SessionID string          `json:"session_id"`
	Params    json.RawMessage `json:"params,omitempty"` // emg.Params; empty for defaults
	// CurrentSettings analyses with the patient's settings version current
	// when the job runs, rather than the one current when the session was
	// created (a reanalysis with the current settings).
	CurrentSettings bool `json:"current_settings,omitempty"`
}

// Queue enqueues phase-2 jobs inside a store transaction, so that a session
// exists exactly when its job does.
type Queue interface {
	EnqueueTx(ctx context.Context, tx store.Tx, args AnalyzeArgs) error
}

// Config holds the pipeline's settings.
type Config struct {
	// Buckets accepted by the webhook; others are ignored. Default: the
	// storage's default bucket.
	Buckets []string
	// Analyzer runs the analytics (Workers > 1 analyses channels in parallel).
	Analyzer emg.Analyzer
	// SpoolInMemory is the largest file phase 2 holds in memory; larger ones
	// are spooled to a temporary file (default 64 MiB).
	SpoolInMemory int64
	// MaxObjectBytes is the largest object phase 2 reads (default
	// DefaultMaxObjectBytes): a larger one, whether its size is announced
	// by the storage or found while reading, fails its session at once.
	MaxObjectBytes int64
	// AnalysisNice, when above 0, runs each analysis on an OS thread whose
	// nice value is raised by this much, so that the kernel prefers phase 1
	// when the cores are short (lowprio.go).
	AnalysisNice int
	// CommitLoops is how many phase-1 transactions commit batched webhooks
	// at once (StartBatching); 0: one on SQLite, two on PostgreSQL.
	CommitLoops int
}

// DefaultMaxObjectBytes is the default Config.MaxObjectBytes, 1 GiB.
const DefaultMaxObjectBytes = 1 << 30

// ErrObjectTooLarge is returned by phase 2 for an object over
// Config.MaxObjectBytes; the session fails without a retry.
var ErrObjectTooLarge = errors.New("object too large")

// Service runs both phases.
type Service struct {
	Store   store.Store
	Storage storage.Backend
	Queue   Queue
	Config  Config
	Log     *slog.Logger
	Metrics *Metrics

	testHook  func(AnalyzeArgs)             // called at the start of each job (tests)
	spoolHook func(io.ReaderAt) io.ReaderAt // wraps each job's spooled copy (tests)

	commits chan *commitReq // set by StartBatching
	prio    priority        // phase-1 requests under way, to which analyses yield
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// Outcome of one event in phase 1.
type Outcome struct {
	Ignored bool   `json:"ignored,omitempty"`
	Message string `json:"message,omitempty"`
	// Session is set for accepted events; Created tells whether this event
	// created it.
	Session  *store.Session `json:"-"`
	Created  bool           `json:"-"`
	Metadata map[string]any `json:"-"`
}

func (s *Service) acceptsBucket(b string) bool {
	buckets := s.Config.Buckets
	if len(buckets) == 0 {
		buckets = []string{s.Storage.DefaultBucket()}
	}
	for _, x := range buckets {
		if x == b {
			return true
		}
	}
	return false
}

// Ingest is phase 1 for one event. Objects outside the watched buckets or
// not named *.c3d are ignored (Outcome.Ignored), not errors.
func (s *Service) Ingest(ctx context.Context, ev Event, opts ...IngestOption) (*Outcome, error) {
	defer s.prio.begin()()
	var o ingestOptions
	for _, opt := range opts {
		opt(&o)
	}
	out, err := s.ingest(ctx, ev, o)
	if err != nil || out.Ignored || out.Created || o.params == nil {
		return out, err
	}
	// The object's session existed already (its storage event came first):
	// analyse it again with the caller's parameters. The caller just found
	// it by its etag, so the version is not checked again.
	if err := s.requeue(ctx, out.Session, o.params); err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Service) ingest(ctx context.Context, ev Event, o ingestOptions) (*Outcome, error) {
	start := time.Now()
	if ev.RawKey == "" {
		ev.RawKey = ev.Key
	}
	switch {
	case !s.acceptsBucket(ev.Bucket):
		return &Outcome{Ignored: true, Message: fmt.Sprintf("bucket %q is not watched", ev.Bucket)}, nil
	case !strings.HasSuffix(strings.ToLower(ev.Key), ".c3d") && !strings.HasSuffix(strings.ToLower(ev.RawKey), ".c3d"):
		return &Outcome{Ignored: true, Message: "not a .c3d object"}, nil
	}
	if err := storage.ValidateBucket(ev.Bucket); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	key := ev.Key
	if err := storage.ValidateKey(key); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	etag := ev.ETag

	// A known object version answers at once, without touching storage.
	if etag != "" {
		if sess, err := s.Store.GetSessionByObject(ctx, ev.Bucket, key, etag); err == nil {
			if sess.Status == store.StatusRejected {
				return nil, rejectedError(sess)
			}
			return s.existing(sess), nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%w: database: %v", ErrUnavailable, err)
		}
	}

	if ev.Version != "" {
		return s.ingestVersion(ctx, ev, o, start)
	}
	obj, err := s.Storage.Open(ctx, ev.Bucket, key)
	if errors.Is(err, storage.ErrNotFound) && ev.RawKey != key && storage.ValidateKey(ev.RawKey) == nil {
		// Some senders URL-encode keys and others do not: try the raw key.
		if o2, err2 := s.Storage.Open(ctx, ev.Bucket, ev.RawKey); err2 == nil {
			obj, err, key = o2, nil, ev.RawKey
		}
	}
	if err != nil {
		return nil, classifyStorage(err)
	}
	return s.create(ctx, ev, key, obj, o, start, classifyStorage)
}

// ingestVersion is phase 1 of exactly the version ev names.
func (s *Service) ingestVersion(ctx context.Context, ev Event, o ingestOptions, start time.Time) (*Outcome, error) {
	changed := func(err error) error {
		if errors.Is(err, storage.ErrVersionGone) {
			return kindf(ErrObjectChanged, err, "the object %s/%s was replaced by another version before its session was created (another upload of the same name?); the newer version has its own session", ev.Bucket, ev.Key)
		}
		return classifyStorage(err)
	}
	obj, err := s.Storage.OpenVersion(ctx, ev.Bucket, ev.Key, ev.Version)
	if err != nil {
		return nil, changed(err)
	}
	return s.create(ctx, ev, ev.Key, obj, o, start, changed)
}

// create reads the opened object's header and creates its session (or finds
// the one that exists) with its job. It closes obj. storageErr classifies
// storage errors met while reading.
func (s *Service) create(ctx context.Context, ev Event, key string, obj storage.Object, o ingestOptions, start time.Time, storageErr func(error) error) (*Outcome, error) {
	defer obj.Close()
	etag, size := ev.ETag, ev.Size
	info := obj.Info()
	if etag == "" { // the sender's etag when given, else the store's own
		etag = info.ETag
	}
	if size <= 0 {
		size = obj.Size()
	}
	if etag == "" {
		etag = fmt.Sprintf("%d-%d", info.Size, info.ModTime.UnixNano())
	}
	f, err := c3d.Open(obj, obj.Size())
	if err != nil {
		var fe *c3d.FormatError
		if errors.As(err, &fe) {
			ns := store.NewSession{Bucket: ev.Bucket, ObjectKey: key, ETag: etag, FileSizeBytes: &size, StorageVersion: info.Version}
			if t, ok := RecordedAt(key, ""); ok { // from the file name, for the clinic to tell which one
				ns.RecordedAt = &t
			}
			return nil, s.reject(ctx, ns, err.Error())
		}
		return nil, storageErr(err)
	}
	md := BuildMetadata(f, ev.Bucket, key, etag, obj.Size())
	mdJSON, replaced, err := jsonsafe.Marshal(md)
	if err != nil {
		return nil, err
	}
	if len(replaced) > 0 {
		// ReadMetadata leaves non-finite numbers out; anything else of the
		// kind is null, with a warning, rather than a webhook failing for ever.
		ws, _ := md["warnings"].([]string)
		md["warnings"] = append(ws, jsonsafe.Warnings("metadata", replaced)...)
		if mdJSON, _, err = jsonsafe.Marshal(md); err != nil {
			return nil, err
		}
		md = map[string]any{}
		_ = json.Unmarshal(mdJSON, &md)
	}
	var recorded *time.Time
	if v, ok := md["recorded_at"].(string); ok {
		if t, err := time.Parse(store.RecordedAtLayout, v); err == nil {
			recorded = &t
		}
	}
	phase1 := time.Since(start)
	timings, _ := json.Marshal(map[string]float64{"phase1_ms": float64(phase1.Microseconds()) / 1000})
	var out Outcome
	out.Session, out.Created, err = s.commit(ctx, store.NewSession{
		Bucket: ev.Bucket, ObjectKey: key, ETag: etag, FileSizeBytes: &size,
		Metadata: mdJSON, RecordedAt: recorded, Timings: timings,
		// The storage's own identity of the version read here, beside the
		// sender's etag (which may be in another form): phase 2 reads
		// exactly this version.
		StorageVersion: info.Version,
	}, o.params)
	if err != nil {
		if errors.Is(err, store.ErrInvalidInput) {
			return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
		}
		return nil, fmt.Errorf("%w: database: %v", ErrUnavailable, err)
	}
	if !out.Created {
		if out.Session.Status == store.StatusRejected {
			return nil, rejectedError(out.Session)
		}
		return s.existing(out.Session), nil
	}
	md["patient_code"] = out.Session.PatientCode
	out.Metadata = md
	if s.Metrics != nil {
		s.Metrics.Phase.WithLabelValues("phase1").Observe(time.Since(start).Seconds())
	}
	s.log().Info("session created", "session", out.Session.SessionCode, "patient", out.Session.PatientCode, "phase1_ms", phase1.Milliseconds())
	return &out, nil
}

// Reanalysis is what Reanalyze queued.
type Reanalysis struct {
	// Session is the session, now pending.
	Session *store.Session
	// Params are the parameters its job carries, as JSON.
	Params json.RawMessage
}

// FindSession returns the session with this id or code: ErrSessionNotFound
// when there is none (or ref cannot name one), ErrUnavailable when the
// database cannot answer.
func (s *Service) FindSession(ctx context.Context, ref string) (*store.Session, error) {
	return LookupSession(ctx, s.Store, ref)
}

// LookupSession is FindSession on st, for readers that hold a store but no
// Service.
func LookupSession(ctx context.Context, st store.Store, ref string) (*store.Session, error) {
	sess, err := st.FindSession(ctx, ref)
	switch {
	case errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidInput):
		return nil, kindf(ErrSessionNotFound, err, "no session %q", ref)
	case err != nil:
		return nil, fmt.Errorf("%w: database: %v", ErrUnavailable, err)
	}
	return sess, nil
}

// Reanalyze queues the analysis of the session ref (its id or code) again
// with params: the session goes back to pending and its job is enqueued in
// one transaction. It fails with ErrInvalidParams for parameters no
// profile accepts, ErrSessionNotFound, ErrObjectChanged when the version of
// the object the session describes was overwritten (phase 2 reads only that
// version; the newer one has its own session), ErrUnavailable when the
// database cannot answer. By default the job merges params over the
// patient's settings version current when the session was created;
// WithCurrentSettings takes the patient's current version instead.
func (s *Service) Reanalyze(ctx context.Context, ref string, params emg.Params, opts ...ReanalyzeOption) (*Reanalysis, error) {
	var o reanalyzeOptions
	for _, opt := range opts {
		opt(&o)
	}
	if _, err := emg.LookupProfile(params.Profile); err != nil {
		return nil, kindf(ErrInvalidParams, err, "%s", err.Error())
	}
	canon, err := json.Marshal(params)
	if err != nil {
		return nil, kindf(ErrInvalidParams, err, "%s", err.Error())
	}
	sess, err := s.FindSession(ctx, ref)
	if err != nil {
		return nil, err
	}
	if sess.Status == store.StatusRejected {
		return nil, kindf(ErrInvalidFile, nil, "session %s is a rejected recording (%s): it cannot be analysed; upload the recording again", sess.SessionCode, sess.Error)
	}
	if sess.StorageVersion != "" {
		// A storage that cannot answer now leaves the check to phase 2.
		if info, err := s.Storage.Stat(ctx, sess.Bucket, sess.ObjectKey); err == nil && info.Version != sess.StorageVersion {
			sup := ""
			if sess.SupersededBy != "" {
				sup = " (" + sess.SupersededBy + ")"
			}
			return nil, fmt.Errorf("%w; the newer version has its own session%s", ErrObjectChanged, sup)
		}
	}
	if err := s.requeueArgs(ctx, sess, AnalyzeArgs{SessionID: sess.ID, Params: canon, CurrentSettings: o.currentSettings}); err != nil {
		return nil, err
	}
	return &Reanalysis{Session: sess, Params: canon}, nil
}

// requeue sets the session pending and enqueues its job with params, in one
// transaction, and marks sess pending.
func (s *Service) requeue(ctx context.Context, sess *store.Session, params json.RawMessage) error {
	return s.requeueArgs(ctx, sess, AnalyzeArgs{SessionID: sess.ID, Params: params})
}

// requeueArgs is requeue of a job with args.
func (s *Service) requeueArgs(ctx context.Context, sess *store.Session, args AnalyzeArgs) error {
	if err := s.requeueJobs(ctx, []AnalyzeArgs{args}); err != nil {
		return fmt.Errorf("%w: database: %v", ErrUnavailable, err)
	}
	sess.Status = store.StatusPending
	return nil
}

// requeueJobs sets the session of each job pending and enqueues the jobs,
// all in one transaction (several jobs in one call on a ManyQueue).
func (s *Service) requeueJobs(ctx context.Context, args []AnalyzeArgs) error {
	return s.Store.InTx(ctx, func(tx store.Tx) error {
		for _, a := range args {
			if _, err := tx.SetStatus(ctx, a.SessionID, store.StatusUpdate{Status: store.StatusPending}); err != nil {
				return err
			}
		}
		if mq, ok := s.Queue.(ManyQueue); ok && len(args) > 1 {
			return mq.EnqueueManyTx(ctx, tx, args)
		}
		for _, a := range args {
			if err := s.Queue.EnqueueTx(ctx, tx, a); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Service) existing(sess *store.Session) *Outcome {
	md := map[string]any{}
	_ = json.Unmarshal(sess.Metadata, &md)
	return &Outcome{Session: sess, Metadata: md}
}

func classifyStorage(err error) error {
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return fmt.Errorf("%w: %v", ErrObjectMissing, err)
	case errors.Is(err, storage.ErrInvalidKey):
		return fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	return fmt.Errorf("%w: storage: %v", ErrUnavailable, err)
}

// BuildMetadata is the session metadata phase 1 answers with and stores.
func BuildMetadata(f *c3d.File, bucket, key, etag string, size int64) map[string]any {
	m := analysis.ReadMetadata(f, path.Base(key))
	game := map[string]any{"name": nilIfEmpty(m.GameName), "level": nilIfEmpty(m.Level), "player": nilIfEmpty(m.PlayerName), "version": nilIfEmpty(m.Version), "score": nil}
	if m.GameScore != nil {
		game["score"] = *m.GameScore
	}
	out := map[string]any{
		"channel_names":       m.ChannelNames,
		"channel_count":       m.ChannelCount,
		"sampling_rate":       m.SamplingRate,
		"duration_seconds":    m.DurationSeconds,
		"frame_count":         m.FrameCount,
		"samples_per_channel": m.SamplesPerChannel,
		"file_size_bytes":     size,
		"bucket":              bucket,
		"object_key":          key,
		"etag":                etag,
		"patient_code":        store.PatientCodeFromKey(key),
		"recorded_at":         nil,
		"game":                game,
	}
	if t, ok := RecordedAt(key, m.Time); ok {
		out["recorded_at"] = t.Format(store.RecordedAtLayout)
	}
	if len(m.Warnings) > 0 {
		out["warnings"] = m.Warnings // the file's, and parameters left out
	}
	return out
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

var fileTimeRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(\d{4})(\d{2})(\d{2})_(\d{2})-(\d{2})-(\d{2})`)
})

// RecordedAt is the recording's local wall-clock time: the file name's
// YYYYMMDD_HH-MM-SS, else INFO:TIME as analysis.Metadata.Time gives it
// ("YYYY-MM-DD HH:MM").
func RecordedAt(key, infoTime string) (time.Time, bool) {
	if m := fileTimeRe().FindStringSubmatch(path.Base(key)); m != nil {
		if t, err := time.Parse("20060102150405", m[1]+m[2]+m[3]+m[4]+m[5]+m[6]); err == nil {
			return t, true
		}
	}
	if t, err := time.Parse("2006-01-02 15:04", infoTime); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// PermanentError marks a phase-2 failure that retrying cannot fix (an
// invalid file or parameters): the job is not retried.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Process is phase 2: analyse the session's file with the given parameters
// and store the aggregates. Transient errors (storage, database) are
// returned for the job to retry; a file or parameters that cannot be analysed
// mark the session failed and return a *PermanentError.
func (s *Service) Process(ctx context.Context, args AnalyzeArgs) error {
	start := time.Now()
	sess, err := s.Store.GetSession(ctx, args.SessionID)
	if errors.Is(err, store.ErrNotFound) {
		return &PermanentError{fmt.Errorf("session %s does not exist", args.SessionID)}
	}
	if err != nil {
		return err
	}
	// The patient's settings current when the session was created, under
	// the explicit parameters, without the settings' values for channels
	// this recording does not have (settings.go): the recording's labels
	// as phase 1 read them from exactly this version, else from the file
	// once read.
	settings, err := s.sessionSettings(ctx, sess, args.CurrentSettings)
	if err != nil {
		return err // the database: retried
	}
	labels := metadataLabels(sess)
	var rawParams json.RawMessage
	var warnings []string
	var params emg.Params
	merge := func() error {
		var err error
		if rawParams, warnings, err = mergeParams(settings, args.Params, labels); err != nil {
			return s.fail(ctx, sess, err)
		}
		params = emg.Params{}
		if len(rawParams) > 0 {
			if params, err = emg.ReadParams(bytes.NewReader(rawParams)); err != nil {
				return s.fail(ctx, sess, fmt.Errorf("parameters: %w", err))
			}
		}
		return nil
	}
	if err := merge(); err != nil {
		return err
	}
	if sess.Status == store.StatusCompleted && s.analysedWith(ctx, sess.ID, rawParams, params) {
		// The job ran to the end before, but its process died before the
		// queue recorded it as done, and it was rescued: nothing to redo,
		// and the session must not go back to processing.
		s.log().Info("session already analysed with these parameters", "session", sess.SessionCode)
		return nil
	}
	if _, err := s.Store.SetStatus(ctx, sess.ID, store.StatusUpdate{Status: store.StatusProcessing}); err != nil {
		return err
	}
	// A file over the limits is refused from its header, read by ranges (a
	// few KB), before the whole object is copied.
	if err := s.refuseEarly(ctx, sess); err != nil {
		return s.fail(ctx, sess, err)
	}
	// Exactly the version phase 1 read ("" for sessions made before it was
	// recorded: the current object).
	body, info, err := s.Storage.GetVersion(ctx, sess.Bucket, sess.ObjectKey, sess.StorageVersion)
	if errors.Is(err, storage.ErrVersionGone) {
		return s.fail(ctx, sess, objectChanged(sess, err))
	}
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("%w: %s/%s", ErrObjectMissing, sess.Bucket, sess.ObjectKey)
	}
	if err != nil {
		return err
	}
	// The copy (hashed) and the analysis are phase 2's computation: they run
	// at low priority (lowprio.go); its database reads and writes do not, so
	// a descheduled low-priority thread never holds the database's writer.
	var ra io.ReaderAt
	var size int64
	var sum string
	var cleanup func()
	err = lowPriority(s.Config.AnalysisNice, func() (err error) {
		ra, size, sum, cleanup, err = s.spool(body, info.Size)
		return err
	})
	body.Close()
	if errors.Is(err, storage.ErrVersionGone) {
		return s.fail(ctx, sess, objectChanged(sess, err))
	}
	if errors.Is(err, ErrObjectTooLarge) {
		return s.fail(ctx, sess, err)
	}
	if err != nil {
		return err
	}
	defer cleanup()
	if s.spoolHook != nil {
		ra = s.spoolHook(ra)
	}
	// The copy's header and parameter section, read once: the labels (when
	// the metadata lacks them), the therapist and the analysis all come
	// from f. A copy that cannot be opened is failed by the analysis below
	// with openErr.
	f, openErr := c3d.Open(ra, size)
	therapist := ""
	if openErr == nil {
		therapist = therapistOf(f)
		if labels == nil && settings != nil {
			if labels = f.Analog.Labels; labels != nil {
				if err := merge(); err != nil {
					return err
				}
			}
		}
	}
	read := time.Since(start)
	// The scores' weights: the job's parameters', else the patient's
	// settings', custom or the active scoring configuration's (scoring.go),
	// recorded with the scores. The merged parameters hold the job's
	// weights, else the settings' (a top-level field of the settings that
	// the job's parameters do not give), and ReadParams has validated them:
	// they are the first two steps' answer whenever they are set.
	scoring, err := s.ScoringWeights(ctx, params.Weights, WeightsFor{Patient: sess.PatientCode,
		Therapist: therapist, Settings: settings})
	var res *emg.Result
	if err == nil {
		params.Weights = &scoring.Weights
		err = lowPriority(s.Config.AnalysisNice, func() (err error) {
			if openErr != nil {
				return openErr
			}
			res, err = analysis.AnalyzeOpen(yieldingContext{ctx, &s.prio}, f, path.Base(sess.ObjectKey), params, s.Config.Analyzer) // yields to phase 1 (yield.go)
			return err
		})
	} else if ctx.Err() == nil {
		return err // the database: retried
	}
	if err != nil && ctx.Err() != nil {
		// Stopped, not the file's fault: the job is retried (or gives up
		// with this message on its last attempt).
		return fmt.Errorf("the analysis was stopped before it finished (%w): the job ran out of time (--job-timeout) or the worker is stopping", ctx.Err())
	}
	if err != nil {
		return s.fail(ctx, sess, err)
	}
	stored := Summary(res)
	if settings != nil {
		stored.SettingsVersion = settings.Version
	}
	stored.Warnings = warnings
	summary, replaced, err := jsonsafe.Marshal(stored)
	if err != nil {
		return s.fail(ctx, sess, err)
	}
	var scores []byte
	var replacedScores []string
	if res.PerformanceAnalysis == nil {
		scores = []byte("null")
	} else {
		scores, replacedScores, _ = jsonsafe.Marshal(StoredScores{Performance: res.PerformanceAnalysis, ScoringConfigID: nullableID(scoring.ConfigID)})
	}
	if r := append(replaced, replacedScores...); len(r) > 0 {
		s.log().Warn("analytics not finite, stored as null", "session", sess.SessionCode, "fields", r)
	}
	paramsJSON := rawParams // exactly the parameters used
	if len(paramsJSON) == 0 {
		paramsJSON = json.RawMessage("{}")
	}
	total := time.Since(start)
	timings, _ := json.Marshal(map[string]float64{"phase2_read_ms": ms(read), "phase2_ms": ms(total)})
	fileSize := size
	err = s.Store.InTx(ctx, func(tx store.Tx) error {
		if _, err := tx.SaveAnalysis(ctx, store.AnalysisResult{SessionID: sess.ID, ProcessingVersion: res.ProcessingVersion,
			Params: paramsJSON, AnalyticsSummary: summary, Scores: scores}); err != nil {
			return err
		}
		_, err := tx.SetStatus(ctx, sess.ID, store.StatusUpdate{Status: store.StatusCompleted, Timings: timings, FileSHA256: sum, FileSizeBytes: &fileSize})
		return err
	})
	if err != nil {
		if errors.Is(err, store.ErrInvalidInput) {
			return s.fail(ctx, sess, err)
		}
		return err
	}
	if s.Metrics != nil {
		s.Metrics.Phase.WithLabelValues("phase2").Observe(total.Seconds())
	}
	s.log().Info("session analysed", "session", sess.SessionCode, "version", res.ProcessingVersion, "phase2_ms", total.Milliseconds())
	return nil
}

// ErrObjectChanged: the object was overwritten after the session was
// created; the version the session describes is gone (phase 2 fails the
// session without retrying; the newer version has its own session).
var ErrObjectChanged = errors.New("the object changed after this session was created")

func objectChanged(sess *store.Session, err error) error {
	return fmt.Errorf("%w (%v); the newer version has its own session", ErrObjectChanged, err)
}

// analysedWith reports whether the session's current analysis was made
// with these parameters by the current processing version.
func (s *Service) analysedWith(ctx context.Context, sessionID string, raw json.RawMessage, params emg.Params) bool {
	prof, err := emg.LookupProfile(params.Profile)
	if err != nil {
		return false
	}
	if len(raw) == 0 {
		raw = json.RawMessage("{}")
	}
	hash, err := store.ParamsHash(raw)
	if err != nil {
		return false
	}
	a, err := s.Store.CurrentAnalysis(ctx, sessionID)
	return err == nil && a.ProcessingVersion == prof.ProcessingVersion() && a.ParamsHash == hash
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Fail marks a session failed with err's message (used when a job gives up).
func (s *Service) Fail(ctx context.Context, sessionID string, err error) error {
	_, serr := s.Store.SetStatus(ctx, sessionID, store.StatusUpdate{Status: store.StatusFailed, Error: err.Error()})
	if s.Metrics != nil {
		s.Metrics.Failures.Inc()
	}
	return serr
}

func (s *Service) fail(ctx context.Context, sess *store.Session, err error) error {
	s.log().Warn("analysis failed", "session", sess.SessionCode, "error", err)
	if serr := s.Fail(ctx, sess.ID, err); serr != nil {
		return serr // the database is the problem: retry
	}
	return &PermanentError{err}
}

// spool reads the stream once, hashing it, into memory or (when larger than
// the in-memory limit) a temporary file, and returns random access to it.
// size is what the storage announces and may be wrong: memory is bounded by
// the in-memory limit and disk by Config.MaxObjectBytes whatever it says.
func (s *Service) spool(r io.Reader, size int64) (io.ReaderAt, int64, string, func(), error) {
	limit := s.Config.SpoolInMemory
	if limit <= 0 {
		limit = 64 << 20
	}
	maxObject := s.Config.MaxObjectBytes
	if maxObject <= 0 {
		maxObject = DefaultMaxObjectBytes
	}
	tooLarge := func(what string, n int64) error {
		lim := fmt.Sprintf("%d bytes", maxObject)
		if maxObject%(1<<20) == 0 {
			lim = fmt.Sprintf("%d MiB", maxObject>>20)
		}
		return fmt.Errorf("%w: the object %s %d bytes, over the limit of %s (--max-object-mb); it is not analysed", ErrObjectTooLarge, what, n, lim)
	}
	if size > maxObject {
		return nil, 0, "", nil, tooLarge("has", size)
	}
	limit = min(limit, maxObject)
	h := sha256.New()
	r = &yieldingReader{r: r, ctx: context.Background(), p: &s.prio} // bounded waits (yield.go)
	tee := io.TeeReader(io.LimitReader(r, maxObject+1), h)
	var head []byte
	if size >= 0 && size <= limit {
		// Room for the announced size and the read that finds its end, so
		// that the buffer never grows (doubling a 3 MB copy cost more CPU
		// than the webhook beside it).
		b := bytes.NewBuffer(spoolBuffer(size + bytes.MinRead))
		n, err := io.Copy(b, io.LimitReader(tee, limit+1))
		if err != nil {
			return nil, 0, "", nil, err
		}
		if n <= limit {
			return bytes.NewReader(b.Bytes()), n, hex.EncodeToString(h.Sum(nil)), func() { putSpoolBuffer(b.Bytes()) }, nil
		}
		head = b.Bytes() // larger than announced: continue on disk
	}
	tmp, err := os.CreateTemp("", "emgd-spool-*.c3d")
	if err != nil {
		return nil, 0, "", nil, err
	}
	cleanup := func() { tmp.Close(); os.Remove(tmp.Name()) }
	if _, err := tmp.Write(head); err != nil {
		cleanup()
		return nil, 0, "", nil, err
	}
	n, err := io.Copy(tmp, tee)
	n += int64(len(head))
	if err != nil {
		cleanup()
		return nil, 0, "", nil, err
	}
	if n > maxObject {
		cleanup()
		return nil, 0, "", nil, tooLarge("holds more than", maxObject)
	}
	return tmp, n, hex.EncodeToString(h.Sum(nil)), cleanup, nil
}
