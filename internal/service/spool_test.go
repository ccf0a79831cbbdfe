package service

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"path/filepath"
	"testing"
)

// failReader fails the test when read: the object must be refused on its
// announced size alone.
type failReader struct{ t *testing.T }

func (r failReader) Read([]byte) (int, error) {
	r.t.Error("the object was read")
	return 0, io.EOF
}

// zeros is an endless stream of zero bytes, counting what is read.
type zeros struct{ n int64 }

func (z *zeros) Read(b []byte) (int, error) {
	clear(b)
	z.n += int64(len(b))
	return len(b), nil
}

// spool bounds memory by the in-memory limit and disk by MaxObjectBytes,
// whatever size the storage announces.
func TestSpoolBoundsTheObjectWhateverItsAnnouncedSize(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	s := &Service{Config: Config{SpoolInMemory: 1 << 10, MaxObjectBytes: 1 << 20}}
	spooled := func() []string {
		m, _ := filepath.Glob(filepath.Join(tmp, "emgd-spool-*"))
		return m
	}

	// Announced over the limit: refused before reading.
	if _, _, _, _, err := s.spool(failReader{t}, 2<<20); !errors.Is(err, ErrObjectTooLarge) {
		t.Errorf("announced 2 MiB: %v, want ErrObjectTooLarge", err)
	}

	// Announced small, endless in fact: reading stops just past the limit
	// and the temporary file is removed.
	for _, announced := range []int64{10, -1, 1 << 20} {
		z := &zeros{}
		_, _, _, _, err := s.spool(z, announced)
		if !errors.Is(err, ErrObjectTooLarge) {
			t.Errorf("announced %d, endless: %v, want ErrObjectTooLarge", announced, err)
		}
		if z.n > 2<<20 {
			t.Errorf("announced %d: read %d bytes for a limit of 1 MiB", announced, z.n)
		}
		if m := spooled(); len(m) != 0 {
			t.Errorf("temporary files left: %v", m)
		}
	}

	// Within the limit, announced right, wrong or not at all: the whole
	// object, its size and hash.
	want := bytes.Repeat([]byte("emg"), 100_000) // 300 kB: on disk
	sum := sha256.Sum256(want)
	for _, announced := range []int64{int64(len(want)), 10, -1, 1 << 20} {
		ra, n, hash, cleanup, err := s.spool(bytes.NewReader(want), announced)
		if err != nil {
			t.Fatalf("announced %d: %v", announced, err)
		}
		got := make([]byte, n)
		ra.ReadAt(got, 0)
		if n != int64(len(want)) || !bytes.Equal(got, want) || hash != hex.EncodeToString(sum[:]) {
			t.Errorf("announced %d: %d bytes, hash %s", announced, n, hash)
		}
		cleanup()
	}
	if m := spooled(); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}
}
