// Package storagetest is the conformance suite every storage.Backend passes.
// A backend's tests call Run with a constructor; each subtest works in a
// bucket of its own.
package storagetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"emgd/internal/storage"
)

// Run runs the suite. newBackend is called once per subtest; it may return a
// shared backend.
func Run(t *testing.T, newBackend func(t *testing.T) storage.Backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b storage.Backend, bucket string)
	}{
		{"PutGetStat", testPutGetStat},
		{"ReadAtRanges", testReadAt},
		{"ParallelReadAt", testParallelReadAt},
		{"Overwrite", testOverwrite},
		{"OpenKeepsVersion", testOpenKeepsVersion},
		{"NotFound", testNotFound},
		{"InvalidKeys", testInvalidKeys},
		{"FailedPutLeavesNothing", testFailedPut},
		{"CancelledPut", testCancelledPut},
		{"ConcurrentReadersSeeWholeObjects", testAtomicPut},
		{"List", testList},
		{"ListStopsEarly", testListStop},
		{"Delete", testDelete},
		{"KeysWithUnusualCharacters", testUnusualKeys},
		{"LargeObject", testLarge},
		{"VersionFilled", testVersionFilled},
		{"OpenGetVersion", testOpenGetVersion},
		{"GetVersionDuringOverwrite", testGetVersionDuringOverwrite},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t)
			bucket := NewBucket(t, b)
			tc.fn(t, b, bucket)
		})
	}
}

// NewBucket creates a bucket with a fresh name.
func NewBucket(t *testing.T, b storage.Backend) string {
	t.Helper()
	var r [6]byte
	rand.Read(r[:])
	name := "t-" + hex.EncodeToString(r[:])
	if err := b.CreateBucket(context.Background(), name); err != nil {
		t.Fatalf("CreateBucket(%s): %v", name, err)
	}
	if err := b.CreateBucket(context.Background(), name); err != nil {
		t.Fatalf("CreateBucket(%s) again must succeed: %v", name, err)
	}
	return name
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func payload(n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7) ^ seed
	}
	return p
}

func put(t *testing.T, b storage.Backend, bucket, key string, data []byte) storage.ObjectInfo {
	t.Helper()
	info, err := b.Put(ctx(t), bucket, key, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("Put(%s): %v", key, err)
	}
	return info
}

func get(t *testing.T, b storage.Backend, bucket, key string) ([]byte, storage.ObjectInfo) {
	t.Helper()
	rc, info, err := b.Get(ctx(t), bucket, key)
	if err != nil {
		t.Fatalf("Get(%s): %v", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%s): read: %v", key, err)
	}
	return data, info
}

func testPutGetStat(t *testing.T, b storage.Backend, bucket string) {
	data := payload(10_000, 1)
	key := "P001/Ghostly_Emg_20230321_17-50-17-0000.c3d"
	info := put(t, b, bucket, key, data)
	if info.Size != int64(len(data)) || info.ETag == "" || info.Key != key || info.Bucket != bucket {
		t.Fatalf("Put info = %+v", info)
	}
	if strings.Contains(info.ETag, `"`) {
		t.Errorf("etag %q has quotes", info.ETag)
	}
	got, ginfo := get(t, b, bucket, key)
	if !bytes.Equal(got, data) {
		t.Fatalf("Get returned %d bytes, differing from the %d put", len(got), len(data))
	}
	if ginfo.ETag != info.ETag || ginfo.Size != info.Size {
		t.Errorf("Get info %+v, Put info %+v", ginfo, info)
	}
	st, err := b.Stat(ctx(t), bucket, key)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if st.ETag != info.ETag || st.Size != info.Size || st.ModTime.IsZero() {
		t.Errorf("Stat %+v, Put %+v", st, info)
	}
	if d := time.Since(st.ModTime); d < -time.Minute || d > time.Hour {
		t.Errorf("Stat ModTime %v is not about now", st.ModTime)
	}
	// An empty object is an object.
	e := put(t, b, bucket, "P001/empty.c3d", nil)
	if e.Size != 0 {
		t.Errorf("empty object size %d", e.Size)
	}
	if got, _ := get(t, b, bucket, "P001/empty.c3d"); len(got) != 0 {
		t.Errorf("empty object read %d bytes", len(got))
	}
}

