package olap

import (
	"math/bits"

	"github.com/paulmach/orb"
)

// bbox is a query's bbox in web-mercator (edges included), and, for H3 cells of resolution
// from to res, the positions whose cell lies wholly outside the bbox (any position outside
// out[r]) and, at res, wholly inside it (in), however far across the cell its other
// records are.
type bbox struct {
	rect
	res, from int // res -1: no cells known
	in        rect
	out       [16]rect
}

// cells fills in and out for the cells of resolution from to res of bound b (latMax: the
// largest absolute latitude of b). A cell's records are within its diameter of one
// another (2 × cellRadiusDeg, plus 0.1 m for the rounding of positions), so a record
// farther inside the bbox than that has its whole cell inside, one farther outside its
// whole cell outside.
func (box *bbox) cells(b orb.Bound, latMax float64, from, res int) {
	box.res, box.from = -1, max(0, min(from, res))
	for r := box.from; r <= res; r++ {
		d := 2*cellRadiusDeg(r) + 1e-6
		if latMax+d >= 89 {
			box.from = r + 1
			continue
		}
		dLon := lonDeg(d, latMax)
		o := &box.out[r]
		o.x0, o.y0 = Project(b.Min[0]-dLon, b.Max[1]+d)
		o.x1, o.y1 = Project(b.Max[0]+dLon, b.Min[1]-d)
		if r == res {
			box.res = res
			box.in = rect{x0: 1} // empty unless the bbox holds a cell
			if b.Min[0]+dLon <= b.Max[0]-dLon && b.Min[1]+d <= b.Max[1]-d {
				box.in.x0, box.in.y0 = Project(b.Min[0]+dLon, b.Max[1]-d)
				box.in.x1, box.in.y1 = Project(b.Max[0]-dLon, b.Min[1]+d)
			}
		}
	}
}

// sumRuns groups the sorted records in spans that m keeps and that lie in box (nil:
// anywhere) by their H3 cell at resolution res. The records are in cell order, so those
// of one cell at res are a run: the run is summed into one accumulator and added to its
// group once — no key, accumulator or group look-up per record. With box at res, a run's
// first record says whether the whole cell is inside the bbox (summed without the box
// test) or outside it (skipped by a galloping search for its end); before that, a cell
// whose long run's box lies wholly inside or outside is decided by it (cellBoxes). It
// returns the records read (those of the runs not skipped).
func sumRuns(recs *cubeRecords, spans []span, res int, m *match, box *bbox, g *grouper) int {
	return recs.summer().runs(recs, spans, res, m, box, g)
}

// sumMarked groups the sorted records whose slots are marked (a bit a slot) by their H3
// cell at resolution res, as sumRuns does: the slots of the runs of byStatusMonth that
// hold m's statuses and months exactly (match.statusOnly), so only the kind is checked.
// Read in slot order, the records of one cell come one after another: they are summed in
// registers and added to their group once, and only the columns the measures need are
// read (the month and status columns are not read for the filter again). Bit i of marks
// is slot base+i.
func sumMarked(recs *cubeRecords, marks []uint64, base, res int, m *match, g *grouper) {
	recs.summer().marked(recs, marks, base, res, m, g)
}

// recordCols are the records' status and cents columns at the widths they are held now
// (16 or 32 bits, 32 or 64): the loops that sum records are made for each pair, so that
// they read the columns straight.
type recordCols[T uint16 | uint32, C int32 | int64] struct {
	status []T
	cents  []C
}

// recordSummer sums records over the columns as they are held now (recordCols).
type recordSummer interface {
	runs(recs *cubeRecords, spans []span, res int, m *match, box *bbox, g *grouper) int
	marked(recs *cubeRecords, marks []uint64, base, res int, m *match, g *grouper)
	slots(kind []uint8, s, e int) runSums
}

// summer returns the summing loops for the widths r's status and cents columns have now
// (valid until the next write).
func (r *cubeRecords) summer() recordSummer {
	switch sw, cw := r.status.wide != nil, r.cents.wide != nil; {
	case !sw && !cw:
		return recordCols[uint16, int32]{r.status.narrow, r.cents.narrow}
	case !sw:
		return recordCols[uint16, int64]{r.status.narrow, r.cents.wide}
	case !cw:
		return recordCols[uint32, int32]{r.status.wide, r.cents.narrow}
	}
	return recordCols[uint32, int64]{r.status.wide, r.cents.wide}
}

// slots sums the live records of slots [s, e) (kind: the records' kind column).
func (c recordCols[T, C]) slots(kind []uint8, s, e int) runSums {
	return sumRun(kind[s:e], c.cents[s:e], c.status[s:e], 0b111, true, true)
}

