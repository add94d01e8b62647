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

// polygon is one polygon of a region: its outer ring and holes as flat [x0 y0 x1 y1 …]
// closed rings, and its bounding box.
type polygon struct {
	rings  [][]float64
	bound  orb.Bound
	region int32
}

func newPolygon(p orb.Polygon, region int32) polygon {
	out := polygon{region: region, bound: p.Bound()}
	for _, r := range p {
		if len(r) < 3 {
			continue
		}
		flat := make([]float64, 0, 2*len(r)+2)
		for _, q := range r {
			flat = append(flat, q[0], q[1])
		}
		if r[0] != r[len(r)-1] { // close the ring
			flat = append(flat, r[0][0], r[0][1])
		}
		out.rings = append(out.rings, flat)
	}
	return out
}

// contains reports whether (x, y) is inside p under the border rule above. Holes are rings
// like any other: the crossing parity over all rings is the answer.
func (p *polygon) contains(x, y float64) bool {
	in := false
	for _, ring := range p.rings {
		for i := 0; i+3 < len(ring); i += 2 {
			ax, ay, bx, by := ring[i], ring[i+1], ring[i+2], ring[i+3]
			if ay > by {
				ax, ay, bx, by = bx, by, ax, ay
			}
			if y < ay || y >= by { // also skips horizontal edges
				continue
			}
			if x >= ax && x >= bx {
				continue // the point is east of (or on the east end of) the whole edge
			}
			if (x < ax && x < bx) || orient(ax, ay, bx, by, x, y) > 0 {
				in = !in
			}
		}
	}
	return in
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
