package api_test

import (
	"testing"

	"emgd/internal/api"
)

// A notification that is not an object creation is answered 200 and
// ignored, before the service is asked (it knows no webhook event types).
func TestWebhookIgnoresDeletion(t *testing.T) {
	e := newEnv(t, api.Config{})
	code, body := e.do("POST", "/webhooks/storage/c3d-upload", supabaseEvent("DELETE", "c3d-examples", "P001/gone.c3d", "abc", 10))
	if code != 200 || body["ignored"] != true || body["message"] != "Ignored: event DELETE is not an object creation" || body["session_code"] != nil {
		t.Fatalf("%d %v", code, body)
	}
	if len(e.queue.jobs) != 0 {
		t.Errorf("jobs %v", e.queue.jobs)
	}
}