func testReadAt(t *testing.T, b storage.Backend, bucket string) {
	data := payload(70_000, 2)
	put(t, b, bucket, "r.c3d", data)
	o, err := b.Open(ctx(t), bucket, "r.c3d")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer o.Close()
	if o.Size() != int64(len(data)) || o.Info().Size != o.Size() || o.Info().ETag == "" {
		t.Fatalf("Open size %d info %+v", o.Size(), o.Info())
	}
	for _, r := range []struct{ off, n int }{{0, 512}, {512, 1024}, {65_000, 4_000}, {69_999, 1}} {
		buf := make([]byte, r.n)
		n, err := o.ReadAt(buf, int64(r.off))
		if err != nil && !(errors.Is(err, io.EOF) && n == r.n) {
			t.Fatalf("ReadAt(%d, %d) = %d, %v", r.off, r.n, n, err)
		}
		if n != r.n || !bytes.Equal(buf, data[r.off:r.off+r.n]) {
			t.Fatalf("ReadAt(%d, %d) returned wrong bytes (n=%d)", r.off, r.n, n)
		}
	}
	// A read across the end returns what there is and io.EOF.
	buf := make([]byte, 100)
	n, err := o.ReadAt(buf, 69_950)
	if n != 50 || !errors.Is(err, io.EOF) || !bytes.Equal(buf[:n], data[69_950:]) {
		t.Fatalf("ReadAt across end = %d, %v", n, err)
	}
	if n, err := o.ReadAt(buf, 70_000); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("ReadAt at end = %d, %v", n, err)
	}
	// io.SectionReader works on top of it.
	sr := io.NewSectionReader(o, 100, 300)
	got, err := io.ReadAll(sr)
	if err != nil || !bytes.Equal(got, data[100:400]) {
		t.Fatalf("SectionReader: %v", err)
	}
}

