package olap

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/paulmach/orb"
	"github.com/uber/h3-go/v4"
)

// Footfall is hourly sensor counts placed in H3 cells and aggregated by hour-of-week, hour
// of day and date, with estimates for cells without a sensor.
//
// Aggregation. A sensor sits in the H3 cell at Res (chosen for the area by
// FootfallResolution unless given) that is the parent of its location's resolution-15 cell,
// as customers are placed; coarser cells are its parents. The value of a cell for
// a key (an hour-of-week 0..167 — 0 is Monday 00:00–01:00 local time —, an hour 0..23, or a
// local date) is the mean of the non-missing hourly counts of all sensors in the cell for
// that key: SUM(count)/COUNT(count) in SQL terms, missing values (NULL) left out, never
// counted as 0. Hours are local to each sensor's time zone.
//
// Estimates. A cell at the query resolution with no sensor that has counts, whose centre lies within
// RadiusMeters of a sensor, gets an inverse-distance-weighted estimate from its K nearest
// sensors within RadiusMeters: value = Σ wᵢ·vᵢ / Σ wᵢ with wᵢ = 1/max(dᵢ, d₀)^Power, dᵢ the
// great-circle distance from the cell centre to sensor i, d₀ half the cell's edge length (so
// a sensor just outside a cell does not take all the weight), vᵢ the sensor's own mean for
// the key; sensors with no value for the key are left out. Such values always carry
// Estimated = true. IDW is the documented baseline of ALGORITHMS.md §5 (fast, no
// uncertainty, "bull's-eyes" around sensors); kriging would replace it behind the same API.
type Footfall struct {
	Res          int     // resolution of the sensors' cells
	RadiusMeters float64 // estimate cells within this distance of a sensor
	K            int     // nearest sensors used per estimate
	Power        float64 // IDW distance exponent
	Sensors      []FootfallSensorStats
	Fingerprint  uint64 // changes when the sensors, their counts or the options change (tile ETags)

	dailyOnce sync.Once
	daily     []FootfallDaily // see Daily (cube_footfall.go)
}

// FootfallSensorStats is one located sensor and its sums by key.
type FootfallSensorStats struct {
	ID     int64
	Key    string
	Name   string
	Point  orb.Point
	Cell   geo.Cell // at Footfall.Res
	week   [168]acc
	hour   [24]acc
	date   map[string]acc
	Counts int // non-missing hours
	Hours  int // hours in the data, missing included
}

type acc struct {
	sum float64
	n   int64
}

func (a acc) add(b acc) acc { return acc{a.sum + b.sum, a.n + b.n} }

// Ways of aggregating footfall.
const (
	FootfallHourOfWeek = "hour-of-week"
	FootfallHour       = "hour"
	FootfallDate       = "date"
	FootfallAll        = "all" // every hour of the data: one key, "all"
)

// FootfallOptions tunes LoadFootfall; zero values take the defaults.
type FootfallOptions struct {
	Res          int     // 0: FootfallResolution of the sensors
	RadiusMeters float64 // default 500
	K            int     // default 4
	Power        float64 // default 2
}

