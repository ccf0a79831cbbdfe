// Command emgd-bench loads a running emgd with concurrent storage webhooks
// and reports latency, throughput, errors, the sessions they became and the
// server's peak RSS. It is kept out of the emgd binary so that the server
// does not link the test-recording generator.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"emgd/internal/storage"
	"emgd/internal/store"
	"emgd/internal/testrec"
)

// benchReport is what emgd-bench prints.
type benchReport struct {
	Requests        int                `json:"requests"`
	Concurrency     int                `json:"concurrency"`
	Objects         int                `json:"objects"`
	FileBytes       int                `json:"file_bytes"`
	Codes           map[string]int     `json:"codes"`
	Errors          int                `json:"errors"`
	Seconds         float64            `json:"seconds"`
	Throughput      float64            `json:"requests_per_second"`
	LatencyMs       map[string]float64 `json:"latency_ms"`
	Sessions        int                `json:"sessions"`
	Completed       int                `json:"completed"`
	Failed          int                `json:"failed"`
	Lost            int                `json:"lost"`
	Duplicated      int                `json:"objects_with_several_sessions"`
	AnalysedPerMin  float64            `json:"sessions_analysed_per_minute,omitempty"`
	ServerPeakRSSMB float64            `json:"server_peak_rss_mb,omitempty"`
	// Database is what the server's database holds for this run's objects
	// (with --check-db).
	Database *benchRows `json:"database,omitempty"`
}

// benchRows counts the sessions rows of one bench run, read from the
// server's database.
type benchRows struct {
	Sessions   int `json:"sessions"`
	Objects    int `json:"objects"`
	Completed  int `json:"completed"`
	Duplicated int `json:"objects_with_several_sessions"`
	Results    int `json:"analysis_results"`
}

