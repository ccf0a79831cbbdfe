package upload

import (
	"bytes"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"strconv"
	"strings"
)

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
