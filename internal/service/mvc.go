package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path"

	"emgd/c3d"
	"emgd/emg"
	"emgd/internal/analysis"
	"emgd/internal/storage"
	"emgd/internal/store"
)

// MVCEstimate is the MVC of each channel of a recording, estimated as
// phase 2 estimates it when no MVC is given (emg's backend_estimation:
// the 95th percentile of the channel's Processed envelope).
type MVCEstimate struct {
	// MVC is keyed by base channel ("CH1"), in signal units.
	MVC map[string]float64
	// Failed are the channels that gave no estimate, with why.
	Failed map[string]string
	// SamplingRate is the recording's analog rate in Hz.
	SamplingRate float64
}

// mvcParams are the parameters of an MVC estimate for the patient: the
// profile and validation limits of the patient's current settings, no
// MVC of any kind and a threshold of 100 %, so that each channel's MVC
// threshold is exactly the estimate.
func (s *Service) mvcParams(ctx context.Context, patient string) (emg.Params, error) {
	hundred := 100.0
	p := emg.Params{ThresholdPct: &hundred}
	set, err := s.Store.CurrentSettings(ctx, patient)
	if errors.Is(err, store.ErrNotFound) {
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("%w: database: %v", ErrUnavailable, err)
	}
	// Read leniently: a stored document that no longer reads as parameters
	// leaves the defaults.
	var doc struct {
		Profile    string                `json:"profile"`
		Validation *emg.ValidationLimits `json:"validation"`
	}
	if json.Unmarshal(set.Document, &doc) == nil {
		p.Profile, p.Validation = doc.Profile, doc.Validation
	}
	if p.Validate() != nil {
		p.Profile, p.Validation = "", nil
	}
	return p, nil
}

// EstimateMVC estimates each channel's MVC from the recording in ra (size
// bytes, named name) with the patient's profile (mvcParams). It fails with
// ErrInvalidFile when the file is not a readable C3D file, is over the
// analysis limits, or no channel gives an estimate.
func (s *Service) EstimateMVC(ctx context.Context, patient string, ra io.ReaderAt, size int64, name string) (*MVCEstimate, error) {
	p, err := s.mvcParams(ctx, patient)
	if err != nil {
		return nil, err
	}
	f, err := c3d.Open(ra, size)
	if err != nil {
		var fe *c3d.FormatError
		if errors.As(err, &fe) {
			return nil, kindf(ErrInvalidFile, err, "not a readable C3D file: %v", err)
		}
		return nil, fmt.Errorf("%w: reading the recording: %v", ErrUnavailable, err)
	}
	if err := analysis.CheckFile(f); err != nil {
		return nil, kindf(ErrInvalidFile, err, "%v", err)
	}
	res, err := analysis.AnalyzeContext(yieldingContext{ctx, &s.prio}, ra, size, name, p, s.Config.Analyzer)
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	var failed *emg.FailedError
	if err != nil && !errors.As(err, &failed) {
		return nil, kindf(ErrInvalidFile, err, "the recording cannot be analysed: %v", err)
	}
	out := &MVCEstimate{MVC: map[string]float64{}, Failed: map[string]string{}, SamplingRate: f.Analog.Rate}
	for base, ca := range res.Analytics {
		switch {
		case ca == nil:
		case ca.Errors != nil:
			out.Failed[base] = *ca.Errors
		case ca.MVCEstimationMethod != emg.MVCBackendEstimation || ca.MVC75Threshold == nil:
			out.Failed[base] = "no estimate"
		case !(*ca.MVC75Threshold > 0) || math.IsInf(*ca.MVC75Threshold, 0):
			out.Failed[base] = fmt.Sprintf("the estimate %v is not a positive number", *ca.MVC75Threshold)
		default:
			out.MVC[base] = *ca.MVC75Threshold
		}
	}
	if len(out.MVC) == 0 {
		msg := "no channel of the recording gives an MVC estimate"
		if failed != nil {
			msg += ": " + failed.Error()
		}
		return nil, kindf(ErrInvalidFile, err, "%s", msg)
	}
	return out, nil
}

// SessionMVC is EstimateMVC of exactly the version of the object the
// session describes, with its patient's profile. It fails with
// ErrInvalidFile for a rejected session, ErrObjectChanged when that
// version was overwritten, ErrObjectMissing when the object is gone,
// ErrObjectTooLarge over Config.MaxObjectBytes, ErrUnavailable when the
// storage or database cannot answer.
func (s *Service) SessionMVC(ctx context.Context, sess *store.Session) (*MVCEstimate, error) {
	if sess.Status == store.StatusRejected {
		return nil, kindf(ErrInvalidFile, nil, "session %s is a rejected recording (%s): it cannot be analysed", sess.SessionCode, sess.Error)
	}
	body, info, err := s.Storage.GetVersion(ctx, sess.Bucket, sess.ObjectKey, sess.StorageVersion)
	switch {
	case errors.Is(err, storage.ErrVersionGone):
		return nil, objectChanged(sess, err)
	case errors.Is(err, storage.ErrNotFound):
		return nil, fmt.Errorf("%w: %s/%s", ErrObjectMissing, sess.Bucket, sess.ObjectKey)
	case err != nil:
		return nil, fmt.Errorf("%w: storage: %v", ErrUnavailable, err)
	}
	ra, size, _, cleanup, err := s.spool(body, info.Size)
	body.Close()
	switch {
	case errors.Is(err, storage.ErrVersionGone):
		return nil, objectChanged(sess, err)
	case errors.Is(err, ErrObjectTooLarge):
		return nil, kindf(ErrInvalidFile, err, "%v", err)
	case err != nil:
		return nil, fmt.Errorf("%w: storage: %v", ErrUnavailable, err)
	}
	defer cleanup()
	return s.EstimateMVC(ctx, sess.PatientCode, ra, size, path.Base(sess.ObjectKey))
}
