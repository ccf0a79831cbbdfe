package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"
)

// tmpDir holds files being written by Put, inside the root so that the final
// rename stays on one filesystem; its name is not a valid bucket name.
const tmpDir = ".tmp"

// Folder is folder storage: <root>/<bucket>/<key>. Every access goes through
// an os.Root, so no key and no symbolic link can reach outside the root.
type Folder struct {
	root          *os.Root
	dir           string
	defaultBucket string
}

var _ Backend = (*Folder)(nil)

// OpenFolder opens (creating it when needed) folder storage rooted at dir.
func OpenFolder(dir, defaultBucket string) (*Folder, error) {
	if defaultBucket == "" {
		defaultBucket = DefaultBucket
	}
	if err := ValidateBucket(defaultBucket); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("storage: create root: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("storage: open root: %w", err)
	}
	if err := root.MkdirAll(tmpDir, 0o700); err != nil {
		root.Close()
		return nil, fmt.Errorf("storage: create %s: %w", tmpDir, err)
	}
	removeStaleTemp(root)
	return &Folder{root: root, dir: dir, defaultBucket: defaultBucket}, nil
}

// StaleTempAge is the age past which OpenFolder removes temporary files that
// a Put interrupted by a crash left behind.
const StaleTempAge = 24 * time.Hour

func removeStaleTemp(root *os.Root) {
	entries, err := fs.ReadDir(root.FS(), tmpDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() && time.Since(fi.ModTime()) > StaleTempAge {
			root.Remove(tmpDir + "/" + e.Name())
		}
	}
}

// Dir returns the folder the storage is rooted at.
func (f *Folder) Dir() string { return f.dir }

// DefaultBucket implements Backend.
func (f *Folder) DefaultBucket() string { return f.defaultBucket }

// Close implements Backend.
func (f *Folder) Close() error { return f.root.Close() }

// folderVersion is the folder storage's etag and version of a file:
// "<size>-<mtime in ns>" (see ObjectInfo.Version for why not the inode).
func folderVersion(fi fs.FileInfo) string {
	return fmt.Sprintf("%d-%d", fi.Size(), fi.ModTime().UnixNano())
}

func folderInfo(bucket, key string, fi fs.FileInfo) ObjectInfo {
	v := folderVersion(fi)
	return ObjectInfo{Bucket: bucket, Key: key, Size: fi.Size(), ETag: v, ModTime: fi.ModTime(), Version: v}
}

// checkRegular refuses what is not a regular file: a folder is no object
// (ErrNotFound, as on S3, where a "folder" is only a key prefix); a named
// pipe, device or socket is not acceptable (ErrInvalidKey), since reading it
// could block for ever or never end.
func checkRegular(bucket, key string, fi fs.FileInfo) error {
	m := fi.Mode()
	switch {
	case m.IsRegular():
		return nil
	case m.IsDir():
		return fmt.Errorf("%w: %s/%s is a folder, not an object", ErrNotFound, bucket, key)
	}
	kind := "not a regular file"
	switch {
	case m&fs.ModeNamedPipe != 0:
		kind = "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		kind = "a socket"
	case m&fs.ModeCharDevice != 0:
		kind = "a character device"
	case m&fs.ModeDevice != 0:
		kind = "a device"
	case m&fs.ModeSymlink != 0:
		kind = "a symbolic link"
	}
	return fmt.Errorf("%w: %s/%s is %s, not a regular file", ErrInvalidKey, bucket, key, kind)
}

// mapErr turns filesystem errors into the package's errors.
func mapErr(op, bucket, key string, err error) error {
	if err == nil {
		return nil
	}
	name := bucket + "/" + key
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return fmt.Errorf("%w: %s %s", ErrNotFound, op, name)
	case errors.Is(err, syscall.ELOOP), strings.Contains(err.Error(), "path escapes from parent"):
		return fmt.Errorf("%w: %s %s: leads outside the storage root", ErrInvalidKey, op, name)
	case errors.Is(err, syscall.ENAMETOOLONG):
		return fmt.Errorf("%w: %s %s: a segment is longer than the file system allows", ErrInvalidKey, op, name)
	}
	return fmt.Errorf("storage: %s %s: %w", op, name, err)
}

