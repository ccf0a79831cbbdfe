package faults

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"mime/multipart"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"emgd/internal/storage"
	"emgd/internal/testrec"
)

// setParam overwrites the data of parameter GROUP:NAME in an Intel C3D file
// with data of the same length.
func setParam(t *testing.T, b []byte, group, name string, data []byte) []byte {
	t.Helper()
	b = bytes.Clone(b)
	start := (int(b[0]) - 1) * 512
	groups := map[int8]string{}
	type rec struct {
		p, q int
		id   int8
		name string
	}
	var recs []rec
	for p := start + 4; p+2 < len(b); {
		nl := int(int8(b[p]))
		if nl == 0 {
			break
		}
		n := nl
		if n < 0 {
			n = -n
		}
		id := int8(b[p+1])
		nm := string(b[p+2 : p+2+n])
		q := p + 2 + n
		next := int(int16(binary.LittleEndian.Uint16(b[q:])))
		if id < 0 {
			groups[-id] = nm
		} else {
			recs = append(recs, rec{p, q, id, nm})
		}
		if next == 0 {
			break
		}
		p = q + next
	}
	for _, r := range recs {
		if groups[r.id] != group || r.name != name {
			continue
		}
		nd := int(b[r.q+3])
		at := r.q + 4 + nd
		copy(b[at:at+len(data)], data)
		return b
	}
	t.Fatalf("no parameter %s:%s", group, name)
	return nil
}

func f32(v float64) []byte {
	return binary.LittleEndian.AppendUint32(nil, math.Float32bits(float32(v)))
}
func i16(v int) []byte { return binary.LittleEndian.AppendUint16(nil, uint16(int16(v))) }

// What emgd must do with a broken recording.
type outcome int

const (
	// refused: not a readable C3D file; 422 at phase 1 and on upload, exit
	// status 1 from every command.
	refused outcome = iota
	// unanalysable: readable, but the analysis fails with a message: a
	// failed session, 422 on upload, exit status 1 from analyze.
	unanalysable
	// recovered: the reader recovers from the fault and says so in the
	// file's warnings; the analysis completes.
	recovered
)

// hostileFile is a broken recording and what emgd must do with it.
type hostileFile struct {
	name string
	data []byte
	want outcome
}

// hostileFiles derives broken recordings from a valid 15 s one.
func hostileFiles(t *testing.T) []hostileFile {
	good := testrec.Ghostly(testrec.Options{Seconds: 15, Seed: 41})
	rng := rand.New(rand.NewPCG(4, 1))
	random := make([]byte, 64<<10)
	for i := range random {
		random[i] = byte(rng.UintN(256))
	}
	dataStart := (int(binary.LittleEndian.Uint16(good[16:])) - 1) * 512
	nan := bytes.Clone(good)
	for i := dataStart + 100_000; i < dataStart+200_000; i++ {
		nan[i] = 0xff // float32 NaN in every channel for about 1.5 s
	}
	zeroRate := setParam(t, setParam(t, good, "ANALOG", "RATE", f32(0)), "POINT", "RATE", f32(0))
	zeroRate = append(zeroRate[:20:20], append(f32(0), zeroRate[24:]...)...) // header frame rate
	farParams := bytes.Clone(good)
	farParams[0] = 200 // parameter section at block 200
	return []hostileFile{
		{"empty", nil, refused},
		{"random bytes", random, refused},
		{"header only", good[:512], refused},
		{"truncated parameters", good[:700], refused},
		{"truncated data", good[:len(good)/2], refused},
		{"parameter section beyond the end", farParams, refused},
		{"zero rates", zeroRate, unanalysable},
		{"NaN samples", nan, unanalysable},
		{"absurd channel count", setParam(t, good, "ANALOG", "USED", i16(32000)), recovered},
		{"negative channel count", setParam(t, good, "ANALOG", "USED", i16(-5)), recovered},
		{"negative analog rate", setParam(t, good, "ANALOG", "RATE", f32(-990)), recovered},
		{"NaN analog rate", setParam(t, good, "ANALOG", "RATE", f32(math.NaN())), recovered},
	}
}

