// Package postgis is gcrm's one adapter to PostgreSQL/PostGIS: the connection pool,
// transactions, the migrations runner, driver-error mapping and the managed local cluster.
package postgis

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gcrm/gcrm/geo"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DB is a pool of connections to one PostGIS database.
type DB struct {
	Pool *pgxpool.Pool
	URL  string
}

// Open connects to the database at url. The `geometry` type, where PostGIS is installed in
// it, is registered as bytea so geometries travel as (E)WKB without text round trips.
// Returns EUNAVAILABLE when the server cannot be reached.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, geo.Errorf(geo.EINVALID, "database URL %q is not valid: %v", url, err)
	}
	cfg.AfterConnect = registerGeometry
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, geo.Errorf(geo.EUNAVAILABLE, "cannot open database: %v", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, geo.Errorf(geo.EUNAVAILABLE, "cannot reach database: %v", err)
	}
	return &DB{Pool: pool, URL: url}, nil
}

// Close closes every connection.
func (db *DB) Close() { db.Pool.Close() }

func registerGeometry(ctx context.Context, conn *pgx.Conn) error {
	for _, name := range []string{"geometry", "geography"} {
		var oid uint32
		err := conn.QueryRow(ctx, `SELECT oid FROM pg_type WHERE typname = $1`, name).Scan(&oid)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // PostGIS not installed yet: Migrate resets the pool after creating it.
		}
		if err != nil {
			return err
		}
		conn.TypeMap().RegisterType(&pgtype.Type{Name: name, OID: oid, Codec: pgtype.ByteaCodec{}})
	}
	return nil
}

// WithTx runs fn in one transaction: committed when fn returns nil, rolled back otherwise,
// so a failed request leaves the database as it was.
func (db *DB) WithTx(ctx context.Context, fn func(pgx.Tx) error) (err error) {
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		return Wrap(err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(ctx)
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	return Wrap(tx.Commit(ctx))
}

// Wrap translates driver errors into *geo.Error by SQLSTATE code (never by message text).
// A *geo.Error passes through unchanged.
func Wrap(err error) error {
	if err == nil {
		return nil
	}
	var ge *geo.Error
	if errors.As(err, &ge) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return geo.Errorf(geo.ENOTFOUND, "not found")
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return geo.Errorf(geo.EUNAVAILABLE, "the request was cancelled or timed out")
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505":
			return geo.Errorf(geo.ECONFLICT, "a record with this %s already exists", constraintField(pe))
		case "23503", "23514", "22P02", "22003", "23502", "22007", "22008":
			return geo.Errorf(geo.EINVALID, "invalid value: %s", pe.Message)
		case "57014":
			return geo.Errorf(geo.EUNAVAILABLE, "the query was cancelled")
		}
	}
	return fmt.Errorf("postgis: %w", err)
}

func constraintField(pe *pgconn.PgError) string {
	if pe.ColumnName != "" {
		return pe.ColumnName
	}
	if pe.ConstraintName != "" {
		return pe.ConstraintName
	}
	return "key"
}

// EscapeLike escapes s for a LIKE or ILIKE pattern (with the default escape character):
// its %, _ and \ match themselves.
func EscapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
