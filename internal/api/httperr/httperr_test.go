package httperr_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"emgd/internal/api/httperr"
	"emgd/internal/service"
	"emgd/internal/storage"
)

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
	} {
		if got := httperr.Status(tc.err); got != tc.want {
			t.Errorf("Status(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}
