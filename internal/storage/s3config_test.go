package storage

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// cleanAWSEnv empties every variable the S3 settings read and points HOME
// at an empty folder, so that the machine's own AWS settings do not leak in.
func cleanAWSEnv(t *testing.T) string {
	t.Helper()
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY",
		"AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
		"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
		"AWS_EC2_METADATA_DISABLED", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", "AWS_CA_BUNDLE", "AWS_ENDPOINT_URL",
		"AWS_ENDPOINT_URL_S3", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"} {
		t.Setenv(k, "")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	return home
}

func retrieve(t *testing.T, c S3Config) (string, string, string, error) {
	t.Helper()
	p, err := s3Credentials(c)
	if err != nil {
		return "", "", "", err
	}
	v, err := p.Retrieve(context.Background())
	return v.AccessKeyID, v.SecretAccessKey, v.SessionToken, err
}

func wantKeys(t *testing.T, c S3Config, id, secret, token string) {
	t.Helper()
	gi, gs, gt, err := retrieve(t, c)
	if err != nil || gi != id || gs != secret || gt != token {
		t.Errorf("credentials = %q %q %q, %v; want %q %q %q", gi, gs, gt, err, id, secret, token)
	}
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestS3CredentialsOrder(t *testing.T) {
	home := cleanAWSEnv(t)
	writeFile(t, filepath.Join(home, ".aws", "credentials"), `# shared credentials
[default]
aws_access_key_id = FILEDEFAULT
aws_secret_access_key = filesecret

[clinic]
aws_access_key_id=CLINIC
aws_secret_access_key=clinicsecret
aws_session_token = clinictoken
`)
	writeFile(t, filepath.Join(home, ".aws", "config"), `[default]
region = eu-west-1

[profile fromconfig]
aws_access_key_id = CONFIGKEY
aws_secret_access_key = configsecret
s3 =
  max_concurrent_requests = 10

[profile clinic]
aws_access_key_id = OVERRIDDEN
aws_secret_access_key = overridden
`)
	// the shared files' default profile
	wantKeys(t, S3Config{}, "FILEDEFAULT", "filesecret", "")
	// a named profile: the credentials file wins over the config file
	t.Setenv("AWS_PROFILE", "clinic")
	wantKeys(t, S3Config{}, "CLINIC", "clinicsecret", "clinictoken")
	// a profile of the config file only; nested settings are skipped
	t.Setenv("AWS_PROFILE", "fromconfig")
	wantKeys(t, S3Config{}, "CONFIGKEY", "configsecret", "")
	// the environment's keys win over the profile
	t.Setenv("AWS_ACCESS_KEY_ID", "ENVKEY")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "envsecret")
	t.Setenv("AWS_SESSION_TOKEN", "envtoken")
	wantKeys(t, S3Config{}, "ENVKEY", "envsecret", "envtoken")
	// and the configuration's keys over the environment
	wantKeys(t, S3Config{AccessKey: "CFG", SecretKey: "cfgsecret"}, "CFG", "cfgsecret", "")
	// the older names of the variables
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_ACCESS_KEY", "OLDKEY")
	t.Setenv("AWS_SECRET_KEY", "oldsecret")
	wantKeys(t, S3Config{}, "OLDKEY", "oldsecret", "envtoken")
}

func TestS3CredentialsFilesFromEnvironment(t *testing.T) {
	cleanAWSEnv(t)
	dir := t.TempDir()
	creds := filepath.Join(dir, "creds")
	writeFile(t, creds, "[team]\naws_access_key_id = TEAM\naws_secret_access_key = teamsecret\n")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", creds)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "missing"))
	t.Setenv("AWS_DEFAULT_PROFILE", "team")
	wantKeys(t, S3Config{}, "TEAM", "teamsecret", "")
}

func TestS3CredentialsRefused(t *testing.T) {
	home := cleanAWSEnv(t)
	writeFile(t, filepath.Join(home, ".aws", "config"), `[profile sso]
sso_session = clinic
sso_account_id = 123
[profile assume]
role_arn = arn:aws:iam::123:role/emgd
source_profile = default
[profile process]
credential_process = /bin/creds
`)
	for _, c := range []struct{ profile, want string }{
		{"sso", "sso_session"}, {"assume", "role_arn"}, {"process", "credential_process"}, {"nowhere", "neither"},
	} {
		t.Setenv("AWS_PROFILE", c.profile)
		if _, _, _, err := retrieve(t, S3Config{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("profile %s: err = %v, want one naming %s", c.profile, err, c.want)
		}
		// and OpenS3 refuses it at once
		if _, err := OpenS3(context.Background(), S3Config{Bucket: "c3d-examples"}); err == nil {
			t.Errorf("OpenS3 with profile %s: no error", c.profile)
		}
	}
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/token")
	if _, _, _, err := retrieve(t, S3Config{}); err == nil || !strings.Contains(err.Error(), "AWS_WEB_IDENTITY_TOKEN_FILE") {
		t.Errorf("web identity: err = %v, want one naming AWS_WEB_IDENTITY_TOKEN_FILE", err)
	}
	// keys in the environment need no role
	t.Setenv("AWS_ACCESS_KEY_ID", "K")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "S")
	wantKeys(t, S3Config{}, "K", "S", "")
}

func TestS3CredentialsNone(t *testing.T) {
	cleanAWSEnv(t)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	if _, _, _, err := retrieve(t, S3Config{}); !errors.Is(err, errNoCredentials) {
		t.Errorf("err = %v, want errNoCredentials", err)
	}
}

