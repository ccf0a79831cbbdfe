package upload

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"

	"emgd/internal/api/httperr"
	"emgd/internal/service"
	"emgd/internal/store"
)

// safeName is built on first use (nothing at init).
var safeName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^A-Za-z0-9._-]+`) })

// objectKey is <patient>/<sanitised file name>.
func objectKey(patient, name string) (string, error) {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = safeName().ReplaceAllString(name, "_")
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
