package service

import (
	"context"

	"emgd/c3d"
	"emgd/internal/analysis"
	"emgd/internal/store"
)

// refuseEarly reads the header and parameter section of exactly the
// session's version of the object by ranged reads (a few kilobytes) and
// returns why the file cannot be analysed (over the analysis limits, no
// analog channels or rate: analysis.CheckFile), so that phase 2 refuses
// such a file before copying the whole object. It returns nil when the
// file passes, and also when the object cannot be opened or read here:
// the copy that follows meets the same error and treats it as before (a
// version gone fails the session with "the object changed", a storage
// error is retried).
func (s *Service) refuseEarly(ctx context.Context, sess *store.Session) error {
	obj, err := s.Storage.OpenVersion(ctx, sess.Bucket, sess.ObjectKey, sess.StorageVersion)
	if err != nil {
		return nil
	}
	defer obj.Close()
	f, err := c3d.Open(obj, obj.Size())
	if err != nil {
		return nil
	}
	return analysis.CheckFile(f)
}