func (c recordCols[T, C]) runs(recs *cubeRecords, spans []span, res int, m *match, box *bbox, g *grouper) (read int) {
	cell, x, y, kind, status, cents := recs.cell, recs.x, recs.y, recs.kind, c.status, c.cents
	// Only the kind is checked here; any other filter (sets, months, h3 cells) through
	// okRecord. A dead slot's kind shifts the bit out of kinds, and kinds holds only 0, 1
	// and 2 (crm.Kinds, the kinds a cubeAcc counts), which the sums below rely on.
	kinds, rest := m.kinds&0b111, len(m.sets) > 0 || m.months != nil || m.cellsOK
	needCents, needWonLost := m.cents, m.wonLost
	known := box != nil && box.res == res
	// The sums of the long runs at res, for runs summed whole with no filter but kinds (won
	// and lost are counted over every kind).
	var ri *runIndex
	at := 0
	if !rest && (kinds == 0b111 || !needWonLost) {
		ri = recs.runsAt(res)
	}
	var cells cellBoxes
	if box != nil {
		cells.init(recs, res)
	}
	for _, sp := range spans {
		for s := sp.lo; s < sp.hi; {
			if box != nil && s >= cells.inTo {
				if e, out := cells.outside(s, sp.hi, box); out {
					s = e
					continue
				}
			}
			p := h3Parent(cell[s], res)
			if h3Res(cell[s]) != 15 { // not a resolution-15 cell (none are): a run of one
				if (box == nil || box.has(x[s], y[s])) && m.okRecord(recs, s) {
					a := accOf(kind[s], uint32(status[s]), int64(cents[s]))
					g.addCell(p, &a)
				}
				s, read = s+1, read+1
				continue
			}
			_, end := h3Range(p, 15) // the run: the records up to p's last descendant
			edge := box != nil && s >= cells.inTo
			if known && edge {
				// Skip the records of the cell (at the coarsest resolution checked) that
				// lies wholly outside; a run inside box.in is inside every out.
				edge = !box.in.has(x[s], y[s])
				skip := false
				for r := box.from; edge && r <= res; r++ {
					if !box.out[r].has(x[s], y[s]) {
						_, e := h3Range(h3Parent(cell[s], r), 15)
						s, skip = runEnd(cell, s, sp.hi, e), true
						break
					}
				}
				if skip {
					continue
				}
			}
			// The run's end found by galloping; only the columns the checks and the measures
			// need are read (inside the bbox with no filter but kinds, a count of records
			// reads a byte a record, not 27). The run without checks has a loop of its own:
			// the checks' branches, even never taken, cost it a tenth.
			// An indexed run near the edge was decided by its box (cellBoxes, which holds res).
			if !edge && ri != nil && s+runMin <= sp.hi && cell[s+runMin-1] <= end { // a run long enough to be indexed
				if j, ok := ri.find(s, &at); ok && int(ri.hi[j]) <= sp.hi {
					sums := ri.sums[j].only(kinds)
					sums.addTo(g, p)
					s, read = int(ri.hi[j]), read+1
					continue
				}
			}
			var sums runSums
			e := runEnd(cell, s, sp.hi, end)
			if !edge && !rest {
				sums = sumRun(kind[s:e], cents[s:e], status[s:e], kinds, needCents, needWonLost)
			} else {
				for t := s; t < e; t++ {
					k := kind[t]
					if kinds&(1<<k) == 0 || edge && !box.has(x[t], y[t]) || rest && !m.okRecord(recs, t) {
						continue
					}
					sumRecord(&sums, k, t, cents, status, needCents, needWonLost)
				}
			}
			sums.addTo(g, p)
			s, read = e, read+e-s
		}
	}
	return read
}

// cellBoxes decides with the boxes of the long runs at every indexed resolution up to the
// rows', coarse to fine, for the cell starting at a slot: wholly outside the bbox (skipped
// to its end at once), or wholly inside (every run up to inTo is then inside, with no
// position read). Kept apart from sumRuns's loop: its state there cost a whole-country
// roll-up without a bbox (4.5 M runs) 8 %.
type cellBoxes struct {
	levels [len(runIndexRes)]*runIndex
	at     [len(runIndexRes)]int
	n      int
	inTo   int // the slots before inTo are inside
}

func (c *cellBoxes) init(recs *cubeRecords, res int) {
	for i := range recs.runs {
		if l := &recs.runs[i]; l.lo != nil && l.res <= res {
			c.levels[c.n], c.n = l, c.n+1
		}
	}
}