// run drives a running emgd: it stores M distinct objects, then sends N
// webhooks about them from C concurrent senders, and reports latency,
// throughput, errors, the sessions they became and the server's RSS.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "compare" {
		return runCompare(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("emgd-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: emgd-bench --url URL [flags]\n       emgd-bench compare --emgd BIN --file C3D [flags]  (runs its own servers, SQLite and PostgreSQL side by side; see compare -h)")
		fmt.Fprintln(stderr, "Loads a running emgd with concurrent webhooks and reports latency, throughput and the sessions they became.")
		fs.PrintDefaults()
	}
	base := fs.String("url", "http://127.0.0.1:8080", "base URL of the running emgd")
	dataDir := fs.String("data-dir", "./data", "the server's data folder (folder storage)")
	storageURL := fs.String("storage", "", "the server's storage URL when not folder storage")
	bucket := fs.String("bucket", storage.DefaultBucket, "bucket the server watches")
	n := fs.Int("n", 200, "webhooks to send")
	c := fs.Int("c", 1, "concurrent senders")
	m := fs.Int("objects", 50, "distinct objects; webhooks beyond that repeat objects (duplicates)")
	source := fs.String("file", "", "C3D file to upload as every object (default: a generated 60 s GHOSTLY-like recording)")
	prefix := fs.String("prefix", "", "key prefix (default: a fresh one per run)")
	token := fs.String("token", "", "webhook token (sent as ?token=)")
	checkDB := fs.Bool("check-db", false, "after waiting, count this run's sessions and analysis results in the server's database (--database-url, else SQLite in --data-dir)")
	dbURL := fs.String("database-url", "", "the server's database URL with --check-db (default: SQLite in --data-dir)")
	wait := fs.Duration("wait", 0, "after sending, wait up to this long for every session to finish, and report analyses per minute")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "emgd-bench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *n < 1 || *c < 1 || *m < 1 {
		fmt.Fprintln(stderr, "emgd-bench: -n, -c and -objects must be positive")
		return 2
	}
	ctx := context.Background()
	stg, err := storage.Open(ctx, *storageURL, *dataDir)
	if err != nil {
		fmt.Fprintf(stderr, "emgd-bench: %v\n", err)
		return 1
	}
	var data []byte
	if *source != "" {
		if data, err = os.ReadFile(*source); err != nil {
			fmt.Fprintf(stderr, "emgd-bench: %v\n", err)
			return 1
		}
	} else {
		data = testrec.Ghostly(testrec.Options{Seconds: 60, Seed: 1})
	}
	if *prefix == "" {
		*prefix = "bench-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	objects, err := putObjects(ctx, stg, *bucket, *prefix, data, *m, 50)
	if err != nil {
		fmt.Fprintf(stderr, "emgd-bench: %v\n", err)
		return 1
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *c}}
	target := strings.TrimRight(*base, "/") + "/webhooks/storage/c3d-upload"
	if *token != "" {
		target += "?token=" + *token
	}
	rep := benchReport{Requests: *n, Concurrency: *c, Objects: *m, FileBytes: len(data), Codes: map[string]int{}}
	stopRSS := make(chan struct{})
	var peak atomic.Int64
	go pollRSS(client, *base, stopRSS, &peak)
	start := time.Now()
	res := send(client, target, *bucket, len(data), objects, *n, *c)
	rep.Codes, rep.Errors, rep.Seconds, rep.Throughput, rep.LatencyMs = res.codes, res.errors, res.seconds, res.throughput, res.latencyMs
	sessionOf := res.sessionOf

	// Sessions per object: every object must map to exactly one session.
	perObject := map[string]map[string]bool{}
	for i, id := range sessionOf {
		if id == "" {
			continue
		}
		k := objects[i%len(objects)].key
		if perObject[k] == nil {
			perObject[k] = map[string]bool{}
		}
		perObject[k][id] = true
	}
	ids := map[string]bool{}
	for _, set := range perObject {
		if len(set) > 1 {
			rep.Duplicated++
		}
		for id := range set {
			ids[id] = true
		}
	}
	rep.Sessions = len(ids)
	if *wait > 0 {
		var pending int
		rep.Completed, rep.Failed, pending = waitSessions(client, *base, ids, time.Now().Add(*wait))
		rep.Lost = pending + (*m - len(perObject))
		if done := rep.Completed + rep.Failed; done > 0 {
			rep.AnalysedPerMin = float64(rep.Completed) / time.Since(start).Minutes()
		}
	}
	close(stopRSS)
	rep.ServerPeakRSSMB = float64(peak.Load()) / (1 << 20)
	if *checkDB {
		rows, err := countRows(ctx, *dbURL, *dataDir, *prefix)
		if err != nil {
			fmt.Fprintf(stderr, "emgd-bench: --check-db: %v\n", err)
			return 1
		}
		rep.Database = rows
	}
	if *asJSON {
		b, _ := json.MarshalIndent(rep, "", "  ")
		fmt.Fprintln(stdout, string(b))
	} else {
		fmt.Fprintf(stdout, "%d webhooks, %d senders, %d objects of %d bytes in %.2f s: %.0f req/s\n", rep.Requests, rep.Concurrency, rep.Objects, rep.FileBytes, rep.Seconds, rep.Throughput)
		fmt.Fprintf(stdout, "latency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", rep.LatencyMs["p50"], rep.LatencyMs["p90"], rep.LatencyMs["p99"], rep.LatencyMs["max"])
		fmt.Fprintf(stdout, "codes %v, errors %d; sessions %d, objects with several sessions %d\n", rep.Codes, rep.Errors, rep.Sessions, rep.Duplicated)
		if *wait > 0 {
			fmt.Fprintf(stdout, "completed %d, failed %d, lost %d; %.0f sessions analysed per minute\n", rep.Completed, rep.Failed, rep.Lost, rep.AnalysedPerMin)
		}
		if rep.ServerPeakRSSMB > 0 {
			fmt.Fprintf(stdout, "server peak RSS %.1f MB\n", rep.ServerPeakRSSMB)
		}
		if d := rep.Database; d != nil {
			fmt.Fprintf(stdout, "database: %d sessions for %d objects, %d completed, %d objects with several sessions, %d analysis results\n",
				d.Sessions, d.Objects, d.Completed, d.Duplicated, d.Results)
		}
	}
	if d := rep.Database; d != nil && (d.Sessions != *m || d.Objects != *m || d.Duplicated > 0 || (*wait > 0 && (d.Completed != *m || d.Results != *m))) {
		return 1
	}
	if rep.Errors > 0 || rep.Duplicated > 0 || rep.Lost > 0 || rep.Failed > 0 {
		return 1
	}
	return 0
}

// object is one stored object webhooks tell of.
type object struct{ key, etag string }