func testParallelReadAt(t *testing.T, b storage.Backend, bucket string) {
	data := payload(300_000, 9)
	put(t, b, bucket, "p.c3d", data)
	o, err := b.Open(ctx(t), bucket, "p.c3d")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			for i := range 20 {
				off := (g*7919 + i*15_013) % (len(data) - 1)
				n := 1 + (g*131+i*977)%20_000
				if off+n > len(data) {
					n = len(data) - off
				}
				buf := make([]byte, n)
				got, err := o.ReadAt(buf, int64(off))
				if (err != nil && !errors.Is(err, io.EOF)) || got != n || !bytes.Equal(buf, data[off:off+n]) {
					t.Errorf("parallel ReadAt(%d, %d) = %d, %v", off, n, got, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func testOverwrite(t *testing.T, b storage.Backend, bucket string) {
	a := put(t, b, bucket, "P002/o.c3d", payload(1000, 3))
	time.Sleep(5 * time.Millisecond)
	second := payload(1000, 4)
	c := put(t, b, bucket, "P002/o.c3d", second)
	if a.ETag == c.ETag {
		t.Errorf("overwrite kept etag %q", a.ETag)
	}
	got, info := get(t, b, bucket, "P002/o.c3d")
	if !bytes.Equal(got, second) || info.ETag != c.ETag {
		t.Errorf("after overwrite got etag %q (want %q)", info.ETag, c.ETag)
	}
}

func testOpenKeepsVersion(t *testing.T, b storage.Backend, bucket string) {
	first := payload(4000, 5)
	put(t, b, bucket, "v.c3d", first)
	o, err := b.Open(ctx(t), bucket, "v.c3d")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	time.Sleep(5 * time.Millisecond)
	put(t, b, bucket, "v.c3d", payload(4000, 6))
	buf := make([]byte, 4000)
	n, err := o.ReadAt(buf, 0)
	switch {
	case errors.Is(err, storage.ErrChanged):
	case err == nil && n == 4000:
		if !bytes.Equal(buf, first) {
			t.Fatal("an open object returned bytes of another version")
		}
	default:
		t.Fatalf("ReadAt after overwrite = %d, %v; want the old bytes or ErrChanged", n, err)
	}
}

func testNotFound(t *testing.T, b storage.Backend, bucket string) {
	c := ctx(t)
	if _, err := b.Stat(c, bucket, "nope.c3d"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat missing: %v", err)
	}
	if _, err := b.Open(c, bucket, "nope.c3d"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Open missing: %v", err)
	}
	if _, _, err := b.Get(c, bucket, "P009/nope.c3d"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Get missing: %v", err)
	}
	if err := b.Delete(c, bucket, "nope.c3d"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Delete missing: %v", err)
	}
	put(t, b, bucket, "P003/a.c3d", []byte("x"))
	// A "folder" is not an object.
	if _, err := b.Stat(c, bucket, "P003"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat of a folder: %v", err)
	}
	if _, err := b.Stat(c, bucket, "P003/a.c3d/b"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat below an object: %v", err)
	}
	const missing = "no-such-bucket-e9f1"
	if _, err := b.Stat(c, missing, "a.c3d"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat in missing bucket: %v", err)
	}
	if _, err := b.Put(c, missing, "a.c3d", strings.NewReader("x")); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Put in missing bucket: %v", err)
	}
	for _, err := range b.List(c, missing, "") {
		if !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("List of missing bucket: %v", err)
		}
		break
	}
}

// BadKeys are keys every backend rejects with ErrInvalidKey.
var BadKeys = []string{
	"",
	"..",
	"../x.c3d",
	"../../etc/passwd",
	"P001/../../x.c3d",
	"P001/../x.c3d",
	"P001/./x.c3d",
	"./x.c3d",
	"/etc/passwd",
	"/x.c3d",
	`P001\x.c3d`,
	`..\..\x.c3d`,
	"P001/x.c3d\x00.txt",
	"P001/x\n.c3d",
	"P001//x.c3d",
	"P001/",
	"P001/..",
	"\xff\xfe.c3d",
	strings.Repeat("a", storage.MaxKeyLen+1),
}

func testInvalidKeys(t *testing.T, b storage.Backend, bucket string) {
	c := ctx(t)
	for _, key := range BadKeys {
		check := func(op string, err error) {
			if !errors.Is(err, storage.ErrInvalidKey) {
				t.Errorf("%s(%q) = %v, want ErrInvalidKey", op, key, err)
			}
		}
		_, err := b.Stat(c, bucket, key)
		check("Stat", err)
		_, err = b.Open(c, bucket, key)
		check("Open", err)
		_, _, err = b.Get(c, bucket, key)
		check("Get", err)
		_, err = b.Put(c, bucket, key, strings.NewReader("x"))
		check("Put", err)
		check("Delete", b.Delete(c, bucket, key))
	}
	for _, bad := range []string{"", "..", ".tmp", "../x", "a/b", "UPPER", "x", `a\b`} {
		if _, err := b.Stat(c, bad, "a.c3d"); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Stat in bucket %q = %v, want ErrInvalidKey", bad, err)
		}
		if _, err := b.Put(c, bad, "a.c3d", strings.NewReader("x")); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Put in bucket %q = %v, want ErrInvalidKey", bad, err)
		}
		if err := b.CreateBucket(c, bad); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("CreateBucket(%q) = %v, want ErrInvalidKey", bad, err)
		}
	}
	// Nothing was written by the rejected calls.
	for info, err := range b.List(c, bucket, "") {
		t.Errorf("bucket holds %v %v after rejected writes", info.Key, err)
	}
}