func TestS3CredentialsFromContainer(t *testing.T) {
	cleanAWSEnv(t)
	var mu sync.Mutex
	var auths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auths = append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
		json.NewEncoder(w).Encode(map[string]string{"AccessKeyId": "TASK", "SecretAccessKey": "tasksecret",
			"Token": "tasktoken", "Expiration": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
	}))
	defer srv.Close()
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", srv.URL+"/creds")
	tokenFile := filepath.Join(t.TempDir(), "token")
	writeFile(t, tokenFile, "filetoken")
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "envtoken")
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tokenFile)
	wantKeys(t, S3Config{}, "TASK", "tasksecret", "tasktoken")
	mu.Lock()
	if len(auths) != 1 || auths[0] != "filetoken" {
		t.Errorf("authorization sent %q, want the token file's, once", auths)
	}
	mu.Unlock()

	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://credentials.example.com/creds")
	if _, err := s3Credentials(S3Config{}); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("a plain-http endpoint elsewhere: err = %v", err)
	}
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "https://credentials.example.com/creds")
	if p, err := s3Credentials(S3Config{}); err != nil || p == nil {
		t.Errorf("an https endpoint: %v, %v", p, err)
	}
}

func TestS3Region(t *testing.T) {
	cleanAWSEnv(t)
	if r := s3Region(S3Config{}); r != "us-east-1" {
		t.Errorf("default region %q", r)
	}
	t.Setenv("AWS_DEFAULT_REGION", "eu-west-3")
	if r := s3Region(S3Config{}); r != "eu-west-3" {
		t.Errorf("AWS_DEFAULT_REGION: %q", r)
	}
	t.Setenv("AWS_REGION", "eu-central-1")
	if r := s3Region(S3Config{}); r != "eu-central-1" {
		t.Errorf("AWS_REGION: %q", r)
	}
	if r := s3Region(S3Config{Region: "ap-south-1"}); r != "ap-south-1" {
		t.Errorf("the URL's region: %q", r)
	}
}

func TestS3OptionsFromEnvironment(t *testing.T) {
	cleanAWSEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "K")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "S")
	t.Setenv("AWS_MAX_ATTEMPTS", "7")
	t.Setenv("AWS_RETRY_MODE", "adaptive")
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	t.Setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:2")
	o, err := s3Options(S3Config{})
	if err != nil {
		t.Fatal(err)
	}
	if o.RetryMaxAttempts != 7 || o.RetryMode != "adaptive" || o.BaseEndpoint == nil || *o.BaseEndpoint != "http://127.0.0.1:2" {
		t.Errorf("options: attempts %d, mode %q, endpoint %v", o.RetryMaxAttempts, o.RetryMode, o.BaseEndpoint)
	}
	// the storage URL's endpoint is not overridden
	if o, err := s3Options(S3Config{Endpoint: "http://127.0.0.1:3"}); err != nil || o.BaseEndpoint != nil {
		t.Errorf("with an endpoint: %v, %v", o.BaseEndpoint, err)
	}
	for k, v := range map[string]string{"AWS_MAX_ATTEMPTS": "many", "AWS_RETRY_MODE": "eager", "AWS_CA_BUNDLE": "/nonexistent"} {
		t.Run(k, func(t *testing.T) {
			t.Setenv(k, v)
			if _, err := s3Options(S3Config{}); err == nil || !strings.Contains(err.Error(), k) {
				t.Errorf("%s=%s: err = %v, want one naming it", k, v, err)
			}
		})
	}
	pem := filepath.Join(t.TempDir(), "ca.pem")
	writeFile(t, pem, "not a certificate")
	t.Setenv("AWS_CA_BUNDLE", pem)
	if _, err := s3Options(S3Config{}); err == nil || !strings.Contains(err.Error(), "AWS_CA_BUNDLE") {
		t.Errorf("a bundle without certificates: err = %v", err)
	}
}

// TestS3SignsWithProfile sends a request through the backend opened from a
// URL and checks that it is signed with the profile's key for the region.
func TestS3SignsWithProfile(t *testing.T) {
	home := cleanAWSEnv(t)
	writeFile(t, filepath.Join(home, ".aws", "credentials"), "[clinic]\naws_access_key_id = PROFILEKEY\naws_secret_access_key = s\n")
	t.Setenv("AWS_PROFILE", "clinic")
	var mu sync.Mutex
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = r.Header.Get("Authorization")
		mu.Unlock()
		w.Header().Set("ETag", `"e"`)
		w.Header().Set("Content-Length", "3")
	}))
	defer srv.Close()
	t.Setenv("AWS_ENDPOINT_URL_S3", srv.URL)
	b, err := Open(context.Background(), "s3://c3d-examples?region=eu-central-1", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Stat(context.Background(), "c3d-examples", "P001/x.c3d"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(auth, "Credential=PROFILEKEY/") || !strings.Contains(auth, "/eu-central-1/s3/aws4_request") {
		t.Errorf("Authorization %q: want the profile's key and the URL's region", auth)
	}
}

// TestS3CABundle reaches a TLS server whose certificate only AWS_CA_BUNDLE
// holds.
func TestS3CABundle(t *testing.T) {
	cleanAWSEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "K")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "S")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"e"`)
		w.Header().Set("Content-Length", "3")
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.StartTLS()
	defer srv.Close()
	ctx := context.Background()
	url := "s3://c3d-examples?endpoint=" + srv.URL
	b, err := Open(ctx, url, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Stat(ctx, "c3d-examples", "P001/x.c3d"); err == nil {
		t.Fatal("an unknown certificate was accepted")
	}
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	writeFile(t, bundle, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))
	t.Setenv("AWS_CA_BUNDLE", bundle)
	if b, err = Open(ctx, url, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Stat(ctx, "c3d-examples", "P001/x.c3d"); err != nil {
		t.Errorf("with AWS_CA_BUNDLE: %v", err)
	}
}
