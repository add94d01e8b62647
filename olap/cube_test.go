package olap_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/gcrm/gcrm/geo/postgis/pgtest"
	"github.com/gcrm/gcrm/olap"
	"github.com/paulmach/orb"
)

// cubeFixture is a database with two region levels and random records, and an engine
// (with its cube) loaded from it.
type cubeFixture struct {
	db     *postgis.DB
	store  *crm.Store
	engine *olap.Engine
	cube   *olap.Cube
	levels []string
	idx    []*olap.RegionIndex
	pops   map[string]map[string]float64
	rng    *rand.Rand
}

var (
	cubeStatuses = []string{"", "active", "won", "lost", "open"}
	cubeSegments = []string{"", "SMB", "ENT", "MID"}
	cubeOwners   = []string{"", "ann", "bob", "cy", "dee"}
)

// cubeSquare returns the region of the lon/lat square [x, x+w] × [y, y+w].
func cubeSquare(code string, x, y, w float64, pop int) olap.RegionFeature {
	ring := orb.Ring{{x, y}, {x + w, y}, {x + w, y + w}, {x, y + w}, {x, y}}
	attrs := map[string]any{}
	if pop > 0 {
		attrs["population"] = pop
	}
	return olap.RegionFeature{Code: code, Name: code, Geometry: orb.MultiPolygon{{ring}}, Attributes: attrs, Ref: code}
}

// gridPoint returns a random point on a 0.0001° grid over [-100, -90] × [30, 40], so that
// bbox edges drawn half-way between grid lines are never within the engine's ±1 cm of one.
func gridPoint(r *rand.Rand) orb.Point {
	return orb.Point{-100 + float64(r.IntN(100000))/10000, 30 + float64(r.IntN(100000))/10000}
}

func newCubeFixture(t *testing.T, n int) *cubeFixture {
	t.Helper()
	ctx := context.Background()
	f := &cubeFixture{db: pgtest.New(t), rng: rand.New(rand.NewPCG(7, 11)), levels: []string{"county", "state"}}
	f.store = crm.NewStore(f.db)
	regions := olap.NewRegionStore(f.db)
	var counties, states []olap.RegionFeature
	for i := 0; i < 10; i++ {
		for j := 0; j < 10; j++ {
			if (i+j)%7 == 3 {
				continue // holes: records there are in no county
			}
			counties = append(counties, cubeSquare(fmt.Sprintf("c%02d%02d", i, j), -100+float64(i), 30+float64(j), 1, 1000+i*100+j))
		}
	}
	for i := 0; i < 2; i++ {
		for j := 0; j < 2; j++ {
			pop := 0
			if i+j > 0 {
				pop = 50000 * (i + 2*j)
			}
			states = append(states, cubeSquare(fmt.Sprintf("s%d%d", i, j), -100+5*float64(i), 30+5*float64(j), 5, pop))
		}
	}
	for l, feats := range [][]olap.RegionFeature{counties, states} {
		if _, err := regions.Import(ctx, f.levels[l], feats); err != nil {
			t.Fatal(err)
		}
	}
	f.insertRecords(t, n, "r", func() orb.Point { return gridPoint(f.rng) })
	f.pops = map[string]map[string]float64{}
	for _, l := range f.levels {
		idx, err := olap.LoadRegionIndex(ctx, f.db, l)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := olap.AssignAll(ctx, f.db, idx); err != nil {
			t.Fatal(err)
		}
		f.idx = append(f.idx, idx)
		if f.pops[l], err = olap.LoadRegionPopulation(ctx, f.db, l); err != nil {
			t.Fatal(err)
		}
	}
	f.engine, f.cube = f.load(t)
	return f
}

