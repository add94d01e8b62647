package olap

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gcrm/gcrm/geo"
	"github.com/paulmach/orb"
)

// Footfall as cube measures (docs/cube.md):
//
//   - footfall: the mean daily count of the row's area — the sum, over the footfall cells
//     (H3 cells at the sensors' resolution Footfall.Res, measured and estimated) whose
//     centre lies in the area, of each cell's mean daily count: 24 × the mean of all its
//     non-missing hourly counts (FootfallAll). The area is the row's H3 cell, region (the
//     cell centre located with the cube's RegionIndex), or for a total row everything the
//     query's h3, region and bbox filters leave. A row cell finer than Footfall.Res gets
//     the footfall of the footfall cell containing it (not divided). null when the area has
//     no footfall cell.
//   - footfall_penetration: customers of the row per 1,000 daily footfall; null without
//     footfall.
//
// Footfall is context, not a property of records: attribute filters and dimensions (kind,
// status, segment, owner, month) and the caller's scope do not change it. When a query asks
// for a footfall measure and groups only by area (h3 at Footfall.Res or coarser, regions, or
// nothing), areas with footfall but no records get a row too (counts 0): white space.

// FootfallSource gives the cube the current footfall; FootfallCache is one.
type FootfallSource interface {
	Get(ctx context.Context) (*Footfall, error)
}

// SetFootfall gives the cube its footfall, for the footfall measures (nil: none).
func (c *Cube) SetFootfall(src FootfallSource) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ff = src
}

// FootfallCells returns how many footfall cells (measured and estimated) the cube's
// footfall has: 0 when it has none, and the footfall measures are null everywhere.
func (c *Cube) FootfallCells(ctx context.Context) int {
	f := c.footfall(ctx)
	if f == nil {
		return 0
	}
	return len(f.Daily())
}

// FootfallVersion returns the fingerprint of the cube's footfall (0: none): answers with a
// footfall measure change when it does, not only when the cube's version does (ETags,
// tile caches).
func (c *Cube) FootfallVersion(ctx context.Context) uint64 {
	if f := c.footfall(ctx); f != nil {
		return f.Fingerprint
	}
	return 0
}

// HasFootfallMeasure reports whether a measure name is one of the footfall measures.
func HasFootfallMeasure(names ...string) bool {
	return slices.ContainsFunc(names, func(m string) bool { return m == "footfall" || m == "footfall_penetration" })
}

func (c *Cube) footfall(ctx context.Context) *Footfall {
	c.mu.RLock()
	src := c.ff
	c.mu.RUnlock()
	if src == nil {
		return nil
	}
	f, err := src.Get(ctx)
	if err != nil {
		return nil // footfall unknown: the measures are null
	}
	return f
}

// FootfallDaily is the mean daily count of one footfall cell.
type FootfallDaily struct {
	Cell      geo.Cell // at Footfall.Res
	Centre    orb.Point
	Daily     float64 // 24 × mean hourly count over every hour of the data
	Estimated bool    // no sensor in the cell: inverse-distance weighted (see Footfall)
}

// Daily returns the mean daily count of every footfall cell at Res, measured and estimated,
// sorted by cell (computed once).
func (f *Footfall) Daily() []FootfallDaily {
	f.dailyOnce.Do(func() {
		vals, err := f.Query(FootfallQuery{How: FootfallAll, Estimates: true})
		if err != nil {
			return
		}
		for _, v := range vals {
			cell, err := strconv.ParseUint(v.Cell, 16, 64)
			if err != nil {
				continue
			}
			ll := geo.Cell(cell).LatLng()
			f.daily = append(f.daily, FootfallDaily{Cell: geo.Cell(cell), Centre: orb.Point{ll.Lng, ll.Lat}, Daily: 24 * v.Mean, Estimated: v.Estimated})
		}
	})
	return f.daily
}

// footfallPlan is what one query needs of the footfall (nil: no footfall measure asked).
type footfallPlan struct {
	f     *Footfall
	cells []FootfallDaily // the cells inside the query's area filters
}

func hasFootfallMeasure(q *CubeQuery) bool { return HasFootfallMeasure(q.Measures...) }

// planFootfall reads the footfall a query needs, before the cube's lock is taken.
func (c *Cube) planFootfall(q *CubeQuery) *footfallPlan {
	if !hasFootfallMeasure(q) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := &footfallPlan{f: c.footfall(ctx)}
	if p.f == nil {
		return p
	}
	c.mu.RLock() // the region levels (a load may swap them)
	defer c.mu.RUnlock()
	for _, d := range p.f.Daily() {
		if c.footfallInside(q, p.f.Res, &d) {
			p.cells = append(p.cells, d)
		}
	}
	return p
}

