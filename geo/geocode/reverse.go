package geocode

import (
	"math"
	"sync"

	"github.com/paulmach/orb"
	orbgeo "github.com/paulmach/orb/geo"
)

// gridIndex buckets points in 1° cells for nearest-neighbour search.
type gridIndex struct {
	cells map[[2]int16][]int32
}

func cellOf(p orb.Point) [2]int16 {
	return [2]int16{int16(math.Floor(p[0])), int16(math.Floor(p[1]))}
}

func newGrid(n int, at func(int) orb.Point) *gridIndex {
	g := &gridIndex{cells: map[[2]int16][]int32{}}
	for i := 0; i < n; i++ {
		c := cellOf(at(i))
		g.cells[c] = append(g.cells[c], int32(i))
	}
	return g
}

// nearest returns the index of the point nearest to p (great-circle) and its distance in
// metres, searching rings of cells outwards until no closer point can lie further out.
func (g *gridIndex) nearest(p orb.Point, at func(int) orb.Point) (int, float64) {
	best, bestD := -1, math.Inf(1)
	c := cellOf(p)
	for r := 0; r <= 360; r++ {
		if best >= 0 {
			// every point in ring r is at least r-1 degrees away in latitude or longitude;
			// a degree of longitude shrinks with the cosine of the latitude
			lat := math.Min(89.9, math.Abs(p[1])+float64(r))
			if float64(r-1)*111_000*math.Cos(lat*math.Pi/180) > bestD {
				break
			}
		}
		for dx := -r; dx <= r; dx++ {
			for dy := -r; dy <= r; dy++ {
				if max(abs(dx), abs(dy)) != r {
					continue
				}
				x := int(c[0]) + dx
				if x < -180 {
					x += 360
				} else if x >= 180 {
					x -= 360
				}
				for _, i := range g.cells[[2]int16{int16(x), c[1] + int16(dy)}] {
					if d := orbgeo.Distance(p, at(int(i))); d < bestD {
						best, bestD = int(i), d
					}
				}
			}
		}
	}
	return best, bestD
}

type reverseIndex struct {
	once          sync.Once
	places, codes *gridIndex
}

func (g *Gazetteer) grids() *reverseIndex {
	g.rev.once.Do(func() {
		g.rev.places = newGrid(len(g.places), func(i int) orb.Point { return g.places[i].Point })
		g.rev.codes = newGrid(len(g.pcs), func(i int) orb.Point { return g.pcs[i].Point })
	})
	return &g.rev
}

// NearestPlace returns the populated place nearest to p and its distance in metres; false
// when the gazetteer holds no places. Load the gazetteer before the first call.
func (g *Gazetteer) NearestPlace(p orb.Point) (Place, float64, bool) {
	i, d := g.grids().places.nearest(p, func(i int) orb.Point { return g.places[i].Point })
	if i < 0 {
		return Place{}, 0, false
	}
	return g.places[i], d, true
}

// NearestPostcode returns the postcode whose centroid is nearest to p — the postcode area
// p most likely lies in when no postcode polygons are loaded — and its distance in metres.
func (g *Gazetteer) NearestPostcode(p orb.Point) (Postcode, float64, bool) {
	i, d := g.grids().codes.nearest(p, func(i int) orb.Point { return g.pcs[i].Point })
	if i < 0 {
		return Postcode{}, 0, false
	}
	return g.pcs[i], d, true
}