// insertRecords inserts n records named prefix+i at points from point, with random
// attributes, months over three years and revenue in cents (some negative).
func (f *cubeFixture) insertRecords(t *testing.T, n int, prefix string, point func() orb.Point) {
	t.Helper()
	var kinds, names, segs, stats, owners, created []string
	var lons, lats, revs []float64
	var cells []int64
	for i := 0; i < n; i++ {
		p := point()
		lons, lats = append(lons, p[0]), append(lats, p[1])
		cells = append(cells, int64(geo.CellOf(p, geo.CellResolution)))
		kinds = append(kinds, crm.Kinds[f.rng.IntN(3)])
		names = append(names, prefix+strconv.Itoa(i))
		segs = append(segs, cubeSegments[f.rng.IntN(len(cubeSegments))])
		stats = append(stats, cubeStatuses[f.rng.IntN(len(cubeStatuses))])
		owners = append(owners, cubeOwners[f.rng.IntN(len(cubeOwners))])
		revs = append(revs, float64(f.rng.IntN(2_000_000)-100_000)/100)
		created = append(created, time.Date(2023, time.Month(1+f.rng.IntN(36)), 1+f.rng.IntN(28), f.rng.IntN(24), 0, 0, 0, time.UTC).Format(time.RFC3339))
	}
	_, err := f.db.Pool.Exec(context.Background(), `INSERT INTO customers (kind, name, geom, h3, segment, status, owner, revenue, created_at)
		SELECT k, n, ST_SetSRID(ST_MakePoint(x, y), 4326), h, sg, st, o, r::numeric(16,2), ca::timestamptz
		FROM unnest($1::text[], $2::text[], $3::float8[], $4::float8[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::float8[], $10::text[])
			AS u(k, n, x, y, h, sg, st, o, r, ca)`, kinds, names, lons, lats, cells, segs, stats, owners, revs, created)
	if err != nil {
		t.Fatal(err)
	}
}

// load builds a new engine and cube from the database.
func (f *cubeFixture) load(t *testing.T) (*olap.Engine, *olap.Cube) {
	t.Helper()
	e := olap.New()
	c := olap.NewCube(f.idx...)
	for l, p := range f.pops {
		c.SetPopulation(l, p)
	}
	e.Observer = c
	if err := e.Load(context.Background(), f.store); err != nil {
		t.Fatal(err)
	}
	return e, c
}

// randomQuery draws measures, dimensions, filters, a bbox and a scope.
func (f *cubeFixture) randomQuery() *olap.CubeQuery {
	r := f.rng
	dims := []string{"h3:" + strconv.Itoa(r.IntN(16)), "region:county", "region:state", "kind", "status", "segment", "owner", "month"}
	q := &olap.CubeQuery{}
	for _, i := range r.Perm(len(dims))[:r.IntN(4)] {
		d, err := olap.ParseCubeDim(dims[i])
		if err != nil {
			panic(err)
		}
		q.By = append(q.By, d)
	}
	for _, m := range olap.CubeMeasures {
		if m.Name == "penetration" && !slices.ContainsFunc(q.By, func(d olap.CubeDim) bool { return d.Name == "region" }) {
			continue
		}
		if r.IntN(2) == 0 || len(q.Measures) == 0 {
			q.Measures = append(q.Measures, m.Name)
		}
	}
	values := map[string][]string{
		"kind": crm.Kinds, "status": append(cubeStatuses, "nope"), "segment": append(cubeSegments, "nope"),
		"owner": cubeOwners, "month": {"2023-01", "2023-07", "2024-02", "2025-12", "2022-05"},
		"region:county": {"c0102", "c0505", "c0909", "c0004", "", "zz"}, "region:state": {"s00", "s11", "s01", ""},
	}
	for n := r.IntN(3); n > 0; n-- {
		name := []string{"kind", "status", "segment", "owner", "month", "region:county", "region:state", "h3"}[r.IntN(8)]
		var vals []string
		if name == "h3" {
			p := gridPoint(r)
			vals = []string{strconv.FormatUint(uint64(geo.CellOf(p, r.IntN(11))), 16)}
			if r.IntN(2) == 0 {
				vals = append(vals, strconv.FormatUint(uint64(geo.CellOf(orb.Point{-95, 35}, 3+r.IntN(5))), 16))
			}
		} else {
			pool := values[name]
			for _, i := range r.Perm(len(pool))[:1+r.IntN(2)] {
				vals = append(vals, pool[i])
			}
		}
		d := olap.CubeDim{Name: "h3"}
		if name != "h3" {
			d, _ = olap.ParseCubeDim(name)
		}
		q.Filters = append(q.Filters, olap.CubeFilter{Dim: d, Values: vals})
	}
	if r.IntN(3) == 0 {
		a, b := gridPoint(r), gridPoint(r)
		const half = 0.00005
		q.Bound = &orb.Bound{Min: orb.Point{min(a[0], b[0]) + half, min(a[1], b[1]) + half}, Max: orb.Point{max(a[0], b[0]) + half, max(a[1], b[1]) + half}}
	}
	if r.IntN(3) == 0 {
		q.Scope = crm.Scope{Restricted: true, Owners: []string{cubeOwners[1+r.IntN(4)]}}
		if r.IntN(2) == 0 {
			q.Scope.Owners = append(q.Scope.Owners, "cy")
		}
	}
	return q
}

