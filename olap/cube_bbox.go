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

// lonDeg returns a distance of d degrees of latitude in degrees of longitude at latitude
// lat widened by d (the farthest from the equator a point within d of lat can be). Past
// the pole the cosine turns negative and would shrink what is widened: beyond 89° it is
// taken at 89° (with a bbox below 80°, only distances of 9° and more get there, and 57
// times those is more than a cover's ±180° clamp keeps).
func lonDeg(d, lat float64) float64 { return d / math.Cos(math.Min(lat+d, 89)*math.Pi/180) }

// h3Range returns the smallest and largest index of the descendants at resolution r of
// cell f: in index order they are exactly the cells at r between the two.
func h3Range(f uint64, r int) (lo, hi uint64) {
	q := h3Res(f)
	base := f&^(0xf<<52) | uint64(r)<<52
	digits := uint64(1)<<(uint(15-q)*3) - 1 // digits q+1..15
	below := uint64(1)<<(uint(15-r)*3) - 1  // digits r+1..15
	return base&^digits | below, base | digits
}

// scanBound answers a bbox query: the cells of a cuboid lying wholly inside the bbox
// (cell centre ± radius) are summed as they are, and the records of every other cell near
// the bbox are read one by one and kept when their position is inside. The records are in
// cell order, so those near the bbox are the index ranges under the cells covering it,
// and the records of an inside cell are one range that is skipped at once.
// Without a cuboid fit for the bbox (too small for cells, or no cuboid holds the
// dimensions) every record near the bbox is read. Edges are decided on the 32-bit
// web-mercator position (±1 cm), as the engine does.
func (c *Cube) scanBound(st *cubeState, b orb.Bound, need dimMask, res int, m *match, g *grouper) (string, int) {
	recs := st.recs
	box := bbox{res: -1}
	box.x0, box.y0 = Project(b.Min[0], b.Max[1])
	box.x1, box.y1 = Project(b.Max[0], b.Min[1])
	w, h := b.Max[0]-b.Min[0], b.Max[1]-b.Min[1]
	latMax := math.Max(math.Abs(b.Min[1]), math.Abs(b.Max[1]))
	if latMax > 80 || w > 180 {
		return "points", c.scanRecords(st, []span{{0, recs.sorted}}, nil, true, res, m, g, &box)
	}
	// The cuboid of the inside cells: cells at most 1/8 of the bbox across.
	var cb *cuboid
	for r := max(res, 0); r <= CubeRes && cb == nil; r++ {
		if rad := cellRadiusDeg(r); 8*lonDeg(rad, latMax) <= w && 8*rad <= h {
			for _, o := range st.cuboids {
				if !o.broken && o.dims&need == need && o.res >= r && (cb == nil || len(o.keys) < len(cb.keys)) {
					cb = o
				}
			}
		}
	}
	// The cells covering the bbox: at the cuboid's resolution (an inside cell's records
	// are then skipped whole), coarser only when that takes too many cells; without a
	// cuboid, cells about 1/8 of the bbox across (a thin margin of records outside) — or,
	// grouped by cells as fine as cells as wide as the bbox or finer, those (or, for rows
	// that wide, cells one resolution coarser than the rows: a dozen, from sampleCover), as
	// sumRuns then skips the runs outside at every resolution between and reads only the
	// rows' cells on the edges record by record: PolygonToCells takes 60-90 µs for a few
	// cells, 1.8 ms for 640.
	size := max(h, w*math.Cos(latMax*math.Pi/180))
	q := 0
	if cb != nil {
		for q = cb.res; q > 0 && math.Pow(size/cellRadiusDeg(q), 2) > 20000; q-- {
		}
	} else {
		coarse := 0
		for coarse < CubeRes && cellRadiusDeg(coarse) > size {
			coarse++
		}
		for q < CubeRes && cellRadiusDeg(q) > size/8 {
			q++
		}
		if g.cellOnly && g.by[0].Res >= coarse && g.by[0].Res > 0 {
			q = min(coarse, g.by[0].Res-1)
		}
	}
	qr, qrLon := cellRadiusDeg(q), lonDeg(cellRadiusDeg(q), latMax)
	around := orb.Bound{Min: orb.Point{math.Max(-180, b.Min[0]-qrLon), math.Max(-89, b.Min[1]-qr)},
		Max: orb.Point{math.Min(180, b.Max[0]+qrLon), math.Min(89, b.Max[1]+qr)}}
	var cover []uint64
	if g.cellOnly {
		// Cells wholly outside are skipped (sumRuns), so a few more than needed cost little.
		var sampled bool
		cover, sampled = sampleCover(b, q)
		from := q + 1
		if sampled {
			from = q
		} else {
			cover = polygonCover(around, q)
		}
		box.cells(b, latMax, from, g.by[0].Res)
	} else {
		cover = polygonCover(around, q)
	}
	recSpans := recordSpans(recs, cover)
	if cb == nil {
		return "points", c.scanRecords(st, recSpans, nil, true, res, m, g, &box)
	}
	rad := cellRadiusDeg(cb.res)
	radLon := lonDeg(rad, latMax)
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
	// The inside cells, from the cuboid.
	read := 0
	visit := func(i int) {
		a := &cb.acc[i]
		if a.n[0]|a.n[1]|a.n[2] == 0 {
			return
		}
		if k := cb.unpack(cb.keys[i]); isInside(k.cell) && m.ok(&k) {
			g.add(&k, a)
		}
	}
	spans, _ := c.spans(st, cb, m, cover)
	for _, sp := range spans {
		for i := sp.lo; i < sp.hi; i++ {
			visit(i)
		}
	}
	for i := cb.sorted; i < len(cb.keys); i++ {
		visit(i)
	}
	read += spanLen(spans) + len(cb.keys) - cb.sorted
	// The records of the other cells.
	kres := CubeRes
	if res > CubeRes {
		kres = geo.CellResolution
	}
	one := func(s int) {
		read++
		if !box.has(recs.x[s], recs.y[s]) || !m.okRecord(recs, s) {
			return
		}
		k := recs.key(s, kres)
		a := accOf(k.kind, k.status, recs.cents.at(s))
		g.add(&k, &a)
	}
	for _, sp := range recSpans {
		for s := sp.lo; s < sp.hi; {
			if p := h3Parent(recs.cell[s], cb.res); isInside(p) {
				_, hi := h3Range(p, geo.CellResolution)
				if n := upperBound(recs.cell[s:sp.hi], hi); n > 0 {
					s += n // the whole cell: counted by the cuboid
					continue
				}
			}
			one(s)
			s++
		}
	}
	for s := recs.sorted; s < recs.len(); s++ {
		if recs.kind[s] != deadKind && !isInside(h3Parent(recs.cell[s], cb.res)) {
			one(s)
		}
	}
	return c.cuboidName(cb) + " + edge points", read
}

