package olap

import (
	"math"
	"math/big"

	"github.com/paulmach/orb"
)

// Point-in-polygon, exact on edges and vertices.
//
// The border rule: a point lying exactly on an edge or a vertex belongs to the region that
// lies immediately to its east — or, on an east–west (horizontal) edge, immediately to its
// north. This is the half-open crossing rule of scan-line polygon filling: a ray is cast
// from the point towards +x; an edge counts when its lower end is at or below the point and
// its upper end strictly above (y ∈ [ymin, ymax)), and the point is strictly to the left of
// the edge. Because the two regions sharing an edge evaluate the very same predicate on the
// very same (canonically ordered) edge, a point on a shared border or a shared vertex of a
// tiling (counties, states, ZIP areas) is in exactly one region, never in two and never in
// none. The orientation test is exact (a floating-point filter with an arbitrary-precision
// fallback for near-degenerate cases), so rounding cannot break this.
//
// PostGIS ST_Contains differs on purpose: it excludes the boundary, so a point on a shared
// border is in no region there (ST_Intersects puts it in all of them).

// polygon is one polygon of a region: the edges of its outer ring and holes, each stored
// with its lower end first (canonical, so two regions sharing an edge test it identically),
// grouped into horizontal bands so a point is tested only against the edges of its band.
type polygon struct {
	edges  []float64 // ax ay bx by per edge, ay ≤ by; horizontal edges dropped
	bands  [][]int32 // edge indexes per band; nil for small polygons (test every edge)
	minY   float64
	invH   float64 // bands per degree of latitude
	bound  orb.Bound
	region int32
}

// bandEdges is the polygon size from which bands pay off.
const bandEdges = 24

func newPolygon(p orb.Polygon, region int32) polygon {
	out := polygon{region: region, bound: p.Bound()}
	for _, r := range p {
		if len(r) < 3 {
			continue
		}
		n := len(r)
		for i := 0; i < n; i++ {
			a, b := r[i], r[(i+1)%n]
			if i == n-1 && r[0] == r[n-1] {
				break // closed ring: the last point repeats the first
			}
			if a[1] == b[1] {
				continue // horizontal: never crosses a horizontal ray half-openly
			}
			if a[1] > b[1] {
				a, b = b, a
			}
			out.edges = append(out.edges, a[0], a[1], b[0], b[1])
		}
	}
	ne := len(out.edges) / 4
	if ne >= bandEdges && out.bound.Max[1] > out.bound.Min[1] {
		nb := ne / 4
		if nb > 256 {
			nb = 256
		}
		out.minY = out.bound.Min[1]
		out.invH = float64(nb) / (out.bound.Max[1] - out.bound.Min[1])
		out.bands = make([][]int32, nb)
		for e := 0; e < ne; e++ {
			lo, hi := out.band(out.edges[4*e+1]), out.band(out.edges[4*e+3])
			for b := lo; b <= hi; b++ {
				out.bands[b] = append(out.bands[b], int32(e))
			}
		}
	}
	return out
}

// band returns the band of latitude y (clamped to the polygon's bands).
func (p *polygon) band(y float64) int {
	b := int((y - p.minY) * p.invH)
	if b < 0 {
		return 0
	}
	if b >= len(p.bands) {
		return len(p.bands) - 1
	}
	return b
}

// contains reports whether (x, y) is inside p under the border rule above. Holes are rings
// like any other: the crossing parity over all rings is the answer.
func (p *polygon) contains(x, y float64) bool {
	in := false
	if p.bands != nil {
		for _, e := range p.bands[p.band(y)] {
			if crosses(p.edges[4*e:4*e+4], x, y) {
				in = !in
			}
		}
		return in
	}
	for e := 0; e+3 < len(p.edges); e += 4 {
		if crosses(p.edges[e:e+4], x, y) {
			in = !in
		}
	}
	return in
}

// crosses reports whether the ray from (x, y) towards +x crosses the edge e = ax ay bx by
// (ay < by) under the half-open rule: y ∈ [ay, by) and the point strictly left of the edge.
func crosses(e []float64, x, y float64) bool {
	ax, ay, bx, by := e[0], e[1], e[2], e[3]
	if y < ay || y >= by {
		return false
	}
	if x >= ax && x >= bx {
		return false // east of (or on the east end of) the whole edge
	}
	return (x < ax && x < bx) || orient(ax, ay, bx, by, x, y) > 0
}

// ContainsPoint reports whether the polygon or multipolygon g contains p under gcrm's
// border rule (see the package's point-in-polygon comment): exactly one of several regions
// that tile the plane contains any point.
func ContainsPoint(g orb.Geometry, p orb.Point) bool {
	var polys []orb.Polygon
	switch g := g.(type) {
	case orb.Polygon:
		polys = []orb.Polygon{g}
	case orb.MultiPolygon:
		polys = g
	default:
		return false
	}
	for _, poly := range polys {
		pp := newPolygon(poly, 0)
		if pp.bound.Min[0] <= p[0] && p[0] <= pp.bound.Max[0] && pp.bound.Min[1] <= p[1] && p[1] <= pp.bound.Max[1] && pp.contains(p[0], p[1]) {
			return true
		}
	}
	return false
}

// orient returns the sign of the cross product (b−a)×(p−a): +1 when p is left of the
// directed line a→b, −1 right, 0 on it. Exact: a float64 filter decides almost every case;
// near-degenerate ones are recomputed with big.Float, where differences and products of
// float64 values are exact at the precision used.
func orient(ax, ay, bx, by, px, py float64) int {
	l := (bx - ax) * (py - ay)
	r := (by - ay) * (px - ax)
	det := l - r
	// Error bound of the naive formula (Shewchuk's ccwerrboundA, widened for the
	// rounding of the differences).
	bound := 4e-16 * (math.Abs(l) + math.Abs(r))
	if det > bound {
		return 1
	}
	if det < -bound {
		return -1
	}
	return orientExact(ax, ay, bx, by, px, py)
}

func orientExact(ax, ay, bx, by, px, py float64) int {
	const prec = 2200 // enough for any difference of float64 values and their products
	f := func(v float64) *big.Float { return new(big.Float).SetPrec(prec).SetFloat64(v) }
	sub := func(a, b float64) *big.Float { return new(big.Float).SetPrec(prec).Sub(f(a), f(b)) }
	mul := func(a, b *big.Float) *big.Float { return new(big.Float).SetPrec(prec).Mul(a, b) }
	l := mul(sub(bx, ax), sub(py, ay))
	r := mul(sub(by, ay), sub(px, ax))
	return l.Cmp(r)
}
