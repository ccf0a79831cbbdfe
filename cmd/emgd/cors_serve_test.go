package main

import (
	"io"
	"net/http"
	"testing"
)

// --cors-origins (EMGD_CORS_ORIGINS) reaches the server: a preflight from
// an allowed origin is answered 200 with its headers, another origin's 400.
func TestServeCORSOrigins(t *testing.T) {
	t.Setenv("EMGD_CORS_ORIGINS", "http://localhost:3000, https://clinic.example")
	fs := newFlagSet("serve", "", io.Discard)
	var cfg serverConfig
	cfg.bind(fs, true)
	if err := parseEnv(fs, nil); err != nil {
		t.Fatal(err)
	}
	cfg.Addr, cfg.DataDir, cfg.LogLevel = "127.0.0.1:0", t.TempDir(), "warn"
	addr, _ := startServe(t, cfg, true)
	for origin, want := range map[string]int{"https://clinic.example": 200, "http://localhost:3000": 200, "http://evil.example": 400} {
		req, _ := http.NewRequest("OPTIONS", "http://"+addr+"/health", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "GET")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		allowed := resp.Header.Get("Access-Control-Allow-Origin")
		if resp.StatusCode != want || (want == 200) != (allowed == origin) {
			t.Errorf("%s: %d, Access-Control-Allow-Origin %q", origin, resp.StatusCode, allowed)
		}
	}
}
