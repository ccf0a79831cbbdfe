package faults

import (
	"bytes"
	"context"
	"mime/multipart"
	"strings"
	"testing"
	"time"

	"emgd/internal/storage"
	"emgd/internal/testrec"
	"emgd/internal/webhook"
)

// withPlayer returns a recording whose SUBJECTS:PLAYER_NAME is name (seven
// characters, the length of testrec's "Default").
func withPlayer(t *testing.T, name string) []byte {
	t.Helper()
	b := testrec.Ghostly(testrec.Options{Seed: 51})
	if len(name) != len("Default") || bytes.Count(b[:4096], []byte("Default")) != 1 {
		t.Fatal("cannot place the player name")
	}
	return bytes.Replace(b, []byte("Default"), []byte(name), 1)
}

// A server at debug level, driven through the webhook (signed, badly
// signed, wrong tokens), the read API, signals, recalc and upload: its log
// holds session and patient codes but never the webhook secret or tokens,
// a signature, or the player's name from the recording.
func TestLogsHoldNoSecretsOrPatientData(t *testing.T) {
	emgdBinary(t)
	t.Parallel()
	const (
		secret    = "whsec-0f1e2d3c4b5a69788796"
		token     = "whtok-a1b2c3d4e5f60718"
		readToken = "rdtok-99887766554433221100"
		guess     = "guess-5566778899aabbcc"
		player    = "Zoe Vos"
	)
	dir := t.TempDir()
	ctx := context.Background()
	stg, err := storage.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	stg.CreateBucket(ctx, storage.DefaultBucket)
	rec := withPlayer(t, player)
	key := "P070/Ghostly_Emg_20240106_11-00-00-0001.c3d"
	info, err := stg.Put(ctx, storage.DefaultBucket, key, bytes.NewReader(rec))
	if err != nil {
		t.Fatal(err)
	}
	srv := startEmgd(t, nil, "serve", "--data-dir", dir, "--log-level", "debug",
		"--webhook-secret", secret, "--webhook-token", token, "--read-token", readToken)
	body := supabaseEvent(storage.DefaultBucket, key, info.ETag, info.Size)
	sig := webhook.Sign(secret, body)
	auth := []string{"Authorization", "Bearer " + readToken}

	for name, c := range map[string]struct {
		header []string
		query  string
		want   int
	}{
		"no auth":         {nil, "", 401},
		"wrong signature": {[]string{"x-supabase-signature", webhook.Sign(guess, body)}, "", 401},
		"wrong bearer":    {[]string{"Authorization", "Bearer " + guess}, "", 401},
		"wrong ?token=":   {nil, "?token=" + guess, 401},
		"read token":      {[]string{"Authorization", "Bearer " + readToken}, "", 401},
	} {
		code, out := request(t, "POST", srv.base+"/webhooks/storage/c3d-upload"+c.query, "application/json", body, c.header...)
		if code != c.want {
			t.Errorf("webhook with %s: %d %v, want %d", name, code, out, c.want)
		}
	}
	code, out := srv.webhook(t, body, "x-supabase-signature", sig)
	if code != 200 {
		t.Fatalf("signed webhook: %d %v", code, out)
	}
	id := out["session_id"].(string)
	if code, _ := srv.webhook(t, body, "Authorization", "Bearer "+token); code != 200 {
		t.Errorf("webhook with the token: %d", code)
	}
	if st := srv.waitDone(t, id, 60*time.Second, auth...); st["status"] != "completed" {
		t.Fatalf("%v", st)
	}
	for _, p := range []string{"/sessions/" + id, "/webhooks/storage/status/" + id, "/sessions"} {
		if code, _ := request(t, "GET", srv.base+p, "", nil, "Authorization", "Bearer "+guess); code != 401 {
			t.Errorf("GET %s with a wrong read token: %d", p, code)
		}
	}
	code, sess := request(t, "GET", srv.base+"/sessions/"+id, "", nil, auth...)
	if code != 200 || !strings.Contains(stringify(sess), player) {
		t.Errorf("session answer (%d) lacks the player name that the log must not hold", code)
	}
	request(t, "GET", srv.base+"/signals/jit/"+id+"/CH1%20Raw?max_points=100", "", nil, auth...)
	if code, out := request(t, "POST", srv.base+"/sessions/"+id+"/recalc", "application/json", []byte(`{"rpe": 5}`), auth...); code != 202 {
		t.Errorf("recalc: %d %v", code, out)
	}
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	mw.WriteField("store", "true")
	mw.WriteField("patient_id", "P071")
	w, _ := mw.CreateFormFile("file", "Ghostly_Emg_20240106_12-00-00-0001.c3d")
	w.Write(rec)
	mw.Close()
	if code, out := request(t, "POST", srv.base+"/upload", mw.FormDataContentType(), form.Bytes(), auth...); code != 200 {
		t.Errorf("upload: %d %v", code, out["error"])
	}
	time.Sleep(time.Second) // let the recalc and the stored upload run
	srv.stop()

	logs := srv.logs.String()
	for _, c := range []string{"session created", "P070S001"} {
		if !strings.Contains(logs, c) {
			t.Fatalf("the log lacks %q: was it captured?\n%s", c, tail(logs, 2000))
		}
	}
	for what, s := range map[string]string{"webhook secret": secret, "webhook token": token, "read token": readToken,
		"guessed token": guess, "signature": strings.TrimPrefix(sig, "sha256="), "player name": player} {
		if strings.Contains(logs, s) {
			t.Errorf("the %s is in the log", what)
		}
	}
	t.Logf("%d log lines at debug level, none with a secret, token, signature or player name", strings.Count(logs, "\n"))
}

func stringify(v any) string {
	var b strings.Builder
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		case string:
			b.WriteString(x + "\n")
		}
	}
	walk(v)
	return b.String()
}
