package crm

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// TestIDFilter: the filter never calls an id it has seen new (that would skip the SQL
// dedupe and let a repeated id through), whatever the order of the ids and whether the
// run of rising ids it starts with is kept or only its range; it rarely calls a new id seen
// (each false alarm costs a dedupe pass); and ids in order need no Bloom filter at all.
func TestIDFilter(t *testing.T) {
	const n = 300_000
	rng := rand.New(rand.NewPCG(5, 6))
	seq := func(f func(i int) string, from, to int) (s []string) {
		for i := from; i < to; i++ {
			s = append(s, f(i))
		}
		return s
	}
	padded := func(i int) string { return fmt.Sprintf("C%08d", i) }
	shuffled := func(s []string) []string {
		rng.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
		return s
	}
	words := seq(func(i int) string { return strconv.FormatUint(rng.Uint64(), 36)[:1+i%9] + "-" + strconv.Itoa(i) }, 0, n)
	slices.Sort(words)                            // byte order, lengths mixed
	repeats := func(s []string, k int) []string { // s, then k of its ids again, in random order
		for range k {
			s = append(s, s[rng.IntN(len(s))])
		}
		return s
	}
	for _, tc := range []struct {
		name      string
		ids       []string
		keepBytes int // 0: the default
		noBloom   bool
		maxAlarms int // for distinct ids
	}{
		{"PaddedInOrder", seq(padded, 0, n), 0, true, 0},
		{"NumbersInOrder", seq(strconv.Itoa, 1, n), 0, true, 0},
		{"WordsInByteOrder", words, 0, true, 0},
		{"Shuffled", shuffled(seq(padded, 0, n)), 0, false, 2},
		{"TwoSortedPartsKept", append(seq(padded, n/2, n), seq(padded, 0, n/2)...), 0, false, 2},
		{"TwoSortedPartsRange", append(seq(padded, n/2, n), seq(padded, 0, n/2)...), 1000, false, 2},
		{"TwoNumberPartsRange", append(seq(strconv.Itoa, 5000, n), seq(strconv.Itoa, 1, 5000)...), 1000, false, 2},
		{"InOrderThenRepeats", repeats(seq(padded, 0, n), 1000), 0, false, -1},
		{"InOrderThenRepeatsRange", repeats(seq(padded, 0, n), 1000), 1000, false, -1},
		{"NumbersThenRepeatsRange", repeats(seq(strconv.Itoa, 1, n), 1000), 1000, false, -1},
		{"WordsThenRepeatsRange", repeats(words, 1000), 1000, false, -1},
		{"ShuffledRepeats", shuffled(repeats(seq(padded, 0, n), 5000)), 0, false, -1},
		{"FirstRepeatedRange", append(seq(padded, 0, n), padded(0)), 1000, false, -1},
		{"LastRepeatedRange", append(seq(strconv.Itoa, 1, n), strconv.Itoa(n-1)), 1000, false, -1},
		{"WordsFirstRepeatedRange", append(slices.Clone(words), words[0]), 1000, false, -1},
		{"WordsLastRepeatedRange", append(slices.Clone(words), words[n-1]), 1000, false, -1},
		{"RepeatOfTheLast", []string{"a", "b", "b"}, 0, false, -1},
		{"RepeatAfterShortRun", []string{"1", "2", "3", "10", "2"}, 0, false, -1},
		{"EmptyID", []string{"", "", "x"}, 0, false, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newIDFilter()
			if tc.keepBytes > 0 {
				f.keepBytes = tc.keepBytes
			}
			seen := map[string]bool{}
			alarms := 0
			for i, id := range tc.ids {
				got := f.add(id)
				if seen[id] && !got {
					t.Fatalf("id %d %q was added before but is called new", i, id)
				}
				if !seen[id] && got {
					alarms++
				}
				seen[id] = true
			}
			if tc.maxAlarms >= 0 && alarms > tc.maxAlarms {
				t.Errorf("%d of %d distinct ids were called possibly seen", alarms, len(tc.ids))
			}
			if tc.noBloom && f.blocks != nil {
				t.Error("ids in order filled the Bloom filter")
			}
		})
	}
}

// TestIDFilter_Bloom: the Bloom filter alone calls few of a million distinct ids seen. At
// its load a false alarm has odds of about 1 in 1,000 for the whole set; bits that collide
// (a lost salt, a block picked by the bits that also pick the bits) raise far more.
func TestIDFilter_Bloom(t *testing.T) {
	f := newIDFilter()
	f.endRun()
	alarms := 0
	for i := range 1_000_000 {
		if f.bloomAdd("C" + strconv.Itoa(i)) {
			alarms++
		}
	}
	if alarms > 2 {
		t.Errorf("%d of 1,000,000 distinct ids were called possibly seen", alarms)
	}
}
