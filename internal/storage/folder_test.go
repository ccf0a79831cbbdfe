package storage_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"emgd/internal/storage"
	"emgd/internal/storage/storagetest"
)

func newFolder(t *testing.T) (*storage.Folder, string) {
	t.Helper()
	dir := t.TempDir()
	f, err := storage.OpenFolder(filepath.Join(dir, "storage"), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, dir
}

func TestFolderConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Backend {
		f, _ := newFolder(t)
		return f
	})
}

func TestFolderLayoutAndETag(t *testing.T) {
	ctx := context.Background()
	f, dir := newFolder(t)
	if err := f.CreateBucket(ctx, storage.DefaultBucket); err != nil {
		t.Fatal(err)
	}
	info, err := f.Put(ctx, storage.DefaultBucket, "P001/x.c3d", strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "storage", "c3d-examples", "P001", "x.c3d")
	st, err := os.Stat(path)
	if err != nil {
		t.Fatalf("object not at %s: %v", path, err)
	}
	want := fmt.Sprintf("%d-%d", st.Size(), st.ModTime().UnixNano())
	if info.ETag != want {
		t.Errorf("Put etag %q, want <size>-<mtime ns> %q", info.ETag, want)
	}
	got, err := f.Stat(ctx, storage.DefaultBucket, "P001/x.c3d")
	if err != nil || got.ETag != want {
		t.Errorf("Stat etag %q (%v), want %q", got.ETag, err, want)
	}
	// A file copied in by hand is an object too.
	if err := os.WriteFile(filepath.Join(dir, "storage", "c3d-examples", "P001", "y.c3d"), []byte("hand"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Stat(ctx, storage.DefaultBucket, "P001/y.c3d"); err != nil {
		t.Errorf("Stat of a file placed by hand: %v", err)
	}
	// Temporary files are never objects and never left behind.
	tmp, _ := os.ReadDir(filepath.Join(dir, "storage", ".tmp"))
	if len(tmp) != 0 {
		t.Errorf(".tmp holds %d files after a Put", len(tmp))
	}
}

func TestFolderSymlinks(t *testing.T) {
	ctx := context.Background()
	f, dir := newFolder(t)
	root := filepath.Join(dir, "storage")
	if err := f.CreateBucket(ctx, "c3d-examples"); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(dir, "outside")
	os.MkdirAll(outside, 0o755)
	os.WriteFile(filepath.Join(outside, "secret.c3d"), []byte("secret"), 0o644)
	bucket := filepath.Join(root, "c3d-examples")
	// A link to a file outside, a link to a folder outside (absolute and
	// relative), and a bucket that is itself a link outside.
	must(t, os.Symlink(filepath.Join(outside, "secret.c3d"), filepath.Join(bucket, "link.c3d")))
	must(t, os.Symlink(outside, filepath.Join(bucket, "P666")))
	must(t, os.Symlink("../../../outside", filepath.Join(bucket, "P777")))
	must(t, os.Symlink(outside, filepath.Join(root, "evil-bucket")))
	for _, c := range []struct{ bucket, key string }{
		{"c3d-examples", "link.c3d"},
		{"c3d-examples", "P666/secret.c3d"},
		{"c3d-examples", "P777/secret.c3d"},
		{"evil-bucket", "secret.c3d"},
	} {
		if _, err := f.Stat(ctx, c.bucket, c.key); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Stat %s/%s through a link outside = %v, want ErrInvalidKey", c.bucket, c.key, err)
		}
		if _, _, err := f.Get(ctx, c.bucket, c.key); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Get %s/%s through a link outside = %v, want ErrInvalidKey", c.bucket, c.key, err)
		}
		if _, err := f.Open(ctx, c.bucket, c.key); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Open %s/%s through a link outside = %v, want ErrInvalidKey", c.bucket, c.key, err)
		}
	}
	for _, c := range []struct{ bucket, key string }{
		{"c3d-examples", "P666/new.c3d"},
		{"c3d-examples", "P777/sub/new.c3d"},
		{"evil-bucket", "new.c3d"},
	} {
		_, err := f.Put(ctx, c.bucket, c.key, strings.NewReader("pwned"))
		if !errors.Is(err, storage.ErrInvalidKey) && !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Put %s/%s through a link outside = %v, want ErrInvalidKey", c.bucket, c.key, err)
		}
	}
	// Put over a link to a file outside replaces the link itself, never the target.
	if _, err := f.Put(ctx, "c3d-examples", "link.c3d", strings.NewReader("replaced")); err != nil {
		t.Fatal(err)
	}
	if !isRegular(filepath.Join(bucket, "link.c3d")) {
		t.Error("Put over a link left the link")
	}
	if data, _ := os.ReadFile(filepath.Join(outside, "secret.c3d")); string(data) != "secret" {
		t.Errorf("file outside the root was changed: %q", data)
	}
	entries, _ := os.ReadDir(outside)
	if len(entries) != 1 {
		t.Errorf("files were created outside the root: %v", entries)
	}
	// Listing shows no links.
	var keys []string
	for info, err := range f.List(ctx, "c3d-examples", "") {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, info.Key)
	}
	for _, k := range keys {
		if strings.HasPrefix(k, "P666") || strings.HasPrefix(k, "P777") || k == "link.c3d" && !isRegular(filepath.Join(bucket, k)) {
			t.Errorf("List shows %q, reached through a link", k)
		}
	}
	// A link that stays inside the root works.
	if _, err := f.Put(ctx, "c3d-examples", "P001/real.c3d", strings.NewReader("ok")); err != nil {
		t.Fatal(err)
	}
	must(t, os.Symlink("P001", filepath.Join(bucket, "P002")))
	if _, err := f.Stat(ctx, "c3d-examples", "P002/real.c3d"); err != nil {
		t.Errorf("Stat through a link inside the root: %v", err)
	}
}

