package storage_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"emgd/internal/storage"
)

// A key whose segment is longer than the file system allows (255 bytes on
// most) is an invalid key, not a storage failure: the webhook answers 400
// instead of 503, which senders would retry forever.
func TestFolderSegmentTooLong(t *testing.T) {
	f, err := storage.OpenFolder(t.TempDir(), "bkt")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := f.CreateBucket(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	key := strings.Repeat("\u00b9", 200) + ".c3d" // 404 bytes in one segment
	if err := storage.ValidateKey(key); err != nil {
		t.Fatalf("the key should pass the generic check: %v", err)
	}
	if _, err := f.Open(ctx, "bkt", key); !errors.Is(err, storage.ErrInvalidKey) {
		t.Errorf("Open: %v, want ErrInvalidKey", err)
	}
	if _, err := f.Put(ctx, "bkt", key, bytes.NewReader([]byte("x"))); !errors.Is(err, storage.ErrInvalidKey) {
		t.Errorf("Put: %v, want ErrInvalidKey", err)
	}
	if _, _, err := f.Get(ctx, "bkt", key); !errors.Is(err, storage.ErrInvalidKey) {
		t.Errorf("Get: %v, want ErrInvalidKey", err)
	}
}
