package main

import (
	"bufio"
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
	"strings"
	"time"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/gcrm/gcrm/olap"
)

// benchImport is 'gcrm bench import': the full customer import of a CSV file (parse,
// validate, H3, COPY into staging, dedupe, upsert into an empty customers table with its
// indexes) against a bare COPY of the same file into a table of text columns, in
// alternating rounds, in a scratch schema (bench_import) of the configured database.
func benchImport(ctx context.Context, e env) int {
	fs := flag.NewFlagSet("bench import", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var dbf dbFlags
	dbf.register(fs, e.getenv)
	rows := fs.Int("rows", 1_000_000, "rows to generate (ignored with --file)")
	file := fs.String("file", "", "CSV file to import (default: generate --rows seeded rows)")
	rounds := fs.Int("rounds", 3, "A/B rounds (at least 3 for a fair median)")
	seed := fs.Uint64("seed", 1, "random seed of the generated file")
	places := fs.String("places", "../shared/data/places/us/geonames_cities1000_US.csv", "GeoNames places: where generated customers are, weighted by population")
	keep := fs.Bool("keep", false, "keep the scratch schema bench_import (and a generated file) afterwards")
	if err := fs.Parse(e.args); err != nil {
		return 2
	}
	if *rows <= 0 || *rounds <= 0 {
		fmt.Fprintln(e.stderr, "gcrm: --rows and --rounds must be positive")
		return 2
	}
	path := *file
	if path == "" {
		f, err := os.CreateTemp("", "gcrm-bench-import-*.csv")
		if err != nil {
			return fail(e, err)
		}
		path = f.Name()
		if !*keep {
			defer os.Remove(path)
		}
		start := time.Now()
		err = writeBenchCustomers(f, *places, *rows, *seed)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fail(e, err)
		}
		fmt.Fprintf(e.stderr, "generated %s rows into %s in %.1fs\n", thousands(int64(*rows)), path, time.Since(start).Seconds())
	}
	main, closeDB, err := dbf.open(ctx, e)
	if err != nil {
		return fail(e, err)
	}
	defer closeDB()
	stop, err := startCPUProfile(e)
	if err != nil {
		return fail(e, err)
	}
	defer stop()
	if err := runBenchImport(ctx, e, main, path, *rounds, *keep); err != nil {
		return fail(e, err)
	}
	return 0
}

