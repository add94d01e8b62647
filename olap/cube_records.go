package olap

import (
	"slices"
	"unsafe"
)

// deadKind marks the slot of a record that left the cube (or moved to another slot).
const deadKind = 0xff

// cubeRecords holds the facts of every record in the cube, one slot each, as columns (about
// 51 bytes a record with two region levels). Slots [0, sorted) are ordered by H3 cell, so
// the records under any cell are one contiguous range (found by binary search); records
// written later are appended (the tail) and found by id through a small map. A removed
// record's slot is marked dead. compact re-sorts everything when the tail grows.
//
// These columns replace a base cuboid keyed by every dimension: at resolution 9 such a
// cuboid holds about one cell per record, so it cost a map entry, a 48-byte key and a
// 48-byte sum per record without saving any reading.
type cubeRecords struct {
	cell                   []uint64                 // H3 cell as the record has it (geo.CellResolution)
	x, y                   []uint32                 // web-mercator position (Project), for bbox edges
	cents                  packedCol[int32, int64]  // revenue in cents, 32 bits while every one fits
	month                  packedCol[uint16, int32] // months since year 0 (ParseMonth)
	status, segment, owner codeCol
	regions                [MaxCubeLevels]codeCol // only the cube's levels are filled
	kind                   []uint8                // deadKind: not a record any more
	id                     idCol
	byID                   []uint32         // slots [0, sorted) ordered by id
	sorted                 int              // slots [0, sorted) are ordered by cell
	tail                   map[int64]uint32 // id → slot, for the records written since
	live, dead             int
	levels                 int
	// byStatusMonth holds the slots [0, sorted) ordered by status, then month (then cell:
	// the slots' own order), so the records of a status and a month range are one run of
	// it: smStart[status*smMonths+month-smLo] is where the run of that status and month
	// starts (the next entry, where it ends). A slot in [0, sorted) keeps its status and
	// month until compact (a write that changes them moves the record to the tail).
	byStatusMonth []uint32
	smStart       []uint32
	smLo          int32
	smMonths      int
	runs          [len(runIndexRes)]runIndex // sums of the long runs of [0, sorted)
}

// cubeFact is one record's facts (a row of cubeRecords).
type cubeFact struct {
	cell    uint64
	x, y    uint32
	cents   int64
	month   int32
	status  uint32
	segment uint32
	owner   uint32
	regions [MaxCubeLevels]uint32
	kind    uint8
}

func newCubeRecords(levels int) *cubeRecords {
	return &cubeRecords{levels: levels, tail: map[int64]uint32{}}
}

func (r *cubeRecords) len() int { return len(r.kind) }

// add appends a record in a new slot (unsorted until compact) and returns the slot.
func (r *cubeRecords) add(id int64, f *cubeFact) uint32 {
	s := uint32(len(r.kind))
	r.cell = append(r.cell, f.cell)
	r.x, r.y = append(r.x, f.x), append(r.y, f.y)
	r.cents.add(f.cents)
	r.month.add(f.month)
	r.status.add(f.status)
	r.segment.add(f.segment)
	r.owner.add(f.owner)
	for l := 0; l < r.levels; l++ {
		r.regions[l].add(f.regions[l])
	}
	r.kind = append(r.kind, f.kind)
	r.id.add(id)
	r.live++
	return s
}

// set overwrites slot s with f (same id).
func (r *cubeRecords) set(s uint32, f *cubeFact) {
	r.runsAdd(s, -1)
	defer r.runsAdd(s, 1)
	r.cell[s], r.x[s], r.y[s], r.kind[s] = f.cell, f.x, f.y, f.kind
	r.cents.set(int(s), f.cents)
	r.month.set(int(s), f.month)
	r.status.set(int(s), f.status)
	r.segment.set(int(s), f.segment)
	r.owner.set(int(s), f.owner)
	for l := 0; l < r.levels; l++ {
		r.regions[l].set(int(s), f.regions[l])
	}
}

// fact returns the facts of slot s.
func (r *cubeRecords) fact(s uint32) cubeFact {
	f := cubeFact{cell: r.cell[s], x: r.x[s], y: r.y[s], cents: r.cents.at(int(s)), month: r.month.at(int(s)),
		status: r.status.at(int(s)), segment: r.segment.at(int(s)), owner: r.owner.at(int(s)), kind: r.kind[s]}
	for l := 0; l < r.levels; l++ {
		f.regions[l] = r.regions[l].at(int(s))
	}
	return f
}

// key returns the cube key of slot s: its cell at resolution res (CubeRes, or finer for
// the point queries) and its dimension codes.
func (r *cubeRecords) key(s int, res int) cubeKey {
	k := cubeKey{cell: h3Parent(r.cell[s], res), month: r.month.at(s), status: r.status.at(s), segment: r.segment.at(s),
		owner: r.owner.at(s), kind: r.kind[s]}
	for l := 0; l < r.levels; l++ {
		k.regions[l] = r.regions[l].at(s)
	}
	return k
}

// find returns the live slot of id.
func (r *cubeRecords) find(id int64) (uint32, bool) {
	if s, ok := r.tail[id]; ok {
		return s, true
	}
	i, ok := slices.BinarySearchFunc(r.byID, id, func(s uint32, id int64) int { return cmp64(uint64(r.id.at(int(s)))^1<<63, uint64(id)^1<<63) })
	if !ok || r.kind[r.byID[i]] == deadKind {
		return 0, false
	}
	return r.byID[i], true
}