// LoadFootfall reads the located sensors and their counts and aggregates them. A
// footfall table with no located sensor gives an empty Footfall.
func LoadFootfall(ctx context.Context, db *postgis.DB, o FootfallOptions) (*Footfall, error) {
	f := &Footfall{Res: o.Res, RadiusMeters: o.RadiusMeters, K: o.K, Power: o.Power}
	if f.RadiusMeters <= 0 {
		f.RadiusMeters = 500
	}
	if f.K <= 0 {
		f.K = 4
	}
	if f.Power <= 0 {
		f.Power = 2
	}
	rows, err := db.Pool.Query(ctx, `SELECT id, key, name, ST_X(geom), ST_Y(geom), tz FROM footfall_sensors WHERE geom IS NOT NULL ORDER BY id`)
	if err != nil {
		return nil, postgis.Wrap(err)
	}
	byID := map[int64]int{}
	var zones []*time.Location
	for rows.Next() {
		var s FootfallSensorStats
		var tz string
		if err := rows.Scan(&s.ID, &s.Key, &s.Name, &s.Point[0], &s.Point[1], &tz); err != nil {
			rows.Close()
			return nil, postgis.Wrap(err)
		}
		loc, err := time.LoadLocation(tz)
		if err != nil {
			loc = time.UTC
		}
		s.date = map[string]acc{}
		f.Fingerprint = mix(f.Fingerprint, uint64(s.ID), math.Float64bits(s.Point[0]), math.Float64bits(s.Point[1]), uint64(len(tz)))
		byID[s.ID] = len(f.Sensors)
		f.Sensors = append(f.Sensors, s)
		zones = append(zones, loc)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, postgis.Wrap(err)
	}
	pts := make([]orb.Point, len(f.Sensors))
	for i := range f.Sensors {
		pts[i] = f.Sensors[i].Point
	}
	if f.Res <= 0 {
		f.Res = FootfallResolution(pts)
	}
	f.Fingerprint = mix(f.Fingerprint, uint64(f.Res), math.Float64bits(f.RadiusMeters), uint64(f.K), math.Float64bits(f.Power))
	for i := range f.Sensors {
		// The parent of the sensor's resolution-15 cell, as the cube places customers (an
		// H3 cell's children do not tile it exactly, so CellOf at Res could differ).
		f.Sensors[i].Cell = geo.CellOf(f.Sensors[i].Point, geo.CellResolution).Parent(f.Res)
	}
	rows, err = db.Pool.Query(ctx, `SELECT sensor_id, ts, count FROM footfall_counts`)
	if err != nil {
		return nil, postgis.Wrap(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var ts time.Time
		var count *int32
		if err := rows.Scan(&id, &ts, &count); err != nil {
			return nil, postgis.Wrap(err)
		}
		i, ok := byID[id]
		if !ok {
			continue // a sensor without a location
		}
		s := &f.Sensors[i]
		s.Hours++
		c := uint64(1 << 40)
		if count != nil {
			c = uint64(*count)
		}
		f.Fingerprint += mix(0, uint64(id), uint64(ts.Unix()), c) // any row order gives the same sum
		if count == nil {
			continue
		}
		s.Counts++
		local := ts.In(zones[i])
		v := acc{float64(*count), 1}
		s.week[hourOfWeek(local)] = s.week[hourOfWeek(local)].add(v)
		s.hour[local.Hour()] = s.hour[local.Hour()].add(v)
		d := local.Format("2006-01-02")
		s.date[d] = s.date[d].add(v)
	}
	return f, postgis.Wrap(rows.Err())
}

// mix folds values into h (FNV-1a over their 8 bytes each).
func mix(h uint64, vs ...uint64) uint64 {
	if h == 0 {
		h = 14695981039346656037
	}
	for _, v := range vs {
		for i := 0; i < 8; i++ {
			h ^= v >> (8 * i) & 0xff
			h *= 1099511628211
		}
	}
	return h
}

// hourOfWeek numbers the hours of a week from Monday 00:00 (0) to Sunday 23:00 (167).
func hourOfWeek(t time.Time) int { return (int(t.Weekday())+6)%7*24 + t.Hour() }

// FootfallResolution chooses the H3 resolution for sensors at pts: the coarsest resolution
// from 7 (≈1.2 km edges) to 12 (≈9 m) at which the sensors fall into at least 80 % as many
// distinct cells as there are sensors — so a city centre's sensors are not lumped together,
// while a pair counting the two sides of one street may share a cell. Melbourne's 77
// sensors give resolution 10 (≈66 m edges, 62 cells).
func FootfallResolution(pts []orb.Point) int {
	if len(pts) == 0 {
		return 9
	}
	for res := 7; res <= 12; res++ {
		n := map[geo.Cell]bool{}
		for _, p := range pts {
			n[geo.CellOf(p, res)] = true
		}
		if float64(len(n)) >= 0.8*float64(len(pts)) {
			return res
		}
	}
	return 12
}

// FootfallQuery selects footfall values.
type FootfallQuery struct {
	How       string     // FootfallHourOfWeek (default), FootfallHour, FootfallDate or FootfallAll
	Key       string     // one hour-of-week, hour or date (2019-01-31); "" for all
	Res       int        // cell resolution, ≤ Footfall.Res; 0 for Footfall.Res
	Bound     *orb.Bound // only cells whose centre is inside; nil for all
	Cells     []geo.Cell // only these cells (at Res); nil for all
	Estimates bool       // add estimates for cells without a sensor
}

// FootfallValue is the footfall of one cell for one key.
type FootfallValue struct {
	Cell      string  `json:"cell"` // H3 index, hexadecimal
	Res       int     `json:"res"`
	Key       string  `json:"key"`
	Mean      float64 `json:"mean"`                // mean hourly count
	N         int64   `json:"n"`                   // non-missing hourly counts behind Mean (0 for estimates)
	Sensors   int     `json:"sensors"`             // sensors in the cell, or used by the estimate
	Estimated bool    `json:"estimated"`           // true: no sensor in the cell, an IDW estimate
	NearestM  float64 `json:"nearest_m,omitempty"` // estimates: distance to the nearest sensor used
}

// Query returns the footfall values selected by q, ordered by cell then key. Returns
// EINVALID for an unknown How, a bad Key or a resolution finer than Res.
func (f *Footfall) Query(q FootfallQuery) ([]FootfallValue, error) {
	if q.How == "" {
		q.How = FootfallHourOfWeek
	}
	if q.Res == 0 {
		q.Res = f.Res
	}
	if q.Res < 0 || q.Res > f.Res {
		return nil, geo.Errorf(geo.EINVALID, "resolution %d is not within 0..%d (the sensors' resolution)", q.Res, f.Res)
	}
	keys, err := f.keys(q.How, q.Key)
	if err != nil {
		return nil, err
	}
	want := map[geo.Cell]bool{}
	for _, c := range q.Cells {
		want[c] = true
	}
	inside := func(c geo.Cell) bool {
		if len(want) > 0 && !want[c] {
			return false
		}
		if q.Bound != nil {
			ll := c.LatLng()
			return q.Bound.Contains(orb.Point{ll.Lng, ll.Lat})
		}
		return true
	}
	// Measured cells.
	cells := map[geo.Cell][]int{}
	for i := range f.Sensors {
		c := f.Sensors[i].Cell.Parent(q.Res)
		cells[c] = append(cells[c], i)
	}
	var out []FootfallValue
	for c, ss := range cells {
		if !inside(c) {
			continue
		}
		for _, k := range keys {
			var a acc
			for _, i := range ss {
				a = a.add(f.Sensors[i].value(q.How, k))
			}
			if a.n == 0 {
				continue
			}
			out = append(out, FootfallValue{Cell: c.String(), Res: q.Res, Key: k, Mean: a.sum / float64(a.n), N: a.n, Sensors: len(ss)})
		}
	}
	if q.Estimates {
		// A cell whose sensors never counted (no data at all) is estimated like an empty one.
		counted := map[geo.Cell]bool{}
		for i := range f.Sensors {
			if f.Sensors[i].Counts > 0 {
				counted[f.Sensors[i].Cell.Parent(q.Res)] = true
			}
		}
		out = append(out, f.estimates(q, keys, counted, inside)...)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Cell != out[j].Cell {
			return out[i].Cell < out[j].Cell
		}
		return keyLess(out[i].Key, out[j].Key)
	})
	return out, nil
}

