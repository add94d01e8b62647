package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/gcrm/gcrm/olap"
	"github.com/gcrm/gcrm/tiles"
	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
)

func init() {
	benches["tiles"] = command{"customer vector tiles from the engine against PostGIS ST_AsMVT", benchTiles}
}

// benchTiles is 'gcrm bench tiles': the same density-weighted tile list rendered by the
// in-memory engine and by PostGIS ST_AsMVT (pg_tileserv's query; at clustered zooms the
// same grid clustering in SQL, so both sides count the same points), A/B/A/B.
func benchTiles(ctx context.Context, e env) int {
	fs := flag.NewFlagSet("bench tiles", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var dbf dbFlags // --db: its customers are measured (seeded when empty); none: a database of its own in the private cluster
	dbf.register(fs, e.getenv)
	customers := fs.Int("customers", 1_000_000, "synthetic customers to seed (around US population centres) into an empty database")
	seed := fs.Uint64("seed", 1, "random seed of the customers and of the tile list")
	zoomList := fs.String("zooms", "6,10,14", "zooms to measure, comma-separated")
	n := fs.Int("tiles", 100, "tiles per zoom (density-weighted: the tiles of randomly drawn customers)")
	rounds := fs.Int("rounds", 3, "A/B rounds")
	clusterMax := fs.Int("cluster-max-zoom", tiles.NewCustomers().ClusterMaxZoom, "deepest clustered zoom; -1 renders every point at every zoom on both sides (pg_tileserv's content)")
	if err := fs.Parse(e.args); err != nil {
		return 2
	}
	var zooms []int
	for _, s := range strings.Split(*zoomList, ",") {
		z, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || z < 0 || z > olap.MaxZoom {
			fmt.Fprintf(e.stderr, "gcrm: --zooms: %q is not a zoom within 0..%d\n", s, olap.MaxZoom)
			return 2
		}
		zooms = append(zooms, z)
	}
	layer := tiles.NewCustomers()
	layer.ClusterMaxZoom = *clusterMax
	if err := layer.Check(); err != nil {
		return fail(e, err)
	}
	if *n <= 0 || *rounds <= 0 || *customers < 0 {
		fmt.Fprintln(e.stderr, "gcrm: --tiles and --rounds must be positive, --customers not negative")
		return 2
	}
	db, stop, err := tilesBenchOpen(ctx, e, dbf.url, dbf.dataDir)
	if err != nil {
		return fail(e, err)
	}
	defer stop()
	if err := runBenchTiles(ctx, e, db, layer, *customers, *seed, zooms, *n, *rounds); err != nil {
		return fail(e, err)
	}
	return 0
}

// tilesBenchOpen opens the benchmark's database with parallel query off (as BENCHMARKS.md
// asks for the reference on 2 cores): url as given, or a database of its own in the
// private cluster so the benchmark never touches the server's data.
func tilesBenchOpen(ctx context.Context, e env, url, dataDir string) (*postgis.DB, func(), error) {
	var cluster *postgis.Cluster
	if url == "" {
		var err error
		fmt.Fprintf(e.stderr, "gcrm: starting private PostgreSQL+PostGIS under %s\n", dataDir)
		if cluster, err = postgis.StartCluster(ctx, dataDir, postgis.ClusterOptions{}); err != nil {
			return nil, nil, err
		}
		conn, err := pgx.Connect(ctx, cluster.URL("postgres"))
		if err != nil {
			cluster.Stop()
			return nil, nil, geo.Errorf(geo.EUNAVAILABLE, "cannot reach the private cluster: %v", err)
		}
		var exists bool
		_ = conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'gcrm_bench_tiles')`).Scan(&exists)
		if !exists {
			_, err = conn.Exec(ctx, `CREATE DATABASE gcrm_bench_tiles`)
		}
		conn.Close(ctx)
		if err != nil {
			cluster.Stop()
			return nil, nil, err
		}
		url = cluster.URL("gcrm_bench_tiles")
	}
	db, err := postgis.Open(ctx, withParam(url, "max_parallel_workers_per_gather", "0"))
	if err == nil {
		if err = db.Migrate(ctx); err != nil {
			db.Close()
		}
	}
	if err != nil {
		if cluster != nil {
			cluster.Stop()
		}
		return nil, nil, err
	}
	return db, func() {
		db.Close()
		if cluster != nil {
			cluster.Stop()
		}
	}, nil
}

// tilesBenchResult is one side's measurements at one zoom.
type tilesBenchResult struct {
	perRound  []float64 // tiles/s per round
	latencies []time.Duration
	bytes     int64
	tiles     int
	maxFeat   int
}

func runBenchTiles(ctx context.Context, e env, db *postgis.DB, layer *tiles.Customers, customers int, seed uint64, zooms []int, n, rounds int) error {
	var have int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM customers WHERE geom IS NOT NULL`).Scan(&have); err != nil {
		return postgis.Wrap(err)
	}
	if have == 0 && customers > 0 {
		start := time.Now()
		if err := tilesBenchSeed(ctx, db, customers, seed); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "seeded %d customers in %.1fs\n", customers, time.Since(start).Seconds())
		have = customers
	} else if have != customers {
		fmt.Fprintf(e.stdout, "note: the database already holds %d located customers; benchmarking those\n", have)
	}
	store := crm.NewStore(db)
	engine := olap.New()
	runtime.GC()
	start := time.Now()
	if err := engine.Load(ctx, store); err != nil {
		return err
	}
	load := time.Since(start)
	runtime.GC()
	snap := engine.Snapshot()
	st := snap.Stats()
	fmt.Fprintf(e.stdout, "engine: %d points loaded in %.2fs, base columns %.0f MB (%d B/point), RSS %s\n",
		st.Points, load.Seconds(), float64(st.BaseBytes)/(1<<20), st.BaseBytes/int64(max(st.Points, 1)), tilesBenchRSS())

	list, err := tilesBenchList(ctx, db, zooms, n, seed)
	if err != nil {
		return err
	}
	ref := &tiles.Reference{DB: db, Layer: layer}
	match := snap.Compile(olap.Filter{})

	// Same work: both sides count the same points in every tile (checked before timing).
	mismatches := 0
	for _, z := range zooms {
		for _, t := range tilesBenchDistinct(list[z]) {
			body, rs := layer.Render(snap, t, match)
			rb, err := ref.Tile(ctx, t)
			if err != nil {
				return err
			}
			if a, b := tilesBenchCount(body), tilesBenchCount(rb); a != b || a != rs.Points+rs.Buffered {
				mismatches++
				if mismatches <= 5 {
					fmt.Fprintf(e.stdout, "check: tile %s: engine counts %d, ST_AsMVT %d\n", tiles.String(t), a, b)
				}
			}
		}
	}
	fmt.Fprintf(e.stdout, "check: engine and ST_AsMVT count the same points in every tile: %v\n", mismatches == 0)

	engineRes := map[int]*tilesBenchResult{}
	refRes := map[int]*tilesBenchResult{}
	for _, z := range zooms {
		engineRes[z], refRes[z] = &tilesBenchResult{}, &tilesBenchResult{}
	}
	for r := 0; r < rounds; r++ {
		for _, z := range zooms {
			// A: the engine, uncached, uncompressed, one tile at a time.
			a := engineRes[z]
			t0 := time.Now()
			for _, t := range list[z] {
				s := time.Now()
				body, rs := layer.Render(engine.Snapshot(), t, match)
				a.latencies = append(a.latencies, time.Since(s))
				a.bytes += int64(len(body))
				a.tiles++
				a.maxFeat = max(a.maxFeat, rs.Features)
			}
			a.perRound = append(a.perRound, float64(len(list[z]))/time.Since(t0).Seconds())
			// B: PostGIS ST_AsMVT, same tiles, one at a time.
			b := refRes[z]
			t0 = time.Now()
			for _, t := range list[z] {
				s := time.Now()
				body, err := ref.Tile(ctx, t)
				if err != nil {
					return err
				}
				b.latencies = append(b.latencies, time.Since(s))
				b.bytes += int64(len(body))
				b.tiles++
			}
			b.perRound = append(b.perRound, float64(len(list[z]))/time.Since(t0).Seconds())
			fmt.Fprintf(e.stderr, "round %d zoom %d done\n", r+1, z)
		}
	}

	mode := fmt.Sprintf("clustered up to zoom %d on a %dx%d grid (ST_AsMVT side: the same grid in SQL)", layer.ClusterMaxZoom, 1<<layer.GridLevels, 1<<layer.GridLevels)
	if layer.ClusterMaxZoom < 0 {
		mode = "every point at every zoom (pg_tileserv's content)"
	}
	fmt.Fprintf(e.stdout, "\n%d customers, %d tiles per zoom (density-weighted), %d rounds A/B, one tile at a time, uncached, uncompressed; %s; extent %d, buffer %d\n",
		have, n, rounds, mode, layer.Extent, layer.Buffer)
	fmt.Fprintf(e.stdout, "%-5s %-9s | %-22s %8s %8s %8s %7s | %-22s %8s %8s %8s | %s\n", "zoom", "kind",
		"engine tiles/s (min-max)", "p50 ms", "p99 ms", "KB/tile", "feat", "ST_AsMVT tiles/s", "p50 ms", "p99 ms", "KB/tile", "ratio")
	var ratios []float64
	worst, worstZ := math.Inf(1), 0
	for _, z := range zooms {
		a, b := engineRes[z], refRes[z]
		kind := "points"
		if layer.Clustered(z) {
			kind = "clusters"
		}
		ratio := tilesBenchMedian(a.perRound) / tilesBenchMedian(b.perRound)
		ratios = append(ratios, ratio)
		if ratio < worst {
			worst, worstZ = ratio, z
		}
		fmt.Fprintf(e.stdout, "%-5d %-9s | %-22s %8.3f %8.3f %8.1f %7d | %-22s %8.2f %8.2f %8.1f | %.1fx\n", z, kind,
			tilesBenchRate(a.perRound), ms(tilesBenchPct(a.latencies, 50)), ms(tilesBenchPct(a.latencies, 99)), float64(a.bytes)/float64(a.tiles)/1024, a.maxFeat,
			tilesBenchRate(b.perRound), ms(tilesBenchPct(b.latencies, 50)), ms(tilesBenchPct(b.latencies, 99)), float64(b.bytes)/float64(b.tiles)/1024, ratio)
	}
	geomean := 1.0
	for _, r := range ratios {
		geomean *= r
	}
	geomean = math.Pow(geomean, 1/float64(len(ratios)))
	fmt.Fprintf(e.stdout, "headline: the engine renders tiles %.1fx faster than PostGIS ST_AsMVT (geometric mean over zooms %s; lowest %.1fx at zoom %d)\n",
		geomean, strings.Trim(strings.ReplaceAll(fmt.Sprint(zooms), " ", ","), "[]"), worst, worstZ)
	if mismatches > 0 {
		return errors.New("engine and ST_AsMVT disagree on some tiles' counts (see check lines)")
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func tilesBenchRate(v []float64) string {
	lo, hi := slices.Min(v), slices.Max(v)
	if hi < 10 {
		return fmt.Sprintf("%.2f (%.2f-%.2f)", tilesBenchMedian(v), lo, hi)
	}
	return fmt.Sprintf("%.0f (%.0f-%.0f)", tilesBenchMedian(v), lo, hi)
}

func tilesBenchMedian(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func tilesBenchPct(v []time.Duration, p int) time.Duration {
	s := slices.Clone(v)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(0, min(len(s)-1, i-1))]
}

// tilesBenchCount sums the count property of a tile's features (every feature the
// reference draws, buffer included).
func tilesBenchCount(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	layers, err := mvt.Unmarshal(b)
	if err != nil || len(layers) == 0 {
		return -1
	}
	n := 0
	for _, f := range layers[0].Features {
		if c, ok := f.Properties["count"].(float64); ok {
			n += int(c)
		}
	}
	return n
}

func tilesBenchDistinct(ts []olap.Tile) []olap.Tile {
	seen := map[olap.Tile]bool{}
	var out []olap.Tile
	for _, t := range ts {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

// tilesBenchList draws n customers per zoom (seeded) and takes the tiles holding them:
// a tile list weighted by density, as map users ask for where the customers are.
func tilesBenchList(ctx context.Context, db *postgis.DB, zooms []int, n int, seed uint64) (map[int][]olap.Tile, error) {
	var pts [][2]float64
	err := db.WithTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT setseed($1)`, float64(seed%1000)/1000); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT ST_X(geom), ST_Y(geom) FROM customers WHERE geom IS NOT NULL ORDER BY random() LIMIT $1`, n*len(zooms))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var p [2]float64
			if err := rows.Scan(&p[0], &p[1]); err != nil {
				return err
			}
			pts = append(pts, p)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, postgis.Wrap(err)
	}
	if len(pts) == 0 {
		return nil, geo.Errorf(geo.EINVALID, "the database has no located customers to draw tiles from: seed it with --customers")
	}
	out := map[int][]olap.Tile{}
	for i, z := range zooms {
		for j := 0; j < n; j++ {
			p := pts[(i*n+j)%len(pts)]
			x, y := olap.Project(p[0], p[1])
			t := olap.Tile{Z: z}
			if z > 0 {
				t.X, t.Y = x>>uint(32-z), y>>uint(32-z)
			}
			out[z] = append(out[z], t)
		}
	}
	return out, nil
}

// tilesBenchMetros are US metropolitan areas: lon, lat, population in millions.
var tilesBenchMetros = [][3]float64{
	{-74.01, 40.71, 19.5}, {-118.24, 34.05, 13.0}, {-87.63, 41.88, 9.5}, {-96.80, 32.78, 7.6}, {-95.37, 29.76, 7.1},
	{-77.04, 38.91, 6.3}, {-80.19, 25.76, 6.1}, {-75.17, 39.95, 6.2}, {-84.39, 33.75, 6.1}, {-112.07, 33.45, 4.9},
	{-71.06, 42.36, 4.9}, {-122.42, 37.77, 4.7}, {-117.40, 33.95, 4.6}, {-83.05, 42.33, 4.3}, {-122.33, 47.61, 4.0},
	{-93.27, 44.98, 3.7}, {-117.16, 32.72, 3.3}, {-82.46, 27.95, 3.2}, {-104.99, 39.74, 2.9}, {-90.20, 38.63, 2.8},
	{-76.61, 39.29, 2.8}, {-80.84, 35.23, 2.7}, {-81.38, 28.54, 2.7}, {-98.49, 29.42, 2.6}, {-122.68, 45.52, 2.5},
	{-121.49, 38.58, 2.4}, {-80.00, 40.44, 2.4}, {-97.74, 30.27, 2.3}, {-115.14, 36.17, 2.3}, {-84.51, 39.10, 2.3},
	{-94.58, 39.10, 2.2}, {-83.00, 39.96, 2.1}, {-86.16, 39.77, 2.1}, {-81.69, 41.50, 2.1}, {-121.89, 37.34, 2.0},
	{-86.78, 36.16, 2.0}, {-111.89, 40.76, 1.3}, {-78.64, 35.78, 1.4}, {-90.07, 29.95, 1.3}, {-90.05, 35.15, 1.3},
	{-97.52, 35.47, 1.4}, {-106.65, 35.08, 0.9}, {-95.93, 41.26, 1.0}, {-116.20, 43.62, 0.8}, {-89.40, 43.07, 0.7},
}

// tilesBenchSeed COPYs n seeded customers into the customers table: 85 % around a metro
// (picked by population, spread with its size), 15 % scattered further out.
func tilesBenchSeed(ctx context.Context, db *postgis.DB, n int, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	var total float64
	for _, m := range tilesBenchMetros {
		total += m[2]
	}
	pick := func() [3]float64 {
		v := r.Float64() * total
		for _, m := range tilesBenchMetros {
			if v -= m[2]; v < 0 {
				return m
			}
		}
		return tilesBenchMetros[0]
	}
	kinds := []string{"customer", "customer", "customer", "prospect", "prospect", "lead"}
	statuses := []string{"active", "active", "new", "won", "lost", "dormant"}
	segments := []string{"smb", "smb", "mid", "enterprise", "public"}
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i == n {
			return nil, nil
		}
		i++
		m := pick()
		sigma := 0.06 * math.Sqrt(m[2])
		if r.Float64() < 0.15 {
			sigma = 1.5
		}
		lon := math.Max(-180, math.Min(180, m[0]+r.NormFloat64()*sigma*1.3))
		lat := math.Max(-85, math.Min(85, m[1]+r.NormFloat64()*sigma))
		cell := int64(geo.CellOf(orb.Point{lon, lat}, geo.CellResolution))
		owner := "rep" + strconv.Itoa(int(math.Abs(m[0]*7))%40+1) + "@example.com"
		return []any{kinds[r.IntN(len(kinds))], "Customer " + strconv.Itoa(i), postgis.AppendPoint(nil, lon, lat), cell,
			segments[r.IntN(len(segments))], statuses[r.IntN(len(statuses))], owner, float64(r.IntN(1_000_000)) / 100}, nil
	})
	_, err := db.Pool.CopyFrom(ctx, pgx.Identifier{"customers"},
		[]string{"kind", "name", "geom", "h3", "segment", "status", "owner", "revenue"}, src)
	if err != nil {
		return postgis.Wrap(err)
	}
	_, err = db.Pool.Exec(ctx, `ANALYZE customers`)
	return postgis.Wrap(err)
}

// tilesBenchRSS returns the process's resident memory from /proc (Linux), or "?".
func tilesBenchRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmRSS:"))
		}
	}
	return "?"
}
