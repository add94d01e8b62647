package olap_test

import (
	"testing"

	"github.com/gcrm/gcrm/olap"
	"github.com/paulmach/orb"
)

func square(x0, y0, x1, y1 float64) orb.Ring {
	return orb.Ring{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}, {x0, y0}}
}

func TestContainsPoint(t *testing.T) {
	donut := orb.Polygon{square(0, 0, 10, 10), square(3, 3, 6, 6)}
	multi := orb.MultiPolygon{{square(0, 0, 1, 1)}, {square(5, 5, 6, 6)}}
	tri := orb.Polygon{{{0, 0}, {4, 0}, {0, 4}, {0, 0}}}
	tests := []struct {
		name string
		g    orb.Geometry
		p    orb.Point
		want bool
	}{
		{"inside", donut, orb.Point{1, 1}, true},
		{"in hole", donut, orb.Point{4, 4}, false},
		{"outside", donut, orb.Point{11, 5}, false},
		{"multipolygon first part", multi, orb.Point{0.5, 0.5}, true},
		{"multipolygon second part", multi, orb.Point{5.5, 5.9}, true},
		{"multipolygon gap", multi, orb.Point{3, 3}, false},
		// Border rule: a point on an edge belongs to the region east of it (north of it on
		// an east–west edge).
		{"west edge is in", donut, orb.Point{0, 5}, true},
		{"east edge is out", donut, orb.Point{10, 5}, false},
		{"south edge is in", donut, orb.Point{5, 0}, true},
		{"north edge is out", donut, orb.Point{5, 10}, false},
		{"south-west vertex is in", donut, orb.Point{0, 0}, true},
		{"north-west vertex is out", donut, orb.Point{0, 10}, false},
		{"south-east vertex is out", donut, orb.Point{10, 0}, false},
		{"hole's east edge is in the polygon", donut, orb.Point{6, 4}, true},
		{"hole's west edge is in the hole", donut, orb.Point{3, 4}, false},
		{"hole's north edge is in the polygon", donut, orb.Point{4, 6}, true},
		{"on the hypotenuse (west side of nothing)", tri, orb.Point{2, 2}, false},
		{"just inside the hypotenuse", tri, orb.Point{1.9999999999999998, 2}, true},
		{"unclosed ring", orb.Polygon{{{0, 0}, {2, 0}, {2, 2}, {0, 2}}}, orb.Point{1, 1}, true},
		{"not a polygon", orb.Point{0, 0}, orb.Point{0, 0}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := olap.ContainsPoint(tc.g, tc.p); got != tc.want {
				t.Errorf("ContainsPoint(%v) = %v, want %v", tc.p, got, tc.want)
			}
		})
	}
}

// A tiling of the plane by regions that share edges and vertices (a grid of squares, one of
// them a multipolygon, one a diagonal split into two triangles): every point on every edge
// and vertex is in exactly one region.
func TestRegionIndexBorderPointsInExactlyOne(t *testing.T) {
	var regions []olap.Region
	var geoms []orb.Geometry
	id := int64(0)
	add := func(g orb.Geometry) {
		id++
		regions = append(regions, olap.Region{ID: id})
		geoms = append(geoms, g)
	}
	// 4×4 cells of size 0.1 at an awkward origin (not exactly representable steps).
	const n, step, x0, y0 = 4, 0.1, -97.3, 38.7
	at := func(i, j int) (float64, float64) { return x0 + float64(i)*step, y0 + float64(j)*step }
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			ax, ay := at(i, j)
			bx, by := at(i+1, j+1)
			switch {
			case i == 1 && j == 1: // split along the diagonal into two triangles
				add(orb.Polygon{{{ax, ay}, {bx, ay}, {bx, by}, {ax, ay}}})
				add(orb.Polygon{{{ax, ay}, {bx, by}, {ax, by}, {ax, ay}}})
			default:
				add(orb.Polygon{square(ax, ay, bx, by)})
			}
		}
	}
	idx := olap.NewRegionIndex("test", regions, geoms)
	count := func(p orb.Point) int {
		c := 0
		for _, g := range geoms {
			if olap.ContainsPoint(g, p) {
				c++
			}
		}
		return c
	}
	// Interior vertices and points on interior edges (including the diagonal).
	for i := 1; i < n; i++ {
		for j := 1; j < n; j++ {
			x, y := at(i, j)
			px, _ := at(i+1, j)
			pts := []orb.Point{{x, y}, {(x + px) / 2, y}, {x, (y + y + step) / 2}}
			for _, p := range pts {
				if c := count(p); c != 1 {
					t.Errorf("point %v on a border is in %d regions, want 1", p, c)
				}
				if idx.Locate(p) < 0 {
					t.Errorf("Locate(%v) found no region", p)
				}
			}
		}
	}
	// Points exactly on the diagonal of cell (1,1).
	ax, ay := at(1, 1)
	bx, by := at(2, 2)
	for k := 0; k <= 8; k++ {
		f := float64(k) / 8
		p := orb.Point{ax + f*(bx-ax), ay + f*(by-ay)}
		if c := count(p); c != 1 {
			t.Errorf("point %v near the diagonal is in %d regions, want 1", p, c)
		}
	}
	// Outside the tiling.
	if got := idx.Locate(orb.Point{0, 0}); got != -1 {
		t.Errorf("Locate outside = %d, want -1", got)
	}
}
