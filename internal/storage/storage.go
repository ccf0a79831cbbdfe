// Package storage is emgd's object storage: buckets of objects addressed by
// slash-separated keys, with ranged random access (for reading a C3D header and
// parameter section without downloading the file), streaming reads, atomic
// writes, listing and deletion.
//
// Two backends implement Backend: a local folder (one sub-folder per bucket,
// the embedded default) and any S3-compatible server. Open picks one from a URL.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/url"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultBucket is the bucket GHOSTLY uploads land in.
const DefaultBucket = "c3d-examples"

// Errors returned by every backend. Test with errors.Is.
var (
	// ErrNotFound: the bucket or object does not exist.
	ErrNotFound = errors.New("storage: not found")
	// ErrInvalidKey: the key or bucket name is not acceptable (traversal,
	// absolute path, backslash, NUL or control characters, empty segments, a
	// symbolic link leading outside the storage root, a file that is not a
	// regular file such as a named pipe, device or socket, ...).
	ErrInvalidKey = errors.New("storage: invalid key")
	// ErrChanged: an object opened for random access was replaced while it was
	// being read (only backends that cannot keep reading the old version).
	ErrChanged = errors.New("storage: object changed while reading")
	// ErrVersionGone: OpenVersion or GetVersion asked for a version of an
	// object that exists but is now another version (it was overwritten).
	// A ranged read of an S3 object opened by version that finds the object
	// replaced fails with an error that is both ErrChanged and ErrVersionGone.
	ErrVersionGone = errors.New("storage: the object is no longer that version")
)

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Bucket  string
	Key     string
	Size    int64
	ETag    string // without quotes; a multipart suffix such as "-3" is kept
	ModTime time.Time
	// Version is the backend's own identity of this exact version of the
	// object, to be given back to OpenVersion and GetVersion:
	//   - S3: the ETag as the server returns it, without quotes (VersionId
	//     would need bucket versioning, which most servers leave off; an ETag
	//     works everywhere with If-Match and changes whenever the bytes do);
	//   - folder: "<size>-<mtime in Unix nanoseconds>" of the file. The inode
	//     and ctime are left out on purpose: copying or restoring the storage
	//     folder (rsync -a, backup) changes them without changing a byte, and
	//     would make every stored session's object look replaced.
	Version string
}

// Object is an open object for random access: ReadAt issues ranged reads, so
// reading a few kilobytes of a large file costs a few kilobytes. An Object keeps
// reading the version that was opened, or fails with ErrChanged.
type Object interface {
	io.ReaderAt
	io.Closer
	Size() int64
	Info() ObjectInfo
}

// Backend is a set of buckets of objects. All methods are safe for concurrent
// use. Keys are validated with ValidateKey and bucket names with
// ValidateBucket; a bad one yields ErrInvalidKey before anything is touched.
type Backend interface {
	// Stat returns the object's size, etag and modification time.
	Stat(ctx context.Context, bucket, key string) (ObjectInfo, error)
	// Open opens the object for ranged random access.
	Open(ctx context.Context, bucket, key string) (Object, error)
	// Get streams the whole object. The caller closes the reader.
	Get(ctx context.Context, bucket, key string) (io.ReadCloser, ObjectInfo, error)
	// OpenVersion is Open of one version of the object (an ObjectInfo.Version
	// seen before; "" means the current one, as Open). It fails with
	// ErrVersionGone when the object now is another version, ErrNotFound
	// when it does not exist.
	OpenVersion(ctx context.Context, bucket, key, version string) (Object, error)
	// GetVersion is Get of one version of the object ("" means the current
	// one, as Get); ErrVersionGone and ErrNotFound as OpenVersion. The bytes
	// streamed are all of that version: a replacement of the object during
	// the read never mixes two versions.
	GetVersion(ctx context.Context, bucket, key, version string) (io.ReadCloser, ObjectInfo, error)
	// Put stores r under key atomically: readers see the old object or the
	// whole new one, never a partial write. It returns the new object's info.
	Put(ctx context.Context, bucket, key string, r io.Reader) (ObjectInfo, error)
	// List yields the objects whose key starts with prefix (a plain string
	// prefix, not necessarily a whole segment), in key order. Stop early by
	// breaking out of the loop.
	List(ctx context.Context, bucket, prefix string) iter.Seq2[ObjectInfo, error]
	// Delete removes the object; ErrNotFound when it does not exist.
	Delete(ctx context.Context, bucket, key string) error
	// CreateBucket makes the bucket exist (no error when it already does).
	CreateBucket(ctx context.Context, bucket string) error
	// DefaultBucket is the bucket named by the storage URL (DefaultBucket for
	// folder storage unless the URL names another).
	DefaultBucket() string
	// Close releases the backend's resources.
	Close() error
}

