package crm_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/postgis/pgtest"
)

const melbourne = "../../shared/data/footfall/melbourne/"

func openData(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func melbourneTZ(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Australia/Melbourne")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestFootfallStore_ImportLong(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	s := &crm.FootfallStore{DB: db}
	var rej bytes.Buffer
	w := csv.NewWriter(&rej)
	f := crm.FootfallFormat{Location: melbourneTZ(t)}
	st, err := s.ImportCounts(ctx, openData(t, melbourne+"hourly_counts_January_2019_long_with_latlon.csv"), f, w)
	w.Flush()
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != 35882 || st.Counts != 35882 || st.Missing != 0 || st.Rejected != 0 || st.Sensors != 51 || len(st.NoLocation) != 0 {
		t.Fatalf("import = %+v, rejects %q", st, rej.String())
	}
	var n, sensors, located int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT sensor_id) FROM footfall_counts`).Scan(&n, &sensors); err != nil {
		t.Fatal(err)
	}
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM footfall_sensors WHERE geom IS NOT NULL AND tz = 'Australia/Melbourne'`).Scan(&located); err != nil {
		t.Fatal(err)
	}
	if n != 35882 || sensors != 51 || located != 51 {
		t.Fatalf("stored %d counts of %d sensors, %d located; want 35882, 51, 51", n, sensors, located)
	}
	// 01/01/2019 hour 0, sensor 1 (Bourke Street Mall (North)) counted 918, at local midnight.
	var count int
	want := time.Date(2019, 1, 1, 0, 0, 0, 0, melbourneTZ(t))
	if err := db.Pool.QueryRow(ctx, `SELECT c.count FROM footfall_counts c JOIN footfall_sensors s ON s.id = c.sensor_id
		WHERE s.key = '1' AND c.ts = $1`, want).Scan(&count); err != nil || count != 918 {
		t.Fatalf("sensor 1 at %v: count %d, err %v; want 918", want, count, err)
	}
	// Importing again replaces, never duplicates.
	if _, err := s.ImportCounts(ctx, openData(t, melbourne+"hourly_counts_January_2019_long_with_latlon.csv"), f, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM footfall_counts`).Scan(&n); err != nil || n != 35882 {
		t.Fatalf("after a second import %d counts (err %v), want 35882", n, err)
	}
}

func TestFootfallStore_ImportWide(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	s := &crm.FootfallStore{DB: db}
	n, names, err := s.ImportSensors(ctx, openData(t, melbourne+"sensor_locations.csv"), "Australia/Melbourne", nil)
	if err != nil || n != 77 {
		t.Fatalf("ImportSensors = %d, %v; want 77", n, err)
	}
	cols, err := crm.ReadFootfallColumns(openData(t, "testdata/melbourne_2018_columns.csv"))
	if err != nil {
		t.Fatal(err)
	}
	var rej bytes.Buffer
	w := csv.NewWriter(&rej)
	f := crm.FootfallFormat{Format: crm.FootfallWide, Location: melbourneTZ(t), Columns: cols, Names: names}
	st, err := s.ImportCounts(ctx, openData(t, melbourne+"hourly_counts_January_2018.csv"), f, w)
	w.Flush()
	if err != nil {
		t.Fatal(err)
	}
	// 744 hours × 43 sensor columns; 3,235 cells say -1 and one column (744 cells) says
	// "undefined": all missing, none rejected.
	if st.Rows != 744 || st.Counts != 744*43 || st.Missing != 3235+744 || st.Rejected != 0 || st.Sensors != 43 {
		t.Fatalf("import = %+v, rejects %q", st, rej.String())
	}
	// The one column neither the mapping nor the locations file names keeps its header as
	// key and has no location.
	if len(st.NoLocation) != 1 || st.NoLocation[0] != "Spring St-Lonsdale St (South)" {
		t.Errorf("sensors without location = %q", st.NoLocation)
	}
	var nulls, zeros int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE count IS NULL), count(*) FILTER (WHERE count = 0) FROM footfall_counts`).Scan(&nulls, &zeros); err != nil {
		t.Fatal(err)
	}
	if nulls != 3979 {
		t.Errorf("%d NULL counts, want 3979", nulls)
	}
	// Row 2: 01/01/2018 hour 0: State Library (sensor 15) 1709, Flagstaff Station (13) -1,
	// Vic Arts Centre (28, by the mapping) 2692.
	at := time.Date(2018, 1, 1, 0, 0, 0, 0, melbourneTZ(t))
	for _, tc := range []struct {
		key  string
		want *int
	}{{"15", ptr(1709)}, {"13", nil}, {"28", ptr(2692)}} {
		var got *int
		err := db.Pool.QueryRow(ctx, `SELECT c.count FROM footfall_counts c JOIN footfall_sensors s ON s.id = c.sensor_id
			WHERE s.key = $1 AND c.ts = $2`, tc.key, at).Scan(&got)
		if err != nil {
			t.Fatalf("sensor %s: %v", tc.key, err)
		}
		if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
			t.Errorf("sensor %s at %v = %v, want %v", tc.key, at, deref(got), deref(tc.want))
		}
	}
}

