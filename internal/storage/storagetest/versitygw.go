package storagetest

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"emgd/internal/testenv"
)

// Gateway is a versitygw S3 server started for a test.
type Gateway struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string
	SecretKey string
	Dir       string // the posix folder it serves: Dir/BUCKET/KEY
}

// VersityGWPath finds the versitygw binary: $EMGD_VERSITYGW, then $PATH, then
// $GOPATH/bin (where `go install github.com/versity/versitygw/cmd/versitygw@v1.8.0`
// puts it). It returns "" when there is none.
func VersityGWPath() string {
	if p := os.Getenv("EMGD_VERSITYGW"); p != "" {
		return p
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			gopath = string(bytes.TrimSpace(out))
		}
	}
	for _, dir := range filepath.SplitList(gopath) {
		p := filepath.Join(dir, "bin", "versitygw")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

// StartVersityGW starts versitygw on a free loopback port over a temporary
// posix folder and stops it when the test ends. Without the binary the test
// is skipped (or fails under EMGD_REQUIRE_SERVICES=1). Extra arguments are
// versitygw's global options, such as "--event-webhook-url", URL.
func StartVersityGW(t testing.TB, extra ...string) *Gateway {
	t.Helper()
	bin := VersityGWPath()
	if bin == "" {
		testenv.Require(t, "versitygw not found (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0, or set EMGD_VERSITYGW)")
	}
	dir := t.TempDir()
	g := &Gateway{AccessKey: "emgdtestaccess", SecretKey: "emgdtestsecret0123456789", Dir: dir}
	for attempt := 0; ; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		var logs bytes.Buffer
		args := append([]string{"--access", g.AccessKey, "--secret", g.SecretKey, "--port", addr, "--quiet"}, extra...)
		cmd := exec.Command(bin, append(args, "posix", dir)...)
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatalf("start versitygw: %v", err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		if waitListening(addr, exited, 15*time.Second) {
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-exited
			})
			g.Endpoint = "http://" + addr
			return g
		}
		cmd.Process.Kill()
		<-exited
		if attempt == 2 {
			t.Fatalf("versitygw did not start on %s: %s", addr, logs.String())
		}
	}
}

func waitListening(addr string, exited <-chan struct{}, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}