// putObjects stores m copies of data under fresh keys spread over patients
// patients (P100, P101, ...), and returns their keys and etags.
func putObjects(ctx context.Context, stg storage.Backend, bucket, prefix string, data []byte, m, patients int) ([]object, error) {
	objects := make([]object, m)
	for i := range objects {
		key := fmt.Sprintf("P%03d/%s/Ghostly_Emg_20250101_10-00-00-%04d.c3d", 100+i%patients, prefix, i)
		info, err := stg.Put(ctx, bucket, key, bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("store %s: %w", key, err)
		}
		objects[i] = object{key, info.ETag}
	}
	return objects, nil
}

// sendResult is what send measured.
type sendResult struct {
	codes      map[string]int
	errors     int
	seconds    float64
	throughput float64
	latencyMs  map[string]float64
	sessionOf  []string // the session id each webhook was answered with
}

// send posts n webhooks, the i-th about objects[i%len(objects)], from c
// concurrent senders, and measures them.
func send(client *http.Client, target, bucket string, size int, objects []object, n, c int) sendResult {
	res := sendResult{codes: map[string]int{}, sessionOf: make([]string, n)}
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var mu sync.Mutex
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				o := objects[i%len(objects)]
				body, _ := json.Marshal(map[string]any{"type": "INSERT", "table": "objects", "schema": "storage",
					"record": map[string]any{"bucket_id": bucket, "name": o.key, "metadata": map[string]any{"eTag": o.etag, "size": size}}})
				t0 := time.Now()
				resp, err := client.Post(target, "application/json", bytes.NewReader(body))
				d := time.Since(t0)
				code := "error"
				var out struct {
					SessionID string `json:"session_id"`
				}
				if err == nil {
					code = strconv.Itoa(resp.StatusCode)
					json.NewDecoder(resp.Body).Decode(&out)
					resp.Body.Close()
				}
				mu.Lock()
				lat[i] = d
				res.codes[code]++
				if code != "200" {
					res.errors++
				}
				res.sessionOf[i] = out.SessionID
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	res.seconds = elapsed.Seconds()
	res.throughput = float64(n) / elapsed.Seconds()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		k := int(math.Ceil(p/100*float64(len(lat)))) - 1
		return float64(lat[max(k, 0)].Microseconds()) / 1000
	}
	res.latencyMs = map[string]float64{"p50": pct(50), "p90": pct(90), "p99": pct(99), "max": pct(100)}
	return res
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// waitSessions polls the status of the sessions ids until each is completed
// or failed, or until deadline, and counts them.
func waitSessions(client *http.Client, base string, ids map[string]bool, deadline time.Time) (completed, failed, pending int) {
	left := make(map[string]bool, len(ids))
	for k := range ids {
		left[k] = true
	}
	for len(left) > 0 && time.Now().Before(deadline) {
		for id := range left {
			switch sessionStatus(client, base, id) {
			case "completed":
				completed++
				delete(left, id)
			case "failed":
				failed++
				delete(left, id)
			}
		}
		if len(left) > 0 {
			time.Sleep(100 * time.Millisecond)
		}
	}
	return completed, failed, len(left)
}

func sessionStatus(c *http.Client, base, id string) string {
	resp, err := c.Get(strings.TrimRight(base, "/") + "/webhooks/storage/status/" + id)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var out struct {
		Status string `json:"status"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	return out.Status
}

// pollRSS reads the server's process_resident_memory_bytes from /metrics
// every 100 ms and keeps the largest.
func pollRSS(c *http.Client, base string, stop <-chan struct{}, peak *atomic.Int64) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if v := serverRSS(c, base); v > peak.Load() {
			peak.Store(v)
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

func serverRSS(c *http.Client, base string) int64 {
	resp, err := c.Get(strings.TrimRight(base, "/") + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "process_resident_memory_bytes "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int64(f)
		}
	}
	return 0
}

// countRows reads, from the server's database, the sessions of the objects
// whose keys hold /prefix/, and their analysis results.
func countRows(ctx context.Context, dbURL, dataDir, prefix string) (*benchRows, error) {
	st, err := store.Open(ctx, dbURL, dataDir, store.Options{MaxConns: 1})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	k, err := st.KeyStats(ctx, "/"+prefix+"/")
	if err != nil {
		return nil, err
	}
	return &benchRows{Sessions: k.Sessions, Objects: k.Objects, Completed: k.Completed, Duplicated: k.Duplicated, Results: k.Results}, nil
}