// polygonCover returns the cells of resolution q whose centre lies in r (|latitude| ≤ 89).
func polygonCover(r orb.Bound, q int) []uint64 {
	loop := h3.GeoLoop{{Lat: r.Min[1], Lng: r.Min[0]}, {Lat: r.Min[1], Lng: r.Max[0]}, {Lat: r.Max[1], Lng: r.Max[0]}, {Lat: r.Max[1], Lng: r.Min[0]}}
	var out []uint64
	for _, cell := range h3.PolygonToCells(h3.GeoPolygon{GeoLoop: loop}, q) {
		out = append(out, uint64(cell))
	}
	return out
}

// sampleCover returns cells of resolution q holding every point of r, and true, when that
// takes a few samples and r is away from H3's pentagons: the cells of a grid of points of r
// spaced so that every point of r is nearer one than the shortest edge of a cell (taken at
// 0.6 of the average), and their neighbours. A point's cell is then its nearest sample's
// cell or a neighbour of it, as cells two steps apart are at least an edge apart. For a
// bbox about as wide as the cells that is a dozen cells, in a few µs (latLngToCell is Go);
// h3's polygon fill took 60-90 µs, and a grid disk sure to reach the corners held 271.
func sampleCover(r orb.Bound, q int) ([]uint64, bool) {
	cosMax := 1.0 // of the latitude of r nearest the equator, where a degree of longitude is longest
	if r.Min[1] > 0 || r.Max[1] < 0 {
		cosMax = math.Cos(math.Min(math.Abs(r.Min[1]), math.Abs(r.Max[1])) * math.Pi / 180)
	}
	// Steps of at most an edge both ways: every point is within √2/2 of a step of a sample.
	edge := 0.6 * cellRadiusDeg(q) / 2.5 // degrees of latitude
	w, h := r.Max[0]-r.Min[0], r.Max[1]-r.Min[1]
	nx, ny := max(1, int(math.Ceil(w*cosMax/edge))), max(1, int(math.Ceil(h/edge)))
	if nx*ny > 64 {
		return nil, false
	}
	var seen []uint64
	for i := range nx {
		for j := range ny {
			c := uint64(geo.CellOf(orb.Point{r.Min[0] + (float64(i)+0.5)*w/float64(nx), r.Min[1] + (float64(j)+0.5)*h/float64(ny)}, q))
			if pentagonBase(c) {
				return nil, false
			}
			if !slices.Contains(seen, c) {
				seen = append(seen, c)
			}
		}
	}
	var out []uint64
	for _, c := range seen {
		for _, n := range h3.GridDisk(h3.Cell(c), 1) { // c and its neighbours
			if n != 0 && !slices.Contains(out, uint64(n)) {
				out = append(out, uint64(n))
			}
		}
	}
	return out, true
}

var (
	pentagonsOnce sync.Once
	pentagonBases [128]bool
)

// pentagonBase reports whether cell c lies in the base cell of one of H3's pentagons.
func pentagonBase(c uint64) bool {
	pentagonsOnce.Do(func() {
		for _, p := range h3.Pentagons(0) {
			pentagonBases[p.BaseCellNumber()] = true
		}
	})
	return pentagonBases[c>>45&0x7f]
}
