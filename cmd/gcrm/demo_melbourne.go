package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"time"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/paulmach/orb"
)

// demoFootfallFile is Melbourne's January 2019 pedestrian counts (long, with locations) in
// the shared data, relative to the working directory (or to the repository's parent).
const demoFootfallFile = "../shared/data/footfall/melbourne/hourly_counts_January_2019_long_with_latlon.csv"

// melbourneCBD bounds the demo's Melbourne records (Docklands to East Melbourne, Southbank to
// Carlton).
var melbourneCBD = orb.Bound{Min: orb.Point{144.935, -37.830}, Max: orb.Point{144.985, -37.795}}

// demoFootfallPath resolves the --footfall flag: "none" skips, "" is the shared Melbourne
// file when it exists (with its time zone), else nothing. def reports the default file.
func demoFootfallPath(path, tz string) (file, zone string, def bool) {
	switch path {
	case "none":
		return "", tz, false
	case "":
		for _, p := range demoSharedCandidates(demoFootfallFile) {
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				if tz == "" {
					tz = "Australia/Melbourne"
				}
				return p, tz, true
			}
		}
		return "", tz, true
	}
	if tz == "" {
		tz = "UTC"
	}
	return path, tz, false
}

// addDemoMelbourne adds n customers, prospects and leads around Melbourne's CBD, once (when
// none is there yet) and only when footfall sensors are there: three in four near a sensor
// picked with probability ∝ √(its mean hourly count), σ = 120 m, the rest anywhere in the
// CBD — so footfall penetration varies from street to street. Created over the last 18
// months (the month filter has something to cut), owned by the demo's reps.
func addDemoMelbourne(ctx context.Context, w io.Writer, db *postgis.DB, n int, seed uint64) error {
	if n <= 0 {
		return nil
	}
	var have int64
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM customers WHERE external_id LIKE 'melbourne-%'`).Scan(&have); err != nil {
		return postgis.Wrap(err)
	}
	if have > 0 {
		fmt.Fprintf(w, "demo: %d Melbourne records already loaded\n", have)
		return nil
	}
	rows, err := db.Pool.Query(ctx, `SELECT ST_X(s.geom), ST_Y(s.geom), coalesce(avg(c.count), 0)::float8
		FROM footfall_sensors s LEFT JOIN footfall_counts c ON c.sensor_id = s.id
		WHERE s.geom && ST_MakeEnvelope($1, $2, $3, $4, 4326) GROUP BY s.id ORDER BY s.id`,
		melbourneCBD.Min[0]-0.02, melbourneCBD.Min[1]-0.02, melbourneCBD.Max[0]+0.02, melbourneCBD.Max[1]+0.02)
	if err != nil {
		return postgis.Wrap(err)
	}
	var sensors []orb.Point
	var cum []float64
	total := 0.0
	for rows.Next() {
		var p orb.Point
		var mean float64
		if err := rows.Scan(&p[0], &p[1], &mean); err != nil {
			rows.Close()
			return postgis.Wrap(err)
		}
		total += math.Sqrt(mean) + 1
		sensors, cum = append(sensors, p), append(cum, total)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return postgis.Wrap(err)
	}
	if len(sensors) == 0 {
		return nil // no Melbourne footfall: nothing to compare customers with
	}
	start := time.Now()
	rng := rand.New(rand.NewPCG(seed, 0x3e1b0))
	now := time.Now().UTC()
	var ext, kinds, names, segs, stats, owners, created []string
	var lons, lats, revs []float64
	var cells []int64
	for i := range n {
		var p orb.Point
		if rng.IntN(4) > 0 {
			s := sensors[pick64(cum, rng.Float64()*total)]
			const m = 120.0 // σ in metres
			p = orb.Point{s[0] + rng.NormFloat64()*m/(111_320*math.Cos(s[1]*math.Pi/180)), s[1] + rng.NormFloat64()*m/110_540}
		} else {
			p = orb.Point{melbourneCBD.Min[0] + rng.Float64()*(melbourneCBD.Max[0]-melbourneCBD.Min[0]),
				melbourneCBD.Min[1] + rng.Float64()*(melbourneCBD.Max[1]-melbourneCBD.Min[1])}
		}
		kind, segment, status := pickKind(rng)
		rec := demoRecord(rng, i, kind, segment, status)
		ext, kinds, names, segs, stats = append(ext, fmt.Sprintf("melbourne-%05d", i+1)), append(kinds, kind), append(names, rec.name), append(segs, segment), append(stats, status)
		owners, revs = append(owners, demoReps[rng.IntN(len(demoReps))]), append(revs, rec.revenue)
		lons, lats, cells = append(lons, p[0]), append(lats, p[1]), append(cells, int64(geo.CellOf(p, geo.CellResolution)))
		created = append(created, now.AddDate(0, -rng.IntN(18), -rng.IntN(28)).Format(time.RFC3339))
	}
	_, err = db.Pool.Exec(ctx, `INSERT INTO customers (external_id, kind, name, city, country, geom, h3, segment, status, owner, revenue, created_at,
			geocode_precision, geocode_confidence, geocode_source)
		SELECT e, k, n, 'Melbourne', 'AU', ST_SetSRID(ST_MakePoint(x, y), 4326), h, sg, st, o, r::numeric(16,2), ca::timestamptz, 'given', 1, 'demo'
		FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::float8[], $6::bigint[], $7::text[], $8::text[], $9::text[], $10::float8[], $11::text[])
			AS u(e, k, n, x, y, h, sg, st, o, r, ca)`, ext, kinds, names, lons, lats, cells, segs, stats, owners, revs, created)
	if err != nil {
		return postgis.Wrap(err)
	}
	fmt.Fprintf(w, "demo: %d customers, prospects and leads around Melbourne's CBD, near its %d footfall sensors, in %s\n", n, len(sensors), since(start))
	return nil
}

// pick64 returns the index of the first cumulative weight ≥ u.
func pick64(cum []float64, u float64) int {
	lo, hi := 0, len(cum)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if cum[mid] < u {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}