func ptr(v int) *int { return &v }

func deref(p *int) any {
	if p == nil {
		return "NULL"
	}
	return *p
}

func TestFootfallStore_ImportRejects(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	s := &crm.FootfallStore{DB: db}
	in := strings.Join([]string{
		"sensor_id,lat,lon,timestamp,count",
		"a,-37.81,144.96,2019-01-07 09:00,10",        // 2 ok
		"a,-37.81,144.96,2019-01-07 10:00,abc",       // 3 not a number
		"a,-37.81,144.96,2019-01-07 11:00,-5",        // 4 negative
		"a,-37.81,144.96,2019-01-32 11:00,5",         // 5 bad date
		"a,-37.81,144.96,2019-01-07 11:30,5",         // 6 not an hour
		"b,95,144.96,2019-01-07 11:00,5",             // 7 bad latitude
		"a,-37.81,144.96,2019-01-07 12:00",           // 8 short row
		"a,-37.81,144.96,2019-01-07 09:00,12",        // 9 duplicate of 2: kept
		"b,-37.82,144.97,2019-01-07 09:00,",          // 10 missing
		"b,-37.82,144.97,2019-01-07 10:00,undefined", // 11 missing
	}, "\n")
	var rej bytes.Buffer
	w := csv.NewWriter(&rej)
	st, err := s.ImportCounts(ctx, strings.NewReader(in), crm.FootfallFormat{}, w)
	w.Flush()
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&rej).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	var order []string
	for _, r := range rows {
		got[r[0]] = r[1]
		order = append(order, r[0])
	}
	sort.Strings(order)
	for row, want := range map[string]string{
		"3": "not a whole number", "4": "negative", "5": "not a date", "6": "not the start of an hour",
		"7": "latitude", "8": "fields", "2": "row 9, which is kept",
	} {
		if !strings.Contains(got[row], want) {
			t.Errorf("row %s: reject %q, want it to mention %q", row, got[row], want)
		}
	}
	if len(rows) != 7 || st.Rejected != 7 || st.Duplicates != 1 || st.Missing != 2 {
		t.Errorf("rejects %v, stats %+v", order, st)
	}
	var n, missing, kept int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*), count(*) - count(count), max(count) FILTER (WHERE ts = '2019-01-07 09:00Z') FROM footfall_counts`).Scan(&n, &missing, &kept); err != nil {
		t.Fatal(err)
	}
	if n != 3 || missing != 2 || kept != 12 {
		t.Errorf("stored %d counts, %d missing, duplicate kept %d; want 3, 2, 12", n, missing, kept)
	}
	// A header without a count column is refused up front.
	_, err = s.ImportCounts(ctx, strings.NewReader("sensor_id,timestamp,x\n"), crm.FootfallFormat{Format: crm.FootfallLong}, nil)
	if geo.ErrorCode(err) != geo.EINVALID {
		t.Errorf("no count column: err %v, want EINVALID", err)
	}
}

func FuzzFootfallReader(f *testing.F) {
	f.Add([]byte("sensor_id,lat,lon,timestamp,count\na,-37.81,144.96,2019-01-07 09:00,10\n"), "")
	f.Add([]byte("date,hour,sensor_id,sensor_description,latitude,longitude,count\n01/01/2019,0,1,Bourke,-37.8,144.9,918\n"), "")
	f.Add([]byte("Date,Hour,A,B\n01/01/2018,0,1709,-1\n01/01/2018,1,undefined,\"3\n"), "wide")
	f.Add([]byte("timestamp,x,y\n2019-01-01T00:00:00+11:00,1,2\n"), "wide")
	f.Fuzz(func(t *testing.T, data []byte, format string) {
		if format != "wide" {
			format = ""
		}
		r, err := crm.NewFootfallReader(bytes.NewReader(data), crm.FootfallFormat{Format: format})
		if err != nil {
			if geo.ErrorCode(err) != geo.EINVALID {
				t.Fatalf("header error %v is not EINVALID", err)
			}
			return
		}
		for i := 0; i < 10000; i++ {
			obs, rej, err := r.Next()
			if err != nil {
				return
			}
			for _, o := range obs {
				if o.Sensor == "" || (o.Count != nil && *o.Count < 0) || o.Row < 2 {
					t.Fatalf("bad observation %+v", o)
				}
			}
			for _, x := range rej {
				if x.Reason == "" || x.Row < 2 {
					t.Fatalf("bad reject %+v", x)
				}
			}
		}
		t.Fatal("reader did not end")
	})
}
