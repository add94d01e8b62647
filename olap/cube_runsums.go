package olap

// runIndex holds the sums of the long runs of the sorted records at one H3 resolution:
// for each cell at res with at least runMin records in [0, sorted), the run's slots and the
// sums of all its records (records and revenue by kind, won, lost). sumRuns adds an
// entry's sums instead of reading the run when it would sum every record of it: a cell
// wholly inside a bbox, or any cell without a bbox, with no filter but kinds; and each
// run's bounding box (of its records' positions) decides for a run near a bbox's edge
// whether it is wholly inside or outside. The entries follow the records: compact rebuilds
// them, and a sorted slot's change or removal (cubeRecords.set, remove) takes its old
// record out of its entry and adds the new one (a box only grows: a removed record's
// position stays in it, so a box holds its run's records, which is all a query asks).
type runIndex struct {
	res    int
	lo, hi []uint32 // the runs, ascending
	sums   []runSums
	box    []rect
}

// runIndexRes are the resolutions indexed, coarse to fine: the rows of bbox queries and
// hexagon tiles at street level (zoom 13-15), where a cell holds tens of records in a city,
// with their sums (from sumsFrom); coarser, only the runs' boxes, which decide for a whole
// cell near a bbox whether it lies inside or outside (coarser rows read cuboids). Finer
// cells rarely hold runMin records.
var runIndexRes = [...]int{5, 6, 7, 8, 9}

const sumsFrom = 8

// runMin is the shortest run indexed (at most one entry, 72 bytes, per runMin records): at
// 10 M seeded US records, 225,000 runs of 3.1 M records at resolution 9 and 255,000 of 7.1 M
// at resolution 8.
var runMin = 8

// buildRuns indexes the long runs of the sorted records at each of runIndexRes (the sums
// and boxes made once their number is known).
func (r *cubeRecords) buildRuns() {
	for i, res := range runIndexRes {
		ri := runIndex{res: res, lo: []uint32{}}
		for s := 0; s < r.sorted; {
			_, end := h3Range(h3Parent(r.cell[s], res), 15)
			e := runEnd(r.cell, s, r.sorted, end)
			if e-s >= runMin {
				ri.lo, ri.hi = append(ri.lo, uint32(s)), append(ri.hi, uint32(e))
			}
			s = e
		}
		ri.box = make([]rect, len(ri.lo))
		if res >= sumsFrom {
			ri.sums = make([]runSums, len(ri.lo))
		}
		sum := r.summer()
		for j := range ri.box {
			lo, hi := int(ri.lo[j]), int(ri.hi[j])
			if ri.sums != nil {
				ri.sums[j] = sum.slots(r.kind, lo, hi)
			}
			b := rect{x0: r.x[lo], y0: r.y[lo], x1: r.x[lo], y1: r.y[lo]}
			for t := lo + 1; t < hi; t++ {
				b.extend(r.x[t], r.y[t])
			}
			ri.box[j] = b
		}
		r.runs[i] = ri
	}
}

// sumSlots sums the live records of slots [s, e).
func (r *cubeRecords) sumSlots(s, e int) runSums { return r.summer().slots(r.kind, s, e) }

// runsAdd adds the record of sorted slot s to the entries holding it (its position to
// their boxes), or, with sign -1, takes it out.
func (r *cubeRecords) runsAdd(s uint32, sign int32) {
	if int(s) >= r.sorted {
		return
	}
	one := r.sumSlots(int(s), int(s)+1)
	for i := range r.runs {
		ri := &r.runs[i]
		j := leadBelow(ri.hi, s+1) // the first run ending after s
		if j < len(ri.lo) && ri.lo[j] <= s {
			if ri.sums != nil {
				ri.sums[j].add(&one, sign)
			}
			if sign > 0 {
				ri.box[j].extend(r.x[s], r.y[s])
			}
		}
	}
}

// add adds o to r, or with sign -1 subtracts it.
func (r *runSums) add(o *runSums, sign int32) {
	u := uint32(sign)
	r.n += u * o.n
	r.n1 += u * o.n1
	r.n2 += u * o.n2
	r.won += u * o.won
	r.lost += u * o.lost
	r.c += int64(sign) * o.c
	r.c1 += int64(sign) * o.c1
	r.c2 += int64(sign) * o.c2
}

// runsAt returns the index of the runs at res with their sums, or nil.
func (r *cubeRecords) runsAt(res int) *runIndex {
	for i := range r.runs {
		if r.runs[i].res == res && r.runs[i].sums != nil {
			return &r.runs[i]
		}
	}
	return nil
}

// find returns the entry of the run starting at slot s, galloping forward from entry *at
// (runs are looked up in ascending order; *at moves to where the search stopped); false
// when no indexed run starts there.
func (ri *runIndex) find(s int, at *int) (int, bool) {
	j := *at + leadBelow(ri.lo[*at:], uint32(s))
	*at = j
	return j, j < len(ri.lo) && int(ri.lo[j]) == s
}

// only returns the sums of the kinds kept (bits 0-2); of some kinds, without won and lost
// (counted for every kind: the caller reads them only when every kind is kept).
func (r runSums) only(kinds uint8) runSums {
	if kinds&0b111 == 0b111 {
		return r
	}
	n := [3]uint32{r.n - r.n1 - r.n2, r.n1, r.n2}
	c := [3]int64{r.c - r.c1 - r.c2, r.c1, r.c2}
	for k := range 3 {
		if kinds&(1<<k) == 0 {
			n[k], c[k] = 0, 0
		}
	}
	return runSums{n: n[0] + n[1] + n[2], n1: n[1], n2: n[2], c: c[0] + c[1] + c[2], c1: c[1], c2: c[2]}
}