// failingReader yields n bytes, then an error.
type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("connection reset by sender")
	}
	k := min(len(p), f.n)
	for i := range k {
		p[i] = 'x'
	}
	f.n -= k
	return k, nil
}

func testFailedPut(t *testing.T, b storage.Backend, bucket string) {
	c := ctx(t)
	if _, err := b.Put(c, bucket, "P004/new.c3d", &failingReader{n: 50_000}); err == nil {
		t.Fatal("Put from a failing reader succeeded")
	}
	if _, err := b.Stat(c, bucket, "P004/new.c3d"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("after a failed Put, Stat = %v, want ErrNotFound", err)
	}
	old := payload(3000, 7)
	put(t, b, bucket, "P004/old.c3d", old)
	if _, err := b.Put(c, bucket, "P004/old.c3d", &failingReader{n: 50_000}); err == nil {
		t.Fatal("Put from a failing reader succeeded")
	}
	if got, _ := get(t, b, bucket, "P004/old.c3d"); !bytes.Equal(got, old) {
		t.Error("a failed Put changed the existing object")
	}
	var keys []string
	for info, err := range b.List(c, bucket, "") {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, info.Key)
	}
	if !slices.Equal(keys, []string{"P004/old.c3d"}) {
		t.Errorf("after failed puts the bucket lists %q", keys)
	}
}

// slowReader yields one chunk then blocks until its context ends.
type slowReader struct {
	ctx  context.Context
	sent bool
}

func (s *slowReader) Read(p []byte) (int, error) {
	if !s.sent {
		s.sent = true
		return copy(p, bytes.Repeat([]byte("y"), 1000)), nil
	}
	<-s.ctx.Done()
	return 0, s.ctx.Err()
}

func testCancelledPut(t *testing.T, b storage.Backend, bucket string) {
	c, cancel := context.WithCancel(ctx(t))
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	if _, err := b.Put(c, bucket, "P005/c.c3d", &slowReader{ctx: c}); err == nil {
		t.Fatal("cancelled Put succeeded")
	}
	if _, err := b.Stat(ctx(t), bucket, "P005/c.c3d"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("after a cancelled Put, Stat = %v, want ErrNotFound", err)
	}
}

