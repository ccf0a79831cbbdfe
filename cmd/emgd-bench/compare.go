package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"emgd/internal/storage"
	"emgd/internal/store"
)

// phaseReport is one phase of a compare run: webhooks from some senders.
type phaseReport struct {
	Requests   int                `json:"requests"`
	Senders    int                `json:"senders"`
	Seconds    float64            `json:"seconds"`
	Throughput float64            `json:"requests_per_second"`
	LatencyMs  map[string]float64 `json:"latency_ms"`
	Errors     int                `json:"errors"`
	Codes      map[string]int     `json:"codes"`
}

// dbRun is one database in one compare run.
type dbRun struct {
	Database   string       `json:"database"`
	Run        int          `json:"run"`
	Concurrent phaseReport  `json:"concurrent"`
	Single     *phaseReport `json:"single,omitempty"`
	Sessions   int          `json:"sessions"`
	Duplicated int          `json:"objects_with_several_sessions"`
	// With --wait: the sessions analysed, failed and never finished.
	Completed int    `json:"completed,omitempty"`
	Failed    int    `json:"failed,omitempty"`
	Lost      int    `json:"lost,omitempty"`
	Profile   string `json:"cpu_profile,omitempty"`
}

// compareReport is what `emgd-bench compare` prints.
type compareReport struct {
	Runs    []dbRun            `json:"runs"`
	Medians map[string]medians `json:"medians"`
}

// medians are the medians over runs of one database's figures.
type medians struct {
	P50        float64 `json:"concurrent_p50_ms"`
	P99        float64 `json:"concurrent_p99_ms"`
	Throughput float64 `json:"concurrent_requests_per_second"`
	SingleP50  float64 `json:"single_p50_ms"`
	SingleP99  float64 `json:"single_p99_ms"`
}

