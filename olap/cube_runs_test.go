package olap_test

import (
	"context"
	"reflect"
	"strconv"
	"testing"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/olap"
	"github.com/paulmach/orb"
)

// densePoint returns a random point of the 0.0001° grid in a 0.05° square: thousands of
// them put tens of records in each resolution-9 cell, so that bbox queries by fine cells
// read whole runs of a cell's records inside the bbox, runs cut by its edges and runs
// skipped outside (sumRuns).
func (f *cubeFixture) densePoint() orb.Point {
	return orb.Point{-95.05 + float64(f.rng.IntN(500))/10000, 35 + float64(f.rng.IntN(500))/10000}
}

// addDense inserts n records at dense points (random attributes), assigns them to the
// regions and reloads the engine and cube.
func (f *cubeFixture) addDense(t *testing.T, n int) { f.addPoints(t, n, f.densePoint) }

// equalSQL answers q from the cube and from PostGIS, fails t unless the rows are equal and
// returns how many there are.
func (f *cubeFixture) equalSQL(t *testing.T, q *olap.CubeQuery) int {
	t.Helper()
	got, err := f.cube.Query(q, f.engine.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	want, err := olap.QueryCubeSQL(context.Background(), f.db, q, f.levels, f.pops)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Rows(), want.Rows()) {
		t.Fatalf("%s (from %s):\ncube: %d rows %v\nsql:  %d rows %v", describe(q), got.Source, len(got.Rows()), head(got.Rows()), len(want.Rows()), head(want.Rows()))
	}
	return len(want.Rows())
}

// addPoints inserts n records at points from point, as addDense does.
func (f *cubeFixture) addPoints(t *testing.T, n int, point func() orb.Point) {
	t.Helper()
	ctx := context.Background()
	f.insertRecords(t, n, "d", point)
	for _, idx := range f.idx {
		if _, err := olap.AssignAll(ctx, f.db, idx); err != nil {
			t.Fatal(err)
		}
	}
	f.engine, f.cube = f.load(t)
}

