package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithy "github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// S3Config configures the S3 backend.
type S3Config struct {
	// Bucket is the default bucket (the host part of s3://BUCKET).
	Bucket string
	// Endpoint is the server's base URL, e.g. http://127.0.0.1:7070 or
	// https://PROJECT.supabase.co/storage/v1/s3 (a path prefix is kept).
	// Empty means AWS itself.
	Endpoint string
	// Region defaults to AWS_REGION, then us-east-1.
	Region string
	// AccessKey and SecretKey, when set, are used instead of the usual
	// environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
	// AWS_PROFILE and the shared files).
	AccessKey, SecretKey, SessionToken string
	// VirtualHosted addresses buckets as BUCKET.host instead of host/BUCKET.
	VirtualHosted bool
	// HTTPClient overrides the HTTP client.
	HTTPClient *http.Client
}

// ParseS3URL reads s3://BUCKET?endpoint=URL&region=REGION[&virtual_hosted=true].
func ParseS3URL(raw string) (S3Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return S3Config{}, fmt.Errorf("storage: parse URL: %w", err)
	}
	if u.Scheme != "s3" {
		return S3Config{}, fmt.Errorf("storage: %q is not an s3:// URL", raw)
	}
	if u.Path != "" && u.Path != "/" {
		return S3Config{}, fmt.Errorf("storage: %q: put the endpoint's path in ?endpoint=, not after the bucket", raw)
	}
	q := u.Query()
	cfg := S3Config{Bucket: u.Host, Endpoint: q.Get("endpoint"), Region: q.Get("region")}
	if v := q.Get("virtual_hosted"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return S3Config{}, fmt.Errorf("storage: virtual_hosted=%q: %w", v, err)
		}
		cfg.VirtualHosted = b
	}
	if err := ValidateBucket(cfg.Bucket); err != nil {
		return S3Config{}, err
	}
	if cfg.Endpoint != "" {
		e, err := url.Parse(cfg.Endpoint)
		if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" {
			return S3Config{}, fmt.Errorf("storage: endpoint %q is not an http(s) URL", cfg.Endpoint)
		}
	}
	return cfg, nil
}

// S3 is an S3-compatible backend (aws-sdk-go-v2).
type S3 struct {
	client        *s3.Client
	defaultBucket string
}

var _ Backend = (*S3)(nil)

// OpenS3 connects to an S3-compatible server. Nothing is sent until the first
// operation.
func OpenS3(ctx context.Context, c S3Config) (*S3, error) {
	if err := ValidateBucket(c.Bucket); err != nil {
		return nil, err
	}
	opts := []func(*config.LoadOptions) error{}
	region := c.Region
	if region == "" && os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "" {
		region = "us-east-1"
	}
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	if c.AccessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(c.AccessKey, c.SecretKey, c.SessionToken)))
	}
	if c.HTTPClient != nil {
		opts = append(opts, config.WithHTTPClient(c.HTTPClient))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("storage: load AWS configuration: %w", err)
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
		o.UsePathStyle = !c.VirtualHosted
		// Third-party servers do not all accept the newer default checksums.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return &S3{client: client, defaultBucket: c.Bucket}, nil
}

// Client returns the underlying SDK client.
func (s *S3) Client() *s3.Client { return s.client }

// DefaultBucket implements Backend.
func (s *S3) DefaultBucket() string { return s.defaultBucket }

// Close implements Backend.
func (s *S3) Close() error { return nil }

func trimETag(etag *string) string {
	return strings.Trim(aws.ToString(etag), `"`)
}

// mapS3Err turns SDK errors into the package's errors.
func mapS3Err(op, bucket, key string, err error) error {
	if err == nil {
		return nil
	}
	name := bucket + "/" + key
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NoSuchBucket", "NotFound":
			return fmt.Errorf("%w: %s %s", ErrNotFound, op, name)
		case "PreconditionFailed":
			return fmt.Errorf("%w: %s %s", ErrChanged, op, name)
		}
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		switch re.HTTPStatusCode() {
		case http.StatusNotFound:
			return fmt.Errorf("%w: %s %s", ErrNotFound, op, name)
		case http.StatusPreconditionFailed:
			return fmt.Errorf("%w: %s %s", ErrChanged, op, name)
		}
	}
	return fmt.Errorf("storage: %s %s: %w", op, name, err)
}

// Stat implements Backend.
func (s *S3) Stat(ctx context.Context, bucket, key string) (ObjectInfo, error) {
	return s.stat(ctx, bucket, key, "")
}

// ifMatch is the If-Match header asking for version ("" asks nothing).
func ifMatch(version string) *string {
	if version == "" {
		return nil
	}
	v := `"` + version + `"`
	return &v
}