// outside returns the end of the cell starting at s (before hi) that lies wholly outside
// box, and true; false when no cell starting there does (inTo moves to the end of the
// coarsest one that lies wholly inside).
func (c *cellBoxes) outside(s, hi int, box *bbox) (int, bool) {
	for l := 0; l < c.n; l++ {
		li := c.levels[l]
		if j, ok := li.find(s, &c.at[l]); ok && int(li.hi[j]) <= hi {
			if box.misses(&li.box[j]) {
				return int(li.hi[j]), true
			}
			if box.holds(&li.box[j]) {
				c.inTo = int(li.hi[j])
				return 0, false
			}
		}
	}
	return 0, false
}

// runEnd returns the first index in (s, hi) whose cell is after end, or hi (cell[s] ≤ end;
// cells ascending): most runs are short, so their first 8 records are looked at one by
// one, and a longer run's end is found by galloping.
func runEnd(cell []uint64, s, hi int, end uint64) int {
	for e := s + 1; e < s+8; e++ {
		if e >= hi || cell[e] > end {
			return e
		}
	}
	return s + 8 + leadBelow(cell[s+8:hi], end+1)
}

func (c recordCols[T, C]) marked(recs *cubeRecords, marks []uint64, base, res int, m *match, g *grouper) {
	cell, kind, status, cents := recs.cell, recs.kind, c.status, c.cents
	kinds, needCents, needWonLost := m.kinds&0b111, m.cents, m.wonLost
	var p uint64
	var sums runSums
	for w, word := range marks {
		for word != 0 {
			s := base + (w<<6 | bits.TrailingZeros64(word))
			word &= word - 1
			k := kind[s]
			if kinds&(1<<k) == 0 { // a dead slot's kind shifts the bit out
				continue
			}
			if q := h3Parent(cell[s], res); q != p {
				sums.addTo(g, p)
				p, sums = q, runSums{}
			}
			sumRecord(&sums, k, s, cents, status, needCents, needWonLost)
		}
	}
	sums.addTo(g, p)
}

// runSums are the sums of a run of records, kept without a branch on kind or status (both
// random from one record to the next): records and revenue in all, those of kinds 1 and 2
// (kind 0 is the rest), won and lost.
type runSums struct {
	n, n1, n2, won, lost uint32
	c, c1, c2            int64
}

// sumRecord adds record t, of kind k, to r: its revenue and status only when needed (their
// columns are not read otherwise). k is 0, 1 or 2 (the callers' kinds filter keeps no
// other); a status code st is won when st^codeWon is 0, and (0-1)>>31 is 1 where (v-1)>>31
// is 0 for any other small v.
func sumRecord[T uint16 | uint32, C int32 | int64](r *runSums, k uint8, t int, cents []C, status []T, needCents, needWonLost bool) {
	r.n++
	r.n1 += uint32(k & 1)
	r.n2 += uint32(k >> 1)
	if needCents {
		v := int64(cents[t])
		r.c += v
		r.c1 += v & -int64(k&1)
		r.c2 += v & -int64(k>>1)
	}
	if needWonLost {
		st := uint32(status[t])
		r.won += (st ^ codeWon - 1) >> 31
		r.lost += (st ^ codeLost - 1) >> 31
	}
}

// sumRun sums the records of a run (their kinds, revenues and statuses) that kinds keeps,
// as sumRecord does, in local variables: kept in registers, where a runSums stays in
// memory (a struct of more than four fields), they make the run a tenth faster.
func sumRun[T uint16 | uint32, C int32 | int64](kind []uint8, cents []C, status []T, kinds uint8, needCents, needWonLost bool) runSums {
	var n, n1, n2, won, lost uint32
	var c, c1, c2 int64
	for t, k := range kind {
		if kinds&(1<<k) == 0 {
			continue
		}
		n++
		n1 += uint32(k & 1)
		n2 += uint32(k >> 1)
		if needCents {
			v := int64(cents[t])
			c += v
			c1 += v & -int64(k&1)
			c2 += v & -int64(k>>1)
		}
		if needWonLost {
			st := uint32(status[t])
			won += (st ^ codeWon - 1) >> 31
			lost += (st ^ codeLost - 1) >> 31
		}
	}
	return runSums{n: n, n1: n1, n2: n2, won: won, lost: lost, c: c, c1: c1, c2: c2}
}

// addTo adds the sums, when they hold records, to the group of cell p.
func (r *runSums) addTo(g *grouper, p uint64) {
	if r.n != 0 {
		a := cubeAcc{n: [3]int32{int32(r.n - r.n1 - r.n2), int32(r.n1), int32(r.n2)}, cents: r.c, custCents: r.c - r.c1 - r.c2,
			won: int32(r.won), lost: int32(r.lost)}
		g.addCell(p, &a)
	}
}
