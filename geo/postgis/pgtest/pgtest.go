// Package pgtest gives tests a freshly migrated PostGIS database of their own, cloned from a
// migrated template. With GCRM_TEST_DATABASE_URL it uses that server; without it, it starts
// a private cluster in a temporary directory: tests never skip for lack of a database.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/jackc/pgx/v5"
)

var (
	server   string // URL of a maintenance database on the test server
	template string // name of the migrated template database
	urlOf    func(name string) string
	counter  atomic.Int64

	once     sync.Once
	setupErr error
	cluster  *postgis.Cluster
	dir      string
)

// Main runs the tests and afterwards drops the template and stops the private cluster, if a
// test started one: the server is set up by the first New, so tests and fuzz workers that
// need no database start none.
func Main(m *testing.M) int {
	code := m.Run()
	if server != "" {
		_ = exec(context.Background(), server, `DROP DATABASE IF EXISTS `+template+` WITH (FORCE)`)
	}
	if cluster != nil {
		_ = cluster.Stop()
		os.RemoveAll(dir)
	}
	return code
}

func setup() error {
	ctx := context.Background()
	if u := os.Getenv("GCRM_TEST_DATABASE_URL"); u != "" {
		base, err := url.Parse(u)
		if err != nil || (base.Scheme != "postgres" && base.Scheme != "postgresql") {
			return fmt.Errorf("GCRM_TEST_DATABASE_URL must be a postgres:// URL: %s", u)
		}
		server = u
		urlOf = func(name string) string {
			c := *base
			c.Path = "/" + name
			return c.String()
		}
	} else {
		stopOrphans()
		var err error
		if dir, err = os.MkdirTemp("", "gcrm-test-"); err != nil {
			return err
		}
		// Remember who owns the cluster, so a later run can stop it if this process dies.
		if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			return err
		}
		if cluster, err = postgis.StartCluster(ctx, dir, postgis.ClusterOptions{Fast: true}); err != nil {
			return err
		}
		server, urlOf = cluster.URL("postgres"), cluster.URL
	}
	template = fmt.Sprintf("gcrm_tmpl_%d", os.Getpid())
	return createTemplate(ctx)
}

// stopOrphans stops private test clusters whose test process has died (killed runs).
func stopOrphans() {
	owners, _ := filepath.Glob(filepath.Join(os.TempDir(), "gcrm-test-*", "owner.pid"))
	for _, f := range owners {
		b, err := os.ReadFile(f)
		pid, _ := strconv.Atoi(string(b))
		if err != nil || pid <= 0 || syscall.Kill(pid, 0) == nil {
			continue // alive (or unreadable): not ours to stop
		}
		d := filepath.Dir(f)
		if c, err := postgis.AttachCluster(d); err == nil {
			_ = c.Stop()
		}
		os.RemoveAll(d)
	}
}

func createTemplate(ctx context.Context) error {
	if err := exec(ctx, server, `CREATE DATABASE `+template); err != nil {
		return err
	}
	db, err := postgis.Open(ctx, urlOf(template))
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Migrate(ctx)
}

// New returns a migrated database for t, dropped when t ends.
func New(t testing.TB) *postgis.DB {
	t.Helper()
	if once.Do(func() { setupErr = setup() }); setupErr != nil {
		t.Fatalf("pgtest: %v", setupErr)
	}
	return NewNamed(t, fmt.Sprintf("%s_%d", template, counter.Add(1)))
}

// NewNamed is New with a chosen database name.
func NewNamed(t testing.TB, name string) *postgis.DB {
	t.Helper()
	ctx := context.Background()
	if err := exec(ctx, server, fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s`, name, template)); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	db, err := postgis.Open(ctx, urlOf(name))
	if err != nil {
		t.Fatalf("pgtest: open: %v", err)
	}
	t.Cleanup(func() {
		db.Close()
		_ = exec(context.Background(), server, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
	})
	return db
}

// URL returns the connection URL of a new migrated database for t (for code under test that
// opens its own pool, such as cmd's run()).
func URL(t testing.TB) string {
	t.Helper()
	db := New(t)
	return db.URL
}

func exec(ctx context.Context, url, sql string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// RowsRead runs sql with args under EXPLAIN (ANALYZE, FORMAT JSON) on db and returns how
// many rows of table the plan read: those its scans of table returned plus those their
// filters and index rechecks removed. Tests use it to check that a query is answered from
// an index rather than by reading the whole table.
func RowsRead(t testing.TB, db *postgis.DB, table, sql string, args ...any) int64 {
	t.Helper()
	var out []struct{ Plan planNode }
	if err := db.Pool.QueryRow(context.Background(), `EXPLAIN (ANALYZE, FORMAT JSON) `+sql, args...).Scan(&out); err != nil || len(out) != 1 {
		t.Fatalf("EXPLAIN %s: %v", sql, err)
	}
	var read func(n planNode) int64
	read = func(n planNode) int64 {
		var rows int64
		if n.Relation == table {
			rows = int64(n.Loops * (n.Rows + n.RemovedByFilter + n.RemovedByRecheck))
		}
		for _, c := range n.Plans {
			rows += read(c)
		}
		return rows
	}
	return read(out[0].Plan)
}

// planNode is a node of EXPLAIN's JSON plan (per-loop averages, as EXPLAIN gives them).
type planNode struct {
	Relation         string     `json:"Relation Name"`
	Loops            float64    `json:"Actual Loops"`
	Rows             float64    `json:"Actual Rows"`
	RemovedByFilter  float64    `json:"Rows Removed by Filter"`
	RemovedByRecheck float64    `json:"Rows Removed by Index Recheck"`
	Plans            []planNode `json:"Plans"`
}
