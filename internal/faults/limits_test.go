package faults

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// A client that sends its headers slowly (slowloris) is disconnected after
// the server's 5 s header timeout, and headers over 64 KiB are refused,
// while other clients are served meanwhile.
func TestSlowAndHugeHeaders(t *testing.T) {
	emgdBinary(t)
	t.Parallel()
	srv := startEmgd(t, nil, "serve", "--data-dir", t.TempDir(), "--workers", "0")
	addr := strings.TrimPrefix(srv.base, "http://")
	var conns []net.Conn
	for i := 0; i < 50; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "POST /webhooks/storage/c3d-upload HTTP/1.1\r\nHost: x\r\nX-Slow: ")
		conns = append(conns, c)
	}
	start := time.Now()
	if !srv.alive() {
		t.Fatal("server not answering beside 50 stalled connections")
	}
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(15 * time.Second))
		b, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("stalled connection still open after %s: %v", time.Since(start), err)
		}
		_ = b
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("stalled connections closed after %s, want about 5 s", d)
	} else {
		t.Logf("50 stalled connections closed after %.1f s", d.Seconds())
	}

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 200<<10)+"\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	if !strings.HasPrefix(line, "HTTP/1.1 431") {
		t.Errorf("200 KiB of headers: %q, want 431", line)
	}
	if !srv.alive() {
		t.Fatal("server down")
	}
}
