package main

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"strconv"
	"time"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/gcrm/gcrm/olap"
	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
)

// benchAssign is `gcrm bench assign`: region assignment of N synthetic US customers to the
// counties, Go (R-tree + exact point-in-polygon, COPY) against the PostGIS ST_Contains join,
// side by side in alternating rounds, in a scratch schema of the configured database.
func benchAssign(ctx context.Context, e env) int {
	fs := flag.NewFlagSet("bench assign", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var db dbFlags
	db.register(fs, e.getenv)
	n := fs.Int("customers", 1_000_000, "synthetic customers to seed (population-weighted around US places)")
	counties := fs.String("counties", "../shared/data/regions/us/counties-10m.geojson", "county boundaries (GeoJSON)")
	places := fs.String("places", "../shared/data/places/us/geonames_cities1000_US.csv", "GeoNames places (population weights for the points)")
	rounds := fs.Int("rounds", 3, "A/B rounds")
	seed := fs.Uint64("seed", 1, "random seed")
	keep := fs.Bool("keep", false, "keep the scratch schema bench_assign afterwards")
	if err := fs.Parse(e.args); err != nil {
		return 2
	}
	if *n <= 0 || *rounds <= 0 {
		fmt.Fprintln(e.stderr, "gcrm: --customers and --rounds must be positive")
		return 2
	}
	main, closeDB, err := db.open(ctx, e)
	if err != nil {
		return fail(e, err)
	}
	defer closeDB()
	if err := runBenchAssign(ctx, e, main, benchAssignConfig{
		customers: *n, counties: *counties, places: *places, rounds: *rounds, seed: *seed, keep: *keep,
	}); err != nil {
		return fail(e, err)
	}
	return 0
}

type benchAssignConfig struct {
	customers int
	counties  string
	places    string
	rounds    int
	seed      uint64
	keep      bool
}

const benchSchema = "bench_assign"

// benchAssignSQL is the reference: what a PostGIS-only system runs to assign customers.
const benchAssignSQL = `INSERT INTO customer_regions (customer_id, level, region_id)
SELECT c.id, r.level, r.id FROM customers c JOIN regions r ON r.level = 'county' AND ST_Contains(r.geom, c.geom)`

func runBenchAssign(ctx context.Context, e env, main *postgis.DB, cfg benchAssignConfig) error {
	out := e.stdout
	setup := []string{
		`DROP SCHEMA IF EXISTS ` + benchSchema + ` CASCADE`,
		`CREATE SCHEMA ` + benchSchema,
		// Indexes come after the load (a GIST index built at once is much faster).
		`CREATE TABLE ` + benchSchema + `.customers (LIKE public.customers INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`,
		`CREATE TABLE ` + benchSchema + `.regions (LIKE public.regions INCLUDING ALL)`,
		`CREATE TABLE ` + benchSchema + `.customer_regions (LIKE public.customer_regions INCLUDING ALL)`,
		// The assignment state stays in the scratch schema too (absent in databases migrated
		// before 0006 gained it).
		`DO $$ BEGIN IF to_regclass('public.region_assignment_state') IS NOT NULL THEN
			CREATE TABLE ` + benchSchema + `.region_assignment_state (LIKE public.region_assignment_state INCLUDING ALL);
		END IF; END $$`,
	}
	for _, q := range setup {
		if _, err := main.Pool.Exec(ctx, q); err != nil {
			return postgis.Wrap(err)
		}
	}
	if !cfg.keep {
		defer main.Pool.Exec(context.WithoutCancel(ctx), `DROP SCHEMA IF EXISTS `+benchSchema+` CASCADE`)
	}
	db, err := postgis.Open(ctx, withParam(main.URL, "search_path", benchSchema+",public"))
	if err != nil {
		return err
	}
	defer db.Close()

	t0 := time.Now()
	feats, dropped, err := readCountiesLenient(cfg.counties)
	if err != nil {
		return err
	}
	if _, err := olap.NewRegionStore(db).Import(ctx, "county", feats); err != nil {
		return err
	}
	fmt.Fprintf(out, "counties: %d from %s (%d zero-area rings dropped) in %.1fs\n", len(feats), cfg.counties, dropped, time.Since(t0).Seconds())

	t0 = time.Now()
	pts, err := seedUSPoints(cfg.places, cfg.customers, cfg.seed)
	if err != nil {
		return err
	}
	if err := copyBenchCustomers(ctx, db, pts); err != nil {
		return err
	}
	if _, err := db.Pool.Exec(ctx, `ALTER TABLE customers ADD PRIMARY KEY (id);
		CREATE INDEX ON customers USING gist (geom); ANALYZE customers; ANALYZE regions`); err != nil {
		return postgis.Wrap(err)
	}
	fmt.Fprintf(out, "customers: %d seeded (population-weighted around %s, 15%% uniform over the contiguous US) in %.1fs\n",
		len(pts), cfg.places, time.Since(t0).Seconds())
	var parallel string
	_ = db.Pool.QueryRow(ctx, `SHOW max_parallel_workers_per_gather`).Scan(&parallel)
	fmt.Fprintf(out, "machine: %d cores (GOMAXPROCS %d); PostgreSQL max_parallel_workers_per_gather = %s\n\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), parallel)

	truncate := func() error {
		_, err := db.Pool.Exec(ctx, `TRUNCATE customer_regions`)
		return postgis.Wrap(err)
	}
	var goTimes, loadTimes, sqlTimes []float64
	var goStats olap.AssignStats
	var sqlRows int64
	fmt.Fprintf(out, "%-6s %-34s %10s %12s\n", "round", "path", "seconds", "rows")
	for r := 1; r <= cfg.rounds; r++ {
		// A: Go.
		if err := truncate(); err != nil {
			return err
		}
		start := time.Now()
		idx, err := olap.LoadRegionIndex(ctx, db, "county")
		if err != nil {
			return err
		}
		load := time.Since(start).Seconds()
		goStats, err = olap.AssignAll(ctx, db, idx)
		if err != nil {
			return err
		}
		d := time.Since(start).Seconds()
		goTimes, loadTimes = append(goTimes, d), append(loadTimes, load)
		fmt.Fprintf(out, "%-6d %-34s %10.3f %12d   (index %.2fs; pipeline: read %.2fs, locate %.2fs CPU, write %.2fs)\n",
			r, "Go R-tree+PIP, COPY", d, goStats.Assigned, load, goStats.Read.Seconds(), goStats.Locate.Seconds(), goStats.Write.Seconds())
		if r == cfg.rounds { // keep the Go answer for the comparison
			if _, err := db.Pool.Exec(ctx, `CREATE TABLE go_assignment AS SELECT customer_id, region_id FROM customer_regions`); err != nil {
				return postgis.Wrap(err)
			}
		}
		// B: PostGIS.
		if err := truncate(); err != nil {
			return err
		}
		start = time.Now()
		tag, err := db.Pool.Exec(ctx, benchAssignSQL)
		if err != nil {
			return postgis.Wrap(err)
		}
		d = time.Since(start).Seconds()
		sqlTimes, sqlRows = append(sqlTimes, d), tag.RowsAffected()
		fmt.Fprintf(out, "%-6d %-34s %10.3f %12d\n", r, "PostGIS INSERT…ST_Contains join", d, sqlRows)
	}

	// Same answer?
	type mismatch struct {
		id           int64
		goR, sqlR    *int64
		x, y         float64
		touches      int
		onBoundaryGo bool
	}
	rows, err := db.Pool.Query(ctx, `SELECT coalesce(g.customer_id, s.customer_id), g.region_id, s.region_id, ST_X(c.geom), ST_Y(c.geom),
			(SELECT count(*) FROM regions r WHERE r.level = 'county' AND ST_Intersects(r.geom, c.geom)),
			coalesce((SELECT ST_Touches(r.geom, c.geom) FROM regions r WHERE r.id = g.region_id), false)
		FROM go_assignment g FULL JOIN customer_regions s ON s.customer_id = g.customer_id
		JOIN customers c ON c.id = coalesce(g.customer_id, s.customer_id)
		WHERE g.region_id IS DISTINCT FROM s.region_id ORDER BY 1`)
	if err != nil {
		return postgis.Wrap(err)
	}
	var diffs []mismatch
	for rows.Next() {
		var m mismatch
		if err := rows.Scan(&m.id, &m.goR, &m.sqlR, &m.x, &m.y, &m.touches, &m.onBoundaryGo); err != nil {
			return postgis.Wrap(err)
		}
		diffs = append(diffs, m)
	}
	if err := rows.Err(); err != nil {
		return postgis.Wrap(err)
	}
	fmt.Fprintf(out, "\nGo: %d of %d customers in a county (%d outside every county); PostGIS: %d rows\n",
		goStats.Assigned, goStats.Customers, goStats.Unassigned, sqlRows)
	if len(diffs) == 0 {
		fmt.Fprintln(out, "same assignment: every customer is in the same county on both paths (0 mismatches)")
	} else {
		fmt.Fprintf(out, "%d mismatches:\n", len(diffs))
		for i, m := range diffs {
			if i == 20 {
				fmt.Fprintf(out, "  … and %d more\n", len(diffs)-20)
				break
			}
			reason := "unexplained"
			switch {
			case m.onBoundaryGo || (m.sqlR == nil && m.touches > 0):
				reason = fmt.Sprintf("on a county border (touches %d counties): ST_Contains excludes borders, Go's rule puts it in the county east/north of it", m.touches)
			case m.touches > 1:
				reason = fmt.Sprintf("in %d overlapping counties", m.touches)
			}
			fmt.Fprintf(out, "  customer %d at %.6f,%.6f: Go %s, PostGIS %s — %s\n", m.id, m.y, m.x, idOrNone(m.goR), idOrNone(m.sqlR), reason)
		}
	}
	gm, sm := median(goTimes), median(sqlTimes)
	fmt.Fprintf(out, "\n%-34s %10s %10s %10s\n", "path", "median s", "min s", "max s")
	fmt.Fprintf(out, "%-34s %10.3f %10.3f %10.3f\n", "Go (total)", gm, minOf(goTimes), maxOf(goTimes))
	fmt.Fprintf(out, "%-34s %10.3f %10.3f %10.3f\n", "  of which loading the index", median(loadTimes), minOf(loadTimes), maxOf(loadTimes))
	fmt.Fprintf(out, "%-34s %10.3f %10.3f %10.3f\n", "PostGIS ST_Contains join", sm, minOf(sqlTimes), maxOf(sqlTimes))
	fmt.Fprintf(out, "assign %d customers to %d counties: Go %.2f s, PostGIS %.2f s (medians of %d rounds): Go is %.1f× faster\n",
		len(pts), len(feats), gm, sm, cfg.rounds, sm/gm)
	return nil
}

func idOrNone(p *int64) string {
	if p == nil {
		return "none"
	}
	return "region " + strconv.FormatInt(*p, 10)
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func minOf(v []float64) float64 {
	m := math.Inf(1)
	for _, x := range v {
		m = math.Min(m, x)
	}
	return m
}

func maxOf(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, x)
	}
	return m
}

// readCountiesLenient reads a GeoJSON FeatureCollection of counties keyed by id. Reading
// drops rings of fewer than four positions (us-atlas counties-10m has 22 such zero-area
// rings, artefacts of topology quantization); features left without a polygon are left out.
// It returns how many repairs reading made.
func readCountiesLenient(path string) ([]olap.RegionFeature, int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, geo.Errorf(geo.EINVALID, "cannot read counties: %v", err)
	}
	feats, err := olap.ReadRegionFeatures(data, olap.RegionReadOptions{Level: "county"})
	if err != nil {
		return nil, 0, err
	}
	fixes := 0
	for _, f := range feats {
		fixes += len(f.Fixes)
	}
	kept, _ := olap.WithArea(feats)
	return kept, fixes, nil
}

