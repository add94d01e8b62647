package postgis

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gcrm/gcrm/migrations"
)

// Migrate applies every embedded migration not applied yet, each in its own transaction,
// in file-name order. An advisory lock keeps concurrent starts from racing.
func (db *DB) Migrate(ctx context.Context) error {
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		return Wrap(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(7262001)`); err != nil {
		return Wrap(err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(7262001)`)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return Wrap(err)
	}
	applied := 0
	for _, name := range names {
		var done bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE name = $1)`, name).Scan(&done); err != nil {
			return Wrap(err)
		}
		if done {
			continue
		}
		sql, err := fs.ReadFile(migrations.FS, name)
		if err != nil {
			return err
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			return Wrap(err)
		}
		if _, err := tx.Exec(ctx, string(sql)); err != nil {
			_ = tx.Rollback(ctx)
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (name) VALUES ($1)`, name); err != nil {
			_ = tx.Rollback(ctx)
			return Wrap(err)
		}
		if err := tx.Commit(ctx); err != nil {
			return Wrap(err)
		}
		applied++
	}
	if applied > 0 {
		// Connections opened before PostGIS existed lack the geometry codec.
		db.Pool.Reset()
	}
	return nil
}

// IsPostGISMissing reports whether err says an extension (PostGIS) is not installed on the
// server (SQLSTATE 58P01, its control file is missing), so callers can name the package.
func IsPostGISMissing(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "58P01"
}
