package main

import (
	"math"
	"testing"

	"github.com/paulmach/orb"

	"github.com/gcrm/gcrm/geo"
)

// The population-weighted draw picks places in proportion to their people, the same way
// for the same seed, and refuses a file without population.
func TestDrawByPopulation(t *testing.T) {
	truth := []truthPoint{{key: "Small", pop: 1000}, {key: "None", pop: 0}, {key: "Big", pop: 3000}}
	a, distinct, err := drawByPopulation(truth, 40_000, 7)
	if err != nil || len(a) != 40_000 || distinct != 2 {
		t.Fatalf("%d drawn, %d distinct, %v", len(a), distinct, err)
	}
	count := map[string]int{}
	for _, p := range a {
		count[p.key]++
	}
	if count["None"] != 0 || count["Big"] < 29_000 || count["Big"] > 31_000 {
		t.Errorf("counts %v, want Big ≈ 30,000 of 40,000 and None never", count)
	}
	b, _, _ := drawByPopulation(truth, 40_000, 7)
	c, _, _ := drawByPopulation(truth, 40_000, 8)
	same, other := true, true
	for i := range a {
		same = same && a[i].key == b[i].key
		other = other && a[i].key == c[i].key
	}
	if !same || other {
		t.Errorf("same seed same draw: %v; another seed, another draw: %v", same, !other)
	}
	if _, _, err := drawByPopulation([]truthPoint{{key: "x"}}, 10, 1); geo.ErrorCode(err) != geo.EINVALID {
		t.Errorf("no population: %v, want EINVALID", err)
	}
}

// The ceiling of "City, ST" hits: one answer per name and state, a 5 km disk around it. The
// best disk need not sit on a place: three places 8.5 km apart (circumradius 4.9 km) fit one.
func TestReachable(t *testing.T) {
	const km = 1 / 111.2 // degrees of latitude per km
	east := func(lat, k float64) float64 { return k * km / math.Cos(lat*math.Pi/180) }
	at := func(name, st string, lon, lat float64) truthPoint {
		return truthPoint{key: name, region: st, pt: orb.Point{lon, lat}}
	}
	h := 8.5 * math.Sqrt(3) / 2
	truth := []truthPoint{
		at("Salem", "OR", -123, 45), at("Salem", "OR", -123+east(45, 8), 45), // 8 km apart: one disk
		at("Salem", "MA", -71, 42.5), at("Salem", "MA", -71+east(42.5, 12), 42.5), // 12 km: one of two
		at("St. Paul", "MN", -93, 45), at("Saint Paul", "MN", -93+east(45, 11), 45), // same name once normalised
		at("Tri", "KS", -98, 38), at("Tri", "KS", -98+east(38, 8.5), 38), at("Tri", "KS", -98+east(38, 4.25), 38+h*km),
		at("Row", "NE", -99, 41), at("Row", "NE", -99+east(41, 6), 41), at("Row", "NE", -99+east(41, 12), 41), // 12 km span: two
		at("Lone", "TX", -100, 31),
	}
	if got, want := reachable(truth), 2+1+1+3+2+1; got != want {
		t.Errorf("reachable = %d, want %d", got, want)
	}
}