func describe(q *olap.CubeQuery) string {
	return fmt.Sprintf("measures=%v by=%v filters=%v bbox=%v scope=%+v", q.Measures, q.By, q.Filters, q.Bound, q.Scope)
}

// checkEqualsSQL runs n random queries on the cube and in PostGIS and wants equal answers.
func (f *cubeFixture) checkEqualsSQL(t *testing.T, c *olap.Cube, e *olap.Engine, n int) map[string]int {
	t.Helper()
	sources := map[string]int{}
	var held, heldWant *olap.CubeResult
	for i := 0; i < n; i++ {
		q := f.randomQuery()
		got, err := c.Query(q, e.Snapshot())
		if err != nil {
			t.Fatalf("%s: %v", describe(q), err)
		}
		want, err := olap.QueryCubeSQL(context.Background(), f.db, q, f.levels, f.pops)
		if err != nil {
			t.Fatalf("%s: SQL: %v", describe(q), err)
		}
		sources[got.Source]++
		if !reflect.DeepEqual(got.Columns, want.Columns) || !reflect.DeepEqual(got.Rows(), want.Rows()) {
			sql, args := q.SQL()
			t.Fatalf("query %d: %s (from %s)\ncube: %d rows %v\nsql:  %d rows %v\n%s %v", i, describe(q), got.Source,
				len(got.Rows()), head(got.Rows()), len(want.Rows()), head(want.Rows()), sql, args)
		}
		// Results hold their rows until released, and released memory serves later
		// queries: the previous result, still held, must not have changed.
		if held != nil {
			if !reflect.DeepEqual(held.Rows(), heldWant.Rows()) {
				t.Fatalf("query %d: the result of query %d changed", i, i-1)
			}
			held.Release()
		}
		held, heldWant = got, want
	}
	return sources
}

func head(rows [][]any) [][]any {
	if len(rows) > 5 {
		return rows[:5]
	}
	return rows
}

// Random queries (measures, by, filters, bbox, scope) give exactly what the same GROUP BY
// gives in PostGIS, from every cuboid and from the point columns.
// By default cuboids with about one cell per record are dropped (the records answer);
// the test mode keeps every cuboid, so both reach SQL's answers.
func TestCube_EqualsSQL(t *testing.T) {
	inCubeModes(t, func(t *testing.T) {
		f := newCubeFixture(t, 5000)
		sources := f.checkEqualsSQL(t, f.cube, f.engine, 400)
		t.Logf("answered from: %v", sources)
		if sources["points"] == 0 || len(sources) < 5 {
			t.Fatalf("the random queries reached too few paths: %v", sources)
		}
	})
}

// inCubeModes runs test by default and in the test mode (olap.CubeTestMode: every cuboid
// kept, roll-ups of a few cells read on two cores, sums of runs of a few records).
func inCubeModes(t *testing.T, test func(t *testing.T)) {
	for _, mode := range []string{"default", "test mode"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "test mode" {
				defer olap.CubeTestMode()()
			}
			test(t)
		})
	}
}

// Roll-ups by one H3 resolution over a month range and statuses read the records through
// their status × month runs, summed a cell at a time with only the kind checked: any other
// filter (an attribute, a region, a cell) or measure must still count as in PostGIS; and
// so in the test mode, where every cuboid is kept and roll-ups are read on two cores.
func TestCube_MonthRangeRunsEqualSQL(t *testing.T) { inCubeModes(t, testMonthRangeRuns) }

