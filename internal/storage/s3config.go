package storage

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The S3 backend reads its settings the way the AWS SDK's default
// configuration does, without linking the SDK's config package: that package
// links the SSO, SSO-OIDC, STS and sign-in clients, whose package
// initialisers (endpoint tables, regular expressions, schemas) every emgd
// command paid at start, --help included, whether or not it used S3.
//
// What is read: the credentials (below), the region (s3Region), AWS_CA_BUNDLE,
// AWS_MAX_ATTEMPTS, AWS_RETRY_MODE, and AWS_ENDPOINT_URL_S3 or
// AWS_ENDPOINT_URL when the storage URL names no endpoint. Sources of
// credentials that need the SDK's other clients (web identity, SSO, role
// assumption, credential_process) stop OpenS3 with an error naming them.

// s3Region is the region OpenS3 signs for: the storage URL's, then
// AWS_REGION, then AWS_DEFAULT_REGION, then us-east-1.
func s3Region(c S3Config) string {
	for _, r := range []string{c.Region, os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION")} {
		if r != "" {
			return r
		}
	}
	return "us-east-1"
}

// s3Options fills the client options OpenS3 builds the client from.
func s3Options(c S3Config) (s3.Options, error) {
	o := s3.Options{Region: s3Region(c)}
	creds, err := s3Credentials(c)
	if err != nil {
		return o, err
	}
	o.Credentials = creds
	if v := os.Getenv("AWS_MAX_ATTEMPTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return o, fmt.Errorf("storage: AWS_MAX_ATTEMPTS=%q: want a positive integer", v)
		}
		o.RetryMaxAttempts = n
	}
	if v := os.Getenv("AWS_RETRY_MODE"); v != "" {
		m, err := aws.ParseRetryMode(v)
		if err != nil {
			return o, fmt.Errorf("storage: AWS_RETRY_MODE: %w", err)
		}
		o.RetryMode = m
	}
	if c.HTTPClient != nil {
		o.HTTPClient = c.HTTPClient
	} else if path := os.Getenv("AWS_CA_BUNDLE"); path != "" {
		pem, err := os.ReadFile(path)
		if err != nil {
			return o, fmt.Errorf("storage: AWS_CA_BUNDLE: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return o, fmt.Errorf("storage: AWS_CA_BUNDLE=%s holds no PEM certificate", path)
		}
		o.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			if tr.TLSClientConfig == nil {
				tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
			}
			tr.TLSClientConfig.RootCAs = pool
		})
	}
	if c.Endpoint == "" && !strings.EqualFold(os.Getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"), "true") {
		for _, name := range []string{"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"} {
			if v := os.Getenv(name); v != "" {
				o.BaseEndpoint = aws.String(v)
				break
			}
		}
	}
	return o, nil
}

// s3Credentials returns the credentials OpenS3 signs with, looked for in the
// order of the AWS SDK's default chain:
//  1. the S3Config's keys;
//  2. AWS_ACCESS_KEY_ID (or AWS_ACCESS_KEY) and AWS_SECRET_ACCESS_KEY (or
//     AWS_SECRET_KEY), with AWS_SESSION_TOKEN;
//  3. the keys of the profile AWS_PROFILE (or AWS_DEFAULT_PROFILE, or
//     "default") in the shared credentials file (AWS_SHARED_CREDENTIALS_FILE,
//     ~/.aws/credentials) or config file (AWS_CONFIG_FILE, ~/.aws/config);
//     a profile named in the environment must exist;
//  4. a container's credentials endpoint (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
//     or AWS_CONTAINER_CREDENTIALS_FULL_URI, with
//     AWS_CONTAINER_AUTHORIZATION_TOKEN or AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE);
//  5. the EC2 instance's role, unless AWS_EC2_METADATA_DISABLED=true.
func s3Credentials(c S3Config) (aws.CredentialsProvider, error) {
	if c.AccessKey != "" {
		return credentials.NewStaticCredentialsProvider(c.AccessKey, c.SecretKey, c.SessionToken), nil
	}
	id, secret := firstEnv("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY"), firstEnv("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY")
	if id != "" && secret != "" {
		return credentials.NewStaticCredentialsProvider(id, secret, os.Getenv("AWS_SESSION_TOKEN")), nil
	}
	if os.Getenv("AWS_WEB_IDENTITY_TOKEN_FILE") != "" {
		return nil, errors.New("storage: AWS_WEB_IDENTITY_TOKEN_FILE is set, but emgd does not assume roles: give the keys in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile's keys, or a container or instance role")
	}
	profile, keys, err := sharedProfile()
	if err != nil {
		return nil, err
	}
	for _, k := range []string{"role_arn", "source_profile", "credential_source", "credential_process", "sso_session",
		"sso_start_url", "sso_account_id", "sso_role_name", "web_identity_token_file", "login_session"} {
		if keys[k] != "" {
			return nil, fmt.Errorf("storage: AWS profile %q sets %s, which emgd does not support: give the profile aws_access_key_id and aws_secret_access_key, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", profile, k)
		}
	}
	if id, secret := keys["aws_access_key_id"], keys["aws_secret_access_key"]; id != "" && secret != "" {
		return credentials.NewStaticCredentialsProvider(id, secret, keys["aws_session_token"]), nil
	}
	if p, err := containerCredentials(); p != nil || err != nil {
		return p, err
	}
	if strings.EqualFold(os.Getenv("AWS_EC2_METADATA_DISABLED"), "true") {
		return noCredentials{}, nil
	}
	return aws.NewCredentialsCache(ec2rolecreds.New()), nil
}