func testAtomicPut(t *testing.T, b storage.Backend, bucket string) {
	const size = 200_000
	versions := [][]byte{payload(size, 10), payload(size, 11), payload(size, 12)}
	put(t, b, bucket, "a.c3d", versions[0])
	c := ctx(t)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 10)
	for range 3 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				rc, _, err := b.Get(c, bucket, "a.c3d")
				if err != nil {
					errs <- fmt.Errorf("get during put: %w", err)
					return
				}
				data, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					errs <- err
					return
				}
				if !slices.ContainsFunc(versions, func(v []byte) bool { return bytes.Equal(v, data) }) {
					errs <- fmt.Errorf("a reader saw a partial object (%d bytes)", len(data))
					return
				}
			}
		})
	}
	for i := range 12 {
		put(t, b, bucket, "a.c3d", versions[i%len(versions)])
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func listKeys(t *testing.T, b storage.Backend, bucket, prefix string) []string {
	t.Helper()
	keys := []string{}
	for info, err := range b.List(ctx(t), bucket, prefix) {
		if err != nil {
			t.Fatalf("List(%q): %v", prefix, err)
		}
		if info.Size <= 0 || info.ETag == "" || info.Version == "" || info.Bucket != bucket {
			t.Errorf("List info %+v", info)
		}
		keys = append(keys, info.Key)
	}
	return keys
}

func testList(t *testing.T, b storage.Backend, bucket string) {
	all := []string{
		"P001/a.c3d", "P001/b.c3d", "P001/sub/c.c3d", "P001.c3d", "P0010/x.c3d",
		"P002/a.c3d", "notes.txt", "z/deep/er/f.c3d", "a-b.c3d", "a/b.c3d",
	}
	infos := map[string]storage.ObjectInfo{}
	for _, k := range all {
		infos[k] = put(t, b, bucket, k, []byte("data of "+k))
	}
	sorted := slices.Clone(all)
	slices.Sort(sorted)
	if got := listKeys(t, b, bucket, ""); !slices.Equal(got, sorted) {
		t.Errorf("List(\"\") = %q, want %q", got, sorted)
	}
	cases := map[string][]string{
		"P001/":      {"P001/a.c3d", "P001/b.c3d", "P001/sub/c.c3d"},
		"P001":       {"P001.c3d", "P001/a.c3d", "P001/b.c3d", "P001/sub/c.c3d", "P0010/x.c3d"},
		"P001/b":     {"P001/b.c3d"},
		"P001/sub/c": {"P001/sub/c.c3d"},
		"z/de":       {"z/deep/er/f.c3d"},
		"a":          {"a-b.c3d", "a/b.c3d"},
		"nothing/":   {},
		"P009":       {},
		"../":        {},
	}
	for prefix, want := range cases {
		if got := listKeys(t, b, bucket, prefix); !slices.Equal(got, want) {
			t.Errorf("List(%q) = %q, want %q", prefix, got, want)
		}
	}
	for info, err := range b.List(ctx(t), bucket, "P002/") {
		if err != nil {
			t.Fatal(err)
		}
		if want := infos["P002/a.c3d"]; info.ETag != want.ETag || info.Size != want.Size {
			t.Errorf("List info %+v, Put info %+v", info, want)
		}
	}
}

func testListStop(t *testing.T, b storage.Backend, bucket string) {
	for i := range 5 {
		put(t, b, bucket, fmt.Sprintf("P001/%d.c3d", i), []byte("x"))
	}
	n := 0
	for _, err := range b.List(ctx(t), bucket, "") {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if n == 2 {
			break
		}
	}
	if n != 2 {
		t.Fatalf("iterated %d", n)
	}
}

func testDelete(t *testing.T, b storage.Backend, bucket string) {
	put(t, b, bucket, "P001/sub/a.c3d", []byte("a"))
	put(t, b, bucket, "P001/b.c3d", []byte("b"))
	if err := b.Delete(ctx(t), bucket, "P001/sub/a.c3d"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Stat(ctx(t), bucket, "P001/sub/a.c3d"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat after Delete = %v", err)
	}
	if got := listKeys(t, b, bucket, ""); !slices.Equal(got, []string{"P001/b.c3d"}) {
		t.Errorf("after Delete List = %q", got)
	}
	if err := b.Delete(ctx(t), bucket, "P001/sub/a.c3d"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("second Delete = %v", err)
	}
	// The key can be used again, also as a folder.
	put(t, b, bucket, "P001/sub", []byte("now an object"))
	if got := listKeys(t, b, bucket, ""); !slices.Equal(got, []string{"P001/b.c3d", "P001/sub"}) {
		t.Errorf("List = %q", got)
	}
}

func testUnusualKeys(t *testing.T, b storage.Backend, bucket string) {
	keys := []string{
		"P001/Ghostly Emg 2023.c3d",
		"P001/a+b.c3d",
		"P001/%2e%2e/x.c3d", // a literal name, not traversal
		"P001/caf\u00e9-\u00fcber.c3d",
		"P001/..x.c3d",
		"P001/x..c3d",
		"P001/.hidden.c3d",
		"P001/UPPER.C3D",
	}
	for _, k := range keys {
		data := []byte("content " + k)
		put(t, b, bucket, k, data)
		if got, _ := get(t, b, bucket, k); !bytes.Equal(got, data) {
			t.Errorf("key %q: read back %q", k, got)
		}
	}
	got := listKeys(t, b, bucket, "P001/")
	want := slices.Clone(keys)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("List = %q, want %q", got, want)
	}
}

func testLarge(t *testing.T, b storage.Backend, bucket string) {
	data := payload(6<<20+123, 13)
	// Through a reader that cannot seek, as an upload stream is.
	info, err := b.Put(ctx(t), bucket, "big.c3d", io.MultiReader(bytes.NewReader(data)))
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != int64(len(data)) {
		t.Fatalf("size %d", info.Size)
	}
	got, _ := get(t, b, bucket, "big.c3d")
	if !bytes.Equal(got, data) {
		t.Fatal("large object differs")
	}
	o, err := b.Open(ctx(t), bucket, "big.c3d")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	buf := make([]byte, 512)
	if _, err := o.ReadAt(buf, 5<<20); err != nil || !bytes.Equal(buf, data[5<<20:5<<20+512]) {
		t.Fatalf("ReadAt in large object: %v", err)
	}
}

// testVersionFilled: Put, Stat, Get, Open and List all give the same Version
// for one object, and an overwrite gives another.
func testVersionFilled(t *testing.T, b storage.Backend, bucket string) {
	const key = "P010/v.c3d"
	p := put(t, b, bucket, key, payload(3000, 20))
	if p.Version == "" {
		t.Fatalf("Put info has no Version: %+v", p)
	}
	if strings.Contains(p.Version, `"`) {
		t.Errorf("Version %q has quotes", p.Version)
	}
	st, err := b.Stat(ctx(t), bucket, key)
	if err != nil || st.Version != p.Version {
		t.Errorf("Stat Version %q (%v), Put %q", st.Version, err, p.Version)
	}
	_, g := get(t, b, bucket, key)
	if g.Version != p.Version {
		t.Errorf("Get Version %q, Put %q", g.Version, p.Version)
	}
	o, err := b.Open(ctx(t), bucket, key)
	if err != nil {
		t.Fatal(err)
	}
	if o.Info().Version != p.Version {
		t.Errorf("Open Version %q, Put %q", o.Info().Version, p.Version)
	}
	o.Close()
	for info, err := range b.List(ctx(t), bucket, "P010/") {
		if err != nil || info.Version != p.Version {
			t.Errorf("List Version %q (%v), Put %q", info.Version, err, p.Version)
		}
	}
	time.Sleep(5 * time.Millisecond)
	q := put(t, b, bucket, key, payload(3001, 21))
	if q.Version == "" || q.Version == p.Version {
		t.Errorf("overwrite: Version %q, before %q", q.Version, p.Version)
	}
}

// testOpenGetVersion: OpenVersion and GetVersion read the version asked for,
// the current one for "", and fail with ErrVersionGone once the object was
// overwritten, ErrNotFound when it is missing, ErrInvalidKey for a bad key.
func testOpenGetVersion(t *testing.T, b storage.Backend, bucket string) {
	c := ctx(t)
	const key = "P011/g.c3d"
	first := payload(5000, 30)
	a := put(t, b, bucket, key, first)
	for _, v := range []string{"", a.Version} {
		rc, info, err := b.GetVersion(c, bucket, key, v)
		if err != nil {
			t.Fatalf("GetVersion(%q): %v", v, err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(data, first) || info.Version != a.Version || info.Size != a.Size {
			t.Errorf("GetVersion(%q) = %d bytes, %+v, %v", v, len(data), info, err)
		}
		o, err := b.OpenVersion(c, bucket, key, v)
		if err != nil {
			t.Fatalf("OpenVersion(%q): %v", v, err)
		}
		buf := make([]byte, 100)
		if n, err := o.ReadAt(buf, 4900); n != 100 || (err != nil && !errors.Is(err, io.EOF)) || !bytes.Equal(buf, first[4900:]) {
			t.Errorf("OpenVersion(%q).ReadAt = %d, %v", v, n, err)
		}
		if o.Info().Version != a.Version || o.Size() != a.Size {
			t.Errorf("OpenVersion(%q) info %+v", v, o.Info())
		}
		o.Close()
	}

	// Held open by version, then overwritten: the old bytes or ErrVersionGone.
	held, err := b.OpenVersion(c, bucket, key, a.Version)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	time.Sleep(5 * time.Millisecond)
	second := payload(5001, 31)
	bInfo := put(t, b, bucket, key, second)
	buf := make([]byte, 5000)
	n, err := held.ReadAt(buf, 0)
	switch {
	case err != nil && errors.Is(err, storage.ErrVersionGone):
	case err == nil && n == 5000:
		if !bytes.Equal(buf, first) {
			t.Fatal("an object opened by version returned bytes of another version")
		}
	default:
		t.Fatalf("ReadAt after overwrite = %d, %v; want the old bytes or ErrVersionGone", n, err)
	}

	if _, _, err := b.GetVersion(c, bucket, key, a.Version); !errors.Is(err, storage.ErrVersionGone) {
		t.Errorf("GetVersion of the overwritten version: %v, want ErrVersionGone", err)
	}
	if _, err := b.OpenVersion(c, bucket, key, a.Version); !errors.Is(err, storage.ErrVersionGone) {
		t.Errorf("OpenVersion of the overwritten version: %v, want ErrVersionGone", err)
	}
	if _, _, err := b.GetVersion(c, bucket, key, "no-such-version"); !errors.Is(err, storage.ErrVersionGone) {
		t.Errorf("GetVersion of an unknown version: %v, want ErrVersionGone", err)
	}
	// The new version reads.
	rc, info, err := b.GetVersion(c, bucket, key, bInfo.Version)
	if err != nil {
		t.Fatalf("GetVersion of the new version: %v", err)
	}
	data, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(data, second) || info.Version != bInfo.Version {
		t.Errorf("GetVersion of the new version: %d bytes, %+v", len(data), info)
	}

	// Missing object and bad key.
	if _, _, err := b.GetVersion(c, bucket, "P011/none.c3d", a.Version); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetVersion of a missing object: %v, want ErrNotFound", err)
	}
	if _, err := b.OpenVersion(c, bucket, "P011/none.c3d", a.Version); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("OpenVersion of a missing object: %v, want ErrNotFound", err)
	}
	if _, err := b.OpenVersion(c, bucket, "P011/none.c3d", ""); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("OpenVersion(\"\") of a missing object: %v, want ErrNotFound", err)
	}
	if _, _, err := b.GetVersion(c, bucket, "../x.c3d", a.Version); !errors.Is(err, storage.ErrInvalidKey) {
		t.Errorf("GetVersion of a bad key: %v, want ErrInvalidKey", err)
	}
	if _, err := b.OpenVersion(c, bucket, "../x.c3d", a.Version); !errors.Is(err, storage.ErrInvalidKey) {
		t.Errorf("OpenVersion of a bad key: %v, want ErrInvalidKey", err)
	}
	// Deleted: ErrNotFound, not ErrVersionGone.
	if err := b.Delete(c, bucket, key); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.GetVersion(c, bucket, key, bInfo.Version); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetVersion of a deleted object: %v, want ErrNotFound", err)
	}
}

// testGetVersionDuringOverwrite: a stream started by GetVersion, with the
// object overwritten after its first bytes were read, yields the whole old
// version or fails with ErrVersionGone/ErrChanged: never a mix of the two.
func testGetVersionDuringOverwrite(t *testing.T, b storage.Backend, bucket string) {
	c := ctx(t)
	const key = "P012/m.c3d"
	const size = 4 << 20
	first := payload(size, 40)
	a := put(t, b, bucket, key, first)
	rc, _, err := b.GetVersion(c, bucket, key, a.Version)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	head := make([]byte, 1000)
	if _, err := io.ReadFull(rc, head); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	put(t, b, bucket, key, payload(size, 41))
	rest, err := io.ReadAll(rc)
	if err != nil {
		if errors.Is(err, storage.ErrVersionGone) || errors.Is(err, storage.ErrChanged) {
			return
		}
		t.Fatalf("reading on after the overwrite: %v", err)
	}
	if got := append(head, rest...); !bytes.Equal(got, first) {
		t.Fatalf("a stream of one version returned %d bytes that are not that version", len(got))
	}
}
