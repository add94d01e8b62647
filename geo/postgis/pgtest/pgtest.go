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
	"sync/atomic"
	"testing"

	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/jackc/pgx/v5"
)

var (
	server   string // URL of a maintenance database on the test server
	template string // name of the migrated template database
	urlOf    func(name string) string
	counter  atomic.Int64
)

// Main prepares the test server and template, runs the tests and cleans up.
func Main(m *testing.M) int {
	ctx := context.Background()
	var cluster *postgis.Cluster
	if u := os.Getenv("GCRM_TEST_DATABASE_URL"); u != "" {
		base, err := url.Parse(u)
		if err != nil || (base.Scheme != "postgres" && base.Scheme != "postgresql") {
			fmt.Fprintln(os.Stderr, "pgtest: GCRM_TEST_DATABASE_URL must be a postgres:// URL:", u)
			return 1
		}
		server = u
		urlOf = func(name string) string {
			c := *base
			c.Path = "/" + name
			return c.String()
		}
	} else {
		dir, err := os.MkdirTemp("", "gcrm-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		cluster, err = postgis.StartCluster(ctx, dir, postgis.ClusterOptions{Fast: true})
		if err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
			return 1
		}
		defer cluster.Stop()
		server, urlOf = cluster.URL("postgres"), cluster.URL
	}
	template = fmt.Sprintf("gcrm_tmpl_%d", os.Getpid())
	if err := createTemplate(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		return 1
	}
	code := m.Run()
	dropAll(ctx)
	return code
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

func dropAll(ctx context.Context) {
	_ = exec(ctx, server, `DROP DATABASE IF EXISTS `+template+` WITH (FORCE)`)
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
