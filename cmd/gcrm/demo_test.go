package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo/postgis/pgtest"
	"github.com/gcrm/gcrm/olap"
	"github.com/paulmach/orb"
)

var testNPM = filepath.Join("..", "..", "web", "ui", "node_modules")

var (
	demoSrcOnce sync.Once
	demoSrc     *demoSources
	demoSrcErr  error
)

func testDemoSources(t *testing.T) *demoSources {
	t.Helper()
	demoSrcOnce.Do(func() { demoSrc, demoSrcErr = loadDemoSources(testNPM) })
	if demoSrcErr != nil {
		t.Fatalf("demo sources (run scripts/setup): %v", demoSrcErr)
	}
	return demoSrc
}

// demoTestNow is the generated demo's now: the same file for a seed on any day.
var demoTestNow = time.Date(2026, 5, 20, 9, 30, 0, 0, time.UTC)

func generate(t *testing.T, n int, seed uint64) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := generateDemo(&b, n, seed, demoTestNow, testDemoSources(t)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDemoDeterministic(t *testing.T) {
	a, b, c := generate(t, 3000, 7), generate(t, 3000, 7), generate(t, 3000, 8)
	if !bytes.Equal(a, b) {
		t.Error("the same seed gave different data")
	}
	if bytes.Equal(a, c) {
		t.Error("different seeds gave the same data")
	}
	if !bytes.HasPrefix(a, []byte(demoHeader+"demo-000001,")) {
		t.Errorf("starts with %.200q", a)
	}
}

// TestDemoRecords checks that generated rows are valid customers with the promised mix.
func TestDemoRecords(t *testing.T) {
	rows, err := csv.NewReader(bytes.NewReader(generate(t, 20_000, 1))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, c := range rows[0] {
		col[c] = i
	}
	kinds, owners, zips, consent := map[string]int{}, map[string]int{}, 0, 0
	months := map[string]int{} // records created per month
	for _, r := range rows[1:] {
		get := func(c string) string { return r[col[c]] }
		lat, _ := strconv.ParseFloat(get("lat"), 64)
		lon, _ := strconv.ParseFloat(get("lon"), 64)
		rev, _ := strconv.ParseFloat(get("revenue"), 64)
		c := crm.Customer{Kind: get("kind"), Name: get("name"), Email: get("email"), Revenue: rev, Location: &orb.Point{lon, lat}}
		if err := c.Validate(); err != nil {
			t.Fatalf("row %v: %v", r, err)
		}
		kinds[c.Kind]++
		owners[get("owner")]++
		if s, ok := stateByPostal[get("region")]; !ok || s.owner != get("owner") {
			t.Fatalf("row %v: region %q is not in the owner's area", r, get("region"))
		}
		if (c.Kind == "customer") != (rev > 0) {
			t.Fatalf("row %v: revenue %v for a %s", r, rev, c.Kind)
		}
		if get("postcode") != "" {
			zips++
		}
		if get("consent_email") == "yes" {
			consent++
		}
		if get("country") != "US" || get("city") == "" || get("phone") == "" || get("street") == "" {
			t.Fatalf("row %v: address or phone missing", r)
		}
		created, err := time.Parse(time.RFC3339, get("created_at"))
		if err != nil || created.After(demoTestNow) || !created.After(demoTestNow.AddDate(-2, 0, 0)) {
			t.Fatalf("row %v: created_at not within the 24 months before %v (%v)", r, demoTestNow, err)
		}
		months[created.Format("2006-01")]++
	}
	// 25 calendar months (the first and the last partly); the twelve months since a year
	// ago busier than the twelve before.
	var recent, older int
	for m, k := range months {
		if m > demoTestNow.AddDate(-1, 0, 0).Format("2006-01") {
			recent += k
		} else if m < demoTestNow.AddDate(-1, 0, 0).Format("2006-01") {
			older += k
		}
	}
	if len(months) != 25 || recent < older*5/4 {
		t.Errorf("created over %d months, %d in the last 12, %d in the 12 before: %v", len(months), recent, older, months)
	}
	n := float64(len(rows) - 1)
	for kind, want := range map[string]float64{"customer": 0.3, "prospect": 0.3, "lead": 0.4} {
		if got := float64(kinds[kind]) / n; got < want-0.02 || got > want+0.02 {
			t.Errorf("%s share %.3f, want %.2f", kind, got, want)
		}
	}
	for _, rep := range demoReps {
		if share := float64(owners[rep]) / n; share < 0.1 || share > 0.35 {
			t.Errorf("%s owns %.3f of the records", rep, share)
		}
	}
	if float64(zips)/n < 0.95 || float64(consent)/n < 0.55 || float64(consent)/n > 0.65 {
		t.Errorf("zips %d, consent %d of %v", zips, consent, n)
	}
	t.Logf("kinds %v, owners %v", kinds, owners)
}

// TestDemoPopulationWeighting places customers with the county polygons: a big county
// gets many, a nearly empty one few.
func TestDemoPopulationWeighting(t *testing.T) {
	feats, err := readRegionFile(filepath.Join(testNPM, "us-atlas", "counties-10m.json"), olap.RegionReadOptions{Object: "counties"})
	if err != nil {
		t.Fatal(err)
	}
	regions := make([]olap.Region, len(feats))
	geoms := make([]orb.Geometry, len(feats))
	for i, f := range feats {
		regions[i], geoms[i] = olap.Region{ID: int64(i), Code: f.Code}, f.Geometry
	}
	idx := olap.NewRegionIndex("county", regions, geoms)
	rows, err := csv.NewReader(bytes.NewReader(generate(t, 50_000, 3))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, r := range rows[1:] {
		lat, _ := strconv.ParseFloat(r[3], 64)
		lon, _ := strconv.ParseFloat(r[4], 64)
		if i := idx.Locate(orb.Point{lon, lat}); i >= 0 {
			count[regions[i].Code]++
		}
	}
	la, cook, loving, kalawao := count["06037"], count["17031"], count["48301"], count["15005"]
	t.Logf("Los Angeles County %d, Cook County %d, Loving County TX %d, Kalawao HI %d of 50,000", la, cook, loving, kalawao)
	// Los Angeles County has about 3 % of the US population, Loving County 64 people.
	if la < 700 || la < 2*cook/3 || loving > 3 || kalawao > 3 {
		t.Errorf("not weighted by population: LA %d, Cook %d, Loving %d, Kalawao %d", la, cook, loving, kalawao)
	}
}

// TestDemoLoad loads a small demo into a fresh database, then again (reused, fast).
func TestDemoLoad(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	var out bytes.Buffer
	start := time.Now()
	if err := loadDemo(ctx, &out, db, testNPM, 5000, 1); err != nil {
		t.Fatal(err)
	}
	t.Logf("first load %s:\n%s", time.Since(start), out.String())
	var customers, states, counties, assigned int
	err := db.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM regions WHERE level = 'state'),
		(SELECT count(*) FROM regions WHERE level = 'county'), (SELECT count(*) FROM customer_regions WHERE level = 'county')`).
		Scan(&customers, &states, &counties, &assigned)
	if err != nil {
		t.Fatal(err)
	}
	if customers != 5000 || states != 56 || counties < 3200 || assigned < 4900 {
		t.Errorf("customers %d, states %d, counties %d, assigned %d", customers, states, counties, assigned)
	}
	var ext, region, owner string
	if err := db.Pool.QueryRow(ctx, `SELECT external_id, region, owner FROM customers ORDER BY id LIMIT 1`).Scan(&ext, &region, &owner); err != nil {
		t.Fatal(err)
	}
	if ext != "demo-000001" || stateByPostal[region].owner != owner {
		t.Errorf("first record %s %s %s", ext, region, owner)
	}
	// The records' creation dates came through the import: the cube's months are many.
	var months int
	var future bool
	if err := db.Pool.QueryRow(ctx, `SELECT count(DISTINCT date_trunc('month', created_at)), bool_or(created_at > now())
		FROM customers`).Scan(&months, &future); err != nil || months < 24 || future {
		t.Errorf("created over %d months (any in the future: %v), %v", months, future, err)
	}
	out.Reset()
	start = time.Now()
	if err := loadDemo(ctx, &out, db, testNPM, 5000, 1); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second || !strings.Contains(out.String(), "5000 customers already loaded") {
		t.Errorf("second load took %s:\n%s", d, out.String())
	}
}

func TestImportRegionsCommand(t *testing.T) {
	url := pgtest.URL(t)
	getenv := func(k string) string {
		if k == "DATABASE_URL" {
			return url
		}
		return ""
	}
	var stdout, stderr bytes.Buffer
	file := filepath.Join(testNPM, "us-atlas", "states-10m.json")
	code := run(context.Background(), []string{"import", "regions", file, "--level", "state"}, getenv, nil, &stdout, &stderr)
	if code != 0 || !strings.Contains(stdout.String(), "imported 56 regions of level state: 56 new, 0 updated") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	code = run(context.Background(), []string{"import", "regions", "--level", "county", filepath.Join(testNPM, "us-atlas", "counties-10m.json")}, getenv, nil, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), `feature 630 (code "51610")`) || !strings.Contains(stderr.String(), "--skip-invalid") {
		t.Fatalf("unrepairable county: exit %d\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
	}
	if code := run(context.Background(), []string{"import", "regions", file}, getenv, nil, &stdout, &stderr); code != 2 {
		t.Errorf("no --level: exit %d", code)
	}
}

func BenchmarkGenerateDemo(b *testing.B) {
	src, err := loadDemoSources(testNPM)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := generateDemo(io.Discard, 100_000, uint64(i), demoTestNow, src); err != nil {
			b.Fatal(err)
		}
	}
}

// The demo loads the shared Melbourne footfall by default (once), then places its Melbourne
// records around the CBD, weighted toward the sensors; without the shared data it says
// footfall was skipped.
func TestDemoMelbourne(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	if _, err := os.Stat(filepath.Join("..", "..", demoFootfallFile)); err != nil {
		t.Fatalf("the shared Melbourne footfall is missing: %v", err)
	}
	var out bytes.Buffer
	if err := loadDemoFootfall(ctx, &out, db, "", ""); err != nil {
		t.Fatal(err)
	}
	if err := addDemoMelbourne(ctx, &out, db, 3000, 1); err != nil {
		t.Fatal(err)
	}
	t.Log(out.String())
	var n, near, inside, tz int
	err := db.Pool.QueryRow(ctx, `SELECT count(*),
			count(*) FILTER (WHERE EXISTS (SELECT 1 FROM footfall_sensors s WHERE ST_DWithin(s.geom::geography, c.geom::geography, 150))),
			count(*) FILTER (WHERE c.geom && ST_MakeEnvelope(144.90, -37.86, 145.02, -37.77, 4326)),
			(SELECT count(*) FROM footfall_sensors WHERE tz = 'Australia/Melbourne')
		FROM customers c WHERE external_id LIKE 'melbourne-%'`).Scan(&n, &near, &inside, &tz)
	if err != nil {
		t.Fatal(err)
	}
	// Three in four placed near a sensor (σ 120 m): well over half within 150 m of one.
	if n != 3000 || inside < 2990 || near < 1500 || tz < 40 {
		t.Fatalf("%d Melbourne records, %d within 150 m of a sensor, %d in the CBD box; %d sensors in Melbourne's time zone", n, near, inside, tz)
	}
	var months int
	if err := db.Pool.QueryRow(ctx, `SELECT count(DISTINCT date_trunc('month', created_at)) FROM customers WHERE external_id LIKE 'melbourne-%'`).Scan(&months); err != nil || months < 12 {
		t.Fatalf("created over %d months, %v", months, err)
	}
	// Again: nothing reloaded, quickly.
	out.Reset()
	start := time.Now()
	if err := loadDemoFootfall(ctx, &out, db, "", ""); err != nil {
		t.Fatal(err)
	}
	if err := addDemoMelbourne(ctx, &out, db, 3000, 1); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second || !strings.Contains(out.String(), "footfall of") || !strings.Contains(out.String(), "3000 Melbourne records already loaded") {
		t.Fatalf("second run took %s:\n%s", d, out.String())
	}
	// Without the shared data (another working directory): footfall skipped, no Melbourne records.
	db2 := pgtest.New(t)
	t.Chdir(t.TempDir())
	out.Reset()
	if err := loadDemoFootfall(ctx, &out, db2, "", ""); err != nil {
		t.Fatal(err)
	}
	if err := addDemoMelbourne(ctx, &out, db2, 3000, 1); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "footfall skipped") {
		t.Fatalf("without the shared data:\n%s", out.String())
	}
	if err := db2.Pool.QueryRow(ctx, `SELECT count(*) FROM customers`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d records without footfall, %v", n, err)
	}
}

// The demo's activities: on about one record in ten, each record's count equal to its rows.
func TestDemoActivities(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	var out bytes.Buffer
	if err := loadDemo(ctx, &out, db, testNPM, 3000, 1); err != nil {
		t.Fatal(err)
	}
	if err := addDemoActivities(ctx, &out, db, 1); err != nil {
		t.Fatal(err)
	}
	var acts, with, mismatched int
	err := db.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM activities),
			(SELECT count(*) FROM customers WHERE activity_count > 0),
			(SELECT count(*) FROM customers c WHERE activity_count <> (SELECT count(*) FROM activities a WHERE a.customer_id = c.id))`).
		Scan(&acts, &with, &mismatched)
	if err != nil {
		t.Fatal(err)
	}
	if with < 200 || with > 400 || acts < 2*with-100 || mismatched != 0 {
		t.Fatalf("%d activities on %d records, %d counts wrong:\n%s", acts, with, mismatched, out.String())
	}
	out.Reset()
	if err := addDemoActivities(ctx, &out, db, 1); err != nil || !strings.Contains(out.String(), "activities already logged") {
		t.Fatalf("again: %v %s", err, out.String())
	}
}
