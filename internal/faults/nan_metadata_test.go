package faults

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"mime/multipart"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"emgd/internal/storage"
	"emgd/internal/store/storetest"
	"emgd/internal/testenv"
)

// patchFloatParam overwrites the first value of the float parameter
// GROUP:NAME in an Intel C3D file's parameter section and reports whether
// it found one.
func patchFloatParam(data []byte, group, name string, v float32) bool {
	if len(data) < 512 || data[1] != 0x50 {
		return false
	}
	start := (int(data[0]) - 1) * 512
	if start < 0 || start+4 > len(data) || data[start+3] != 84 { // Intel only
		return false
	}
	end := start + int(data[start+2])*512
	if end > len(data) {
		end = len(data)
	}
	groupID := 0
	type entry struct {
		id   int
		name string
		body int // offset just after the next-pointer
	}
	var params []entry
	for at := start + 4; at+2 <= end; {
		nameLen := int(int8(data[at]))
		if nameLen < 0 {
			nameLen = -nameLen
		}
		if nameLen == 0 {
			break
		}
		id := int(int8(data[at+1]))
		if at+2+nameLen+2 > end {
			break
		}
		nm := string(data[at+2 : at+2+nameLen])
		next := int(binary.LittleEndian.Uint16(data[at+2+nameLen:]))
		body := at + 2 + nameLen + 2
		if id < 0 && strings.EqualFold(nm, group) {
			groupID = -id
		} else if id > 0 {
			params = append(params, entry{id, nm, body})
		}
		if next == 0 {
			break
		}
		at = body - 2 + next
	}
	for _, p := range params {
		if p.id != groupID || !strings.EqualFold(p.name, name) {
			continue
		}
		typ, ndims := int8(data[p.body]), int(data[p.body+1])
		if typ != 4 {
			return false
		}
		off := p.body + 2 + ndims
		binary.LittleEndian.PutUint32(data[off:], math.Float32bits(v))
		return true
	}
	return false
}

// A real GHOSTLY recording whose SUBJECTS:GAME_SCORE is NaN or +Inf is
// taken like any other: the webhook answers 200 with the score null and a
// warning naming the field, the session completes, and /upload answers 200.
// Before, the webhook answered 503 for ever ("json: unsupported value:
// NaN") and /upload said the result could not be encoded. On SQLite and
// PostgreSQL.
func TestNonFiniteGameScore(t *testing.T) {
	emgdBinary(t)
	src := filepath.Join(testenv.Testdata(t, "ghostly"), "Ghostly_Emg_20230321_17-23-09-0409.c3d")
	orig, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, db := range []string{"SQLite", "Postgres"} {
		t.Run(db, func(t *testing.T) {
			var args []string
			if db == "Postgres" {
				args = []string{"--database-url", storetest.NewPostgresDatabase(t)}
			}
			nonFiniteGameScore(t, orig, args)
		})
	}
}

func nonFiniteGameScore(t *testing.T, orig []byte, args []string) {
	dataDir := t.TempDir()
	bucketDir := filepath.Join(dataDir, "storage", storage.DefaultBucket, "P001")
	if err := os.MkdirAll(bucketDir, 0o755); err != nil {
		t.Fatal(err)
	}
	srv := startEmgd(t, nil, "serve", append([]string{"--data-dir", dataDir, "--workers", "1"}, args...)...)
	for _, v := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		t.Run(fmt.Sprint(v), func(t *testing.T) {
			data := bytes.Clone(orig)
			if !patchFloatParam(data, "SUBJECTS", "GAME_SCORE", v) {
				t.Fatal("no float SUBJECTS:GAME_SCORE in the file")
			}
			patchFloatParam(data, "INFO", "DURATION", v) // when the file states one
			name := fmt.Sprintf("Ghostly_Emg_20230321_17-23-09-0409_%v.c3d", v)
			if err := os.WriteFile(filepath.Join(bucketDir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
			code, out := srv.webhook(t, supabaseEvent(storage.DefaultBucket, "P001/"+name, "", int64(len(data))))
			if code != 200 {
				t.Errorf("webhook: %d %v", code, out)
			}
			md, _ := out["metadata"].(map[string]any)
			game, _ := md["game"].(map[string]any)
			if game == nil || game["score"] != nil {
				t.Errorf("webhook metadata game %v, want score null", md["game"])
			}
			if w := fmt.Sprint(md["warnings"]); !strings.Contains(w, "GAME_SCORE") {
				t.Errorf("webhook metadata warnings %s, want one naming GAME_SCORE", w)
			}
			if id, _ := out["session_id"].(string); id != "" {
				st := srv.waitDone(t, id, 60*time.Second)
				if st["status"] != "completed" {
					t.Errorf("session %v: %v", st["status"], st["error"])
				}
				code, sess := request(t, "GET", srv.base+"/sessions/"+id, "", nil)
				smd, _ := sess["metadata"].(map[string]any)
				if g, _ := smd["game"].(map[string]any); code != 200 || g == nil || g["score"] != nil || !strings.Contains(fmt.Sprint(smd["warnings"]), "GAME_SCORE") {
					t.Errorf("GET /sessions/%s: %d, metadata %v", id, code, smd)
				}
			}

			var body bytes.Buffer
			mw := multipart.NewWriter(&body)
			fw, _ := mw.CreateFormFile("file", name)
			fw.Write(data)
			mw.Close()
			code, out = request(t, "POST", srv.base+"/upload", mw.FormDataContentType(), body.Bytes())
			if code != 200 {
				t.Fatalf("upload: %d %v", code, out["error"])
			}
			umd, _ := out["metadata"].(map[string]any)
			if umd["score"] != nil {
				t.Errorf("upload metadata score %v, want null", umd["score"])
			}
			if w := fmt.Sprint(umd["warnings"]); !strings.Contains(w, "GAME_SCORE") {
				t.Errorf("upload metadata warnings %s, want one naming GAME_SCORE", w)
			}
		})
	}
}
