// Package httperr is the one mapping from the errors of emgd's pipeline
// (internal/service), storage and audit trail (internal/auth) to HTTP
// statuses, shared by every handler package (api, upload, signals, oldapi,
// review). Those packages keep their own messages and answer shapes; only
// the status comes from here.
package httperr

import (
	"context"
	"errors"
	"net/http"

	"emgd/internal/auth"
	"emgd/internal/service"
	"emgd/internal/storage"
)

// StatusClientClosed is the status logged for a request whose client went
// away before the answer (nginx's 499); the client never sees it.
const StatusClientClosed = 499

// Status is the HTTP status for err:
//
//   - 400 service.ErrBadKey (a bucket or key the request named is not
//     acceptable);
//   - 404 service.ErrObjectMissing, service.ErrSessionNotFound,
//     storage.ErrNotFound;
//   - 409 service.ErrObjectChanged, storage.ErrVersionGone (the version a
//     session describes was overwritten);
//   - 422 service.ErrInvalidFile, service.ErrInvalidParams,
//     storage.ErrInvalidKey (a stored session's object cannot be read);
//   - 499 context.Canceled;
//   - 503 auth.ErrAuditUnavailable (the request's audit entry was not
//     written: nothing is served or changed unrecorded), whatever its cause
//     (a client gone away included);
//   - 503 anything else (service.ErrUnavailable: storage or database
//     unreachable, retry later).
//
// The service's kinds are tested first: they say what the request did,
// where a storage error they wrap says only what the storage met.
func Status(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, auth.ErrAuditUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, service.ErrBadKey):
		return http.StatusBadRequest
	case errors.Is(err, service.ErrObjectMissing), errors.Is(err, service.ErrSessionNotFound):
		return http.StatusNotFound
	case errors.Is(err, service.ErrObjectChanged):
		return http.StatusConflict
	case errors.Is(err, service.ErrInvalidFile), errors.Is(err, service.ErrInvalidParams):
		return http.StatusUnprocessableEntity
	case errors.Is(err, service.ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, storage.ErrVersionGone):
		return http.StatusConflict
	case errors.Is(err, storage.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, storage.ErrInvalidKey):
		return http.StatusUnprocessableEntity
	case errors.Is(err, context.Canceled):
		return StatusClientClosed
	}
	return http.StatusServiceUnavailable
}

// Message is the message to answer err with, beside Status(err): err's
// text, except for a 503, whose cause inside the server is not the
// client's business: unavailable stands for it ("database unavailable"),
// unless err is an audit entry not written (auth.ErrAuditUnavailable),
// whose text is meant for the client.
func Message(err error, unavailable string) string {
	if Status(err) == http.StatusServiceUnavailable && !errors.Is(err, auth.ErrAuditUnavailable) {
		return unavailable
	}
	return err.Error()
}