// assignRegions stores the regions of a written record, as the write path does.
func (f *cubeFixture) assignRegions(t *testing.T, id int64, p *orb.Point) {
	t.Helper()
	ctx := context.Background()
	for _, idx := range f.idx {
		i := -1
		if p != nil {
			i = idx.Locate(*p)
		}
		var err error
		switch {
		case p == nil:
			err = olap.UnassignCustomer(ctx, f.db.Pool, id)
		case i >= 0:
			_, err = f.db.Pool.Exec(ctx, `INSERT INTO customer_regions VALUES ($1, $2, $3)
				ON CONFLICT (customer_id, level) DO UPDATE SET region_id = EXCLUDED.region_id`, id, idx.Level, idx.Regions[i].ID)
		default:
			_, err = f.db.Pool.Exec(ctx, `DELETE FROM customer_regions WHERE customer_id = $1 AND level = $2`, id, idx.Level)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// Bbox queries grouped by one H3 resolution over dense records — read a cell's run at a
// time, whole runs inside the bbox without the box test (or from the sums of the long
// runs) and runs outside skipped — give
// what PostGIS gives: bbox edges through the runs, filters on every dimension, a rep's
// scope, and records written after the load (appended, moved, deleted: dead slots).
func TestCube_BboxRunsEqualSQL(t *testing.T) {
	defer olap.RunMinForTest(4)() // most cells of resolution 8-9 hold 4 records or more: their sums are indexed
	ctx := context.Background()
	f := newCubeFixture(t, 500)
	f.addDense(t, 6000)
	// Writes after the load: new records in and around the dense square, moves into and
	// out of it, and deletions (their slots stay, dead, until a re-sort).
	r := f.rng
	var ids []int64
	rows, err := f.db.Pool.Query(ctx, `SELECT id FROM customers WHERE name LIKE 'd%' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if rows.Err() != nil || len(ids) != 6000 {
		t.Fatalf("%d dense records (%v)", len(ids), rows.Err())
	}
	for i := 0; i < 300; i++ {
		switch op := r.IntN(3); op {
		case 0:
			c := &crm.Customer{Kind: crm.Kinds[r.IntN(3)], Name: "new", Segment: cubeSegments[r.IntN(4)],
				Status: cubeStatuses[r.IntN(5)], Owner: cubeOwners[r.IntN(5)], Revenue: float64(r.IntN(100000)) / 100}
			p := f.densePoint()
			if err := c.SetLocation(p[0], p[1]); err != nil {
				t.Fatal(err)
			}
			if err := f.store.Create(ctx, c); err != nil {
				t.Fatal(err)
			}
			f.assignRegions(t, c.ID, c.Location)
			f.engine.Put(c)
		case 1:
			id := ids[r.IntN(len(ids))]
			var version int
			if err := f.db.Pool.QueryRow(ctx, `SELECT version FROM customers WHERE id = $1`, id).Scan(&version); err != nil {
				continue // deleted before
			}
			c, err := f.store.Update(ctx, crm.Scope{}, id, version, func(c *crm.Customer) error {
				p := f.densePoint()
				if r.IntN(4) == 0 {
					p = gridPoint(r) // out of the square
				}
				c.Status = cubeStatuses[r.IntN(5)]
				return c.SetLocation(p[0], p[1])
			})
			if err != nil {
				t.Fatal(err)
			}
			f.assignRegions(t, c.ID, c.Location)
			f.engine.Put(c)
		default:
			id := ids[r.IntN(len(ids))]
			rev, err := f.store.Delete(ctx, crm.Scope{}, id)
			if geo.ErrorCode(err) == geo.ENOTFOUND {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			f.assignRegions(t, id, nil)
			f.engine.Remove(id, rev)
		}
	}
	measures := []string{"records", "customers", "prospects", "leads", "revenue", "customer_revenue", "won", "lost", "conversion_rate", "revenue_per_customer"}
	filters := [][]olap.CubeFilter{
		nil,
		{{Dim: olap.CubeDim{Name: "kind"}, Values: []string{"lead", "prospect"}}},
		{{Dim: olap.CubeDim{Name: "status"}, Values: []string{"won", "open"}}},
		{{Dim: olap.CubeDim{Name: "segment"}, Values: []string{"SMB", ""}}},
		{{Dim: olap.CubeDim{Name: "month"}, Values: []string{"2023-03", "2024-07", "2025-01"}}},
		{{Dim: olap.CubeDim{Name: "h3"}, Values: []string{strconv.FormatUint(uint64(geo.CellOf(orb.Point{-95.03, 35.02}, 7)), 16)}}},
	}
	sizes := []float64{0.004, 0.012, 0.03, 0.06}
	n := 0
	for _, res := range []int{7, 9, 10, 12, 15} {
		for fi, fl := range filters {
			for si, size := range sizes {
				// Edges half-way between grid lines (never within ±1 cm of a record), the
				// box anywhere around the square: cutting it, inside it, holding it.
				x := -95.07 + float64(r.IntN(700))/10000 + 0.00005
				y := 34.98 + float64(r.IntN(700))/10000 + 0.00005
				b := orb.Bound{Min: orb.Point{x, y}, Max: orb.Point{x + size, y + size}}
				ms := measures
				if si%2 == 0 { // without won and lost, runs of some kinds are read from the sums too
					ms = measures[:6]
				}
				q := &olap.CubeQuery{Measures: ms, By: []olap.CubeDim{{Name: "h3", Res: res}}, Filters: fl, Bound: &b}
				if (fi+int(size*1000))%3 == 0 {
					q.Scope = crm.Scope{Restricted: true, Owners: []string{"ann", "cy"}}
				}
				n += f.equalSQL(t, q)
			}
		}
	}
	if n < 5000 {
		t.Fatalf("only %d rows in all: the bboxes missed the dense records", n)
	}
	t.Logf("%d rows", n)
}

// A big bbox far north (Alaska) grouped by cells at least two resolutions finer than cells
// as wide as the bbox is read through a few coarse cells widened by their radius: the
// widening in longitude, radius / cos(latitude + radius), must not turn negative when
// latitude + radius passes 90° (it shrank the cover and lost the records at the edges).
func TestCube_BboxHighLatitude(t *testing.T) {
	f := newCubeFixture(t, 100)
	f.addPoints(t, 3000, func() orb.Point {
		return orb.Point{-170 + f.rng.Float64()*50, 50 + f.rng.Float64()*30}
	})
	b := orb.Bound{Min: orb.Point{-168.00005, 50.40005}, Max: orb.Point{-121.00005, 79.50005}}
	for _, res := range []int{2, 3, 5, 9} {
		q := &olap.CubeQuery{Measures: []string{"records", "revenue", "won"}, By: []olap.CubeDim{{Name: "h3", Res: res}}, Bound: &b}
		if n := f.equalSQL(t, q); n < 10 {
			t.Fatalf("%s: %d rows", describe(q), n)
		}
	}
}