// versionErr maps the failure of a request made with If-Match: a failed
// precondition means the object is now another version.
func versionErr(op, bucket, key, version string, err error) error {
	err = mapS3Err(op, bucket, key, err)
	if version != "" && errors.Is(err, ErrChanged) {
		return fmt.Errorf("%w: %s/%s is no longer version %s", ErrVersionGone, bucket, key, version)
	}
	return err
}

func (s *S3) stat(ctx context.Context, bucket, key, version string) (ObjectInfo, error) {
	if err := validate(bucket, key); err != nil {
		return ObjectInfo{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &key, IfMatch: ifMatch(version)})
	if err != nil {
		return ObjectInfo{}, versionErr("stat", bucket, key, version, err)
	}
	info := s3Info(bucket, key, aws.ToInt64(out.ContentLength), out.ETag, out.LastModified)
	if version != "" && info.Version != version {
		// A server that ignores If-Match.
		return ObjectInfo{}, fmt.Errorf("%w: %s/%s is version %s, not %s", ErrVersionGone, bucket, key, info.Version, version)
	}
	return info, nil
}

// s3Info is an object's info; its Version is its ETag.
func s3Info(bucket, key string, size int64, etag *string, modTime *time.Time) ObjectInfo {
	e := trimETag(etag)
	return ObjectInfo{Bucket: bucket, Key: key, Size: size, ETag: e, ModTime: aws.ToTime(modTime), Version: e}
}

// ReadAheadBytes is the least an S3 object's ReadAt fetches: reading a C3D
// header and then its parameter section, both near the start of the file,
// costs one request instead of several.
const ReadAheadBytes = 64 << 10

// s3Object reads ranges of one version of an object: every ranged GET carries
// If-Match with the etag seen at Open, so a replaced object fails with
// ErrChanged instead of mixing two versions. The last range fetched is kept,
// so that small reads close together need one request.
type s3Object struct {
	ctx  context.Context
	s    *S3
	info ObjectInfo

	mu     sync.Mutex
	bufOff int64
	buf    []byte
}

func (o *s3Object) Size() int64      { return o.info.Size }
func (o *s3Object) Info() ObjectInfo { return o.info }
func (o *s3Object) Close() error     { return nil }

func (o *s3Object) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("storage: negative offset %d", off)
	}
	if off >= o.info.Size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	want := int64(len(p))
	if rest := o.info.Size - off; want > rest {
		want = rest
	}
	o.mu.Lock()
	if off >= o.bufOff && off+want <= o.bufOff+int64(len(o.buf)) {
		n := copy(p[:want], o.buf[off-o.bufOff:])
		o.mu.Unlock()
		return o.result(n, len(p))
	}
	o.mu.Unlock()
	fetch := max(want, ReadAheadBytes)
	if rest := o.info.Size - off; fetch > rest {
		fetch = rest
	}
	rng := fmt.Sprintf("bytes=%d-%d", off, off+fetch-1)
	etag := `"` + o.info.ETag + `"`
	out, err := o.s.client.GetObject(o.ctx, &s3.GetObjectInput{
		Bucket: &o.info.Bucket, Key: &o.info.Key, Range: &rng, IfMatch: &etag})
	if err != nil {
		err = mapS3Err("read", o.info.Bucket, o.info.Key, err)
		if errors.Is(err, ErrChanged) {
			err = fmt.Errorf("%w (%w)", err, ErrVersionGone)
		}
		return 0, err
	}
	defer out.Body.Close()
	if fetch == want {
		n, err := io.ReadFull(out.Body, p[:want])
		if err != nil {
			return n, fmt.Errorf("storage: read %s/%s: %w", o.info.Bucket, o.info.Key, err)
		}
		return o.result(n, len(p))
	}
	buf := make([]byte, fetch)
	if _, err := io.ReadFull(out.Body, buf); err != nil {
		return 0, fmt.Errorf("storage: read %s/%s: %w", o.info.Bucket, o.info.Key, err)
	}
	n := copy(p[:want], buf)
	o.mu.Lock()
	o.bufOff, o.buf = off, buf
	o.mu.Unlock()
	return o.result(n, len(p))
}

// result is ReadAt's answer for n bytes read of the asked: io.EOF when the
// object ended first.
func (o *s3Object) result(n, asked int) (int, error) {
	if n < asked {
		return n, io.EOF
	}
	return n, nil
}

// Open implements Backend. The context is used for every later ReadAt.
func (s *S3) Open(ctx context.Context, bucket, key string) (Object, error) {
	return s.OpenVersion(ctx, bucket, key, "")
}

// OpenVersion implements Backend: HeadObject with If-Match; every later
// ranged read carries If-Match too.
func (s *S3) OpenVersion(ctx context.Context, bucket, key, version string) (Object, error) {
	info, err := s.stat(ctx, bucket, key, version)
	if err != nil {
		return nil, err
	}
	return &s3Object{ctx: ctx, s: s, info: info}, nil
}

