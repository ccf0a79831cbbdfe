package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Start-up budget of emgd's own packages: every command, even --help, runs
// every linked package's initialiser, so emgd's packages build nothing heavy
// at init (regular expressions, tables, metrics, drivers): they do it on
// first use (sync.OnceValue). The bound is on bytes allocated at init, read
// from GODEBUG=inittrace=1 of this test binary, which links the same
// packages as emgd; together they allocate about 15 KB.
const (
	maxInitBytesPerPackage = 64 << 10
	maxInitBytesTotal      = 160 << 10
)

// initTrace is this test binary's GODEBUG=inittrace=1 output: a line per
// package whose initialisers ran, with the bytes they allocated.
func initTrace(t *testing.T) []byte {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd, err, stderr.String())
	}
	return stderr.Bytes()
}

func TestOwnPackagesInitLight(t *testing.T) {
	trace := initTrace(t)
	total, seen := 0, 0
	sc := bufio.NewScanner(bytes.NewReader(trace))
	for sc.Scan() {
		// init emgd/internal/store @25 ms, 0.039 ms clock, 25976 bytes, 270 allocs
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[0] != "init" || !strings.HasPrefix(f[1], "emgd/") || f[8] != "bytes," {
			continue
		}
		switch f[1] {
		case "emgd/internal/testenv", "emgd/internal/testrec":
			continue // test helpers, not linked into emgd
		}
		n, err := strconv.Atoi(f[7])
		if err != nil {
			t.Fatalf("inittrace line %q: %v", sc.Text(), err)
		}
		seen++
		total += n
		if n > maxInitBytesPerPackage {
			t.Errorf("%s allocates %d bytes at init (budget %d): build it on first use", f[1], n, maxInitBytesPerPackage)
		}
	}
	if seen == 0 {
		t.Fatalf("no init lines for emgd packages in:\n%s", trace)
	}
	if total > maxInitBytesTotal {
		t.Errorf("emgd's packages allocate %d bytes at init (budget %d)", total, maxInitBytesTotal)
	}
	t.Logf("%d emgd packages with init work, %d bytes", seen, total)
}

// Start-up budget of every linked package, emgd's and the libraries': an
// emgd command costs about 4-5 times a hello-world Go program's CPU, mostly
// the kernel mapping the binary's pages and the heap its packages'
// initialisers fill (BENCHMARKS.md, "Start-up and whole-process cost").
// client_golang (with procfs and protobuf) and the AWS SDK's config package
// allocate most of it; they stay, as the well-kept libraries for metrics
// and S3 credentials. The bound catches a library added since that
// initialises heavily: it must initialise lightly or stay out of the binary.
// This test binary links what emgd links, plus its tests' imports.
const maxInitBytesAll = 1536 << 10

func TestAllPackagesInitLight(t *testing.T) {
	trace := initTrace(t)
	total, seen := 0, 0
	type pkg struct {
		name  string
		bytes int
	}
	var pkgs []pkg
	sc := bufio.NewScanner(bytes.NewReader(trace))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[0] != "init" || f[8] != "bytes," {
			continue
		}
		n, err := strconv.Atoi(f[7])
		if err != nil {
			t.Fatalf("inittrace line %q: %v", sc.Text(), err)
		}
		seen++
		total += n
		pkgs = append(pkgs, pkg{f[1], n})
	}
	if seen < 50 {
		t.Fatalf("only %d init lines in:\n%s", seen, trace)
	}
	if total > maxInitBytesAll {
		slices.SortFunc(pkgs, func(a, b pkg) int { return b.bytes - a.bytes })
		var top []string
		for _, p := range pkgs[:min(10, len(pkgs))] {
			top = append(top, fmt.Sprintf("%s %d", p.name, p.bytes))
		}
		t.Errorf("the linked packages allocate %d bytes at init (budget %d); the largest:\n%s", total, maxInitBytesAll, strings.Join(top, "\n"))
	}
	t.Logf("%d packages with init work, %d bytes", seen, total)
}
