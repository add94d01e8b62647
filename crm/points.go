package crm

import (
	"context"
	"time"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/jackc/pgx/v5"
)

// Point is the compact row the in-memory engine keeps for a record: only what tiles, the
// cube and territories read. Located is false for a record without a location (the engine
// then drops it, remembering Rev so an older change cannot bring it back).
type Point struct {
	ID       int64
	Located  bool
	Lon, Lat float64
	Cell     geo.Cell
	Kind     string
	Status   string
	Segment  string
	Owner    string
	Revenue  float64
	Rev      int64
	Month    int32 // month created (UTC) as year*12 + month-1: the cube's month dimension
}

// MonthOf returns t's month (UTC) as year*12 + month-1, as Point.Month holds it.
func MonthOf(t time.Time) int32 {
	t = t.UTC()
	return int32(t.Year()*12 + int(t.Month()) - 1)
}

// PointOf returns the Point of c (as Store.Create/Update left it, with its Rev).
func PointOf(c *Customer) Point {
	p := Point{ID: c.ID, Kind: c.Kind, Status: c.Status, Segment: c.Segment, Owner: c.Owner, Revenue: c.Revenue, Rev: c.Rev,
		Month: MonthOf(c.CreatedAt)}
	if c.Location != nil {
		p.Located, p.Lon, p.Lat, p.Cell = true, c.Location[0], c.Location[1], c.Cell
	}
	return p
}

// Deletion is a record removed from the customers table, with the rev of its removal.
type Deletion struct {
	ID  int64
	Rev int64
}

const pointColumns = `id, geom IS NOT NULL, coalesce(ST_X(geom), 0), coalesce(ST_Y(geom), 0), coalesce(h3, 0),
	kind, status, segment, owner, revenue::float8, rev,
	(extract(year FROM created_at AT TIME ZONE 'UTC') * 12 + extract(month FROM created_at AT TIME ZONE 'UTC') - 1)::int`

// ScanPoints streams every located record to fn, in one REPEATABLE READ snapshot, and
// returns that snapshot's xmin: pass it to ScanChanges to read every change committed
// after this scan. fn's *Point is reused between calls. Returns EUNAVAILABLE when the
// database cannot be read, or fn's error.
func (s *Store) ScanPoints(ctx context.Context, fn func(*Point) error) (xmin int64, err error) {
	err = s.snapshotRead(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint`).Scan(&xmin); err != nil {
			return err
		}
		return scanPoints(ctx, tx, `SELECT `+pointColumns+` FROM customers WHERE geom IS NOT NULL`, nil, fn)
	})
	return xmin, err
}

// ScanChanges reads the change feed: every record and every deletion written by a
// transaction whose txid is at or above since (a previous xmin), in one REPEATABLE READ
// snapshot, and returns that snapshot's xmin for the next call. A change may be read more
// than once (its rev makes applying it again harmless); none committed after the previous
// snapshot is missed. Records without a location come with Located false.
func (s *Store) ScanChanges(ctx context.Context, since int64, put func(*Point) error, del func(Deletion) error) (xmin int64, err error) {
	err = s.snapshotRead(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint`).Scan(&xmin); err != nil {
			return err
		}
		if err := scanPoints(ctx, tx, `SELECT `+pointColumns+` FROM customers WHERE txid >= $1`, []any{since}, put); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id, rev FROM customer_deletions WHERE txid >= $1`, since)
		if err != nil {
			return err
		}
		defer rows.Close()
		var d Deletion
		for rows.Next() {
			if err := rows.Scan(&d.ID, &d.Rev); err != nil {
				return err
			}
			if err := del(d); err != nil {
				return err
			}
		}
		return rows.Err()
	})
	return xmin, err
}

func (s *Store) snapshotRead(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := s.DB.Pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return postgis.Wrap(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := fn(tx); err != nil {
		return postgis.Wrap(err)
	}
	return postgis.Wrap(tx.Commit(ctx))
}

func scanPoints(ctx context.Context, tx pgx.Tx, sql string, args []any, fn func(*Point) error) error {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var p Point
	var cell int64
	for rows.Next() {
		if err := rows.Scan(&p.ID, &p.Located, &p.Lon, &p.Lat, &cell, &p.Kind, &p.Status, &p.Segment, &p.Owner, &p.Revenue, &p.Rev, &p.Month); err != nil {
			return err
		}
		p.Cell = geo.Cell(cell)
		if err := fn(&p); err != nil {
			return err
		}
	}
	return rows.Err()
}