// runCompare starts its own `emgd serve` for each database in turn (a fresh
// data folder, and a fresh PostgreSQL database, per run), sends the same
// load to each, and reports both side by side.
func runCompare(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("emgd-bench compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: emgd-bench compare --emgd BIN --file C3D [flags]")
		fmt.Fprintln(stderr, "Runs `emgd serve` on each database in turn (fresh folder and database each run) and sends each the same webhooks:")
		fmt.Fprintln(stderr, "-n from -c senders, then --single from one sender while the workers analyse; prints p50/p99, throughput and a table.")
		fs.PrintDefaults()
	}
	bin := fs.String("emgd", "", "the emgd binary to run (required)")
	source := fs.String("file", "", "C3D file stored as every object (required; e.g. a real GHOSTLY recording)")
	dbs := fs.String("databases", "sqlite,postgres", "databases to compare, in the order of the first run (later runs alternate)")
	pgAdmin := fs.String("postgres-url", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL server on which a fresh database is created (and dropped) per run")
	n := fs.Int("n", 1000, "webhooks from the concurrent senders, each a new object")
	c := fs.Int("c", 32, "concurrent senders")
	single := fs.Int("single", 200, "webhooks from one sender afterwards, each a new object (0: none)")
	patients := fs.Int("patients", 50, "patients the objects are spread over")
	runs := fs.Int("runs", 3, "runs; each runs every database once")
	workers := fs.Int("workers", 2, "the server's --workers")
	serveArgs := fs.String("serve-args", "", "more flags for `emgd serve`, separated by spaces")
	wait := fs.Duration("wait", 0, "after sending, wait up to this long for every session to be analysed (checks none is lost)")
	workDir := fs.String("work-dir", "", "folder for the servers' data folders (default: the system's temporary folder)")
	profileDir := fs.String("profile-dir", "", "when set, take a CPU profile of each server during the concurrent phase and write it here")
	profileSeconds := fs.Int("profile-seconds", 5, "length of each CPU profile")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "emgd-bench compare: "+format+"\n", a...)
		return 2
	}
	switch {
	case fs.NArg() > 0:
		return bad("unexpected argument %q", fs.Arg(0))
	case *bin == "" || *source == "":
		return bad("--emgd and --file are required")
	case *n < 1 || *c < 1 || *single < 0 || *patients < 1 || *runs < 1 || *workers < 0 || *profileSeconds < 1:
		return bad("-n, -c, --patients, --runs and --profile-seconds must be positive, --single and --workers not negative")
	}
	var order []string
	for d := range strings.SplitSeq(*dbs, ",") {
		switch d = strings.TrimSpace(d); d {
		case "sqlite", "postgres":
			order = append(order, d)
		default:
			return bad("unknown database %q (want sqlite or postgres)", d)
		}
	}
	if len(order) == 0 {
		return bad("--databases names none")
	}
	if abs, err := filepath.Abs(*bin); err == nil && strings.ContainsRune(*bin, filepath.Separator) {
		*bin = abs // the server runs in its data folder
	}
	data, err := os.ReadFile(*source)
	if err != nil {
		fmt.Fprintf(stderr, "emgd-bench compare: %v\n", err)
		return 1
	}
	if *profileDir != "" {
		if err := os.MkdirAll(*profileDir, 0o755); err != nil {
			fmt.Fprintf(stderr, "emgd-bench compare: %v\n", err)
			return 1
		}
	}
	cfg := compareConfig{bin: *bin, pgAdmin: *pgAdmin, data: data, n: *n, c: *c, single: *single, patients: *patients,
		workers: *workers, serveArgs: strings.Fields(*serveArgs), wait: *wait, workDir: *workDir,
		profileDir: *profileDir, profileSeconds: *profileSeconds, log: stderr}
	var rep compareReport
	failed := false
	for r := 1; r <= *runs; r++ {
		dbOrder := slices.Clone(order)
		if r%2 == 0 {
			slices.Reverse(dbOrder)
		}
		for _, db := range dbOrder {
			fmt.Fprintf(stderr, "run %d: %s\n", r, db)
			res, err := cfg.runOne(db, r)
			if err != nil {
				fmt.Fprintf(stderr, "emgd-bench compare: run %d, %s: %v\n", r, db, err)
				return 1
			}
			if res.Concurrent.Errors > 0 || (res.Single != nil && res.Single.Errors > 0) || res.Duplicated > 0 || res.Lost > 0 || res.Failed > 0 {
				failed = true
			}
			rep.Runs = append(rep.Runs, *res)
		}
	}
	rep.Medians = map[string]medians{}
	for _, db := range order {
		var p50, p99, tput, s50, s99 []float64
		for _, r := range rep.Runs {
			if r.Database != db {
				continue
			}
			p50 = append(p50, r.Concurrent.LatencyMs["p50"])
			p99 = append(p99, r.Concurrent.LatencyMs["p99"])
			tput = append(tput, r.Concurrent.Throughput)
			if r.Single != nil {
				s50 = append(s50, r.Single.LatencyMs["p50"])
				s99 = append(s99, r.Single.LatencyMs["p99"])
			}
		}
		rep.Medians[db] = medians{P50: median(p50), P99: median(p99), Throughput: median(tput), SingleP50: median(s50), SingleP99: median(s99)}
	}
	if *asJSON {
		b, _ := json.MarshalIndent(rep, "", "  ")
		fmt.Fprintln(stdout, string(b))
	} else {
		writeCompareTable(stdout, &rep, order, *c, *runs)
	}
	if failed {
		return 1
	}
	return 0
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func writeCompareTable(w io.Writer, rep *compareReport, order []string, c, runs int) {
	fmt.Fprintf(w, "| database | run | %d senders p50 / p99 ms | throughput req/s | 1 sender p50 / p99 ms | errors | sessions | lost |\n", c)
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, r := range rep.Runs {
		one := "-"
		errs := r.Concurrent.Errors
		if r.Single != nil {
			one = fmt.Sprintf("%.1f / %.1f", r.Single.LatencyMs["p50"], r.Single.LatencyMs["p99"])
			errs += r.Single.Errors
		}
		fmt.Fprintf(w, "| %s | %d | %.1f / %.1f | %.0f | %s | %d | %d | %d |\n", r.Database, r.Run,
			r.Concurrent.LatencyMs["p50"], r.Concurrent.LatencyMs["p99"], r.Concurrent.Throughput, one, errs, r.Sessions, r.Lost)
	}
	fmt.Fprintf(w, "\nMedians of %d run(s):\n\n", runs)
	fmt.Fprintf(w, "| database | %d senders p50 / p99 ms | throughput req/s | 1 sender p50 / p99 ms |\n", c)
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, db := range order {
		m := rep.Medians[db]
		fmt.Fprintf(w, "| %s | %.1f / %.1f | %.0f | %.1f / %.1f |\n", db, m.P50, m.P99, m.Throughput, m.SingleP50, m.SingleP99)
	}
}

type compareConfig struct {
	bin, pgAdmin           string
	data                   []byte
	n, c, single, patients int
	workers                int
	serveArgs              []string
	wait                   time.Duration
	workDir, profileDir    string
	profileSeconds         int
	log                    io.Writer
}