func runBenchImport(ctx context.Context, e env, main *postgis.DB, path string, rounds int, keep bool) error {
	const schema = "bench_import"
	if _, err := main.Pool.Exec(ctx, `DROP SCHEMA IF EXISTS `+schema+` CASCADE; CREATE SCHEMA `+schema); err != nil {
		return postgis.Wrap(err)
	}
	if !keep {
		defer main.Pool.Exec(context.WithoutCancel(ctx), `DROP SCHEMA IF EXISTS `+schema+` CASCADE`)
	}
	db, err := postgis.Open(ctx, withParam(main.URL, "search_path", schema+",public"))
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	// No autovacuum on either side's table: a vacuum of one side's million rows would
	// otherwise run (and be counted) during the other side's timed run.
	if _, err := db.Pool.Exec(ctx, `ALTER TABLE customers SET (autovacuum_enabled = false)`); err != nil {
		return postgis.Wrap(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	header, err := benchCSVHeader(path)
	if err != nil {
		return err
	}
	cols := make([]string, len(header))
	for i := range header {
		cols[i] = fmt.Sprintf("c%d text", i+1)
	}
	store := crm.NewStore(db)
	meter := newCPUMeter(ctx, db)
	var cpu, cpuSelf time.Duration // CPU (this process + server; this process) of the last timed run; -1 unknown
	measure := func(run func() error) (time.Duration, error) {
		self0, srv0 := meter.read()
		start := time.Now()
		err := run()
		d := time.Since(start)
		self1, srv1 := meter.read()
		cpu, cpuSelf = -1, self1-self0
		if srv0 >= 0 && srv1 >= 0 {
			cpu = self1 - self0 + srv1 - srv0
		}
		return d, err
	}

	bareCopy := func() (time.Duration, error) {
		if _, err := db.Pool.Exec(ctx, `DROP TABLE IF EXISTS bench_copy; CREATE TABLE bench_copy (`+strings.Join(cols, ", ")+`) WITH (autovacuum_enabled = false)`); err != nil {
			return 0, postgis.Wrap(err)
		}
		benchCheckpoint(ctx, db)
		f, err := os.Open(path)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		conn, err := db.Pool.Acquire(ctx)
		if err != nil {
			return 0, postgis.Wrap(err)
		}
		defer conn.Release()
		return measure(func() error {
			_, err := conn.Conn().PgConn().CopyFrom(ctx, f, `COPY bench_copy FROM STDIN (FORMAT csv, HEADER true)`)
			return postgis.Wrap(err)
		})
	}
	var lastRes *crm.ImportResult
	fullImport := func() (time.Duration, error) {
		if _, err := db.Pool.Exec(ctx, `DROP TABLE IF EXISTS bench_copy; TRUNCATE customers, customer_deletions CASCADE`); err != nil {
			return 0, postgis.Wrap(err)
		}
		benchCheckpoint(ctx, db)
		f, err := os.Open(path)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		var res *crm.ImportResult
		d, err := measure(func() (err error) {
			res, err = store.Import(ctx, f, crm.ImportOptions{})
			return err
		})
		if err != nil {
			return 0, err
		}
		if res.Inserted+res.Rejected != res.Rows {
			return 0, geo.Errorf(geo.EINTERNAL, "import of %d rows inserted %d and rejected %d", res.Rows, res.Inserted, res.Rejected)
		}
		lastRes = res
		return d, nil
	}

	fmt.Fprintf(e.stdout, "gcrm bench import: %s (%.1f MB), %d rounds alternating A/B, %d cores (GOMAXPROCS %d)\n",
		path, float64(st.Size())/1e6, rounds, runtime.NumCPU(), runtime.GOMAXPROCS(0))
	fmt.Fprintf(e.stdout, "A = bare COPY (csv, %d text columns, no indexes); B = gcrm import into empty customers (all indexes)\n\n", len(header))
	fmt.Fprintf(e.stdout, "%-6s %-6s %10s %10s %7s %12s %14s  %s\n", "round", "order", "COPY s", "import s", "ratio", "engine s", "CPU s A / B", "import phases")
	var copies, imports, ratios, engines, cpuRatios []float64
	var rowsRead int64
	for i := 0; i < rounds; i++ {
		var a, b, aCPU, bCPU time.Duration
		runA := func() (err error) { a, err = bareCopy(); aCPU = cpu; return err }
		var bSelf time.Duration
		runB := func() (err error) { b, err = fullImport(); bCPU, bSelf = cpu, cpuSelf; return err }
		order := "A,B"
		if i%2 == 0 {
			if err = runA(); err == nil {
				err = runB()
			}
		} else {
			order = "B,A"
			if err = runB(); err == nil {
				err = runA()
			}
		}
		if err != nil {
			return err
		}
		// The engine's load of what was imported (the other half of "into PostGIS + engine").
		start := time.Now()
		eng := olap.New()
		if err := eng.Load(ctx, store); err != nil {
			return err
		}
		ed := time.Since(start)
		rowsRead = lastRes.Rows
		var ph []string
		for _, p := range lastRes.Phases {
			ph = append(ph, fmt.Sprintf("%s %.1f", p.Name, p.Duration.Seconds()))
		}
		copies, imports, engines = append(copies, a.Seconds()), append(imports, b.Seconds()), append(engines, ed.Seconds())
		ratios = append(ratios, b.Seconds()/a.Seconds())
		cpuCol := "–"
		if aCPU >= 0 && bCPU >= 0 {
			cpuRatios = append(cpuRatios, bCPU.Seconds()/aCPU.Seconds())
			cpuCol = fmt.Sprintf("%.1f / %.1f", aCPU.Seconds(), bCPU.Seconds())
			ph = append(ph, fmt.Sprintf("(CPU: gcrm %.1f, server %.1f)", bSelf.Seconds(), (bCPU-bSelf).Seconds()))
		}
		fmt.Fprintf(e.stdout, "%-6d %-6s %10.2f %10.2f %6.2fx %12.2f %14s  %s\n", i+1, order, a.Seconds(), b.Seconds(), ratios[i], ed.Seconds(), cpuCol, strings.Join(ph, ", "))
	}
	fmt.Fprintf(e.stdout, "%-6s %-6s %10.2f %10.2f %6.2fx %12.2f\n", "median", "", benchMedian(copies), benchMedian(imports), benchMedian(ratios), benchMedian(engines))
	if len(cpuRatios) == rounds {
		lo, hi := benchMinMax(cpuRatios)
		fmt.Fprintf(e.stdout, "\nCPU (gcrm + PostgreSQL processes) import/COPY = %.2fx (median; min–max %.2f–%.2fx): what each side costs whatever else runs\n",
			benchMedian(cpuRatios), lo, hi)
	}
	fmt.Fprintf(e.stdout, "\nrows %s, rejected %s; import rate %s rows/s (median)\n", thousands(rowsRead), thousands(lastRes.Rejected),
		thousands(int64(float64(rowsRead)/benchMedian(imports))))
	lo, hi := benchMinMax(ratios)
	fmt.Fprintf(e.stdout, "import/COPY = %.2fx (median of %d; min–max %.2f–%.2fx); import %.1f s, bare COPY %.1f s; goal ≤ 1.5x, floor ≤ 3x and ≤ 30 s\n",
		benchMedian(ratios), rounds, lo, hi, benchMedian(imports), benchMedian(copies))
	return nil
}

// benchCheckpoint flushes dirty buffers before a timed run so neither side pays for the
// other's writes (needs superuser; skipped silently otherwise).
func benchCheckpoint(ctx context.Context, db *postgis.DB) {
	_, _ = db.Pool.Exec(ctx, `CHECKPOINT`)
}

func benchCSVHeader(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h, err := csv.NewReader(bufio.NewReader(f)).Read()
	if err != nil {
		return nil, geo.Errorf(geo.EINVALID, "%s has no CSV header: %v", path, err)
	}
	return h, nil
}

func benchMedian(v []float64) float64 {
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

func benchMinMax(v []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, x := range v {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return lo, hi
}

// writeBenchCustomers writes n seeded customer rows with every import column: locations
// around US places weighted by population, with a few km of scatter.
func writeBenchCustomers(w io.Writer, placesPath string, n int, seed uint64) error {
	f, err := os.Open(placesPath)
	if err != nil {
		return geo.Errorf(geo.EINVALID, "cannot open the places file %s: %v (pass --places or --file)", placesPath, err)
	}
	defer f.Close()
	recs, err := csv.NewReader(bufio.NewReader(f)).ReadAll()
	if err != nil || len(recs) < 2 {
		return geo.Errorf(geo.EINVALID, "%s is not a GeoNames places CSV: %v", placesPath, err)
	}
	type place struct {
		name, region string
		lat, lon     float64
	}
	var ps []place
	var cum []float64
	total := 0.0
	for _, r := range recs[1:] { // cityId,name,country,adminCode,featureCode,population,lat,lon
		if len(r) < 8 {
			continue
		}
		pop, _ := strconv.ParseFloat(r[5], 64)
		lat, err1 := strconv.ParseFloat(r[6], 64)
		lon, err2 := strconv.ParseFloat(r[7], 64)
		if err1 != nil || err2 != nil {
			continue
		}
		total += math.Max(pop, 1)
		ps, cum = append(ps, place{r[1], r[3], lat, lon}), append(cum, total)
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	bw := bufio.NewWriterSize(w, 1<<20)
	bw.WriteString("external_id,name,kind,lat,lon,street,city,region,postcode,country,segment,status,owner,revenue,email,phone,consent_email\n")
	kinds := []string{"customer", "customer", "prospect", "lead"}
	segments := []string{"smb", "mid", "enterprise", "public"}
	statuses := []string{"active", "active", "open", "won", "lost", "churned"}
	streets := []string{"Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Park Rd", "Elm St", "Washington Blvd", "Lake View Dr"}
	var b []byte
	for i := 0; i < n; i++ {
		p := ps[sort.SearchFloat64s(cum, rng.Float64()*total)]
		lat := math.Max(-90, math.Min(90, p.lat+rng.NormFloat64()*0.03))
		lon := math.Max(-180, math.Min(180, p.lon+rng.NormFloat64()*0.04))
		b = b[:0]
		b = fmt.Appendf(b, "C%08d,Customer %d %s,%s,%.6f,%.6f,%d %s,%s,%s,%05d,US,%s,%s,rep%02d,%.2f,c%d@example.com,+1-555-%04d,%t\n",
			i+1, i+1, benchName.Replace(p.name), kinds[rng.IntN(len(kinds))], lat, lon,
			1+rng.IntN(9999), streets[rng.IntN(len(streets))], benchName.Replace(p.name), p.region,
			rng.IntN(100000), segments[rng.IntN(len(segments))], statuses[rng.IntN(len(statuses))],
			1+rng.IntN(50), rng.Float64()*50000, i+1, rng.IntN(10000), rng.IntN(3) > 0)
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// benchName keeps generated names free of CSV quoting.
var benchName = strings.NewReplacer(",", " ", `"`, "")