func keyLess(a, b string) bool {
	ai, e1 := strconv.Atoi(a)
	bi, e2 := strconv.Atoi(b)
	if e1 == nil && e2 == nil {
		return ai < bi
	}
	return a < b
}

func (s *FootfallSensorStats) value(how, key string) acc {
	switch how {
	case FootfallHourOfWeek:
		k, _ := strconv.Atoi(key)
		return s.week[k]
	case FootfallHour:
		k, _ := strconv.Atoi(key)
		return s.hour[k]
	case FootfallAll:
		var a acc
		for _, w := range s.week {
			a = a.add(w)
		}
		return a
	}
	return s.date[key]
}

// keys lists the keys of how (all of them, or just key after checking it).
func (f *Footfall) keys(how, key string) ([]string, error) {
	var n int
	switch how {
	case FootfallHourOfWeek:
		n = 168
	case FootfallHour:
		n = 24
	case FootfallAll:
		if key != "" && key != "all" {
			return nil, geo.Errorf(geo.EINVALID, "how=all has the one key \"all\", not %q", key)
		}
		return []string{"all"}, nil
	case FootfallDate:
		if key != "" {
			if _, err := time.Parse("2006-01-02", key); err != nil {
				return nil, geo.Errorf(geo.EINVALID, "date %q is not a date like 2019-01-31", key)
			}
			return []string{key}, nil
		}
		set := map[string]bool{}
		for i := range f.Sensors {
			for d := range f.Sensors[i].date {
				set[d] = true
			}
		}
		var all []string
		for d := range set {
			all = append(all, d)
		}
		sort.Strings(all)
		return all, nil
	default:
		return nil, geo.Errorf(geo.EINVALID, "how %q is not one of hour-of-week, hour, date, all", how)
	}
	if key != "" {
		k, err := strconv.Atoi(key)
		if err != nil || k < 0 || k >= n {
			return nil, geo.Errorf(geo.EINVALID, "%s %q is not a whole number within 0..%d", how, key, n-1)
		}
		return []string{strconv.Itoa(k)}, nil
	}
	all := make([]string, n)
	for i := range all {
		all[i] = strconv.Itoa(i)
	}
	return all, nil
}