// seedUSPoints returns n reproducible points: 85 % around GeoNames places drawn by
// population (Gaussian spread growing with the square root of the population), 15 %
// uniform over the contiguous US bounding box (some fall in the sea, Canada or Mexico).
func seedUSPoints(placesPath string, n int, seed uint64) ([]orb.Point, error) {
	f, err := os.Open(placesPath)
	if err != nil {
		return nil, geo.Errorf(geo.EINVALID, "cannot read places: %v", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	header, err := r.Read()
	if err != nil {
		return nil, geo.Errorf(geo.EINVALID, "%s: %v", placesPath, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	pi, lai, loi := col["population"], col["lat"], col["lon"]
	type place struct {
		p     orb.Point
		sigma float64
	}
	var places []place
	var cum []float64
	total := 0.0
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, geo.Errorf(geo.EINVALID, "%s: %v", placesPath, err)
		}
		pop, e1 := strconv.ParseFloat(rec[pi], 64)
		lat, e2 := strconv.ParseFloat(rec[lai], 64)
		lon, e3 := strconv.ParseFloat(rec[loi], 64)
		if e1 != nil || e2 != nil || e3 != nil || pop <= 0 {
			continue
		}
		places = append(places, place{orb.Point{lon, lat}, 0.01 + 0.00005*math.Sqrt(pop)})
		total += pop
		cum = append(cum, total)
	}
	if len(places) == 0 {
		return nil, geo.Errorf(geo.EINVALID, "%s has no places with a population", placesPath)
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	pts := make([]orb.Point, n)
	for i := range pts {
		if rng.Float64() < 0.15 {
			pts[i] = orb.Point{-125 + 58.5*rng.Float64(), 24.5 + 25*rng.Float64()}
			continue
		}
		pl := places[sort.SearchFloat64s(cum, rng.Float64()*total)]
		lon := pl.p[0] + rng.NormFloat64()*pl.sigma/math.Cos(pl.p[1]*math.Pi/180)
		lat := pl.p[1] + rng.NormFloat64()*pl.sigma
		pts[i] = orb.Point{math.Max(-180, math.Min(180, lon)), math.Max(-90, math.Min(90, lat))}
	}
	return pts, nil
}

// copyBenchCustomers stores pts as customers 1..n with their H3 cells, with COPY.
func copyBenchCustomers(ctx context.Context, db *postgis.DB, pts []orb.Point) error {
	i := -1
	row := make([]any, 5)
	src := pgx.CopyFromFunc(func() ([]any, error) {
		i++
		if i == len(pts) {
			return nil, nil
		}
		p := pts[i]
		row[0], row[1], row[2] = int64(i+1), "customer", "bench"
		row[3] = ewkbPoint4326(p)
		row[4] = int64(geo.CellOf(p, geo.CellResolution))
		return row, nil
	})
	if _, err := db.Pool.CopyFrom(ctx, pgx.Identifier{"customers"}, []string{"id", "kind", "name", "geom", "h3"}, src); err != nil {
		return postgis.Wrap(err)
	}
	return nil
}

// ewkbPoint4326 encodes p as little-endian EWKB with SRID 4326.
func ewkbPoint4326(p orb.Point) []byte { return postgis.AppendPoint(nil, p[0], p[1]) }
