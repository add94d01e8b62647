package olap_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/gcrm/gcrm/geo/postgis/pgtest"
	"github.com/gcrm/gcrm/olap"
	"github.com/paulmach/orb"
	"github.com/uber/h3-go/v4"
)

// footfallTruth computes, in SQL from footfall_sensors and footfall_counts, the mean daily
// count of every footfall cell at res (measured: 24 × SUM/COUNT of the cell's sensors;
// estimated: IDW of the k nearest sensors within radius, with the haversine distance), and
// returns a query over the table "cells(cell, lon, lat, v, estimated)" prefixed to sel.
// Only the cell centres come from Go (there is no H3 in the database).
func footfallTruth(t *testing.T, db *postgis.DB, f *olap.Footfall, sel string, args ...any) map[string]float64 {
	t.Helper()
	// Candidate cells: generous disks around every sensor, with their centres.
	edge := h3.HexagonEdgeLengthAvgM(f.Res)
	k := int(math.Ceil(f.RadiusMeters/(math.Sqrt(3)*edge))) + 2
	set := map[geo.Cell]bool{}
	for _, s := range f.Sensors {
		for _, c := range s.Cell.GridDisk(k) {
			set[c] = true
		}
	}
	var cells []int64
	var lons, lats []float64
	for c := range set {
		ll := c.LatLng()
		cells, lons, lats = append(cells, int64(c)), append(lons, ll.Lng), append(lats, ll.Lat)
	}
	n := len(args)
	q := fmt.Sprintf(`WITH sensor AS (
		SELECT s.id, s.h3, ST_X(s.geom) AS lon, ST_Y(s.geom) AS lat, sum(c.count)::float8 / nullif(count(c.count), 0) AS mean
		FROM footfall_sensors s LEFT JOIN footfall_counts c ON c.sensor_id = s.id
		WHERE s.geom IS NOT NULL GROUP BY s.id),
	cand AS (SELECT * FROM unnest($%d::bigint[], $%d::float8[], $%d::float8[]) AS u(cell, lon, lat)),
	measured AS (
		SELECT ((s.h3 & ~(15::bigint << 52)) | ($%d::bigint << 52) | ((1::bigint << ((15 - $%d::int) * 3)) - 1)) AS cell,
			24 * sum(c.count)::float8 / count(c.count) AS v
		FROM footfall_sensors s JOIN footfall_counts c ON c.sensor_id = s.id
		WHERE s.geom IS NOT NULL AND c.count IS NOT NULL GROUP BY 1),
	dist AS (
		SELECT cand.cell, s.mean, 2 * 6371007.180918475 * asin(sqrt(sin(radians(s.lat - cand.lat) / 2)^2
			+ cos(radians(cand.lat)) * cos(radians(s.lat)) * sin(radians(s.lon - cand.lon) / 2)^2)) AS d
		FROM cand, sensor s WHERE cand.cell NOT IN (SELECT cell FROM measured)),
	near AS (SELECT *, row_number() OVER (PARTITION BY cell ORDER BY d) AS rn FROM dist WHERE d <= $%d),
	estimated AS (
		SELECT cell, 24 * sum(mean / greatest(d, $%d)^$%d) / sum(1 / greatest(d, $%d)^$%d) AS v
		FROM near WHERE rn <= $%d AND mean IS NOT NULL GROUP BY cell),
	cells AS (
		SELECT m.cell, cand.lon, cand.lat, m.v, false AS estimated FROM measured m JOIN cand USING (cell)
		UNION ALL
		SELECT e.cell, cand.lon, cand.lat, e.v, true FROM estimated e JOIN cand USING (cell))
	`, n+1, n+2, n+3, n+4, n+4, n+5, n+6, n+7, n+6, n+7, n+8)
	args = append(args, cells, lons, lats, f.Res, f.RadiusMeters, edge/2, f.Power, f.K)
	rows, err := db.Pool.Query(context.Background(), q+sel, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]float64{}
	for rows.Next() {
		var key string
		var v float64
		if err := rows.Scan(&key, &v); err != nil {
			t.Fatal(err)
		}
		out[key] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func sqlParent(res int) string {
	return fmt.Sprintf("to_hex((cell & ~(15::bigint << 52)) | (%d::bigint << 52) | ((1::bigint << %d) - 1))", res, (15-res)*3)
}

// The footfall measures equal what SQL computes from the footfall tables, by H3 cell
// (coarser, equal and finer than the sensors' cells), by region, for a total with a bbox,
// an h3 or a region filter; attribute filters leave footfall alone; areas with footfall and
// no records get rows.
func TestCube_FootfallEqualsSQL(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	importMelbourne(t, db)
	// Regions: 0.01° squares over the CBD (level "block"), some left out.
	var blocks []olap.RegionFeature
	for i := 0; i < 8; i++ {
		for j := 0; j < 6; j++ {
			if (i+j)%5 == 2 {
				continue
			}
			blocks = append(blocks, cubeSquare(fmt.Sprintf("b%d%d", i, j), 144.93+0.01*float64(i), -37.84+0.01*float64(j), 0.01, 0))
		}
	}
	if _, err := olap.NewRegionStore(db).Import(ctx, "block", blocks); err != nil {
		t.Fatal(err)
	}
	idx, err := olap.LoadRegionIndex(ctx, db, "block")
	if err != nil {
		t.Fatal(err)
	}
	// Records around the CBD, half of them customers.
	rng := rand.New(rand.NewPCG(3, 5))
	store := crm.NewStore(db)
	for i := 0; i < 600; i++ {
		c := &crm.Customer{Kind: crm.Kinds[rng.IntN(2)*rng.IntN(3)], Name: "r" + strconv.Itoa(i), Segment: cubeSegments[rng.IntN(4)]}
		if err := c.SetLocation(144.94+rng.Float64()*0.06, -37.83+rng.Float64()*0.04); err != nil {
			t.Fatal(err)
		}
		if err := store.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	engine := olap.New()
	cube := olap.NewCube(idx)
	engine.Observer = cube
	if err := engine.Load(ctx, store); err != nil {
		t.Fatal(err)
	}
	// Without footfall the measures are null.
	res, err := cube.Query(&olap.CubeQuery{Measures: []string{"customers", "footfall", "footfall_penetration"}}, engine.Snapshot())
	if err != nil || len(res.Rows()) != 1 || res.Rows()[0][1] != nil || res.Rows()[0][2] != nil {
		t.Fatalf("no footfall: %v, %v", res, err)
	}
	cache := &olap.FootfallCache{DB: db, TTL: time.Hour}
	cube.SetFootfall(cache)
	f, err := cache.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	all := footfallTruth(t, db, f, `SELECT to_hex(cell), v FROM cells`)
	if got := cube.FootfallCells(ctx); got != len(all) || got < 200 {
		have := map[string]olap.FootfallDaily{}
		for _, d := range f.Daily() {
			have[d.Cell.String()] = d
		}
		for c, v := range all {
			if d, ok := have[c]; !ok || math.Abs(d.Daily-v) > 1e-6*v {
				t.Logf("cell %s: SQL %g, cube %+v (ok %v)", c, v, d, ok)
			}
		}
		t.Fatalf("cube has %d footfall cells, SQL %d", got, len(all))
	}
	var estimated int
	for _, d := range f.Daily() {
		if d.Estimated {
			estimated++
		}
	}
	t.Logf("%d footfall cells at resolution %d, %d estimated", len(all), f.Res, estimated)

	cell8 := strconv.FormatUint(uint64(geo.CellOf(orb.Point{144.9631, -37.8136}, 8)), 16)
	cell12 := strconv.FormatUint(uint64(geo.CellOf(orb.Point{144.9650, -37.8170}, 12)), 16) // finer than the sensors'
	regionFrom := ` FROM cells
		LEFT JOIN regions g ON g.level = 'block' AND ST_Contains(g.geom, ST_SetSRID(ST_MakePoint(cells.lon, cells.lat), 4326))`
	regionSQL := `SELECT coalesce(g.code, ''), sum(v)` + regionFrom
	cases := []struct {
		name    string
		q       olap.CubeQuery
		sql     string
		args    []any
		finer   bool // rows at a resolution finer than the sensors': look their parent up
		allRows bool // every area with footfall has a row
	}{
		{"h3:8", olap.CubeQuery{By: []olap.CubeDim{{Name: "h3", Res: 8}}}, `SELECT ` + sqlParent(8) + `, sum(v) FROM cells GROUP BY 1`, nil, false, true},
		{"h3:10", olap.CubeQuery{By: []olap.CubeDim{{Name: "h3", Res: 10}}}, `SELECT ` + sqlParent(10) + `, sum(v) FROM cells GROUP BY 1`, nil, false, true},
		{"h3:12", olap.CubeQuery{By: []olap.CubeDim{{Name: "h3", Res: 12}}}, `SELECT ` + sqlParent(10) + `, sum(v) FROM cells GROUP BY 1`, nil, true, false},
		{"region", olap.CubeQuery{By: []olap.CubeDim{{Name: "region", Level: "block"}}}, regionSQL + ` GROUP BY 1`, nil, false, true},
		{"region, segment filter", olap.CubeQuery{By: []olap.CubeDim{{Name: "region", Level: "block"}}, Filters: []olap.CubeFilter{{Dim: olap.CubeDim{Name: "segment"}, Values: []string{"SMB"}}}}, regionSQL + ` GROUP BY 1`, nil, false, true},
		{"h3:9 and segment", olap.CubeQuery{By: []olap.CubeDim{{Name: "h3", Res: 9}, {Name: "segment"}}}, `SELECT ` + sqlParent(9) + `, sum(v) FROM cells GROUP BY 1`, nil, false, false},
		{"total, bbox", olap.CubeQuery{Bound: &orb.Bound{Min: orb.Point{144.955, -37.825}, Max: orb.Point{144.975, -37.805}}},
			`SELECT '', sum(v) FROM cells WHERE ST_Intersects(ST_SetSRID(ST_MakePoint(lon, lat), 4326), ST_MakeEnvelope(144.955, -37.825, 144.975, -37.805, 4326))`, nil, false, true},
		{"total, h3 filter", olap.CubeQuery{Filters: []olap.CubeFilter{{Dim: olap.CubeDim{Name: "h3"}, Values: []string{cell8}}}},
			`SELECT '', sum(v) FROM cells WHERE ` + sqlParent(8) + ` = $1`, []any{cell8}, false, true},
		{"total, finer h3 filter", olap.CubeQuery{Filters: []olap.CubeFilter{{Dim: olap.CubeDim{Name: "h3"}, Values: []string{cell12}}}},
			`SELECT '', sum(v) FROM cells WHERE to_hex(cell) = $1`, []any{strconv.FormatUint(uint64(h3.Cell(geo.CellOf(orb.Point{144.9650, -37.8170}, 10))), 16)}, false, false},
		{"total, region filter", olap.CubeQuery{Filters: []olap.CubeFilter{{Dim: olap.CubeDim{Name: "region", Level: "block"}, Values: []string{"b22", "b31"}}}},
			`SELECT '', sum(v)` + regionFrom + ` WHERE g.code IN ('b22', 'b31')`, nil, false, true},
	}
	for _, tc := range cases {
		q := tc.q
		q.Measures = []string{"customers", "footfall", "footfall_penetration"}
		got, err := cube.Query(&q, engine.Snapshot())
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		want := footfallTruth(t, db, f, tc.sql, tc.args...)
		nb := len(q.By)
		seen := map[string]bool{}
		for _, row := range got.Rows() {
			key := ""
			if nb > 0 {
				key = row[0].(string)
			}
			if tc.finer {
				c, _ := strconv.ParseUint(key, 16, 64)
				key = strconv.FormatUint(uint64(h3.Cell(c).Parent(f.Res)), 16)
			}
			w, ok := want[key]
			cust := row[nb].(int64)
			if !ok {
				if row[nb+1] != nil || row[nb+2] != nil {
					t.Fatalf("%s: row %v has footfall, SQL none", tc.name, row)
				}
				continue
			}
			seen[key] = true
			ff, _ := row[nb+1].(float64)
			pen, _ := row[nb+2].(float64)
			if math.Abs(ff-w) > 1e-6*w || math.Abs(pen-float64(cust)*1000/w) > 1e-6*pen {
				t.Fatalf("%s: row %v, SQL footfall %g", tc.name, row, w)
			}
		}
		if tc.allRows && len(seen) != len(want) {
			t.Fatalf("%s: %d rows with footfall, SQL has %d areas", tc.name, len(seen), len(want))
		}
		if len(want) == 0 || len(seen) == 0 {
			t.Fatalf("%s: no footfall to compare (SQL %d areas)", tc.name, len(want))
		}
	}
	// Attribute filters do not change footfall: the SMB rows carry the same footfall.
	a, _ := cube.Query(&olap.CubeQuery{Measures: []string{"footfall"}, By: []olap.CubeDim{{Name: "region", Level: "block"}}}, engine.Snapshot())
	b, _ := cube.Query(&olap.CubeQuery{Measures: []string{"footfall"}, By: []olap.CubeDim{{Name: "region", Level: "block"}},
		Filters: []olap.CubeFilter{{Dim: olap.CubeDim{Name: "kind"}, Values: []string{"lead"}}}}, engine.Snapshot())
	if fmt.Sprint(a.Rows()) != fmt.Sprint(b.Rows()) {
		t.Fatalf("a kind filter changed footfall:\n%v\n%v", a.Rows(), b.Rows())
	}
}