// footfallInside says whether a footfall cell lies in the area q's filters leave: its
// centre in the bbox, the cell in (or containing) one cell of every h3 filter, its centre
// in one region of every region filter.
func (c *Cube) footfallInside(q *CubeQuery, res int, d *FootfallDaily) bool {
	if q.Bound != nil && !q.Bound.Contains(d.Centre) {
		return false
	}
	cell := uint64(d.Cell)
	for _, f := range q.Filters {
		switch f.Dim.Name {
		case "h3":
			if !slices.ContainsFunc(f.Values, func(v string) bool {
				fc, err := parseCell(v)
				if err != nil {
					return false
				}
				if h3Res(fc) <= res {
					return h3Parent(cell, h3Res(fc)) == fc
				}
				return h3Parent(fc, res) == cell
			}) {
				return false
			}
		case "region":
			if !slices.Contains(f.Values, c.regionCodeAt(f.Dim.Level, d.Centre)) {
				return false
			}
		}
	}
	return true
}

// regionCodeAt returns the code of the region of level containing p ("" for none).
func (c *Cube) regionCodeAt(level string, p orb.Point) string {
	l := c.levelIndex(level)
	if l < 0 {
		return "\x00" // not a level of the cube: matches no filter value
	}
	d := c.regions[l]
	if i := d.idx.Locate(p); i >= 0 {
		return d.codes[d.byIdx[i]]
	}
	return ""
}

// fill sets the footfall measures of r's rows (customers[i] is row i's customer count) and
// adds rows for areas with footfall but no records when q groups only by area.
func (p *footfallPlan) fill(c *Cube, q *CubeQuery, r *CubeResult, customers []int64, pops map[string]map[string]float64) {
	if p == nil {
		return
	}
	nb := len(q.By)
	res := 0
	if p.f != nil {
		res = p.f.Res
	}
	// The area key of a footfall cell and of a row: their spatial dimension values joined,
	// a row cell finer than the footfall cells replaced by the footfall cell containing it.
	byArea := true
	for _, d := range q.By {
		if !(d.Name == "region" || d.Name == "h3" && d.Res <= res) {
			byArea = false
		}
	}
	type area struct {
		parts []string
		sum   float64
		seen  bool
	}
	areas := map[string]*area{}
	for i := range p.cells {
		d := &p.cells[i]
		parts := make([]string, 0, nb)
		var key strings.Builder
		for _, dim := range q.By {
			var v string
			switch dim.Name {
			case "h3":
				v = strconv.FormatUint(h3Parent(uint64(d.Cell), min(dim.Res, res)), 16)
			case "region":
				v = c.regionCodeAt(dim.Level, d.Centre)
			default:
				continue
			}
			parts = append(parts, v)
			key.WriteString(v + "\x00")
		}
		a := areas[key.String()]
		if a == nil {
			a = &area{parts: parts}
			areas[key.String()] = a
		}
		a.sum += d.Daily
	}
	rowKey := func(row []any) string {
		var key strings.Builder
		for i, dim := range q.By {
			v, _ := row[i].(string)
			switch dim.Name {
			case "h3":
				if dim.Res > res {
					if cell, err := strconv.ParseUint(v, 16, 64); err == nil {
						v = strconv.FormatUint(h3Parent(cell, res), 16)
					}
				}
			case "region":
			default:
				continue
			}
			key.WriteString(v + "\x00")
		}
		return key.String()
	}
	set := func(row []any, a *area, cust int64) {
		for j, m := range q.Measures {
			var v any
			if a != nil {
				switch m {
				case "footfall":
					v = a.sum
				case "footfall_penetration":
					if a.sum > 0 {
						v = float64(cust) * 1000 / a.sum
					}
				default:
					continue
				}
			} else if m != "footfall" && m != "footfall_penetration" {
				continue
			}
			row[nb+j] = v
		}
	}
	for i, row := range r.rows {
		a := areas[rowKey(row)]
		if a != nil {
			a.seen = true
		}
		set(row, a, customers[i])
	}
	if !byArea {
		return
	}
	regionCol := slices.IndexFunc(q.By, func(d CubeDim) bool { return d.Name == "region" })
	added := false
	for _, a := range areas {
		if a.seen {
			continue
		}
		row := q.row(a.parts, &cubeAcc{}, pops, regionCol)
		if j := slices.Index(q.Measures, "activities"); j >= 0 {
			row[nb+j] = int64(0)
		}
		set(row, a, 0)
		r.rows = append(r.rows, row)
		added = true
	}
	if added {
		slices.SortFunc(r.rows, func(x, y []any) int {
			for i := 0; i < nb; i++ {
				if c := strings.Compare(x[i].(string), y[i].(string)); c != 0 {
					return c
				}
			}
			return 0
		})
	}
}