func (f *Folder) checkBucket(bucket string) error {
	fi, err := f.root.Stat(bucket)
	if err != nil {
		return mapErr("bucket", bucket, "", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: bucket %s", ErrNotFound, bucket)
	}
	return nil
}

// Stat implements Backend.
func (f *Folder) Stat(ctx context.Context, bucket, key string) (ObjectInfo, error) {
	if err := validate(bucket, key); err != nil {
		return ObjectInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return ObjectInfo{}, err
	}
	fi, err := f.root.Stat(bucket + "/" + key)
	if err != nil {
		return ObjectInfo{}, mapErr("stat", bucket, key, err)
	}
	if err := checkRegular(bucket, key, fi); err != nil {
		return ObjectInfo{}, err
	}
	return folderInfo(bucket, key, fi), nil
}

type folderObject struct {
	*os.File
	info ObjectInfo
}

func (o *folderObject) Size() int64      { return o.info.Size }
func (o *folderObject) Info() ObjectInfo { return o.info }

// open opens the file of an object, of the given version unless "". The
// file is checked to be a regular file before it is opened (so that no named
// pipe or device is ever opened) and again on the open descriptor, which is
// opened non-blocking (so that a file swapped for a named pipe meanwhile
// cannot block either). The version is compared on the open descriptor's
// stat, so the bytes read are those of the file whose identity was checked.
func (f *Folder) open(ctx context.Context, bucket, key, version string) (*folderObject, error) {
	if err := validate(bucket, key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	name := bucket + "/" + key
	fi, err := f.root.Stat(name)
	if err != nil {
		return nil, mapErr("open", bucket, key, err)
	}
	if err := checkRegular(bucket, key, fi); err != nil {
		return nil, err
	}
	file, err := f.root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, mapErr("open", bucket, key, err)
	}
	fi, err = file.Stat()
	if err != nil {
		file.Close()
		return nil, mapErr("open", bucket, key, err)
	}
	if err := checkRegular(bucket, key, fi); err != nil {
		file.Close()
		return nil, err
	}
	// A regular file: reads never block, but leave no doubt about it.
	if rc, err := file.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { syscall.SetNonblock(int(fd), false) })
	}
	info := folderInfo(bucket, key, fi)
	if version != "" && info.Version != version {
		file.Close()
		return nil, fmt.Errorf("%w: %s is version %s, not %s", ErrVersionGone, name, info.Version, version)
	}
	return &folderObject{File: file, info: info}, nil
}

// Open implements Backend. The open file keeps reading the version it opened,
// even when Put replaces the object meanwhile.
func (f *Folder) Open(ctx context.Context, bucket, key string) (Object, error) {
	return f.OpenVersion(ctx, bucket, key, "")
}

// OpenVersion implements Backend.
func (f *Folder) OpenVersion(ctx context.Context, bucket, key, version string) (Object, error) {
	o, err := f.open(ctx, bucket, key, version)
	if err != nil {
		return nil, err
	}
	return o, nil
}

// Get implements Backend.
func (f *Folder) Get(ctx context.Context, bucket, key string) (io.ReadCloser, ObjectInfo, error) {
	return f.GetVersion(ctx, bucket, key, "")
}

// GetVersion implements Backend. The open file is read to its end even when
// Put replaces the object meanwhile (Put renames a new file into place). A
// program other than emgd that rewrites the file in place while it is being
// read is not detected; one that rewrote it before shows as another version.
func (f *Folder) GetVersion(ctx context.Context, bucket, key, version string) (io.ReadCloser, ObjectInfo, error) {
	o, err := f.open(ctx, bucket, key, version)
	if err != nil {
		return nil, ObjectInfo{}, err
	}
	return o.File, o.info, nil
}

// ctxReader stops a copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Put implements Backend: the data goes to a temporary file under <root>/.tmp,
// is synced, and is renamed into place.
func (f *Folder) Put(ctx context.Context, bucket, key string, r io.Reader) (ObjectInfo, error) {
	if err := validate(bucket, key); err != nil {
		return ObjectInfo{}, err
	}
	if err := f.checkBucket(bucket); err != nil {
		return ObjectInfo{}, err
	}
	name := bucket + "/" + key
	if dir := path.Dir(name); dir != bucket {
		if err := f.root.MkdirAll(dir, 0o755); err != nil {
			if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, fs.ErrExist) {
				return ObjectInfo{}, fmt.Errorf("%w: %s: a parent of the key is an object", ErrInvalidKey, name)
			}
			return ObjectInfo{}, mapErr("put", bucket, key, err)
		}
	}
	var rnd [12]byte
	rand.Read(rnd[:])
	tmp := tmpDir + "/" + hex.EncodeToString(rnd[:])
	file, err := f.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return ObjectInfo{}, mapErr("put", bucket, key, err)
	}
	committed := false
	defer func() {
		if !committed {
			file.Close()
			f.root.Remove(tmp)
		}
	}()
	if _, err := io.Copy(file, ctxReader{ctx: ctx, r: r}); err != nil {
		return ObjectInfo{}, fmt.Errorf("storage: put %s: %w", name, err)
	}
	if err := file.Sync(); err != nil {
		return ObjectInfo{}, fmt.Errorf("storage: put %s: %w", name, err)
	}
	fi, err := file.Stat()
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("storage: put %s: %w", name, err)
	}
	if err := file.Close(); err != nil {
		return ObjectInfo{}, fmt.Errorf("storage: put %s: %w", name, err)
	}
	if st, err := f.root.Lstat(name); err == nil && st.IsDir() {
		return ObjectInfo{}, fmt.Errorf("%w: %s: a folder of objects has this name", ErrInvalidKey, name)
	}
	if err := f.root.Rename(tmp, name); err != nil {
		return ObjectInfo{}, mapErr("put", bucket, key, err)
	}
	committed = true
	// Make the rename itself durable.
	if d, err := f.root.Open(path.Dir(name)); err == nil {
		d.Sync()
		d.Close()
	}
	return folderInfo(bucket, key, fi), nil
}

