package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/gcrm/gcrm/olap"
	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
)

func init() {
	benches["cube"] = command{"cube roll-ups (H3 resolutions, regions, attributes, filters, bbox) against the same GROUP BY in PostGIS", benchCube}
}

// benchCube is 'gcrm bench cube': N synthetic US customers in a scratch schema, assigned
// to the real counties and states; the engine and cube loaded from them; then a fixed list
// of random roll-ups answered by the cube and by the equivalent GROUP BY in PostGIS
// (CubeQuery.SQL), checked equal first, then timed alternately A/B for several rounds.
func benchCube(ctx context.Context, e env) int {
	fs := flag.NewFlagSet("bench cube", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var db dbFlags
	db.register(fs, e.getenv)
	n := fs.Int("customers", 1_000_000, "synthetic customers (population-weighted around US places)")
	queries := fs.Int("queries", 8, "random queries per category")
	rounds := fs.Int("rounds", 3, "A/B rounds")
	seed := fs.Uint64("seed", 1, "random seed")
	counties := fs.String("counties", "../shared/data/regions/us/counties-10m.geojson", "county boundaries (GeoJSON)")
	states := fs.String("states", "../shared/data/regions/us/states-10m.geojson", "state boundaries (GeoJSON)")
	places := fs.String("places", "../shared/data/places/us/geonames_cities1000_US.csv", "GeoNames places (weights for the points)")
	warm := fs.Int("warm-rounds", 0, "after the A/B rounds, rounds of the cube alone, back to back (no PostGIS query between: warm caches), reported apart")
	idle := fs.Duration("warm-idle", 0, "with --warm-rounds: sleep this long before each cube query (the cube woken from idle, with no PostGIS query between)")
	keep := fs.Bool("keep", false, "keep the scratch schema bench_cube; a later run with the same --customers and --seed reuses it")
	if err := fs.Parse(e.args); err != nil {
		return 2
	}
	if *n <= 0 || *rounds <= 0 || *queries <= 0 || *warm < 0 {
		fmt.Fprintln(e.stderr, "gcrm: --customers, --queries and --rounds must be positive, --warm-rounds not negative")
		return 2
	}
	main, closeDB, err := db.open(ctx, e)
	if err != nil {
		return fail(e, err)
	}
	defer closeDB()
	cfg := benchCubeConfig{customers: *n, queries: *queries, rounds: *rounds, warm: *warm, idle: *idle, seed: *seed, counties: *counties, states: *states, places: *places, keep: *keep}
	if err := runBenchCube(ctx, e, main, cfg); err != nil {
		return fail(e, err)
	}
	return 0
}

type benchCubeConfig struct {
	customers, queries, rounds, warm int
	idle                             time.Duration
	seed                             uint64
	counties, states, places         string
	keep                             bool
}

const benchCubeSchema = "bench_cube"

func runBenchCube(ctx context.Context, e env, main *postgis.DB, cfg benchCubeConfig) error {
	out := e.stdout
	tag := fmt.Sprintf("customers=%d seed=%d", cfg.customers, cfg.seed)
	var have string
	_ = main.Pool.QueryRow(ctx, `SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = $1`, benchCubeSchema).Scan(&have)
	reuse := have == tag
	if !cfg.keep {
		defer main.Pool.Exec(context.WithoutCancel(ctx), `DROP SCHEMA IF EXISTS `+benchCubeSchema+` CASCADE`)
	}
	if !reuse {
		for _, q := range []string{
			`DROP SCHEMA IF EXISTS ` + benchCubeSchema + ` CASCADE`,
			`CREATE SCHEMA ` + benchCubeSchema,
			`CREATE TABLE ` + benchCubeSchema + `.customers (LIKE public.customers INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`,
			`CREATE TABLE ` + benchCubeSchema + `.customer_deletions (LIKE public.customer_deletions INCLUDING ALL)`,
			`CREATE TABLE ` + benchCubeSchema + `.regions (LIKE public.regions INCLUDING ALL)`,
			`CREATE TABLE ` + benchCubeSchema + `.customer_regions (LIKE public.customer_regions INCLUDING ALL)`,
		} {
			if _, err := main.Pool.Exec(ctx, q); err != nil {
				return postgis.Wrap(err)
			}
		}
	}
	db, err := postgis.Open(ctx, withParam(main.URL, "search_path", benchCubeSchema+",public"))
	if err != nil {
		return err
	}
	defer db.Close()
	if reuse {
		fmt.Fprintf(out, "reusing schema %s (%s)\n", benchCubeSchema, tag)
		if err := benchCubeMigrate(ctx, main); err != nil {
			return err
		}
	} else if err := benchCubeSeed(ctx, out, db, cfg); err != nil {
		return err
	} else if _, err := main.Pool.Exec(ctx, `COMMENT ON SCHEMA `+benchCubeSchema+` IS '`+tag+`'`); err != nil {
		return postgis.Wrap(err)
	}
	var parallel string
	_ = db.Pool.QueryRow(ctx, `SHOW max_parallel_workers_per_gather`).Scan(&parallel)
	fmt.Fprintf(out, "machine: %d cores (GOMAXPROCS %d); PostgreSQL max_parallel_workers_per_gather = %s\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), parallel)

	// The engine and its cube, as gcrm serve builds them.
	t0 := time.Now()
	cube, err := olap.LoadCube(ctx, db)
	if err != nil {
		return err
	}
	engine := olap.New()
	engine.Observer = cube
	if err := engine.Load(ctx, crm.NewStore(db)); err != nil {
		return err
	}
	load := time.Since(t0)
	st := cube.Stats()
	cells, broken := 0, 0
	cuboidBytes := int64(0)
	for _, c := range st.Cuboids {
		cells += c.Cells
		cuboidBytes += c.Bytes
		if c.Broken {
			broken++
		}
	}
	fmt.Fprintf(out, "engine + cube loaded: %d records in %.1fs; %d cuboids, %d cells (%d broken); cube: records %.0f MB + cuboids %.0f MB; engine base columns %.0f MB\n",
		st.Records, load.Seconds(), len(st.Cuboids), cells, broken, float64(st.RecordBytes)/1e6, float64(cuboidBytes)/1e6, float64(engine.Snapshot().Stats().BaseBytes)/1e6)
	fmt.Fprintf(out, "memory: %s\n", benchCubeMemory())
	if e.getenv("GCRM_BENCH_CUBOIDS") != "" {
		for _, c := range st.Cuboids {
			fmt.Fprintf(out, "  %-45s %10d cells %8.1f MB\n", c.Name, c.Cells, float64(c.Bytes)/1e6)
		}
	}
	pops := map[string]map[string]float64{}
	levels := cube.Levels()

	// The queries: a fixed random list per category.
	rng := rand.New(rand.NewPCG(cfg.seed, 42))
	cats := benchCubeQueries(rng, cfg.queries, engine.Snapshot())
	// Equal answers first.
	sources := make([]map[string]int, len(cats))
	rows := make([]int, len(cats))
	for i, c := range cats {
		sources[i] = map[string]int{}
		for _, q := range c.queries {
			got, err := cube.Query(q, engine.Snapshot())
			if err != nil {
				return err
			}
			sources[i][got.Source]++
			if e.getenv("GCRM_BENCH_CUBOIDS") != "" {
				fmt.Fprintf(out, "  %s: %d rows from %s (%d read)\n", benchCubeDescribe(q), len(got.Rows()), got.Source, got.Read)
			}
			rows[i] = max(rows[i], len(got.Rows()))
			want, err := olap.QueryCubeSQL(ctx, db, q, levels, pops)
			if err != nil {
				return err
			}
			if !reflect.DeepEqual(got.Columns, want.Columns) || !reflect.DeepEqual(got.Rows(), want.Rows()) {
				for i := 0; i < min(len(got.Rows()), len(want.Rows())); i++ {
					if !reflect.DeepEqual(got.Rows()[i], want.Rows()[i]) {
						fmt.Fprintf(out, "first difference, row %d: cube %v, SQL %v\n", i, got.Rows()[i], want.Rows()[i])
						break
					}
				}
				sql, args := q.SQL()
				return fmt.Errorf("%s: the cube (%s, %d rows) and SQL (%d rows) differ for %s\n%s %v", c.name, got.Source, len(got.Rows()), len(want.Rows()), benchCubeDescribe(q), sql, args)
			}
			got.Release()
		}
	}
	total := 0
	for _, c := range cats {
		total += len(c.queries)
	}
	fmt.Fprintf(out, "equal: all %d queries give the same rows from the cube and from PostGIS\n\n", total)

	// A/B rounds, profiled when GCRM_BENCH_CPUPROFILE is set (the cube's side: PostGIS runs
	// in its own processes).
	stop, err := startCPUProfile(e)
	if err != nil {
		return err
	}
	defer stop()
	type times struct{ cube, sql []time.Duration }
	res := make([]times, len(cats))
	// timeCube times one query on the cube, to every value of every row read (typed, as the
	// JSON and CSV writers read them; PostGIS's side is timed to its rows scanned). The rows
	// are released after, as the server does once they are written.
	var vals []olap.CubeValue
	timeCube := func(q *olap.CubeQuery, to *[]time.Duration) error {
		start := time.Now()
		got, err := cube.Query(q, engine.Snapshot())
		if err != nil {
			return err
		}
		for i := range got.Len() {
			vals = got.AppendRow(vals[:0], i)
		}
		*to = append(*to, time.Since(start))
		got.Release()
		return nil
	}
	for r := 1; r <= cfg.rounds; r++ {
		for i, c := range cats {
			for _, q := range c.queries {
				if err := timeCube(q, &res[i].cube); err != nil {
					return err
				}
				start := time.Now()
				if _, err := olap.QueryCubeSQL(ctx, db, q, levels, pops); err != nil {
					return err
				}
				res[i].sql = append(res[i].sql, time.Since(start))
			}
		}
		fmt.Fprintf(out, "round %d done\n", r)
	}
	warm := make([][]time.Duration, len(cats))
	for r := 0; r < cfg.warm; r++ {
		for i, c := range cats {
			for _, q := range c.queries {
				time.Sleep(cfg.idle)
				if err := timeCube(q, &warm[i]); err != nil {
					return err
				}
			}
		}
	}
	fmt.Fprintf(out, "memory after the queries: %s\n", benchCubeMemory())
	runtime.KeepAlive(engine)
	runtime.KeepAlive(cube)
	fmt.Fprintf(out, "\n%-60s %7s %10s %10s %10s %10s %9s\n", "category", "queries", "cube p50", "cube p99", "SQL p50", "SQL p99", "SQL/cube")
	var allCube, allSQL []time.Duration
	var rollCube []time.Duration
	var ratios []float64
	for i, c := range cats {
		cp50, cp99 := benchPct(res[i].cube, 50), benchPct(res[i].cube, 99)
		sp50, sp99 := benchPct(res[i].sql, 50), benchPct(res[i].sql, 99)
		ratio := float64(sp50) / float64(max(cp50, time.Microsecond))
		ratios = append(ratios, ratio)
		fmt.Fprintf(out, "%-60s %7d %9.3fms %9.3fms %9.1fms %9.1fms %8.0f×  %d rows max; from %s\n", c.name, len(c.queries), cubeMs(cp50), cubeMs(cp99), cubeMs(sp50), cubeMs(sp99), ratio,
			rows[i], benchSources(sources[i]))
		allCube, allSQL = append(allCube, res[i].cube...), append(allSQL, res[i].sql...)
		if !strings.Contains(c.name, "bbox") {
			rollCube = append(rollCube, res[i].cube...)
		}
	}
	slices.Sort(ratios)
	fmt.Fprintf(out, "%-60s %7d %9.3fms %9.3fms %9.1fms %9.1fms %8.0f×\n", "all", total, cubeMs(benchPct(allCube, 50)), cubeMs(benchPct(allCube, 99)),
		cubeMs(benchPct(allSQL, 50)), cubeMs(benchPct(allSQL, 99)), float64(benchPct(allSQL, 50))/float64(benchPct(allCube, 50)))
	if cfg.warm > 0 {
		how := "back to back"
		if cfg.idle > 0 {
			how = "each after " + cfg.idle.String() + " idle"
		}
		fmt.Fprintf(out, "\n%-60s %7s %10s %10s   (cube alone, %d rounds %s)\n", "category", "queries", "warm p50", "warm p99", cfg.warm, how)
		for i, c := range cats {
			fmt.Fprintf(out, "%-60s %7d %9.3fms %9.3fms\n", c.name, len(c.queries), cubeMs(benchPct(warm[i], 50)), cubeMs(benchPct(warm[i], 99)))
		}
	}
	fmt.Fprintf(out, "\ncube over %d customers: roll-ups (no bbox) p99 %.2f ms; all queries p50 %.3f ms vs PostGIS GROUP BY p50 %.0f ms: %.0f× faster (median per-category ratio %.0f×, worst %.0f×)\n",
		st.Records, cubeMs(benchPct(rollCube, 99)), cubeMs(benchPct(allCube, 50)), cubeMs(benchPct(allSQL, 50)),
		float64(benchPct(allSQL, 50))/float64(benchPct(allCube, 50)), ratios[len(ratios)/2], ratios[0])
	return nil
}

// benchSources lists the sources that answered a category, most used first.
func benchSources(m map[string]int) string {
	var names []string
	for k := range m {
		names = append(names, k)
	}
	slices.SortFunc(names, func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	for i, n := range names {
		names[i] = fmt.Sprintf("%s ×%d", n, m[n])
	}
	return strings.Join(names, ", ")
}

func cubeMs(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// benchPct returns the p-th percentile (nearest rank) of v.
func benchPct(v []time.Duration, p int) time.Duration {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(0, min(len(s)-1, i-1))]
}

func benchCubeDescribe(q *olap.CubeQuery) string {
	return fmt.Sprintf("measures=%v by=%v filters=%v bbox=%v scope=%+v", q.Measures, q.By, q.Filters, q.Bound, q.Scope)
}

var (
	benchKinds    = []string{"customer", "customer", "customer", "prospect", "prospect", "lead"}
	benchStatuses = []string{"active", "active", "new", "won", "lost", "dormant"}
	benchSegments = []string{"smb", "smb", "mid", "enterprise", "public"}
)

func benchOwner(i int) string { return "rep" + strconv.Itoa(i%40+1) + "@example.com" }

// benchCubeQueries draws the query list: roll-ups by H3 resolution, by region and by
// attributes, with and without filters and a rep's scope, and bbox drill-downs (a metro
// at street level, from the point columns).
func benchCubeQueries(r *rand.Rand, n int, snap *olap.Snapshot) []struct {
	name    string
	queries []*olap.CubeQuery
} {
	measures := func() []string {
		all := []string{"records", "customers", "revenue", "won", "lost", "conversion_rate", "revenue_per_customer"}
		return all[:2+r.IntN(len(all)-1)]
	}
	// One attribute (segment, kind or status), or a month range and status won/lost.
	filter1 := func() []olap.CubeFilter {
		switch r.IntN(3) {
		case 0:
			return []olap.CubeFilter{{Dim: olap.CubeDim{Name: "segment"}, Values: []string{benchSegments[r.IntN(len(benchSegments))]}}}
		case 1:
			return []olap.CubeFilter{{Dim: olap.CubeDim{Name: "kind"}, Values: []string{"lead", "prospect"}[:1+r.IntN(2)]}}
		}
		return []olap.CubeFilter{{Dim: olap.CubeDim{Name: "status"}, Values: []string{benchStatuses[r.IntN(len(benchStatuses))]}}}
	}
	filter2 := func() []olap.CubeFilter {
		y := 2022 + r.IntN(3)
		var months []string
		from, to := 1+r.IntN(6), 7+r.IntN(6)
		for m := from; m <= to; m++ {
			months = append(months, fmt.Sprintf("%d-%02d", y, m))
		}
		return []olap.CubeFilter{{Dim: olap.CubeDim{Name: "month"}, Values: months},
			{Dim: olap.CubeDim{Name: "status"}, Values: []string{"won", "lost"}}}
	}
	filter := func() []olap.CubeFilter {
		if r.IntN(4) == 0 {
			return filter2()
		}
		return filter1()
	}
	type cat = struct {
		name    string
		queries []*olap.CubeQuery
	}
	var cats []cat
	add := func(name string, mk func() *olap.CubeQuery) {
		c := cat{name: name}
		for i := 0; i < n; i++ {
			c.queries = append(c.queries, mk())
		}
		cats = append(cats, c)
	}
	h3 := func(lo, hi int) []olap.CubeDim { return []olap.CubeDim{{Name: "h3", Res: lo + r.IntN(hi-lo+1)}} }
	add("by h3:0-3", func() *olap.CubeQuery { return &olap.CubeQuery{Measures: measures(), By: h3(0, 3)} })
	const attr, monthStatus = " + 1 attribute (segment|kind|status)", " + month range & status won|lost"
	add("by h3:4-5"+attr, func() *olap.CubeQuery { return &olap.CubeQuery{Measures: measures(), By: h3(4, 5), Filters: filter1()} })
	add("by h3:4-5"+monthStatus, func() *olap.CubeQuery { return &olap.CubeQuery{Measures: measures(), By: h3(4, 5), Filters: filter2()} })
	add("by h3:6-7"+attr, func() *olap.CubeQuery { return &olap.CubeQuery{Measures: measures(), By: h3(6, 7), Filters: filter1()} })
	add("by h3:6-7"+monthStatus, func() *olap.CubeQuery { return &olap.CubeQuery{Measures: measures(), By: h3(6, 7), Filters: filter2()} })
	add("by region:state × segment", func() *olap.CubeQuery {
		return &olap.CubeQuery{Measures: measures(), By: []olap.CubeDim{{Name: "region", Level: "state"}, {Name: "segment"}}}
	})
	add("by region:county"+attr, func() *olap.CubeQuery {
		return &olap.CubeQuery{Measures: measures(), By: []olap.CubeDim{{Name: "region", Level: "county"}}, Filters: filter1()}
	})
	add("by region:county"+monthStatus, func() *olap.CubeQuery {
		return &olap.CubeQuery{Measures: measures(), By: []olap.CubeDim{{Name: "region", Level: "county"}}, Filters: filter2()}
	})
	add("by an attribute + either filter", func() *olap.CubeQuery {
		d := []string{"segment", "status", "month", "owner", "kind"}[r.IntN(5)]
		return &olap.CubeQuery{Measures: measures(), By: []olap.CubeDim{{Name: d}}, Filters: filter()}
	})
	add("rep scope by month × status", func() *olap.CubeQuery {
		return &olap.CubeQuery{Measures: measures(), By: []olap.CubeDim{{Name: "month"}, {Name: "status"}},
			Scope: crm.Scope{Restricted: true, Owners: []string{benchOwner(r.IntN(40))}}}
	})
	add("drill: h3:3 cell by h3:7", func() *olap.CubeQuery {
		p := benchSomePoint(r, snap)
		cell := strconv.FormatUint(uint64(geo.CellOf(p, 3)), 16)
		return &olap.CubeQuery{Measures: measures(), By: h3(7, 7), Filters: []olap.CubeFilter{{Dim: olap.CubeDim{Name: "h3"}, Values: []string{cell}}}}
	})
	add("bbox 0.2° by h3:9 (points)", func() *olap.CubeQuery {
		p := benchSomePoint(r, snap)
		b := orb.Bound{Min: orb.Point{p[0] - 0.1, p[1] - 0.1}, Max: orb.Point{p[0] + 0.1, p[1] + 0.1}}
		return &olap.CubeQuery{Measures: measures(), By: []olap.CubeDim{{Name: "h3", Res: 9}}, Bound: &b}
	})
	add("bbox 0.02° by h3:12 (points)", func() *olap.CubeQuery {
		p := benchSomePoint(r, snap)
		b := orb.Bound{Min: orb.Point{p[0] - 0.01, p[1] - 0.01}, Max: orb.Point{p[0] + 0.01, p[1] + 0.01}}
		return &olap.CubeQuery{Measures: measures(), By: []olap.CubeDim{{Name: "h3", Res: 12}}, Bound: &b}
	})
	return cats
}

// benchSomePoint returns the location of a random record (density-weighted).
func benchSomePoint(r *rand.Rand, snap *olap.Snapshot) orb.Point {
	var p orb.Point
	want := r.IntN(max(1, snap.Len()))
	i := 0
	snap.Each(olap.Tile{}, snap.Compile(olap.Filter{}), func(row *olap.Row) {
		if i == want {
			p[0], p[1] = olap.Unproject(row.X, row.Y)
		}
		i++
	})
	return p
}

// benchCubeMigrate adds to a kept scratch customers table the columns later migrations
// added to public.customers (with their defaults: no rewrite of the rows).
func benchCubeMigrate(ctx context.Context, db *postgis.DB) error {
	rows, err := db.Pool.Query(ctx, `SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, coalesce(pg_get_expr(d.adbin, d.adrelid), '')
		FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		WHERE a.attrelid = 'public.customers'::regclass AND a.attnum > 0 AND NOT a.attisdropped
		AND NOT EXISTS (SELECT 1 FROM pg_attribute b WHERE b.attrelid = '`+benchCubeSchema+`.customers'::regclass AND b.attname = a.attname AND NOT b.attisdropped)`)
	if err != nil {
		return postgis.Wrap(err)
	}
	var alters []string
	for rows.Next() {
		var name, typ, def string
		var notNull bool
		if err := rows.Scan(&name, &typ, &notNull, &def); err != nil {
			return postgis.Wrap(err)
		}
		q := "ALTER TABLE " + benchCubeSchema + ".customers ADD COLUMN " + pgx.Identifier{name}.Sanitize() + " " + typ
		if def != "" {
			q += " DEFAULT " + def
		}
		if notNull && def != "" {
			q += " NOT NULL"
		}
		alters = append(alters, q)
	}
	if err := rows.Err(); err != nil {
		return postgis.Wrap(err)
	}
	for _, q := range alters {
		if _, err := db.Pool.Exec(ctx, q); err != nil {
			return postgis.Wrap(err)
		}
	}
	return nil
}

// benchCubeSeed imports counties and states, COPYs the customers, indexes them and
// assigns them to both levels.
func benchCubeSeed(ctx context.Context, out interface{ Write([]byte) (int, error) }, db *postgis.DB, cfg benchCubeConfig) error {
	t0 := time.Now()
	for _, l := range []struct{ level, path string }{{"county", cfg.counties}, {"state", cfg.states}} {
		feats, _, err := readCountiesLenient(l.path)
		if err != nil {
			return err
		}
		if _, err := olap.NewRegionStore(db).Import(ctx, l.level, feats); err != nil {
			return err
		}
		fmt.Fprintf(out, "%s: %d regions from %s\n", l.level, len(feats), l.path)
	}
	pts, err := seedUSPoints(cfg.places, cfg.customers, cfg.seed)
	if err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(cfg.seed, 7))
	i := 0
	row := make([]any, 9)
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i == len(pts) {
			return nil, nil
		}
		p := pts[i]
		i++
		created := time.Date(2022, time.Month(1+r.IntN(36)), 1+r.IntN(28), r.IntN(24), 0, 0, 0, time.UTC)
		row[0], row[1], row[2] = benchKinds[r.IntN(len(benchKinds))], "Customer "+strconv.Itoa(i), ewkbPoint4326(p)
		row[3], row[4], row[5] = int64(geo.CellOf(p, geo.CellResolution)), benchSegments[r.IntN(len(benchSegments))], benchStatuses[r.IntN(len(benchStatuses))]
		row[6], row[7], row[8] = benchOwner(int(p[0]*7+p[1]*3+1000)), float64(r.IntN(1_000_000))/100, created
		return row, nil
	})
	if _, err := db.Pool.CopyFrom(ctx, pgx.Identifier{"customers"},
		[]string{"kind", "name", "geom", "h3", "segment", "status", "owner", "revenue", "created_at"}, src); err != nil {
		return postgis.Wrap(err)
	}
	fmt.Fprintf(out, "customers: %d seeded in %.1fs\n", len(pts), time.Since(t0).Seconds())
	t0 = time.Now()
	for _, q := range []string{
		`ALTER TABLE customers ADD PRIMARY KEY (id)`,
		`CREATE INDEX ON customers USING gist (geom)`,
		`CREATE INDEX ON customers (h3)`,
		`CREATE INDEX ON customers (owner)`,
		`CREATE INDEX ON customers (txid)`,
	} {
		if _, err := db.Pool.Exec(ctx, q); err != nil {
			return postgis.Wrap(err)
		}
	}
	for _, level := range []string{"county", "state"} {
		idx, err := olap.LoadRegionIndex(ctx, db, level)
		if err != nil {
			return err
		}
		st, err := olap.AssignAll(ctx, db, idx)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "assigned to %s: %d of %d\n", level, st.Assigned, st.Customers)
	}
	for _, q := range []string{`VACUUM ANALYZE customers`, `VACUUM ANALYZE customer_regions`, `ANALYZE regions`} {
		if _, err := db.Pool.Exec(ctx, q); err != nil {
			return postgis.Wrap(err)
		}
	}
	fmt.Fprintf(out, "indexes, assignment, analyze: %.1fs\n", time.Since(t0).Seconds())
	return nil
}

// benchCubeMemory reports the process's memory: peak and current resident set from /proc
// (Linux; current after a GC that returns freed pages to the OS) and the Go heap in use.
func benchCubeMemory() string {
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	status := map[string]string{"VmHWM": "?", "VmRSS": "?"}
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok {
				if _, want := status[k]; want {
					status[k] = strings.TrimSpace(v)
				}
			}
		}
	}
	return fmt.Sprintf("peak RSS (VmHWM) %s, RSS after GC %s, Go heap in use %.0f MB (HeapSys %.0f MB)",
		status["VmHWM"], status["VmRSS"], float64(ms.HeapInuse)/1e6, float64(ms.HeapSys)/1e6)
}
