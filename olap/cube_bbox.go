package olap

import (
	"math"
	"slices"
	"sync"

	"github.com/gcrm/gcrm/geo"
	"github.com/paulmach/orb"
	"github.com/uber/h3-go/v4"
)

var (
	radiusOnce sync.Once
	radiusDeg  [16]float64
)

// cellRadiusDeg bounds, in degrees of latitude, the distance from the centre of an H3 cell
// of resolution r to any point of it: 2.5 average edge lengths (a hexagon's circumradius
// is its edge, and edges vary well within that factor).
func cellRadiusDeg(r int) float64 {
	radiusOnce.Do(func() {
		for i := range radiusDeg {
			radiusDeg[i] = 2.5 * h3.HexagonEdgeLengthAvgKm(i) / 111.0
		}
	})
	return radiusDeg[r]
}

// scanBound answers a bbox query mostly from pre-aggregated cells: the cells of a cuboid
// lying wholly inside the bbox (centre plus radius) are summed as they are; the points of
// the other cells are read from the point columns along the bbox's edges only (a point of
// a cell that is not wholly inside lies within two radii of the edge). ok is false when
// the bbox is too small (or too close to a pole) for cells to help: then read the points.
func (c *Cube) scanBound(st *cubeState, snap *Snapshot, b orb.Bound, need dimMask, res int, m *match, g *grouper) (string, int, bool) {
	w, h := b.Max[0]-b.Min[0], b.Max[1]-b.Min[1]
	latMax := math.Max(math.Abs(b.Min[1]), math.Abs(b.Max[1]))
	if latMax > 80 || w > 180 {
		return "", 0, false
	}
	lonScale := func(rad float64) float64 { return rad / math.Cos((latMax+rad)*math.Pi/180) }
	rc := -1
	for r := max(res, 0); r <= CubeRes; r++ {
		if rad := cellRadiusDeg(r); 8*lonScale(rad) <= w && 8*rad <= h {
			rc = r
			break
		}
	}
	if rc < 0 {
		return "", 0, false
	}
	cb := c.choose(st, need, rc)
	rad := cellRadiusDeg(cb.res)
	radLon := lonScale(rad)
	inside := map[uint64]bool{}
	isInside := func(cell uint64) bool {
		v, ok := inside[cell]
		if !ok {
			ll := geo.Cell(cell).LatLng()
			v = ll.Lat-rad > b.Min[1] && ll.Lat+rad < b.Max[1] && ll.Lng-radLon > b.Min[0] && ll.Lng+radLon < b.Max[0]
			inside[cell] = v
		}
		return v
	}
	read := 0
	add := func(i int) {
		k, a := &cb.keys[i], &cb.acc[i]
		if a.n[0]|a.n[1]|a.n[2] == 0 || !isInside(k.cell) || !m.ok(k) {
			return
		}
		g.add(k, a)
	}
	// The cells inside: index ranges under the coarser cells covering the bbox.
	q := max(0, rc-2)
	qr, qrLon := cellRadiusDeg(q), lonScale(cellRadiusDeg(q))
	loop := h3.GeoLoop{
		{Lat: math.Max(-89, b.Min[1]-qr), Lng: math.Max(-180, b.Min[0]-qrLon)}, {Lat: math.Max(-89, b.Min[1]-qr), Lng: math.Min(180, b.Max[0]+qrLon)},
		{Lat: math.Min(89, b.Max[1]+qr), Lng: math.Min(180, b.Max[0]+qrLon)}, {Lat: math.Min(89, b.Max[1]+qr), Lng: math.Max(-180, b.Min[0]-qrLon)},
	}
	type span struct{ lo, hi uint64 }
	var spans []span
	for _, cell := range h3.PolygonToCells(h3.GeoPolygon{GeoLoop: loop}, q) {
		lo, hi := h3Range(uint64(cell), cb.res)
		spans = append(spans, span{lo, hi})
	}
	slices.SortFunc(spans, func(a, b span) int { return cmp64(a.lo, b.lo) })
	sorted := cb.keys[:cb.sorted]
	next := 0
	for _, sp := range spans {
		from, _ := slices.BinarySearchFunc(sorted, sp.lo, func(k cubeKey, v uint64) int { return cmp64(k.cell, v) })
		from = max(from, next)
		to := from
		for to < len(sorted) && sorted[to].cell <= sp.hi {
			add(to)
			to++
		}
		read += to - from
		next = max(next, to)
	}
	for i := cb.sorted; i < len(cb.keys); i++ {
		add(i)
	}
	read += len(cb.keys) - cb.sorted
	// The points of the other cells: the strips along the edges, two radii wide.
	base := st.cuboids[0]
	visit := func(r *Row) {
		rec, ok := st.recs[r.ID]
		if !ok {
			return
		}
		read++
		k := base.keys[rec.slot]
		if isInside(h3Parent(k.cell, cb.res)) || !m.ok(&k) {
			return
		}
		a := accOf(&k, rec.cents)
		g.add(&k, &a)
	}
	x0, y0 := Project(b.Min[0], b.Max[1])
	x1, y1 := Project(b.Max[0], b.Min[1])
	ix0, iy0 := Project(b.Min[0]+2*radLon, b.Max[1]-2*rad)
	ix1, iy1 := Project(b.Max[0]-2*radLon, b.Min[1]+2*rad)
	if ix0 > ix1 || iy0 > iy1 || ix0 <= x0 || iy0 <= y0 || ix1 >= x1 || iy1 >= y1 {
		scanRect(snap, x0, y0, x1, y1, visit)
	} else {
		scanRect(snap, x0, y0, x1, iy0-1, visit)   // north
		scanRect(snap, x0, iy1+1, x1, y1, visit)   // south
		scanRect(snap, x0, iy0, ix0-1, iy1, visit) // west
		scanRect(snap, ix1+1, iy0, x1, iy1, visit) // east
	}
	return c.cuboidName(cb) + " + edge points", read, true
}