func testMonthRangeRuns(t *testing.T) {
	f := newCubeFixture(t, 5000)
	var months []string
	for m := 4; m <= 17; m++ {
		months = append(months, fmt.Sprintf("%d-%02d", 2023+m/12, 1+m%12))
	}
	monthStatus := []olap.CubeFilter{{Dim: olap.CubeDim{Name: "month"}, Values: months},
		{Dim: olap.CubeDim{Name: "status"}, Values: []string{"won", "lost"}}}
	with := func(extra ...olap.CubeFilter) []olap.CubeFilter { return append(slices.Clone(monthStatus), extra...) }
	cell := strconv.FormatUint(uint64(geo.CellOf(gridPoint(f.rng), 4)), 16)
	for _, filters := range [][]olap.CubeFilter{
		monthStatus,
		{{Dim: olap.CubeDim{Name: "month"}, Values: months}},
		with(olap.CubeFilter{Dim: olap.CubeDim{Name: "segment"}, Values: []string{"SMB"}}),
		with(olap.CubeFilter{Dim: olap.CubeDim{Name: "owner"}, Values: []string{"ann", "cy"}}),
		with(olap.CubeFilter{Dim: olap.CubeDim{Name: "kind"}, Values: []string{"lead"}}),
		with(olap.CubeFilter{Dim: olap.CubeDim{Name: "region", Level: "county"}, Values: []string{"c0102", "c0505"}}),
		with(olap.CubeFilter{Dim: olap.CubeDim{Name: "h3"}, Values: []string{cell}}),
	} {
		for _, res := range []int{3, 7, 9, 12} {
			for _, measures := range [][]string{{"records"}, {"customers", "revenue", "won", "lost", "conversion_rate", "revenue_per_customer"}} {
				f.equalSQL(t, &olap.CubeQuery{Measures: measures, By: []olap.CubeDim{{Name: "h3", Res: res}}, Filters: filters})
			}
		}
	}
}

