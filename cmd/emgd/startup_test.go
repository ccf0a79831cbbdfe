package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// Start-up budget of emgd's own packages: every command, even --help, runs
// every linked package's initialiser, so emgd's packages build nothing heavy
// at init (regular expressions, tables, metrics, drivers): they do it on
// first use (sync.OnceValue). The bound is on bytes allocated at init, read
// from GODEBUG=inittrace=1 of this test binary, which links the same
// packages as emgd; today the largest is internal/store at about 26 KB.
const (
	maxInitBytesPerPackage = 64 << 10
	maxInitBytesTotal      = 160 << 10
)

func TestOwnPackagesInitLight(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd, err, stderr.String())
	}
	total, seen := 0, 0
	sc := bufio.NewScanner(bytes.NewReader(stderr.Bytes()))
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
		t.Fatalf("no init lines for emgd packages in:\n%s", stderr.String())
	}
	if total > maxInitBytesTotal {
		t.Errorf("emgd's packages allocate %d bytes at init (budget %d)", total, maxInitBytesTotal)
	}
	t.Logf("%d emgd packages with init work, %d bytes", seen, total)
}
