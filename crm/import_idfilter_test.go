package crm

import (
	"strconv"
	"testing"
)

// TestIDFilter: the filter never calls an id it has seen new (that would skip the SQL
// dedupe and let a repeated id through), whatever came between, and rarely calls a new id
// seen (each false alarm costs a dedupe pass).
func TestIDFilter(t *testing.T) {
	f := newIDFilter()
	const n = 1_000_000
	alarms := 0
	for i := range n {
		if f.add("C" + strconv.Itoa(i)) {
			alarms++
		}
	}
	// At the filter's load for a million ids a false alarm has odds of about 1 in 1,000 for
	// the whole file; a filter whose bits collide (a lost salt, a block picked from the
	// bits that also pick the bits) raises far more.
	if alarms > 2 {
		t.Errorf("%d of %d distinct ids were called possibly seen", alarms, n)
	}
	for i := 0; i < n; i += 7 {
		if id := "C" + strconv.Itoa(i); !f.add(id) {
			t.Fatalf("id %q was added before but is called new", id)
		}
	}
	if g := newIDFilter(); g.add("") || !g.add("") || g.add("x") {
		t.Error("the empty id: first add must be new, the second seen, then x new")
	}
}