// runOne runs one database once: a fresh data folder (and database), the
// objects stored, a server started, both phases sent, the server stopped and
// everything removed.
func (cfg *compareConfig) runOne(db string, run int) (*dbRun, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp(cfg.workDir, "emgd-bench-"+db+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	stg, err := storage.Open(ctx, "", dir)
	if err != nil {
		return nil, err
	}
	if err := stg.CreateBucket(ctx, stg.DefaultBucket()); err != nil {
		return nil, err
	}
	prefix := "bench-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	objects, err := putObjects(ctx, stg, stg.DefaultBucket(), prefix, cfg.data, cfg.n+cfg.single, cfg.patients)
	if err != nil {
		return nil, err
	}
	dbURL := ""
	if db == "postgres" {
		name := "emgd_bench_" + prefix[len("bench-"):]
		if dbURL, err = store.CreatePostgresDatabase(ctx, cfg.pgAdmin, name); err != nil {
			return nil, err
		}
		defer func() {
			if err := store.DropPostgresDatabase(context.Background(), cfg.pgAdmin, name); err != nil {
				fmt.Fprintf(cfg.log, "emgd-bench compare: %v\n", err)
			}
		}()
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--addr", addr, "--data-dir", dir, "--workers", strconv.Itoa(cfg.workers), "--log-level", "warn"}
	if dbURL != "" {
		args = append(args, "--database-url", dbURL)
	}
	pprofAddr := ""
	if cfg.profileDir != "" {
		if pprofAddr, err = freeAddr(); err != nil {
			return nil, err
		}
		args = append(args, "--pprof-addr", pprofAddr)
	}
	args = append(args, cfg.serveArgs...)
	srv, err := startServer(cfg.bin, args, dir)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	if err := srv.ready("http://"+addr, 60*time.Second); err != nil {
		return nil, err
	}
	base := "http://" + addr
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: cfg.c}}
	target := base + "/webhooks/storage/c3d-upload"
	out := &dbRun{Database: db, Run: run}
	var profDone chan error
	if cfg.profileDir != "" {
		out.Profile = filepath.Join(cfg.profileDir, fmt.Sprintf("%s-run%d.pprof", db, run))
		profDone = make(chan error, 1)
		go func() {
			profDone <- fetchProfile(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", pprofAddr, cfg.profileSeconds), out.Profile)
		}()
		time.Sleep(100 * time.Millisecond) // the profile is under way
	}
	conc := send(client, target, stg.DefaultBucket(), len(cfg.data), objects[:cfg.n], cfg.n, cfg.c)
	out.Concurrent = phaseReport{Requests: cfg.n, Senders: cfg.c, Seconds: conc.seconds, Throughput: conc.throughput,
		LatencyMs: conc.latencyMs, Errors: conc.errors, Codes: conc.codes}
	sessionOf := conc.sessionOf
	if cfg.single > 0 {
		one := send(client, target, stg.DefaultBucket(), len(cfg.data), objects[cfg.n:], cfg.single, 1)
		out.Single = &phaseReport{Requests: cfg.single, Senders: 1, Seconds: one.seconds, Throughput: one.throughput,
			LatencyMs: one.latencyMs, Errors: one.errors, Codes: one.codes}
		sessionOf = append(sessionOf, one.sessionOf...)
	}
	if profDone != nil {
		if err := <-profDone; err != nil {
			fmt.Fprintf(cfg.log, "emgd-bench compare: CPU profile: %v\n", err)
			out.Profile = ""
		}
	}
	ids := map[string]bool{}
	for _, id := range sessionOf {
		if id == "" {
			continue
		}
		if ids[id] {
			out.Duplicated++ // every webhook is about a new object
		}
		ids[id] = true
	}
	out.Sessions = len(ids)
	if cfg.wait > 0 {
		var pending int
		out.Completed, out.Failed, pending = waitSessions(client, base, ids, time.Now().Add(cfg.wait))
		out.Lost = pending + len(objects) - len(ids)
	}
	return out, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func fetchProfile(url, path string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// server is an `emgd serve` process this tool started.
type server struct {
	cmd  *exec.Cmd
	done chan struct{}
	logs *syncBuffer
}

func startServer(bin string, args []string, dir string) (*server, error) {
	cmd := exec.Command(bin, args...)
	// The server is configured by its flags alone.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "EMGD_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, done: make(chan struct{}), logs: logs}
	go func() { cmd.Wait(); close(s.done) }()
	return s, nil
}

func (s *server) ready(base string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-s.done:
			return fmt.Errorf("emgd serve exited at start:\n%s", s.logs.String())
		default:
		}
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("emgd serve not ready after %s:\n%s", timeout, s.logs.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// stop ends the server with SIGTERM (running analyses are left to River's
// rescue), and kills it if it has not stopped 10 s later.
func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// syncBuffer collects a process's output.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
