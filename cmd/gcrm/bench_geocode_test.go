package main

import (
	"testing"

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