// Random writes — through the API path (Put/Remove) and through the change feed (Sync) —
// leave the cube equal to SQL and to a cube rebuilt from scratch (in the test mode: every
// cuboid kept, cells merged and records re-sorted after a few writes).
func TestCube_IncrementalEqualsRebuild(t *testing.T) {
	defer olap.CubeTestMode()()
	ctx := context.Background()
	f := newCubeFixture(t, 1500)
	var ids []int64
	rows, err := f.db.Pool.Query(ctx, `SELECT id FROM customers`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		ids = append(ids, id)
	}
	// assign stores the regions of a written record, as the write path does (Assigner).
	assign := func(id int64, p *orb.Point) {
		for _, idx := range f.idx {
			var err error
			if p != nil {
				if i := idx.Locate(*p); i >= 0 {
					_, err = f.db.Pool.Exec(ctx, `INSERT INTO customer_regions VALUES ($1, $2, $3)
						ON CONFLICT (customer_id, level) DO UPDATE SET region_id = EXCLUDED.region_id`, id, idx.Level, idx.Regions[i].ID)
				} else {
					_, err = f.db.Pool.Exec(ctx, `DELETE FROM customer_regions WHERE customer_id = $1 AND level = $2`, id, idx.Level)
				}
			} else {
				err = olap.UnassignCustomer(ctx, f.db.Pool, id)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	r := f.rng
	for round := 0; round < 2; round++ {
		viaFeed := round == 1 // round 0: every write told to the engine; round 1: Sync reads them
		for i := 0; i < 300; i++ {
			switch op := r.IntN(10); {
			case op < 4: // create
				c := &crm.Customer{Kind: crm.Kinds[r.IntN(3)], Name: "new", Segment: cubeSegments[r.IntN(4)],
					Status: cubeStatuses[r.IntN(5)], Owner: cubeOwners[r.IntN(5)], Revenue: float64(r.IntN(100000)) / 100}
				p := gridPoint(r)
				if r.IntN(10) > 0 {
					if err := c.SetLocation(p[0], p[1]); err != nil {
						t.Fatal(err)
					}
				}
				if err := f.store.Create(ctx, c); err != nil {
					t.Fatal(err)
				}
				assign(c.ID, c.Location)
				ids = append(ids, c.ID)
				if !viaFeed {
					f.engine.Put(c)
				}
			case op < 8: // move, re-segment, change status or revenue, or unlocate
				id := ids[r.IntN(len(ids))]
				var version int
				if err := f.db.Pool.QueryRow(ctx, `SELECT version FROM customers WHERE id = $1`, id).Scan(&version); err != nil {
					continue // deleted before
				}
				c, err := f.store.Update(ctx, crm.Scope{}, id, version, func(c *crm.Customer) error {
					switch r.IntN(5) {
					case 0:
						p := gridPoint(r)
						return c.SetLocation(p[0], p[1])
					case 1:
						c.Segment = cubeSegments[r.IntN(4)]
					case 2:
						c.Status = cubeStatuses[r.IntN(5)]
					case 3:
						c.Revenue = float64(r.IntN(100000)) / 100
					case 4:
						if r.IntN(3) == 0 {
							c.Location, c.Cell = nil, 0
						} else {
							c.Owner = cubeOwners[r.IntN(5)]
						}
					}
					return nil
				})
				if geo.ErrorCode(err) == geo.ENOTFOUND {
					continue // deleted before
				}
				if err != nil {
					t.Fatal(err)
				}
				assign(c.ID, c.Location)
				if !viaFeed {
					f.engine.Put(c)
				}
			default: // delete
				id := ids[r.IntN(len(ids))]
				rev, err := f.store.Delete(ctx, crm.Scope{}, id)
				if geo.ErrorCode(err) == geo.ENOTFOUND {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				assign(id, nil)
				if !viaFeed {
					f.engine.Remove(id, rev)
				}
			}
		}
		if viaFeed {
			if err := f.engine.Sync(ctx, f.store); err != nil {
				t.Fatal(err)
			}
		}
		f.checkEqualsSQL(t, f.cube, f.engine, 150)
		rebuiltEngine, rebuilt := f.load(t)
		// Every cell of every cuboid: the full breakdown is the same.
		all := &olap.CubeQuery{Measures: []string{"records", "revenue", "won", "lost", "customers", "leads"}}
		for _, by := range []string{"h3:9", "region:county", "region:state", "kind", "status", "segment", "owner", "month"} {
			d, _ := olap.ParseCubeDim(by)
			all.By = append(all.By, d)
		}
		got, err := f.cube.Query(all, f.engine.Snapshot())
		if err != nil {
			t.Fatal(err)
		}
		want, err := rebuilt.Query(all, rebuiltEngine.Snapshot())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Rows(), want.Rows()) {
			t.Fatalf("round %d: incremental cube has %d cells, rebuilt %d", round, len(got.Rows()), len(want.Rows()))
		}
		gs, ws := f.cube.Stats(), rebuilt.Stats()
		if gs.Records != ws.Records {
			t.Fatalf("round %d: %d records in the incremental cube, %d rebuilt", round, gs.Records, ws.Records)
		}
	}
}

// A rep's cube covers only their records, in aggregates and points alike.
func TestCube_Scope(t *testing.T) {
	f := newCubeFixture(t, 2000)
	ctx := context.Background()
	var want int64
	if err := f.db.Pool.QueryRow(ctx, `SELECT count(*) FROM customers WHERE owner = 'ann'`).Scan(&want); err != nil {
		t.Fatal(err)
	}
	rep := crm.Scope{Restricted: true, Owners: []string{"ann"}}
	for _, q := range []*olap.CubeQuery{
		{Measures: []string{"records"}, Scope: rep},
		{Measures: []string{"records"}, Scope: rep, By: []olap.CubeDim{{Name: "h3", Res: 4}}},
		{Measures: []string{"records"}, Scope: rep, By: []olap.CubeDim{{Name: "h3", Res: 12}}},
		{Measures: []string{"records"}, Scope: rep, Bound: &orb.Bound{Min: orb.Point{-101, 29}, Max: orb.Point{-89, 41}}},
		{Measures: []string{"records"}, Scope: rep, By: []olap.CubeDim{{Name: "owner"}}},
		{Measures: []string{"records"}, Scope: rep, Filters: []olap.CubeFilter{{Dim: olap.CubeDim{Name: "owner"}, Values: []string{"bob"}}}},
	} {
		res, err := f.cube.Query(q, f.engine.Snapshot())
		if err != nil {
			t.Fatal(err)
		}
		var total int64
		for _, row := range res.Rows() {
			total += row[len(row)-1].(int64)
			if len(q.By) == 1 && q.By[0].Name == "owner" && row[0] != "ann" {
				t.Fatalf("%s: a row of owner %v", describe(q), row[0])
			}
		}
		exp := want
		if len(q.Filters) > 0 {
			exp = 0 // ann's scope and a filter on bob: nothing
		}
		if total != exp {
			t.Fatalf("%s (from %s): %d records, want %d", describe(q), res.Source, total, exp)
		}
	}
	if _, err := f.cube.Query(&olap.CubeQuery{Measures: []string{"records"}, Scope: crm.Scope{Restricted: true}}, f.engine.Snapshot()); err != nil {
		t.Fatal(err)
	}
}
