// Package testkit is the test harness: a migrated PostgreSQL database per
// test (cloned from a template, so each test is isolated and cheap), Redis
// isolated per test by key prefix, the whole server started through cli.Run
// on port 0, and PostgreSQL and Redis processes a test may stop and start.
//
// Tests find the shared servers through BIZMCP_TEST_DATABASE_URL (a
// superuser connection, e.g. to the postgres database) and
// BIZMCP_TEST_REDIS_URL; `make test` starts both and sets them.
package testkit

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/bizmcp/bizmcp/db"
	"github.com/bizmcp/bizmcp/migrations"
)

// templateLockID serialises template creation across test processes (go
// test runs packages in parallel processes).
const templateLockID = 0x746d706c // "tmpl"

// AdminURL returns the superuser URL of the test cluster, failing the test
// when it is not configured.
func AdminURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("BIZMCP_TEST_DATABASE_URL")
	if u == "" {
		t.Fatal("BIZMCP_TEST_DATABASE_URL is not set: run the tests with `make test`, which starts PostgreSQL and Redis")
	}
	return u
}

// DatabaseURL creates a fresh, migrated database for this test and returns
// its URL. The database is dropped when the test ends.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	admin := AdminURL(t)
	tmpl := ensureTemplate(t, admin)
	name := "test_" + randomHex(8)
	conn := connect(t, admin)
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, tmpl)); err != nil {
		t.Fatalf("create test database from template %s: %v", tmpl, err)
	}
	t.Cleanup(func() {
		c := connect(t, admin)
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name)); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	return withDatabase(t, admin, name)
}

// Pool returns a pool on a fresh, migrated database for this test.
func Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), DatabaseURL(t))
	if err != nil {
		t.Fatalf("open test pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// ensureTemplate builds, once per schema version, a database with every
// migration applied, named after a hash of the migrations so a changed
// schema gets a new template.
func ensureTemplate(t testing.TB, admin string) string {
	t.Helper()
	ctx := context.Background()
	name := "bizmcp_tmpl_" + schemaHash(t)
	conn := connect(t, admin)
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(templateLockID)); err != nil {
		t.Fatalf("lock template: %v", err)
	}
	defer conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", int64(templateLockID)) //nolint:errcheck

	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		t.Fatalf("look up template: %v", err)
	}
	if exists {
		return name
	}
	building := name + "_building"
	for _, stmt := range []string{
		fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", building),
		fmt.Sprintf("CREATE DATABASE %s", building),
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	pool, err := pgxpool.New(ctx, withDatabase(t, admin, building))
	if err != nil {
		t.Fatalf("open template database: %v", err)
	}
	err = db.NewMigrator(pool, slog.New(slog.NewTextHandler(io.Discard, nil))).Up(ctx)
	pool.Close()
	if err != nil {
		t.Fatalf("migrate template database: %v", err)
	}
	// Renaming last makes a half-built template impossible to use.
	if _, err := conn.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s", building, name)); err != nil {
		t.Fatalf("rename template: %v", err)
	}
	return name
}

// schemaHash identifies the schema: our migration files and River's.
func schemaHash(t testing.TB) string {
	t.Helper()
	h := sha256.New()
	err := fs.WalkDir(migrations.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS, path)
		h.Write([]byte(path))
		h.Write(b)
		return err
	})
	if err != nil {
		t.Fatalf("hash migrations: %v", err)
	}
	rm, err := rivermigrate.New(riverpgxv5.New(nil), nil)
	if err != nil {
		t.Fatalf("load River migrations: %v", err)
	}
	for _, m := range rm.AllVersions() {
		fmt.Fprintf(h, "river:%d:%s", m.Version, m.SQLUp)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func connect(t testing.TB, u string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatalf("connect to test PostgreSQL: %v", err)
	}
	return conn
}

func withDatabase(t testing.TB, base, name string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %q: %v", base, err)
	}
	u.Path = "/" + name
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Prefix returns a Redis key prefix unique to this test.
func Prefix(t testing.TB) string {
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	if len(name) > 40 {
		name = name[:40]
	}
	return "test:" + name + ":" + randomHex(4) + ":"
}

// RedisURL returns the shared test Redis; tests isolate themselves with
// Prefix.
func RedisURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("BIZMCP_TEST_REDIS_URL")
	if u == "" {
		t.Fatal("BIZMCP_TEST_REDIS_URL is not set: run the tests with `make test`, which starts PostgreSQL and Redis")
	}
	return u
}
