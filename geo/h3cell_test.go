package geo

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/uber/h3-go/v4"
)

// TestLatLngToCell: the Go latLngToCell gives h3-go's cell, bit for bit, for random points
// all over the sphere (pentagon base cells and both grid classes included), points spread
// thinly around cities (as imports have them), and a few special points, at every resolution.
func TestLatLngToCell(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(lat, lng float64, res int) {
		t.Helper()
		want := h3.LatLngToCell(h3.LatLng{Lat: lat, Lng: lng}, res)
		if got := latLngToCell(lat, lng, res); got != want {
			t.Fatalf("latLngToCell(%v, %v, %d) = %x, h3-go %x", lat, lng, res, uint64(got), uint64(want))
		}
	}
	for i := range n {
		// uniform on the sphere
		lat := math.Asin(2*rng.Float64()-1) / degsToRads
		lng := rng.Float64()*360 - 180
		res := 15
		if i%4 == 0 {
			res = rng.IntN(16)
		}
		check(lat, lng, res)
		// the US at six decimals, like an import file
		lat = math.Round((25+rng.Float64()*24)*1e6) / 1e6
		lng = math.Round((-125+rng.Float64()*58)*1e6) / 1e6
		check(lat, lng, 15)
	}
	for _, p := range [][2]float64{{0, 0}, {90, 0}, {-90, 0}, {0, 180}, {0, -180}, {45, 180}, {-45, -180},
		{math.NaN(), 0}, {0, math.Inf(1)}} {
		for res := range 16 {
			check(p[0], p[1], res)
		}
	}
	// the centres of every base cell's res-3 descendants at res 3 and finer (at coarser
	// resolutions such a centre can lie exactly on a cell edge, where C's long double
	// arithmetic decides the tie; no measured point lands there)
	for _, c := range h3.Res0Cells() {
		for _, ch := range c.Children(3) {
			ll := ch.LatLng()
			for res := 3; res < 16; res++ {
				check(ll.Lat, ll.Lng, res)
			}
		}
	}
}

func BenchmarkLatLngToCell(b *testing.B) {
	pts := make([][2]float64, 4096)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range pts {
		pts[i] = [2]float64{25 + rng.Float64()*24, -125 + rng.Float64()*58}
	}
	b.Run("go", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			p := pts[i%len(pts)]
			latLngToCell(p[0], p[1], 15)
		}
	})
	b.Run("h3-go", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			p := pts[i%len(pts)]
			h3.LatLngToCell(h3.LatLng{Lat: p[0], Lng: p[1]}, 15)
		}
	})
}

// TestAxialSteps: the digit loop's steps in axial coordinates give what H3's _upAp7,
// _upAp7r, _downAp7, _downAp7r (written here on i, j, k as in the C code, each followed by
// _ijkNormalize) give, and axialDigit the C digit of any normalised difference, for
// coordinates in every sextant, any representation of them, and large values.
func TestAxialSteps(t *testing.T) {
	upAp7IJK := func(i, j, k int) (int, int, int) {
		i, j = i-k, j-k
		return ijkNormalize(round7(3*i-j), round7(i+2*j), 0)
	}
	upAp7rIJK := func(i, j, k int) (int, int, int) {
		i, j = i-k, j-k
		return ijkNormalize(round7(2*i+j), round7(3*j-i), 0)
	}
	downAp7IJK := func(i, j, k int) (int, int, int) { return ijkNormalize(3*i+j, 3*j+k, i+3*k) }
	downAp7rIJK := func(i, j, k int) (int, int, int) { return ijkNormalize(3*i+k, i+3*j, j+3*k) }
	axial := func(i, j, k int) [2]int { return [2]int{i - k, j - k} }
	rng := rand.New(rand.NewPCG(3, 4))
	for n := range 200_000 {
		lim := 50
		if n%2 == 0 {
			lim = 1 << 40 // res 15 coordinates reach ≈ 7^15
		}
		i, j, k := rng.IntN(2*lim)-lim, rng.IntN(2*lim)-lim, rng.IntN(2*lim)-lim
		a, b := i-k, j-k
		for _, s := range []struct {
			name string
			ijk  func(i, j, k int) (int, int, int)
			ax   func(a, b int) (int, int)
		}{{"upAp7", upAp7IJK, upAp7}, {"upAp7r", upAp7rIJK, upAp7r}, {"downAp7", downAp7IJK, downAp7}, {"downAp7r", downAp7rIJK, downAp7r}} {
			ga, gb := s.ax(a, b)
			if want := axial(s.ijk(i, j, k)); [2]int{ga, gb} != want {
				t.Fatalf("%s(%d, %d, %d): axial %v, C %v", s.name, i, j, k, [2]int{ga, gb}, want)
			}
		}
		if lim == 50 {
			di, dj, dk := ijkNormalize(i%3, j%3, k%3)
			if got, want := axialDigit(di-dk, dj-dk), uint64(di*4+dj*2+dk); got != want {
				t.Fatalf("axialDigit(%d, %d) = %d, want %d", di-dk, dj-dk, got, want)
			}
		}
	}
}
