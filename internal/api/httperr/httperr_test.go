package httperr_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"testing"

	"emgd/internal/api/httperr"
	"emgd/internal/auth"
	"emgd/internal/service"
	"emgd/internal/storage"
)

// failingAuditor cannot write the trail, for the reason it holds.
type failingAuditor struct{ err error }

func (a failingAuditor) Append(context.Context, auth.Entry) error { return a.err }

// auditErr is auth.Audit's error when the trail cannot be written because
// of cause.
func auditErr(t *testing.T, cause error) error {
	t.Helper()
	r := httptest.NewRequest("GET", "/sessions", nil)
	r = r.WithContext(auth.WithAuditor(r.Context(), failingAuditor{cause}))
	err := auth.Audit(r, "sessions.list", "", "")
	if err == nil {
		t.Fatal("auth.Audit with a failing auditor: no error")
	}
	return err
}

func TestStatus(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("outer: %w", err) }
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 200},
		{wrap(service.ErrBadKey), 400},
		{wrap(service.ErrObjectMissing), 404},
		{wrap(service.ErrSessionNotFound), 404},
		{wrap(storage.ErrNotFound), 404},
		{wrap(service.ErrObjectChanged), 409},
		{wrap(storage.ErrVersionGone), 409},
		{wrap(service.ErrInvalidFile), 422},
		{wrap(service.ErrInvalidParams), 422},
		{wrap(storage.ErrInvalidKey), 422},
		{wrap(context.Canceled), 499},
		{wrap(service.ErrUnavailable), 503},
		{context.DeadlineExceeded, 503},
		{errors.New("anything else"), 503},
		// The service's kind decides over a storage error it wraps.
		{fmt.Errorf("%w: %w", service.ErrBadKey, storage.ErrInvalidKey), 400},
		{fmt.Errorf("%w: %w", service.ErrUnavailable, storage.ErrNotFound), 503},
		// An audit entry not written refuses the request, whatever failed.
		{auditErr(t, errors.New("audit table unavailable")), 503},
		{auditErr(t, fmt.Errorf("store: %w", context.Canceled)), 503},
		{auditErr(t, storage.ErrNotFound), 503},
	} {
		if got := httperr.Status(tc.err); got != tc.want {
			t.Errorf("Status(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

// Message hides a 503's cause behind the given text, except an audit
// entry not written, which says so; other statuses keep the error's text.
func TestMessage(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("%w: dial tcp 10.0.0.5:5432: connection refused", service.ErrUnavailable), "database unavailable"},
		{errors.New("anything else"), "database unavailable"},
		{auditErr(t, errors.New("dial tcp 10.0.0.5:5432: connection refused")), "audit trail unavailable"},
		{fmt.Errorf("%w: no session P001S009", service.ErrSessionNotFound), "no such session: no session P001S009"},
	} {
		if got := httperr.Message(tc.err, "database unavailable"); got != tc.want {
			t.Errorf("Message(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