// Delete implements Backend. Folders left empty are removed too.
func (f *Folder) Delete(ctx context.Context, bucket, key string) error {
	if err := validate(bucket, key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	name := bucket + "/" + key
	fi, err := f.root.Lstat(name)
	if err != nil {
		return mapErr("delete", bucket, key, err)
	}
	if fi.IsDir() {
		return fmt.Errorf("%w: %s is not an object", ErrNotFound, name)
	}
	if err := f.root.Remove(name); err != nil {
		return mapErr("delete", bucket, key, err)
	}
	for dir := path.Dir(name); dir != bucket && dir != "."; dir = path.Dir(dir) {
		if f.root.Remove(dir) != nil { // not empty (or gone): stop
			break
		}
	}
	return nil
}

// CreateBucket implements Backend.
func (f *Folder) CreateBucket(ctx context.Context, bucket string) error {
	if err := ValidateBucket(bucket); err != nil {
		return err
	}
	if err := f.root.Mkdir(bucket, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return mapErr("create bucket", bucket, "", err)
	}
	return f.checkBucket(bucket)
}

// List implements Backend. It yields regular files only, in byte order of
// their keys (as S3 does); symbolic links and names that are not valid keys
// are left out.
func (f *Folder) List(ctx context.Context, bucket, prefix string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		if err := ValidateBucket(bucket); err != nil {
			yield(ObjectInfo{}, err)
			return
		}
		if err := f.checkBucket(bucket); err != nil {
			yield(ObjectInfo{}, err)
			return
		}
		// Start at the deepest folder the prefix names whole.
		start := ""
		if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
			start = prefix[:i]
			if ValidateKey(start) != nil {
				return // no object can have this prefix
			}
		}
		f.walk(ctx, bucket, start, prefix, yield)
	}
}

// walk lists folder dir (a key prefix without trailing slash, "" for the
// bucket) recursively; it returns false when the consumer stopped.
func (f *Folder) walk(ctx context.Context, bucket, dir, prefix string, yield func(ObjectInfo, error) bool) bool {
	if err := ctx.Err(); err != nil {
		yield(ObjectInfo{}, err)
		return false
	}
	full := bucket
	if dir != "" {
		full += "/" + dir
	}
	entries, err := fs.ReadDir(f.root.FS(), full)
	if err != nil {
		if dir != "" && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)) {
			return true
		}
		return yield(ObjectInfo{}, mapErr("list", bucket, dir, err))
	}
	type entry struct {
		sortKey string
		e       fs.DirEntry
	}
	list := make([]entry, 0, len(entries))
	for _, e := range entries {
		k := e.Name()
		if e.IsDir() {
			k += "/"
		}
		list = append(list, entry{k, e})
	}
	slices.SortFunc(list, func(a, b entry) int { return strings.Compare(a.sortKey, b.sortKey) })
	for _, it := range list {
		key := it.e.Name()
		if dir != "" {
			key = dir + "/" + key
		}
		if it.e.IsDir() {
			// Descend only where keys can still match the prefix.
			p := key + "/"
			if strings.HasPrefix(p, prefix) || strings.HasPrefix(prefix, p) {
				if !f.walk(ctx, bucket, key, prefix, yield) {
					return false
				}
			}
			continue
		}
		if !it.e.Type().IsRegular() || !strings.HasPrefix(key, prefix) || ValidateKey(key) != nil {
			continue
		}
		fi, err := it.e.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted meanwhile
			}
			if !yield(ObjectInfo{}, mapErr("list", bucket, key, err)) {
				return false
			}
			continue
		}
		if !yield(folderInfo(bucket, key, fi), nil) {
			return false
		}
	}
	return true
}