// MaxKeyLen is the longest key accepted, in bytes (S3's limit).
const MaxKeyLen = 1024

// ValidateKey checks an object key: non-empty valid UTF-8 of at most MaxKeyLen
// bytes, slash-separated segments that are neither empty, "." nor "..", no
// leading slash, no backslash, NUL or other control character. The caller has
// already decoded any URL encoding; the key is checked exactly as given.
func ValidateKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty key", ErrInvalidKey)
	}
	if len(key) > MaxKeyLen {
		return fmt.Errorf("%w: key longer than %d bytes", ErrInvalidKey, MaxKeyLen)
	}
	if !utf8.ValidString(key) {
		return fmt.Errorf("%w: key is not valid UTF-8", ErrInvalidKey)
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: control character in key %q", ErrInvalidKey, key)
		}
		if r == '\\' {
			return fmt.Errorf("%w: backslash in key %q", ErrInvalidKey, key)
		}
	}
	if strings.HasPrefix(key, "/") || filepath.IsAbs(key) {
		return fmt.Errorf("%w: absolute key %q", ErrInvalidKey, key)
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch seg {
		case "":
			return fmt.Errorf("%w: empty segment in key %q", ErrInvalidKey, key)
		case ".", "..":
			return fmt.Errorf("%w: %q segment in key %q", ErrInvalidKey, seg, key)
		}
	}
	return nil
}

// ValidateBucket checks a bucket name against S3's rules: 3 to 63 characters
// of lower-case letters, digits, '.' and '-', starting and ending with a letter
// or digit, with no "..".
func ValidateBucket(bucket string) error {
	if len(bucket) < 3 || len(bucket) > 63 {
		return fmt.Errorf("%w: bucket name %q must have 3 to 63 characters", ErrInvalidKey, bucket)
	}
	for i := 0; i < len(bucket); i++ {
		c := bucket[i]
		alnum := (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
		if !alnum && c != '.' && c != '-' {
			return fmt.Errorf("%w: bucket name %q has character %q", ErrInvalidKey, bucket, c)
		}
		if (i == 0 || i == len(bucket)-1) && !alnum {
			return fmt.Errorf("%w: bucket name %q must start and end with a letter or digit", ErrInvalidKey, bucket)
		}
	}
	if strings.Contains(bucket, "..") {
		return fmt.Errorf("%w: bucket name %q contains \"..\"", ErrInvalidKey, bucket)
	}
	return nil
}

func validate(bucket, key string) error {
	if err := ValidateBucket(bucket); err != nil {
		return err
	}
	return ValidateKey(key)
}

// Open returns the backend named by rawURL:
//   - "" : folder storage rooted at <dataDir>/storage;
//   - "file:///abs/path" or "file://rel/path" (optional ?bucket=NAME for the
//     default bucket): folder storage rooted there;
//   - "s3://BUCKET?endpoint=URL&region=REGION": an S3-compatible server, path
//     style, credentials from the usual AWS_* environment variables (see OpenS3).
func Open(ctx context.Context, rawURL, dataDir string) (Backend, error) {
	if rawURL == "" {
		if dataDir == "" {
			return nil, errors.New("storage: neither a storage URL nor a data directory given")
		}
		return OpenFolder(filepath.Join(dataDir, "storage"), DefaultBucket)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("storage: parse URL: %w", err)
	}
	switch u.Scheme {
	case "file":
		root := u.Path
		if u.Host != "" { // file://rel/path
			root = u.Host + u.Path
		}
		if root == "" {
			return nil, fmt.Errorf("storage: %q names no folder", rawURL)
		}
		bucket := u.Query().Get("bucket")
		if bucket == "" {
			bucket = DefaultBucket
		}
		return OpenFolder(root, bucket)
	case "s3":
		cfg, err := ParseS3URL(rawURL)
		if err != nil {
			return nil, err
		}
		return OpenS3(ctx, cfg)
	default:
		return nil, fmt.Errorf("storage: unsupported scheme %q (want file:// or s3://)", u.Scheme)
	}
}