func isRegular(p string) bool {
	st, err := os.Lstat(p)
	return err == nil && st.Mode().IsRegular()
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestFolderKeyParentIsObject(t *testing.T) {
	ctx := context.Background()
	f, _ := newFolder(t)
	must(t, f.CreateBucket(ctx, "c3d-examples"))
	_, err := f.Put(ctx, "c3d-examples", "P001", strings.NewReader("x"))
	must(t, err)
	if _, err := f.Put(ctx, "c3d-examples", "P001/a.c3d", strings.NewReader("x")); !errors.Is(err, storage.ErrInvalidKey) {
		t.Errorf("Put below an object = %v, want ErrInvalidKey", err)
	}
	_, err = f.Put(ctx, "c3d-examples", "P002/a.c3d", strings.NewReader("x"))
	must(t, err)
	if _, err := f.Put(ctx, "c3d-examples", "P002", strings.NewReader("x")); !errors.Is(err, storage.ErrInvalidKey) {
		t.Errorf("Put over a folder of objects = %v, want ErrInvalidKey", err)
	}
}

func TestOpenURL(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	b, err := storage.Open(ctx, "", dataDir)
	if err != nil {
		t.Fatal(err)
	}
	f, ok := b.(*storage.Folder)
	if !ok || f.Dir() != filepath.Join(dataDir, "storage") || f.DefaultBucket() != storage.DefaultBucket {
		t.Errorf("Open(\"\") = %T %v", b, b)
	}
	b.Close()

	other := t.TempDir()
	b, err = storage.Open(ctx, "file://"+other+"?bucket=clinic-a", dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := b.(*storage.Folder); !ok || f.Dir() != other || f.DefaultBucket() != "clinic-a" {
		t.Errorf("Open(file://) = %T %+v", b, b)
	}
	b.Close()

	b, err = storage.Open(ctx, "s3://c3d-examples?endpoint=http://127.0.0.1:1/storage/v1/s3&region=eu-west-1", dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := b.(*storage.S3); !ok || s.DefaultBucket() != "c3d-examples" {
		t.Errorf("Open(s3://) = %T", b)
	}
	b.Close()

	for _, bad := range []string{"ftp://x", "s3://", "s3://Bad_Bucket", "s3://bucket/path", "s3://bucket?endpoint=nope", "s3://bucket?virtual_hosted=maybe", "file://", ":"} {
		if b, err := storage.Open(ctx, bad, dataDir); err == nil {
			b.Close()
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
	if _, err := storage.Open(ctx, "", ""); err == nil {
		t.Error("Open with neither URL nor data dir succeeded")
	}
}

func TestValidateKey(t *testing.T) {
	for _, k := range storagetest.BadKeys {
		if !errors.Is(storage.ValidateKey(k), storage.ErrInvalidKey) {
			t.Errorf("ValidateKey(%q) accepted", k)
		}
	}
	good := []string{"x.c3d", "P001/Ghostly_Emg_20230321_17-50-17-0000.c3d", "a b/c+d.c3d", "P001/..x", "%2e%2e/x"}
	for _, k := range good {
		if err := storage.ValidateKey(k); err != nil {
			t.Errorf("ValidateKey(%q) = %v", k, err)
		}
	}
	if !slices.ContainsFunc(storagetest.BadKeys, func(k string) bool { return strings.Contains(k, "\x00") }) {
		t.Error("the bad keys must include a NUL")
	}
}

func TestFolderRemovesStaleTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	f, err := storage.OpenFolder(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	stale := filepath.Join(dir, ".tmp", "stale")
	fresh := filepath.Join(dir, ".tmp", "fresh")
	must(t, os.WriteFile(stale, []byte("half"), 0o644))
	must(t, os.WriteFile(fresh, []byte("writing"), 0o644))
	old := time.Now().Add(-storage.StaleTempAge - time.Hour)
	must(t, os.Chtimes(stale, old, old))
	f, err = storage.OpenFolder(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temporary file kept: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("a recent temporary file (a Put in progress elsewhere) was removed: %v", err)
	}
}
