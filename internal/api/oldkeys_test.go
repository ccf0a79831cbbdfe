package api_test

import (
	"strings"
	"testing"

	"emgd/internal/api"
	"emgd/internal/testrec"
)

// The old backend's tests of its webhook (backend/tests/api/
// test_webhook_system_critical.py, test_api_endpoints.py at 6ec705a),
// replayed over HTTP: emgd answers with the old keys beside its own.

// test_webhook_ignores_non_c3d_files: a PDF in another bucket is answered
// 200, success, "Ignored" in the message and session_code null.
func TestOldWebhookIgnoresNonC3DFiles(t *testing.T) {
	e := newEnv(t, api.Config{})
	code, b := e.do("POST", "/webhooks/storage/c3d-upload", []byte(`{"type":"INSERT","table":"objects","schema":"storage",
		"record":{"name":"document.pdf","bucket_id":"documents","metadata":{"size":1024}}}`))
	v, present := b["session_code"]
	if code != 200 || b["success"] != true || !strings.Contains(b["message"].(string), "Ignored") || !present || v != nil {
		t.Fatalf("%d %v", code, b)
	}
	// A .pdf in the watched bucket, and each extension the old rule
	// refused, is ignored the same way.
	for _, name := range []string{"P039/test.txt", "P039/test.pdf", "P039/test.json", "P039/test.zip", "P039/test"} {
		code, b := e.do("POST", "/webhooks/storage/c3d-upload", supabaseEvent("INSERT", "c3d-examples", name, "e", 5))
		if code != 200 || b["success"] != true || !strings.HasPrefix(b["message"].(string), "Ignored") || b["session_code"] != nil {
			t.Errorf("%s: %d %v", name, code, b)
		}
	}
}

// test_webhook_invalid_json_handling, test_malformed_json and
// test_webhook_c3d_upload_invalid_payload: a 4xx naming what is wrong.
func TestOldWebhookRefusesInvalidJSON(t *testing.T) {
	e := newEnv(t, api.Config{})
	code, b := e.do("POST", "/webhooks/storage/c3d-upload", []byte("invalid json{"))
	if (code != 400 && code != 422) || !strings.Contains(strings.ToLower(b["error"].(string)), "json") {
		t.Errorf("invalid JSON: %d %v", code, b)
	}
	if code, b := e.do("POST", "/webhooks/storage/c3d-upload", []byte(`{"invalid":"data"}`)); code != 400 && code != 422 {
		t.Errorf("unknown payload: %d %v", code, b)
	}
}

// test_webhook_c3d_upload_valid_structure: a well-formed event for a .c3d
// object that is not in storage is a clean 404, not a 500.
func TestOldWebhookMissingObject(t *testing.T) {
	e := newEnv(t, api.Config{})
	code, b := e.do("POST", "/webhooks/storage/c3d-upload", []byte(`{"type":"INSERT","table":"objects","schema":"storage",
		"record":{"id":"test-file-123","name":"test_file.c3d","bucket_id":"c3d-examples","created_at":"2025-08-14T15:00:00Z",
		"updated_at":"2025-08-14T15:00:00Z","metadata":{"size":1024,"mimetype":"application/octet-stream"}},"old_record":null}`))
	if code != 404 || b["success"] != false {
		t.Errorf("%d %v", code, b)
	}
}

// An accepted upload answers the old WebhookResponse's keys: message "C3D
// processing initiated", session_code, session_id and processing_time_ms;
// the status route answers file_path and error_message.
func TestOldWebhookAndStatusKeys(t *testing.T) {
	e := newEnv(t, api.Config{})
	info := e.put("P042/test_file.c3d", testrec.Ghostly(testrec.Options{Seed: 3}))
	code, b := e.do("POST", "/webhooks/storage/c3d-upload", supabaseEvent("INSERT", "c3d-examples", "P042/test_file.c3d", info.ETag, info.Size))
	ms, isNum := b["processing_time_ms"].(float64)
	if code != 200 || b["success"] != true || b["message"] != "C3D processing initiated" || b["session_code"] != "P042S001" ||
		b["session_id"] == nil || !isNum || ms < 0 {
		t.Fatalf("%d %v", code, b)
	}
	code, st := e.do("GET", "/webhooks/storage/status/P042S001", nil)
	v, present := st["error_message"]
	if code != 200 || st["file_path"] != "c3d-examples/P042/test_file.c3d" || !present || v != nil || st["status"] != "pending" ||
		st["session_code"] != "P042S001" || st["has_analysis"] != false {
		t.Errorf("status: %d %v", code, st)
	}

	e.drain()
	code, st = e.do("GET", "/webhooks/storage/status/P042S001", nil)
	if code != 200 || st["status"] != "completed" || st["error_message"] != nil || st["has_analysis"] != true {
		t.Errorf("completed: %d %v", code, st)
	}
}

// A failed session's status names its error in error_message, as error.
func TestOldStatusErrorMessage(t *testing.T) {
	e := newEnv(t, api.Config{})
	info := e.put("P043/a.c3d", testrec.Ghostly(testrec.Options{Seed: 4}))
	if code, b := e.do("POST", "/webhooks/storage/c3d-upload", supabaseEvent("INSERT", "c3d-examples", "P043/a.c3d", info.ETag, info.Size)); code != 200 {
		t.Fatalf("%d %v", code, b)
	}
	// The object is replaced before phase 2 reads it: the session fails.
	e.put("P043/a.c3d", testrec.Ghostly(testrec.Options{Seed: 5}))
	e.drain()
	code, st := e.do("GET", "/webhooks/storage/status/P043S001", nil)
	msg, _ := st["error_message"].(string)
	if code != 200 || st["status"] != "failed" || msg == "" || st["error"] != msg {
		t.Errorf("%d %v", code, st)
	}
}
