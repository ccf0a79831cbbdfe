package storage_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"emgd/internal/storage"
)

// noHang runs fn and fails the test if it has not returned long after it
// should have (a blocked open of a named pipe never returns at all).
func noHang(t *testing.T, what string, fn func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("%s blocked", what)
		return nil
	}
}

// TestFolderRefusesSpecialFiles: a named pipe, a socket or a device named like
// an object is refused at once with ErrInvalidKey by Stat, Open, Get and their
// version forms; none of them is opened in a way that blocks, and List leaves
// them out. A folder named like an object is ErrNotFound, as on S3.
func TestFolderRefusesSpecialFiles(t *testing.T) {
	ctx := context.Background()
	f, dir := newFolder(t)
	must(t, f.CreateBucket(ctx, "c3d-examples"))
	bucket := filepath.Join(dir, "storage", "c3d-examples")
	must(t, os.MkdirAll(filepath.Join(bucket, "P001"), 0o755))
	must(t, syscall.Mkfifo(filepath.Join(bucket, "P001", "fifo.c3d"), 0o644))
	special := []string{"P001/fifo.c3d"}
	// A socket (the path must be short enough for sun_path).
	sockDir, err := os.MkdirTemp("", "emgd-sock")
	must(t, err)
	defer os.RemoveAll(sockDir)
	l, err := net.Listen("unix", filepath.Join(sockDir, "s"))
	if err == nil {
		defer l.Close()
		if err := os.Rename(filepath.Join(sockDir, "s"), filepath.Join(bucket, "P001", "sock.c3d")); err == nil {
			special = append(special, "P001/sock.c3d")
		}
	}
	// A character device (as /dev/zero: reading it would never end); only
	// root may make one.
	if err := syscall.Mknod(filepath.Join(bucket, "P001", "zero.c3d"), syscall.S_IFCHR|0o644, 1<<8|5); err == nil {
		special = append(special, "P001/zero.c3d")
	} else {
		t.Logf("no device file (%v): named pipe and socket only", err)
	}
	must(t, os.MkdirAll(filepath.Join(bucket, "P001", "dir.c3d"), 0o755))
	_, err = f.Put(ctx, "c3d-examples", "P001/real.c3d", strings.NewReader("real"))
	must(t, err)

	for _, key := range special {
		ops := map[string]func() error{
			"Stat": func() error { _, err := f.Stat(ctx, "c3d-examples", key); return err },
			"Open": func() error {
				o, err := f.Open(ctx, "c3d-examples", key)
				if err == nil {
					o.Close()
				}
				return err
			},
			"Get": func() error {
				rc, _, err := f.Get(ctx, "c3d-examples", key)
				if err == nil {
					rc.Close()
				}
				return err
			},
			"OpenVersion": func() error {
				o, err := f.OpenVersion(ctx, "c3d-examples", key, "0-0")
				if err == nil {
					o.Close()
				}
				return err
			},
			"GetVersion": func() error {
				rc, _, err := f.GetVersion(ctx, "c3d-examples", key, "")
				if err == nil {
					rc.Close()
				}
				return err
			},
		}
		for name, op := range ops {
			err := noHang(t, fmt.Sprintf("%s(%s)", name, key), op)
			if !errors.Is(err, storage.ErrInvalidKey) {
				t.Errorf("%s(%s) = %v, want ErrInvalidKey", name, key, err)
			}
		}
	}
	if _, err := f.Stat(ctx, "c3d-examples", "P001/dir.c3d"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat of a folder = %v, want ErrNotFound", err)
	}
	if _, err := f.Open(ctx, "c3d-examples", "P001/dir.c3d"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Open of a folder = %v, want ErrNotFound", err)
	}
	var keys []string
	for info, err := range f.List(ctx, "c3d-examples", "") {
		must(t, err)
		keys = append(keys, info.Key)
	}
	if len(keys) != 1 || keys[0] != "P001/real.c3d" {
		t.Errorf("List = %q, want only the regular file", keys)
	}
}

// TestFolderVersionIsCheckedOnTheOpenFile: a file rewritten in place (same
// inode, same size, new mtime) by something other than Put is another
// version; the version read back matches the file's stat.
func TestFolderVersionIsCheckedOnTheOpenFile(t *testing.T) {
	ctx := context.Background()
	f, dir := newFolder(t)
	must(t, f.CreateBucket(ctx, "c3d-examples"))
	a, err := f.Put(ctx, "c3d-examples", "P001/x.c3d", strings.NewReader("aaaa"))
	must(t, err)
	p := filepath.Join(dir, "storage", "c3d-examples", "P001", "x.c3d")
	st, err := os.Stat(p)
	must(t, err)
	if want := fmt.Sprintf("%d-%d", st.Size(), st.ModTime().UnixNano()); a.Version != want || a.ETag != want {
		t.Errorf("Put version %q etag %q, want %q", a.Version, a.ETag, want)
	}
	must(t, os.WriteFile(p, []byte("bbbb"), 0o644))
	later := st.ModTime().Add(time.Second)
	must(t, os.Chtimes(p, later, later))
	if _, _, err := f.GetVersion(ctx, "c3d-examples", "P001/x.c3d", a.Version); !errors.Is(err, storage.ErrVersionGone) {
		t.Errorf("GetVersion after an in-place rewrite = %v, want ErrVersionGone", err)
	}
	st, _ = os.Stat(p)
	rc, info, err := f.GetVersion(ctx, "c3d-examples", "P001/x.c3d", fmt.Sprintf("%d-%d", st.Size(), st.ModTime().UnixNano()))
	must(t, err)
	data, _ := io.ReadAll(rc)
	rc.Close()
	if string(data) != "bbbb" || info.Version == a.Version {
		t.Errorf("current version read %q, info %+v", data, info)
	}
}
