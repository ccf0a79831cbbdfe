package main

import (
	"io"
	"slices"
	"strings"
	"testing"
)

// The external-identity flags: --oidc-issuer repeats and splits on commas,
// the variables are the defaults, --jwt-audience defaults to authenticated.
func TestJWTFlags(t *testing.T) {
	fs := newFlagSet("serve", "", io.Discard)
	var cfg serverConfig
	cfg.bind(fs, true)
	if err := parseEnv(fs, []string{"--oidc-issuer", "https://a.example", "--oidc-issuer", "https://b.example, https://c.example"}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"https://a.example", "https://b.example", "https://c.example"}; !slices.Equal(cfg.OIDCIssuers, want) {
		t.Errorf("OIDCIssuers %q, want %q", cfg.OIDCIssuers, want)
	}
	if cfg.JWTAudience != "authenticated" || cfg.JWTSecret != "" {
		t.Errorf("defaults: audience %q, secret %q", cfg.JWTAudience, cfg.JWTSecret)
	}

	secret := strings.Repeat("s3cr3t", 6)
	t.Setenv("EMGD_JWT_SECRET", secret)
	t.Setenv("EMGD_JWT_ISSUER", "https://ref.supabase.co/auth/v1")
	t.Setenv("EMGD_JWT_AUDIENCE", "emgd")
	t.Setenv("EMGD_OIDC_ISSUER", "https://a.example,https://b.example")
	fs = newFlagSet("serve", "", io.Discard)
	cfg = serverConfig{}
	cfg.bind(fs, true)
	if err := parseEnv(fs, nil); err != nil {
		t.Fatal(err)
	}
	if cfg.JWTSecret != secret || cfg.JWTIssuer != "https://ref.supabase.co/auth/v1" || cfg.JWTAudience != "emgd" || len(cfg.OIDCIssuers) != 2 {
		t.Errorf("from the environment: %+v", cfg.appConfig().JWT())
	}
	if err := cfg.validate(); err != nil {
		t.Errorf("valid settings refused: %v", err)
	}
}

// Bad external-identity settings stop serve at once (exit 2), naming the
// flag and never printing the secret.
func TestJWTFlagsRefused(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  string
		want string
	}{
		{env: "short-secret", want: "--jwt-secret"},
		{args: []string{"--jwt-issuer", "https://x.example"}, want: "--jwt-issuer"},
		{args: []string{"--oidc-issuer", "http://idp.example"}, want: "--oidc-issuer"},
	} {
		if tc.env != "" {
			t.Setenv("EMGD_JWT_SECRET", tc.env)
		}
		code, _, stderr := runCLI(append([]string{"serve", "--data-dir", t.TempDir()}, tc.args...)...)
		if code != 2 || !strings.Contains(stderr, tc.want) || (tc.env != "" && strings.Contains(stderr, tc.env)) {
			t.Errorf("%v %s: exit %d, stderr %q", tc.args, tc.env, code, stderr)
		}
		t.Setenv("EMGD_JWT_SECRET", "")
	}
}