// remove marks slot s dead.
func (r *cubeRecords) remove(id int64, s uint32) {
	r.runsAdd(s, -1)
	r.kind[s] = deadKind
	delete(r.tail, id)
	r.live--
	r.dead++
}

// needsCompact says whether the tail and dead slots are worth a re-sort.
func (r *cubeRecords) needsCompact() bool {
	return len(r.kind)-r.sorted+r.dead > max(4*cubeMergeMin, r.len()/16)
}

// compact drops dead slots and orders every slot by cell, then builds byID.
func (r *cubeRecords) compact() {
	pairs := make([]pair, 0, r.live)
	for s, k := range r.kind {
		if k != deadKind {
			pairs = append(pairs, pair{r.cell[s], uint32(s)})
		}
	}
	radixSort(pairs)
	r.cell, r.x, r.y = permute(r.cell, pairs), permute(r.x, pairs), permute(r.y, pairs)
	r.cents.permute(pairs)
	r.month.permute(pairs)
	r.status.permute(pairs)
	r.segment.permute(pairs)
	r.owner.permute(pairs)
	for l := 0; l < r.levels; l++ {
		r.regions[l].permute(pairs)
	}
	r.kind = permute(r.kind, pairs)
	r.id.permute(pairs)
	for i := range pairs {
		pairs[i] = pair{uint64(r.id.at(i)) ^ 1<<63, uint32(i)}
	}
	radixSort(pairs)
	r.byID = make([]uint32, len(pairs))
	for i, p := range pairs {
		r.byID[i] = p.i
	}
	r.sorted, r.live, r.dead = len(pairs), len(pairs), 0
	r.tail = map[int64]uint32{}
	r.indexStatusMonth()
	r.buildRuns()
}

// indexStatusMonth builds byStatusMonth (a counting sort of the sorted slots by status and
// month).
func (r *cubeRecords) indexStatusMonth() {
	n := r.sorted
	r.byStatusMonth, r.smStart, r.smLo, r.smMonths = nil, nil, 0, 0
	if n == 0 {
		return
	}
	lo, hi, statuses := r.month.at(0), r.month.at(0), uint32(0)
	for s := range n {
		lo, hi, statuses = min(lo, r.month.at(s)), max(hi, r.month.at(s)), max(statuses, r.status.at(s)+1)
	}
	months := int(int64(hi) - int64(lo) + 1)
	if int64(months)*int64(statuses) > 1<<20 { // far-apart months or many statuses: no index
		return
	}
	bucket := func(s int) int { return int(r.status.at(s))*months + int(r.month.at(s)-lo) }
	start := make([]uint32, months*int(statuses)+1)
	for s := range n {
		start[bucket(s)+1]++
	}
	for i := 1; i < len(start); i++ {
		start[i] += start[i-1]
	}
	at := slices.Clone(start)
	slots := make([]uint32, n)
	for s := range n {
		b := bucket(s)
		slots[at[b]] = uint32(s)
		at[b]++
	}
	r.byStatusMonth, r.smStart, r.smLo, r.smMonths = slots, start, lo, months
}

// statusMonthRuns returns the runs of byStatusMonth (ranges of its indexes) holding the
// records of the statuses (nil: any) and of the months m keeps; false when there is no
// index or m keeps no month range.
func (r *cubeRecords) statusMonthRuns(m *match, statuses []uint64, anyStatus bool) ([]span, bool) {
	if r.byStatusMonth == nil || m.monthIn == nil {
		return nil, false
	}
	indexed := (len(r.smStart) - 1) / r.smMonths // statuses
	if anyStatus {
		statuses = make([]uint64, indexed)
		for v := range statuses {
			statuses[v] = uint64(v)
		}
	}
	var out []span
	for _, st := range statuses {
		if int(st) >= indexed {
			continue
		}
		for i, in := range m.monthIn {
			mo := int64(m.monthLo) + int64(i) - int64(r.smLo)
			if !in || mo < 0 || mo >= int64(r.smMonths) {
				continue
			}
			b := int(st)*r.smMonths + int(mo)
			if lo, hi := int(r.smStart[b]), int(r.smStart[b+1]); lo < hi {
				if n := len(out); n > 0 && out[n-1].hi == lo {
					out[n-1].hi = hi
				} else {
					out = append(out, span{lo, hi})
				}
			}
		}
	}
	return out, true
}

// upperBound returns the number of leading values of s (sorted) that are ≤ v.
func upperBound(s []uint64, v uint64) int {
	lo, hi := 0, len(s)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s[m] <= v {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// bytes returns what the columns hold.
func (r *cubeRecords) bytes() int64 {
	n := int64(cap(r.kind))*(8+8+1) + r.id.bytes() + r.month.bytes() + r.cents.bytes()
	n += r.status.bytes() + r.segment.bytes() + r.owner.bytes()
	for l := 0; l < r.levels; l++ {
		n += r.regions[l].bytes()
	}
	for _, ri := range r.runs {
		n += int64(cap(ri.lo)+cap(ri.hi))*4 + int64(cap(ri.sums))*int64(unsafe.Sizeof(runSums{})) + int64(cap(ri.box))*int64(unsafe.Sizeof(rect{}))
	}
	return n + int64(cap(r.byID))*4 + int64(len(r.tail))*16 + int64(cap(r.byStatusMonth)+cap(r.smStart))*4
}