// manyRecords is an S3 notification of n records, each naming a key outside
// the bucket.
func manyRecords(n int) []byte {
	recs := make([]any, n)
	for i := range recs {
		recs[i] = map[string]any{"eventName": "s3:ObjectCreated:Put", "s3": map[string]any{
			"bucket": map[string]any{"name": storage.DefaultBucket}, "object": map[string]any{"key": fmt.Sprintf("../%d.c3d", i), "size": 1}}}
	}
	b, _ := json.Marshal(map[string]any{"Records": recs})
	return b
}

// snapshot lists the files under root, except those under skip.
func snapshot(t *testing.T, root string, skip string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if p == skip {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			out[p] = true
		}
		return nil
	})
	return out
}

// Hostile input at every HTTP entry point of a running server (webhook,
// upload, read API, signals): every request gets a 4xx, or a session that
// ends failed with a message; never a 5xx; the server stays up; nothing is
// read from or written outside the storage root.
func TestHostileInputLiveServer(t *testing.T) {
	emgdBinary(t)
	t.Parallel()
	root := t.TempDir()
	dataDir := filepath.Join(root, "data")
	storageRoot := filepath.Join(dataDir, "storage")
	ctx := context.Background()
	stg, err := storage.Open(ctx, "", dataDir)
	if err != nil {
		t.Fatal(err)
	}
	stg.CreateBucket(ctx, storage.DefaultBucket)
	good := testrec.Ghostly(testrec.Options{Seconds: 15, Seed: 42})
	// Readable recordings outside the bucket, where a traversal would land.
	for _, p := range []string{filepath.Join(root, "outside.c3d"), filepath.Join(dataDir, "outside.c3d"),
		filepath.Join(storageRoot, "outside.c3d"), filepath.Join(root, "etc", "outside.c3d")} {
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, good, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bucketDir := filepath.Join(storageRoot, storage.DefaultBucket)
	os.MkdirAll(filepath.Join(bucketDir, "P001"), 0o755)
	if err := os.Symlink(filepath.Join(root, "outside.c3d"), filepath.Join(bucketDir, "P001", "link.c3d")); err != nil {
		t.Fatal(err)
	}
	srv := startEmgd(t, nil, "serve", "--data-dir", dataDir, "--workers", "2", "--upload-limit-mb", "4")
	before := snapshot(t, root, storageRoot)

	var codes []string
	check := func(what string, code int, out map[string]any) {
		t.Helper()
		codes = append(codes, fmt.Sprintf("%s: %d", what, code))
		if testing.Verbose() {
			t.Logf("%-60s %d %v", firstLine(what), code, out["error"])
		}
		if code >= 500 {
			t.Errorf("%s: %d %v", what, code, out)
		}
		if code >= 400 {
			if msg, _ := out["error"].(string); msg == "" {
				t.Errorf("%s: %d without an error message: %v", what, code, out)
			}
		}
	}

	// Webhook: keys and buckets that name something outside the bucket.
	s3 := func(bucket, key string) []byte {
		b, _ := json.Marshal(map[string]any{"Records": []any{map[string]any{"eventName": "s3:ObjectCreated:Put",
			"s3": map[string]any{"bucket": map[string]any{"name": bucket}, "object": map[string]any{"key": key, "size": 10}}}}})
		return b
	}
	sb := storage.DefaultBucket
	for name, body := range map[string][]byte{
		"../ key":               supabaseEvent(sb, "../../../outside.c3d", "", 10),
		"../ inside key":        supabaseEvent(sb, "P001/../../outside.c3d", "", 10),
		"absolute key":          supabaseEvent(sb, "/etc/outside.c3d", "", 10),
		"absolute root key":     supabaseEvent(sb, root+"/outside.c3d", "", 10),
		"backslash key":         supabaseEvent(sb, `P001\..\..\outside.c3d`, "", 10),
		"NUL in key":            supabaseEvent(sb, "P001/a\x00.c3d", "", 10),
		"huge key":              supabaseEvent(sb, "P001/"+strings.Repeat("a", 10000)+".c3d", "", 10),
		"symlink out of bucket": supabaseEvent(sb, "P001/link.c3d", "", 10),
		"URL-encoded ../":       s3(sb, "..%2F..%2F..%2Foutside.c3d"),
		"URL-encoded %2e%2e":    s3(sb, "%2e%2e/%2e%2e/%2e%2e/outside.c3d"),
		"double-encoded ../":    s3(sb, "..%252F..%252Foutside.c3d"),
		"URL-encoded absolute":  s3(sb, "%2Fetc%2Foutside.c3d"),
		"../ bucket":            supabaseEvent("../"+sb, "P001/a.c3d", "", 10),
		"bucket with a slash":   supabaseEvent(sb+"/..", "outside.c3d", "", 10),
		"malformed JSON":        []byte(`{"type":`),
		"JSON null":             []byte(`null`),
		"JSON array":            []byte(`[1,2,3]`),
		"deep nesting":          bytes.Repeat([]byte("["), 500_000),
		"unknown shape":         []byte(`{"hello":"world"}`),
		"record of wrong types": []byte(`{"type":"INSERT","table":"objects","schema":"storage","record":{"bucket_id":5,"name":["x"]}}`),
		"empty Records":         []byte(`{"Records":[]}`),
		"invalid UTF-8":         []byte("{\"type\":\"INSERT\",\"table\":\"objects\",\"schema\":\"storage\",\"record\":{\"bucket_id\":\"c3d-examples\",\"name\":\"P001/\xff\xfe.c3d\"}}"),
		"2 MiB body":            bytes.Repeat([]byte(" "), 2<<20),
		"thousands of records":  manyRecords(3000),
	} {
		code, out := srv.webhook(t, body)
		check("webhook "+name, code, out)
		if out["session_id"] != nil {
			t.Errorf("webhook %s made a session: %v", name, out)
		}
	}
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"} {
		code, out := request(t, "POST", srv.base+"/webhooks/storage/c3d-upload", ct, supabaseEvent(sb, "P001/a.c3d", "", 1))
		check("webhook as "+ct, code, out)
		if code != 415 {
			t.Errorf("webhook as %s: %d, want 415", ct, code)
		}
	}

	// Webhook: broken recordings in the bucket.
	for i, h := range hostileFiles(t) {
		key := fmt.Sprintf("P050/hostile-%02d.c3d", i)
		info, err := stg.Put(ctx, sb, key, bytes.NewReader(h.data))
		if err != nil {
			t.Fatal(err)
		}
		code, out := srv.webhook(t, supabaseEvent(sb, key, info.ETag, info.Size))
		check("webhook file "+h.name, code, out)
		if h.want == refused {
			t.Logf("webhook file %-32s -> %d %v", h.name, code, out["error"])
			if code != 422 {
				t.Errorf("file %s: %d %v, want 422", h.name, code, out)
			}
			continue
		}
		if code != 200 || out["session_id"] == nil {
			t.Errorf("file %s: %d %v, want 200 and a session", h.name, code, out)
			continue
		}
		st := srv.waitDone(t, out["session_id"].(string), 60*time.Second)
		msg, _ := st["error"].(string)
		warnings, _ := out["metadata"].(map[string]any)["warnings"].([]any)
		t.Logf("webhook file %-32s -> 200, session %v: %s%v", h.name, st["status"], msg, warnings)
		switch h.want {
		case unanalysable:
			if st["status"] != "failed" || msg == "" {
				t.Errorf("file %s: session %v with error %q, want failed with a message", h.name, st["status"], msg)
			}
		case recovered:
			if st["status"] != "completed" || len(warnings) == 0 {
				t.Errorf("file %s: session %v, warnings %v; want completed with a warning", h.name, st["status"], warnings)
			}
		}
	}

	// Upload.
	upload := func(fields map[string]string, fileName string, data []byte) (int, map[string]any) {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		for k, v := range fields {
			mw.WriteField(k, v)
		}
		if fileName != "" {
			w, _ := mw.CreateFormFile("file", fileName)
			w.Write(data)
		}
		mw.Close()
		return request(t, "POST", srv.base+"/upload", mw.FormDataContentType(), body.Bytes())
	}
	for _, h := range hostileFiles(t) {
		code, out := upload(nil, "P001_hostile.c3d", h.data)
		check("upload file "+h.name, code, out)
		want := 422
		if h.want == recovered {
			want = 200
		}
		if code != want {
			t.Errorf("upload %s: %d %v, want %d", h.name, code, out["error"], want)
		}
	}
	for name, c := range map[string]struct {
		fields map[string]string
		file   string
		data   []byte
		want   int
	}{
		"../ file name, stored": {map[string]string{"store": "true", "patient_id": "P001"}, "../../../../outside-upload.c3d", good, 200},
		"absolute file name":    {map[string]string{"store": "true", "patient_id": "P001"}, "/etc/passwd.c3d", good, 200},
		"../ patient":           {map[string]string{"store": "true", "patient_id": "../../x"}, "a.c3d", good, 422},
		"no file":               {map[string]string{"store": "true"}, "", nil, 422},
		"not .c3d":              {nil, "notes.txt", good, 400},
		"over the limit":        {nil, "big.c3d", bytes.Repeat([]byte{1}, 5<<20), 413},
		"absurd threshold":      {map[string]string{"session_mvc_threshold_percentage": "1e400"}, "a.c3d", good, 0},
		"negative contractions": {map[string]string{"session_expected_contractions": "-3"}, "a.c3d", good, 0},
		"NaN parameter":         {map[string]string{"session_mvc_threshold_percentage": "NaN"}, "a.c3d", good, 0},
	} {
		code, out := upload(c.fields, c.file, c.data)
		check("upload "+name, code, out)
		if c.want != 0 && code != c.want {
			t.Errorf("upload %s: %d %v, want %d", name, code, out["error"], c.want)
		}
		if c.want == 0 && code < 400 {
			t.Errorf("upload %s: %d, want 4xx", name, code)
		}
		if code >= 400 {
			t.Logf("upload %-28s -> %d %v", name, code, out["error"])
		}
	}
	if code, out := request(t, "POST", srv.base+"/upload", "application/json", []byte(`{}`)); code != 422 {
		t.Errorf("upload as JSON: %d %v", code, out)
	}

	// A completed session to aim the read API and signals at.
	info, _ := stg.Put(ctx, sb, "P002/Ghostly_Emg_20240105_10-00-00-0001.c3d", bytes.NewReader(good))
	code, out := srv.webhook(t, supabaseEvent(sb, "P002/Ghostly_Emg_20240105_10-00-00-0001.c3d", info.ETag, info.Size))
	if code != 200 {
		t.Fatalf("%d %v", code, out)
	}
	id := out["session_id"].(string)
	if st := srv.waitDone(t, id, 60*time.Second); st["status"] != "completed" {
		t.Fatalf("%v", st)
	}
	for _, p := range []string{
		"/sessions?limit=-1", "/sessions?limit=99999999999999999999", "/sessions?cursor=%00%ff", "/sessions?cursor=../../x",
		"/sessions?status=deleted",
		"/sessions/..%2F..%2Fetc%2Fpasswd", "/sessions/%27%20OR%201%3D1--", "/webhooks/storage/status/..%2F..",
		"/webhooks/storage/status/" + strings.Repeat("9", 5000),
		"/signals/jit/" + id + "/CH1%20Raw?max_points=-5", "/signals/jit/" + id + "/CH1%20Raw?max_points=99999999999999999999",
		"/signals/jit/" + id + "/CH1%20Raw?downsample_factor=-1", "/signals/jit/" + id + "/CH1%20Raw?downsample_factor=1e20",
		"/signals/jit/" + id + "/CH1%20Raw?start_s=1e308", "/signals/jit/" + id + "/CH1%20Raw?end_s=-1",
		"/signals/jit/" + id + "/CH1%20Raw?start_s=NaN", "/signals/jit/" + id + "/CH1%20Raw?include_rms=%00",
		"/signals/jit/" + id + "/..%2F..%2F..%2Foutside.c3d", "/signals/jit/" + id + "/channels?channel=..%2F..%2Fx",
		"/signals/jit/..%2F..%2Foutside/CH1%20Raw", "/signals/jit/" + url.PathEscape(root+"/outside.c3d") + "/CH1%20Raw",
	} {
		code, out := request(t, "GET", srv.base+p, "", nil)
		check("GET "+p, code, out)
		if code < 400 {
			t.Errorf("GET %s: %d, want 4xx", p, code)
		}
	}
	if code, out := request(t, "GET", srv.base+"/sessions?patient=%27%20OR%201%3D1--", "", nil); code != 200 || len(out["sessions"].([]any)) != 0 {
		t.Errorf("patient filter with SQL in it: %d %v, want 200 and no sessions", code, out)
	}
	for name, body := range map[string]string{
		"NaN literal": `{"rpe": NaN}`, "number overflow": `{"rpe": 1e400}`, "unknown field": `{"rm -rf": 1}`,
		"negative MVC": `{"session_mvc_values": {"CH1": -1}}`, "wrong type": `{"rpe": "high"}`,
		"2 MiB": `{"x":"` + strings.Repeat("a", 2<<20) + `"}`, "deep nesting": strings.Repeat("[", 100000),
	} {
		code, out := request(t, "POST", srv.base+"/sessions/"+id+"/recalc", "application/json", []byte(body))
		check("recalc "+name, code, out)
		if code < 400 {
			t.Errorf("recalc %s: %d, want 4xx", name, code)
		}
	}

	if !srv.alive() {
		t.Fatal("the server is down")
	}
	sort.Strings(codes)
	t.Logf("%d hostile requests, none answered 5xx", len(codes))
	srv.stop()
	if logs := srv.logs.String(); strings.Contains(logs, "panic") {
		t.Errorf("panic in the server log:\n%s", logs)
	}
	// Outside the storage root, only the database files may have appeared.
	for p := range snapshot(t, root, storageRoot) {
		if !before[p] && !strings.HasPrefix(filepath.Base(p), "emgd.db") {
			t.Errorf("file written outside the storage root: %s", p)
		}
	}
	// Inside it, the uploads are in the bucket under the patient.
	for _, want := range []string{"P001/outside-upload.c3d", "P001/passwd.c3d"} {
		if _, err := os.Stat(filepath.Join(bucketDir, filepath.FromSlash(want))); err != nil {
			t.Errorf("upload not stored as %s: %v", want, err)
		}
	}
}

