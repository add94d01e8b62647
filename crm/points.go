package crm

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/jackc/pgx/v5"
)

// Point is the compact row the in-memory engine keeps for a record: only what tiles, the
// cube and territories read. Located is false for a record without a location (the engine
// then drops it, remembering Rev so an older change cannot bring it back).
type Point struct {
	ID         int64
	Located    bool
	Lon, Lat   float64
	Cell       geo.Cell
	Kind       string
	Status     string
	Segment    string
	Owner      string
	Revenue    float64
	Rev        int64
	Month      int32 // month created (UTC) as year*12 + month-1: the cube's month dimension
	Activities int32 // activities logged on the record (the cube's activities measure)
}

// MonthOf returns t's month (UTC) as year*12 + month-1, as Point.Month holds it.
func MonthOf(t time.Time) int32 {
	t = t.UTC()
	return int32(t.Year()*12 + int(t.Month()) - 1)
}

// PointOf returns the Point of c (as Store.Create/Update left it, with its Rev).
func PointOf(c *Customer) Point {
	p := Point{ID: c.ID, Kind: c.Kind, Status: c.Status, Segment: c.Segment, Owner: c.Owner, Revenue: c.Revenue, Rev: c.Rev,
		Month: MonthOf(c.CreatedAt), Activities: int32(c.Activities)}
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

// pointColumns are read in binary and decoded in Go (EWKB point, numeric, timestamptz):
// ST_X/ST_Y, numeric::float8 (done through text) and extract() cost the server more than
// the scan itself.
const pointColumns = `id, geom, h3, kind, status, segment, owner, revenue, rev, created_at, activity_count`

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

// changedPointsSQL reads the records written by transactions from $1 on: the newest rows,
// found through the BRIN index on (rev, txid).
const changedPointsSQL = `SELECT ` + pointColumns + ` FROM customers WHERE txid >= $1`

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
		if err := scanPoints(ctx, tx, changedPointsSQL, []any{since}, put); err != nil {
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
	// Binary result columns, decoded by hand from the raw values: a million rows load in a
	// fraction of what generic Scan costs, and repeated texts (kind, status, segment,
	// owner) are interned rather than allocated per row.
	rows, err := tx.Query(ctx, sql, append([]any{pgx.QueryResultFormats{pgx.BinaryFormatCode}}, args...)...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var p Point
	intern := map[string]string{}
	text := func(b []byte) string {
		if s, ok := intern[string(b)]; ok {
			return s
		}
		if len(intern) > 1<<16 { // unbounded distinct values (names?): stop interning
			return string(b)
		}
		s := string(b)
		intern[s] = s
		return s
	}
	for rows.Next() {
		v := rows.RawValues()
		if len(v) != 11 || len(v[0]) != 8 || len(v[8]) != 8 || len(v[9]) != 8 || len(v[10]) != 4 {
			return fmt.Errorf("crm: unexpected point row shape (%d columns)", len(v))
		}
		p = Point{ID: int64(binary.BigEndian.Uint64(v[0])), Kind: text(v[3]), Status: text(v[4]), Segment: text(v[5]),
			Owner: text(v[6]), Revenue: numericFloat(v[7]), Rev: int64(binary.BigEndian.Uint64(v[8])),
			Month:      MonthOf(pgEpoch.Add(time.Duration(int64(binary.BigEndian.Uint64(v[9]))) * time.Microsecond)),
			Activities: int32(binary.BigEndian.Uint32(v[10]))}
		p.Lon, p.Lat, p.Located = postgis.Point(v[1])
		if p.Located && len(v[2]) == 8 {
			p.Cell = geo.Cell(binary.BigEndian.Uint64(v[2]))
		}
		if err := fn(&p); err != nil {
			return err
		}
	}
	return rows.Err()
}

// pgEpoch is where PostgreSQL's binary timestamps count microseconds from.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// numericFloat decodes PostgreSQL's binary numeric (base-10000 digits) to the nearest
// float64; NaN and malformed values give 0.
func numericFloat(b []byte) float64 {
	if len(b) < 8 {
		return 0
	}
	n := int(binary.BigEndian.Uint16(b))
	weight := int(int16(binary.BigEndian.Uint16(b[2:])))
	sign := binary.BigEndian.Uint16(b[4:])
	if len(b) < 8+2*n || (sign != 0 && sign != 0x4000) {
		return 0
	}
	var m uint64
	for i := 0; i < n; i++ {
		m = m*10000 + uint64(binary.BigEndian.Uint16(b[8+2*i:]))
		if m >= 1<<53/10000 && i+1 < n || m >= 1<<53 {
			return numericSlow(b[8:8+2*n], weight, sign)
		}
	}
	e := weight - (n - 1) // value = m × 10000^e, m exact
	v := float64(m)
	switch {
	case e > 0:
		v *= math.Pow(10000, float64(e))
	case e < 0 && -e <= 5:
		v /= math.Pow(10, float64(-4*e)) // exact divisor up to 1e20: one correctly rounded step
	case e < 0:
		v /= math.Pow(10000, float64(-e))
	}
	if sign == 0x4000 {
		v = -v
	}
	return v
}

// numericSlow decodes a numeric too long for exact integer arithmetic through its decimal
// text, correctly rounded.
func numericSlow(digits []byte, weight int, sign uint16) float64 {
	var t []byte
	if sign == 0x4000 {
		t = append(t, '-')
	}
	t = append(t, "0."...)
	for i := 0; i+1 < len(digits); i += 2 {
		t = fmt.Appendf(t, "%04d", binary.BigEndian.Uint16(digits[i:]))
	}
	t = fmt.Appendf(t, "e%d", 4*(weight+1))
	v, err := strconv.ParseFloat(string(t), 64)
	if err != nil {
		return 0
	}
	return v
}