// Get implements Backend.
func (s *S3) Get(ctx context.Context, bucket, key string) (io.ReadCloser, ObjectInfo, error) {
	return s.GetVersion(ctx, bucket, key, "")
}

// GetVersion implements Backend with one GetObject carrying If-Match: the
// server streams the version it matched, whatever happens to the key
// meanwhile.
func (s *S3) GetVersion(ctx context.Context, bucket, key, version string) (io.ReadCloser, ObjectInfo, error) {
	if err := validate(bucket, key); err != nil {
		return nil, ObjectInfo{}, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key, IfMatch: ifMatch(version)})
	if err != nil {
		return nil, ObjectInfo{}, versionErr("get", bucket, key, version, err)
	}
	info := s3Info(bucket, key, aws.ToInt64(out.ContentLength), out.ETag, out.LastModified)
	if version != "" && info.Version != version {
		out.Body.Close()
		return nil, ObjectInfo{}, fmt.Errorf("%w: %s/%s is version %s, not %s", ErrVersionGone, bucket, key, info.Version, version)
	}
	return out.Body, info, nil
}

// Put implements Backend with a single PutObject, which S3 applies
// atomically. A body that cannot seek is first spooled to a temporary file,
// since the request must state its length and be signed over its content.
func (s *S3) Put(ctx context.Context, bucket, key string, r io.Reader) (ObjectInfo, error) {
	if err := validate(bucket, key); err != nil {
		return ObjectInfo{}, err
	}
	body, ok := r.(io.ReadSeeker)
	if !ok {
		tmp, err := os.CreateTemp("", "emgd-put-*")
		if err != nil {
			return ObjectInfo{}, fmt.Errorf("storage: put %s/%s: %w", bucket, key, err)
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		if _, err := io.Copy(tmp, ctxReader{ctx: ctx, r: r}); err != nil {
			return ObjectInfo{}, fmt.Errorf("storage: put %s/%s: %w", bucket, key, err)
		}
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return ObjectInfo{}, fmt.Errorf("storage: put %s/%s: %w", bucket, key, err)
		}
		body = tmp
	}
	start, err := body.Seek(0, io.SeekCurrent)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("storage: put %s/%s: %w", bucket, key, err)
	}
	end, err := body.Seek(0, io.SeekEnd)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("storage: put %s/%s: %w", bucket, key, err)
	}
	if _, err := body.Seek(start, io.SeekStart); err != nil {
		return ObjectInfo{}, fmt.Errorf("storage: put %s/%s: %w", bucket, key, err)
	}
	size := end - start
	out, err := s.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key,
		Body: body, ContentLength: &size})
	if err != nil {
		return ObjectInfo{}, mapS3Err("put", bucket, key, err)
	}
	now := time.Now().UTC()
	info := s3Info(bucket, key, size, out.ETag, &now)
	if st, err := s.Stat(ctx, bucket, key); err == nil && st.ETag == info.ETag {
		info.ModTime = st.ModTime
	}
	return info, nil
}

// List implements Backend (ListObjectsV2, page by page).
func (s *S3) List(ctx context.Context, bucket, prefix string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		if err := ValidateBucket(bucket); err != nil {
			yield(ObjectInfo{}, err)
			return
		}
		in := &s3.ListObjectsV2Input{Bucket: &bucket}
		if prefix != "" {
			in.Prefix = &prefix
		}
		pages := s3.NewListObjectsV2Paginator(s.client, in)
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				yield(ObjectInfo{}, mapS3Err("list", bucket, prefix, err))
				return
			}
			for _, o := range page.Contents {
				key := aws.ToString(o.Key)
				if ValidateKey(key) != nil {
					continue // not addressable through this package
				}
				info := s3Info(bucket, key, aws.ToInt64(o.Size), o.ETag, o.LastModified)
				if !yield(info, nil) {
					return
				}
			}
		}
	}
}

// Delete implements Backend. S3 deletes missing keys silently, so the object
// is looked up first to report ErrNotFound.
func (s *S3) Delete(ctx context.Context, bucket, key string) error {
	if _, err := s.Stat(ctx, bucket, key); err != nil {
		return err
	}
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &key}); err != nil {
		return mapS3Err("delete", bucket, key, err)
	}
	return nil
}

// CreateBucket implements Backend.
func (s *S3) CreateBucket(ctx context.Context, bucket string) error {
	if err := ValidateBucket(bucket); err != nil {
		return err
	}
	_, err := s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && (ae.ErrorCode() == "BucketAlreadyOwnedByYou" || ae.ErrorCode() == "BucketAlreadyExists") {
			return nil
		}
		return mapS3Err("create bucket", bucket, "", err)
	}
	return nil
}
