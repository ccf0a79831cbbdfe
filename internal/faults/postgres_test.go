package faults

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"emgd/internal/storage"
	"emgd/internal/testenv"
	"emgd/internal/testrec"
)

// pgCluster is a private PostgreSQL cluster for one test, so that stopping
// it does not disturb the machine's shared server.
type pgCluster struct {
	t    *testing.T
	bin  string // folder of initdb and pg_ctl
	dir  string
	port int
	asPG bool   // run the tools as the postgres user (when root)
	su   string // runuser, when asPG
}

// runuserPath finds runuser, which root's PATH may lack (it lives in sbin).
func runuserPath() string {
	if p, err := exec.LookPath("runuser"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/runuser", "/sbin/runuser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

func pgBinDir() string {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		return filepath.Dir(p)
	}
	for _, v := range []string{"17", "16", "15", "14", "13"} {
		d := "/usr/lib/postgresql/" + v + "/bin"
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d
		}
	}
	return ""
}

func newPGCluster(t *testing.T) *pgCluster {
	t.Helper()
	bin := pgBinDir()
	if bin == "" {
		testenv.Require(t, "PostgreSQL server binaries (initdb, pg_ctl) not found")
	}
	c := &pgCluster{t: t, bin: bin, asPG: os.Geteuid() == 0}
	dir, err := os.MkdirTemp("", "emgd-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	c.dir = dir
	if c.asPG {
		u, err := user.Lookup("postgres")
		if err != nil {
			testenv.Require(t, "running as root and there is no postgres user to run initdb as")
		}
		if c.su = runuserPath(); c.su == "" {
			testenv.Require(t, "running as root and runuser (to run initdb as postgres) is not installed")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	_, port, _ := strings.Cut(freeAddr(t), ":")
	c.port, _ = strconv.Atoi(port)
	if err := c.run("initdb", "-D", dir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"); err != nil {
		t.Fatal(err)
	}
	c.start()
	t.Cleanup(func() { c.ctl("stop", "-m", "immediate") })
	return c
}

func (c *pgCluster) run(tool string, args ...string) error {
	c.t.Helper()
	path := filepath.Join(c.bin, tool)
	var cmd *exec.Cmd
	if c.asPG {
		cmd = exec.Command(c.su, append([]string{"-u", "postgres", "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = os.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
	}
	return nil
}

func (c *pgCluster) ctl(args ...string) error {
	return c.run("pg_ctl", append([]string{"-D", c.dir, "-w", "-t", "60"}, args...)...)
}

func (c *pgCluster) start() {
	c.t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", c.port, c.dir)
	if err := c.ctl("-o", opts, "-l", filepath.Join(c.dir, "server.log"), "start"); err != nil {
		c.t.Fatal(err)
	}
}

func (c *pgCluster) stop() {
	c.t.Helper()
	if err := c.ctl("stop", "-m", "fast"); err != nil {
		c.t.Fatal(err)
	}
}

// url has a password that trust authentication ignores, to check that it
// never reaches the logs.
func (c *pgCluster) url(password string) string {
	return fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d/postgres?sslmode=disable", password, c.port)
}

// PostgreSQL stops under a running server: webhooks get 503 and readiness
// fails, the process stays up, and once the database is back the same
// process accepts webhooks and completes their sessions without a restart.
// The database password appears in no log line.
func TestPostgresStoppedAndBack(t *testing.T) {
	emgdBinary(t)
	pg := newPGCluster(t)
	const password = "pw-never-logged-7731"
	dir := t.TempDir()
	stg, err := storage.Open(context.Background(), "", dir)
	if err != nil {
		t.Fatal(err)
	}
	stg.CreateBucket(context.Background(), storage.DefaultBucket)
	rec := testrec.Ghostly(testrec.Options{Seed: 21})
	put := func(key string) []byte {
		info, err := stg.Put(context.Background(), storage.DefaultBucket, key, strings.NewReader(string(rec)))
		if err != nil {
			t.Fatal(err)
		}
		return supabaseEvent(storage.DefaultBucket, key, info.ETag, info.Size)
	}
	srv := startEmgd(t, nil, "serve", "--data-dir", dir, "--database-url", pg.url(password),
		"--workers", "2", "--job-timeout", "5s", "--rescue-after", "7s")

	code, out := srv.webhook(t, put("P301/Ghostly_Emg_20240103_09-00-00-0001.c3d"))
	if code != 200 {
		t.Fatalf("before the stop: %d %v", code, out)
	}
	if st := srv.waitDone(t, out["session_id"].(string), 30*time.Second); st["status"] != "completed" {
		t.Fatalf("before the stop: %v", st)
	}

	pg.stop()
	down := put("P301/Ghostly_Emg_20240103_09-05-00-0002.c3d")
	for i := 0; i < 3; i++ {
		code, out := srv.webhook(t, down)
		if code != 503 {
			t.Fatalf("webhook with the database stopped: %d %v, want 503", code, out)
		}
		if i == 0 {
			t.Logf("database stopped: webhook %d %v", code, out["error"])
		}
	}
	if code, _ := request(t, "GET", srv.base+"/readyz", "", nil); code != 503 {
		t.Errorf("/readyz with the database stopped: %d, want 503", code)
	}
	time.Sleep(2 * time.Second) // the queue's pollers fail for a while too
	if !srv.alive() {
		t.Fatal("the server died with its database")
	}

	pg.start()
	back := time.Now()
	var id string
	var accepted time.Duration
	for {
		code, out := srv.webhook(t, down)
		if code == 200 {
			id, accepted = out["session_id"].(string), time.Since(back)
			break
		}
		if time.Since(back) > 30*time.Second {
			t.Fatalf("webhook still %d %v 30 s after the database returned", code, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, _ := request(t, "GET", srv.base+"/readyz", "", nil); code != 200 {
		t.Errorf("/readyz after the database returned: %d", code)
	}
	st := srv.waitDone(t, id, 60*time.Second)
	if st["status"] != "completed" {
		t.Fatalf("session after the database returned: %v", st)
	}
	t.Logf("webhook accepted %.1f s after the database returned; session completed %.1f s after",
		accepted.Seconds(), time.Since(back).Seconds())
	srv.stop()
	logs := srv.logs.String()
	if strings.Contains(logs, password) {
		t.Errorf("the database password is in the log:\n%s", logs)
	}
	if !strings.Contains(logs, "webhook deferred") {
		t.Errorf("no log line tells that webhooks were deferred:\n%s", tail(logs, 3000))
	}
}
