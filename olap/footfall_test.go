package olap_test

import (
	"context"
	"math"
	"os"
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

const melbourne = "../../shared/data/footfall/melbourne/"

// importMelbourne loads both real Melbourne files: January 2018 (wide, with gaps) and
// January 2019 (long, with locations).
func importMelbourne(t *testing.T, db *postgis.DB) {
	t.Helper()
	ctx := context.Background()
	s := &crm.FootfallStore{DB: db}
	open := func(name string) *os.File {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	loc, err := time.LoadLocation("Australia/Melbourne")
	if err != nil {
		t.Fatal(err)
	}
	_, names, err := s.ImportSensors(ctx, open(melbourne+"sensor_locations.csv"), loc.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cols, err := crm.ReadFootfallColumns(open("../crm/testdata/melbourne_2018_columns.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ImportCounts(ctx, open(melbourne+"hourly_counts_January_2018.csv"), crm.FootfallFormat{Format: crm.FootfallWide, Location: loc, Columns: cols, Names: names}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ImportCounts(ctx, open(melbourne+"hourly_counts_January_2019_long_with_latlon.csv"), crm.FootfallFormat{Location: loc}, nil); err != nil {
		t.Fatal(err)
	}
}

func TestFootfall_HourOfWeekEqualsSQL(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	importMelbourne(t, db)
	f, err := olap.LoadFootfall(ctx, db, olap.FootfallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(f)
	if len(f.Sensors) != 77 || f.Res != 10 {
		t.Fatalf("%v", f)
	}
	for _, res := range []int{f.Res, f.Res - 2} {
		got, err := f.Query(olap.FootfallQuery{How: olap.FootfallHourOfWeek, Res: res})
		if err != nil {
			t.Fatal(err)
		}
		// The truth: the same rows grouped in SQL, the cell computed in Go per sensor.
		cellOf := map[int64]string{}
		for _, s := range f.Sensors {
			cellOf[s.ID] = s.Cell.Parent(res).String()
		}
		rows, err := db.Pool.Query(ctx, `SELECT c.sensor_id,
				((extract(isodow FROM c.ts AT TIME ZONE s.tz)::int - 1) * 24 + extract(hour FROM c.ts AT TIME ZONE s.tz)::int) AS how,
				sum(c.count)::float8, count(c.count)
			FROM footfall_counts c JOIN footfall_sensors s ON s.id = c.sensor_id
			WHERE s.geom IS NOT NULL AND c.count IS NOT NULL GROUP BY 1, 2`)
		if err != nil {
			t.Fatal(err)
		}
		type k struct{ cell, key string }
		type sn struct {
			sum float64
			n   int64
		}
		want := map[k]sn{}
		for rows.Next() {
			var id int64
			var how int
			var sum float64
			var n int64
			if err := rows.Scan(&id, &how, &sum, &n); err != nil {
				t.Fatal(err)
			}
			key := k{cellOf[id], strconv.Itoa(how)}
			w := want[key]
			want[key] = sn{w.sum + sum, w.n + n}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("res %d: %d cell×hour values, SQL has %d", res, len(got), len(want))
		}
		for _, v := range got {
			w, ok := want[k{v.Cell, v.Key}]
			if !ok || v.N != w.n || math.Abs(v.Mean-w.sum/float64(w.n)) > 1e-9 || v.Estimated {
				t.Fatalf("res %d: %+v; SQL %+v", res, v, w)
			}
		}
	}
}

func TestFootfall_Estimates(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	importMelbourne(t, db)
	f, err := olap.LoadFootfall(ctx, db, olap.FootfallOptions{Res: 10, RadiusMeters: 300, K: 4})
	if err != nil {
		t.Fatal(err)
	}
	// Monday 08:00–09:00, around Flinders Street Station.
	all, err := f.Query(olap.FootfallQuery{How: olap.FootfallHourOfWeek, Key: "8", Estimates: true})
	if err != nil {
		t.Fatal(err)
	}
	sensorCells := map[string]bool{} // cells with a sensor that has counts (one without is estimated)
	for _, s := range f.Sensors {
		if s.Counts > 0 {
			sensorCells[s.Cell.String()] = true
		}
	}
	var measured, estimated int
	for _, v := range all {
		if v.Key != "8" || v.Res != 10 {
			t.Fatalf("unexpected value %+v", v)
		}
		if v.Estimated {
			estimated++
			if sensorCells[v.Cell] || v.N != 0 || v.Sensors < 1 || v.Sensors > 4 || v.NearestM > 300 {
				t.Fatalf("estimate %+v", v)
			}
			continue
		}
		measured++
		if !sensorCells[v.Cell] {
			t.Fatalf("measured value in a cell without a sensor: %+v", v)
		}
	}
	if measured == 0 || estimated < measured {
		t.Fatalf("%d measured, %d estimated cells", measured, estimated)
	}
	// An estimate lies within the range of the sensors it comes from (IDW is a weighted mean).
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range all {
		if !v.Estimated {
			lo, hi = math.Min(lo, v.Mean), math.Max(hi, v.Mean)
		}
	}
	for _, v := range all {
		if v.Estimated && (v.Mean < lo-1e-9 || v.Mean > hi+1e-9) {
			t.Fatalf("estimate %+v outside the measured range %g..%g", v, lo, hi)
		}
	}
	// By cell and bbox.
	c := geo.CellOf(orb.Point{144.9679, -37.8183}, 10) // near Princes Bridge
	one, err := f.Query(olap.FootfallQuery{How: olap.FootfallHourOfWeek, Key: "8", Cells: []geo.Cell{c}, Estimates: true})
	if err != nil || len(one) != 1 || one[0].Cell != c.String() {
		t.Fatalf("by cell: %+v, %v", one, err)
	}
	ll := h3.CellToLatLng(c)
	b := orb.Bound{Min: orb.Point{ll.Lng - 0.001, ll.Lat - 0.001}, Max: orb.Point{ll.Lng + 0.001, ll.Lat + 0.001}}
	box, err := f.Query(olap.FootfallQuery{How: olap.FootfallHourOfWeek, Key: "8", Bound: &b, Estimates: true})
	if err != nil || len(box) == 0 {
		t.Fatalf("by bbox: %+v, %v", box, err)
	}
	// Bad requests.
	for _, q := range []olap.FootfallQuery{{How: "minute"}, {How: olap.FootfallHourOfWeek, Key: "168"}, {How: olap.FootfallDate, Key: "2019-13-01"}, {Res: 13}} {
		if _, err := f.Query(q); geo.ErrorCode(err) != geo.EINVALID {
			t.Errorf("Query(%+v): err %v, want EINVALID", q, err)
		}
	}
	// By date: 2019-01-01 is a value of the long file.
	d, err := f.Query(olap.FootfallQuery{How: olap.FootfallDate, Key: "2019-01-01"})
	if err != nil || len(d) == 0 {
		t.Fatalf("by date: %d values, %v", len(d), err)
	}
}