// estimates computes IDW values for cells at q.Res without a sensor (see Footfall).
func (f *Footfall) estimates(q FootfallQuery, keys []string, measured map[geo.Cell]bool, inside func(geo.Cell) bool) []FootfallValue {
	edge := h3.HexagonEdgeLengthAvgM(q.Res)
	// Cells whose centre can be within the radius of a sensor: a disk of k rings around
	// each sensor's cell (ring spacing is √3·edge between centres).
	k := int(math.Ceil(f.RadiusMeters/(math.Sqrt(3)*edge))) + 1
	if k > 60 {
		k = 60 // a few thousand cells per sensor at most
	}
	candidates := map[geo.Cell]bool{}
	for i := range f.Sensors {
		for _, c := range f.Sensors[i].Cell.Parent(q.Res).GridDisk(k) {
			if !measured[c] && inside(c) {
				candidates[c] = true
			}
		}
	}
	d0 := edge / 2
	type near struct {
		i int
		d float64
	}
	var out []FootfallValue
	var nb []near
	for c := range candidates {
		ll := c.LatLng()
		nb = nb[:0]
		for i := range f.Sensors {
			p := f.Sensors[i].Point
			d := h3.GreatCircleDistanceM(ll, h3.LatLng{Lat: p[1], Lng: p[0]})
			if d <= f.RadiusMeters {
				nb = append(nb, near{i, d})
			}
		}
		if len(nb) == 0 {
			continue
		}
		sort.Slice(nb, func(a, b int) bool { return nb[a].d < nb[b].d })
		if len(nb) > f.K {
			nb = nb[:f.K]
		}
		for _, key := range keys {
			var sw, swv float64
			used := 0
			for _, s := range nb {
				a := f.Sensors[s.i].value(q.How, key)
				if a.n == 0 {
					continue
				}
				w := 1 / math.Pow(math.Max(s.d, d0), f.Power)
				sw += w
				swv += w * a.sum / float64(a.n)
				used++
			}
			if used == 0 {
				continue
			}
			out = append(out, FootfallValue{Cell: c.String(), Res: q.Res, Key: key, Mean: swv / sw, Sensors: used, Estimated: true, NearestM: math.Round(nb[0].d)})
		}
	}
	return out
}

// String is for logs.
func (f *Footfall) String() string {
	return fmt.Sprintf("footfall: %d sensors at H3 resolution %d", len(f.Sensors), f.Res)
}

// FootfallCache keeps one Footfall loaded from db and reloads it when it is older than TTL
// (footfall arrives by batch import, not by the minute). Safe for concurrent use.
type FootfallCache struct {
	DB      *postgis.DB
	Options FootfallOptions
	TTL     time.Duration // default 1 minute

	mu sync.Mutex
	f  *Footfall
	at time.Time
}

// Invalidate makes the next Get load the footfall again (after an import).
func (c *FootfallCache) Invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.f = nil
}

// Get returns the cached Footfall, loading it first when it is missing or stale.
func (c *FootfallCache) Get(ctx context.Context) (*Footfall, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ttl := c.TTL
	if ttl <= 0 {
		ttl = time.Minute
	}
	if c.f != nil && time.Since(c.at) < ttl {
		return c.f, nil
	}
	f, err := LoadFootfall(ctx, c.DB, c.Options)
	if err != nil {
		return nil, err
	}
	c.f, c.at = f, time.Now()
	return f, nil
}