// The CLI on broken files: exit status 1 with a message naming the file,
// or, for faults the reader recovers from, 0 with a warning; never a panic.
func TestHostileInputCLI(t *testing.T) {
	bin := emgdBinary(t)
	t.Parallel()
	dir := t.TempDir()
	type input struct {
		name, path string
		want       outcome
	}
	var inputs []input
	for i, h := range hostileFiles(t) {
		p := filepath.Join(dir, fmt.Sprintf("hostile-%02d.c3d", i))
		os.WriteFile(p, h.data, 0o644)
		inputs = append(inputs, input{h.name, p, h.want})
	}
	inputs = append(inputs, input{"a missing file", filepath.Join(dir, "missing.c3d"), refused},
		input{"/dev/null", "/dev/null", refused}, input{"a folder of broken files", dir, refused})
	for _, in := range inputs {
		for _, args := range [][]string{{"inspect", "--json"}, {"export", "--csv", "-o", filepath.Join(t.TempDir(), "out.csv")}, {"analyze", "--json"}} {
			if args[0] != "analyze" && in.path == dir {
				continue // only analyze takes folders
			}
			cmd := exec.Command(bin, append(args, in.path)...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			cmd.Run()
			code := cmd.ProcessState.ExitCode()
			msg := strings.TrimSpace(stderr.String())
			if strings.Contains(msg, "panic") || strings.Contains(msg, "goroutine ") {
				t.Errorf("%s on %s panicked:\n%s", args[0], in.name, msg)
				continue
			}
			want := 1
			if in.want == recovered || (in.want == unanalysable && args[0] != "analyze") {
				want = 0
			}
			if code != want || (code == 1 && !strings.Contains(msg, filepath.Base(in.path))) {
				t.Errorf("%s on %s: exit %d, stderr %q; want %d (and the file named on failure)", args[0], in.name, code, msg, want)
				continue
			}
			if in.want == recovered && args[0] == "inspect" && !strings.Contains(stdout.String(), `"warnings": [`) {
				t.Errorf("inspect on %s: no warning: %s", in.name, firstLine(stdout.String()))
			}
			if code == 1 {
				t.Logf("%-8s %-32s exit 1: %s", args[0], in.name, firstLine(msg))
			} else {
				t.Logf("%-8s %-32s exit 0", args[0], in.name)
			}
		}
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 160 {
		s = s[:160] + "..."
	}
	return s
}
