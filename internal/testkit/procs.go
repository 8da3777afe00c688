package testkit

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// RedisProcess is a redis-server owned by one test, which the test may stop
// and start again (on the same port) to exercise outages.
type RedisProcess struct {
	Port int
	URL  string
	cmd  *exec.Cmd
	t    testing.TB
}

// StartRedisProcess starts a private redis-server on a free loopback port.
func StartRedisProcess(t testing.TB) *RedisProcess {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server is not installed: `make test` installs it (apt-get install redis-server)")
	}
	port := FreePort(t)
	r := &RedisProcess{Port: port, URL: fmt.Sprintf("redis://127.0.0.1:%d/0", port), t: t}
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// Start starts the server (again) and waits until it answers.
func (r *RedisProcess) Start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.Port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	client := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.Port)})
	defer client.Close()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if client.Ping(context.Background()).Err() == nil {
			return
		}
	}
	r.t.Fatalf("redis-server on port %d did not answer", r.Port)
}

// Stop kills the server (an outage, not a clean shutdown) and waits for it.
func (r *RedisProcess) Stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

// PostgresProcess is a PostgreSQL cluster owned by one test, for outages.
type PostgresProcess struct {
	Port    int
	dataDir string
	bin     string
	t       testing.TB
}

// StartPostgresProcess initialises and starts a private PostgreSQL cluster
// on a free loopback port (as the postgres user when running as root, since
// initdb refuses root). It costs a few seconds: use it only for tests that
// stop the database.
func StartPostgresProcess(t testing.TB) *PostgresProcess {
	t.Helper()
	bin := pgBinDir(t)
	dir, err := os.MkdirTemp("", "bizmcp-pg-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	p := &PostgresProcess{Port: FreePort(t), dataDir: filepath.Join(dir, "data"), bin: bin, t: t}
	if err := os.Mkdir(p.dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs the postgres user (from the postgresql package): %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		for _, d := range []string{dir, p.dataDir} {
			if err := os.Chown(d, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	p.run("initdb", "-D", p.dataDir, "-U", "postgres", "--auth=trust", "--no-locale", "--encoding=UTF8")
	p.Start()
	t.Cleanup(p.Stop)
	return p
}

// URL returns the URL of database name on this cluster.
func (p *PostgresProcess) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.Port, name)
}

// Start starts the cluster and waits until it accepts connections.
func (p *PostgresProcess) Start() {
	p.t.Helper()
	p.run("pg_ctl", "-D", p.dataDir, "-l", filepath.Join(p.dataDir, "server.log"), "-w", "-t", "60",
		"-o", fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -k %s -c fsync=off", p.Port, p.dataDir), "start")
}

// Stop stops the cluster at once (immediate mode: like a crash).
func (p *PostgresProcess) Stop() {
	p.t.Helper()
	if _, err := os.Stat(filepath.Join(p.dataDir, "postmaster.pid")); err != nil {
		return
	}
	p.run("pg_ctl", "-D", p.dataDir, "-m", "immediate", "-w", "stop")
}

func (p *PostgresProcess) run(prog string, args ...string) {
	p.t.Helper()
	path := filepath.Join(p.bin, prog)
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("%s %v: %v\n%s", prog, args, err, out)
	}
}

func pgBinDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("BIZMCP_PG_BINDIR"); d != "" {
		return d
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		d := string(out[:len(out)-1])
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	t.Fatal("PostgreSQL server binaries not found: `make test` installs them (apt-get install postgresql)")
	return ""
}
