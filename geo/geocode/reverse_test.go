package geocode_test

import (
	"testing"

	"github.com/paulmach/orb"
)

func TestGazetteer_Reverse(t *testing.T) {
	g := usGazetteer(t)
	for _, tc := range []struct {
		name       string
		p          orb.Point
		place, zip string
	}{
		{"Chicago Loop", orb.Point{-87.6298, 41.8781}, "Chicago Loop", "60604"},
		{"Manhattan", orb.Point{-73.99729, 40.75065}, "", "10001"},
		{"Anchorage", orb.Point{-149.9003, 61.2181}, "Anchorage", ""},
		{"Honolulu", orb.Point{-157.8583, 21.3069}, "Honolulu", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, d, ok := g.NearestPlace(tc.p)
			if !ok || (tc.place != "" && p.Name != tc.place) || d > 20000 {
				t.Errorf("nearest place %+v at %.0f m", p, d)
			}
			z, dz, ok := g.NearestPostcode(tc.p)
			if !ok || (tc.zip != "" && z.Code != tc.zip) || dz > 20000 {
				t.Errorf("nearest ZIP %+v at %.0f m", z, dz)
			}
		})
	}
}