// noCredentials fails every request that needs credentials, saying where
// they are looked for.
type noCredentials struct{}

func (noCredentials) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{}, errNoCredentials
}

var errNoCredentials = errors.New("storage: no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile's keys in the shared credentials file")

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// containerCredentials is the ECS/EKS container credentials provider, or nil
// when the environment names no container endpoint.
func containerCredentials() (aws.CredentialsProvider, error) {
	endpoint := ""
	if rel := os.Getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"); rel != "" {
		endpoint = "http://169.254.170.2" + rel
	} else if full := os.Getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI"); full != "" {
		u, err := url.Parse(full)
		if err != nil || u.Hostname() == "" {
			return nil, fmt.Errorf("storage: AWS_CONTAINER_CREDENTIALS_FULL_URI=%q is not a URL", full)
		}
		if u.Scheme == "http" && !allowedContainerHost(u.Hostname()) {
			return nil, fmt.Errorf("storage: AWS_CONTAINER_CREDENTIALS_FULL_URI=%q: an http endpoint must be a loopback, ECS or EKS address", full)
		}
		endpoint = full
	} else {
		return nil, nil
	}
	p := endpointcreds.New(endpoint, func(o *endpointcreds.Options) {
		o.AuthorizationToken = os.Getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN")
		if path := os.Getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"); path != "" {
			o.AuthorizationTokenProvider = endpointcreds.TokenProviderFunc(func() (string, error) {
				b, err := os.ReadFile(path)
				if err != nil {
					return "", fmt.Errorf("read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: %w", err)
				}
				return string(b), nil
			})
		}
	})
	return aws.NewCredentialsCache(p, func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = 5 * time.Minute }), nil
}

// allowedContainerHost reports whether host is a loopback address or the ECS
// or EKS credentials address (the SDK's rule for plain http).
func allowedContainerHost(host string) bool {
	switch host {
	case "169.254.170.2", "169.254.170.23", "fd00:ec2::23", "localhost":
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// sharedProfile returns the profile named by AWS_PROFILE (or
// AWS_DEFAULT_PROFILE, or "default") and its keys from the shared config
// file, overridden key by key by the shared credentials file. Missing files
// are no error; a profile named in the environment that neither file has is.
func sharedProfile() (string, map[string]string, error) {
	name := firstEnv("AWS_PROFILE", "AWS_DEFAULT_PROFILE")
	named := name != ""
	if !named {
		name = "default"
	}
	home, _ := os.UserHomeDir()
	file := func(env, base string) string {
		if v := os.Getenv(env); v != "" {
			return v
		}
		if home == "" {
			return ""
		}
		return filepath.Join(home, ".aws", base)
	}
	keys := map[string]string{}
	found := false
	// The config file names a profile "[profile NAME]" (or "[default]"),
	// the credentials file "[NAME]".
	sections := []string{"profile " + name}
	if name == "default" {
		sections = append(sections, "default")
	}
	for _, f := range []struct {
		path     string
		sections []string
	}{
		{file("AWS_CONFIG_FILE", "config"), sections},
		{file("AWS_SHARED_CREDENTIALS_FILE", "credentials"), []string{name}},
	} {
		if f.path == "" {
			continue
		}
		ok, err := readProfile(f.path, f.sections, keys)
		if err != nil {
			return name, nil, err
		}
		found = found || ok
	}
	if named && !found {
		return name, nil, fmt.Errorf("storage: AWS profile %q is in neither the shared config nor the credentials file", name)
	}
	return name, keys, nil
}

// readProfile adds to keys the "key = value" lines of the sections of an INI
// file named one of names, and reports whether it has such a section. Keys
// are lowercased; comment lines (# or ;) and indented sub-settings are
// skipped. A missing file has no sections.
func readProfile(path string, names []string, keys map[string]string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("storage: AWS shared file: %w", err)
	}
	defer f.Close()
	found, in := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		raw := sc.Text()
		line := strings.TrimSpace(raw)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			section := strings.Join(strings.Fields(strings.Trim(line, "[]")), " ")
			in = false
			for _, n := range names {
				if section == n {
					in, found = true, true
				}
			}
			continue
		}
		if !in || raw[0] == ' ' || raw[0] == '\t' {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			keys[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
		}
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("storage: AWS shared file %s: %w", path, err)
	}
	return found, nil
}
