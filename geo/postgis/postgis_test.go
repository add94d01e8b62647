package postgis_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/gcrm/gcrm/geo/postgis/pgtest"
	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestMigrate(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	// Migrating again is a no-op.
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var version string
	if err := db.Pool.QueryRow(ctx, `SELECT postgis_lib_version()`).Scan(&version); err != nil {
		t.Fatal(err)
	}
	// geometry arrives as EWKB bytes through the registered codec.
	var b []byte
	if err := db.Pool.QueryRow(ctx, `SELECT ST_SetSRID(ST_MakePoint(1, 2), 4326)`).Scan(&b); err != nil {
		t.Fatal(err)
	}
	if len(b) != 25 { // EWKB point with SRID: 1+4+4+16
		t.Fatalf("EWKB point has %d bytes, want 25", len(b))
	}
}

func TestWrap(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	_, err := db.Pool.Exec(ctx, `INSERT INTO customers (external_id, kind, name) VALUES ('a', 'customer', 'x'), ('a', 'customer', 'y')`)
	if got := geo.ErrorCode(postgis.Wrap(err)); got != geo.ECONFLICT {
		t.Errorf("duplicate key: code %q, want %q", got, geo.ECONFLICT)
	}
	_, err = db.Pool.Exec(ctx, `INSERT INTO customers (kind, name) VALUES ('alien', 'x')`)
	if got := geo.ErrorCode(postgis.Wrap(err)); got != geo.EINVALID {
		t.Errorf("check violation: code %q, want %q", got, geo.EINVALID)
	}
	err = db.Pool.QueryRow(ctx, `SELECT 1 FROM customers WHERE false`).Scan(new(int))
	if got := geo.ErrorCode(postgis.Wrap(err)); got != geo.ENOTFOUND {
		t.Errorf("no rows: code %q, want %q", got, geo.ENOTFOUND)
	}
}

func TestWithTxRollsBack(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	err := db.WithTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO customers (kind, name) VALUES ('lead', 'x')`); err != nil {
			return err
		}
		return geo.Errorf(geo.EINVALID, "stop")
	})
	if geo.ErrorCode(err) != geo.EINVALID {
		t.Fatalf("err = %v", err)
	}
	var n int
	db.Pool.QueryRow(ctx, `SELECT count(*) FROM customers`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d rows after rollback, want 0", n)
	}
}

// TestStartCluster_PrivateParent starts a cluster whose data directory sits under a
// directory only its owner may enter (as /root is): the server must still start.
func TestStartCluster_PrivateParent(t *testing.T) {
	parent := t.TempDir() // mode 0700
	if err := os.Chmod(parent, 0o700); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := postgis.StartCluster(ctx, parent+"/data", postgis.ClusterOptions{Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		c.Stop()
		os.RemoveAll(filepath.Dir(c.Dir)) // the fallback directory, when one was used
	}()
	db, err := postgis.Open(ctx, c.URL("gcrm"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
}
