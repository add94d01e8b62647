package olap

import (
	"slices"
	"unsafe"
)

// Row is one point as the engine keeps it. Status, Segment and Owner are dictionary codes
// (Snapshot.Status etc. turn them back into text); Kind indexes crm.Kinds.
type Row struct {
	X, Y    uint32 // web-mercator position, see Project
	ID      int64
	Cell    uint64 // H3 cell at geo.CellResolution
	Kind    uint8
	Status  uint32
	Segment uint32
	Owner   uint32
	Revenue float64
	Rev     int64
}

func (r *Row) key() uint64 { return Morton(r.X, r.Y) }

// columns is the sorted base: one slice per field, ordered by Morton key, plus byID (the
// positions ordered by id) for writes. It is never changed once published.
type columns struct {
	x, y    []uint32
	id      idCol // 32 bits while every id fits
	cell    []uint64
	kind    []uint8
	status  codeCol // 16 bits a code until one needs more
	segment codeCol
	owner   codeCol
	revenue []float64
	rev     idCol
	byID    []uint32
}

// bytes returns what the columns hold, in bytes.
func (c *columns) bytes() int64 {
	n := int64(c.len())
	return n*(4+4+8+1+8+4) + c.id.bytes() + c.rev.bytes() + c.status.bytes() + c.segment.bytes() + c.owner.bytes()
}

func newColumns(n int) *columns {
	return &columns{
		x: make([]uint32, 0, n), y: make([]uint32, 0, n), id: packedCap[uint32, int64](n), cell: make([]uint64, 0, n),
		kind: make([]uint8, 0, n), status: packedCap[uint16, uint32](n), segment: packedCap[uint16, uint32](n),
		owner: packedCap[uint16, uint32](n), revenue: make([]float64, 0, n), rev: packedCap[uint32, int64](n),
	}
}

func (c *columns) len() int { return len(c.x) }

func (c *columns) add(r *Row) {
	c.x = append(c.x, r.X)
	c.y = append(c.y, r.Y)
	c.id.add(r.ID)
	c.cell = append(c.cell, r.Cell)
	c.kind = append(c.kind, r.Kind)
	c.status.add(r.Status)
	c.segment.add(r.Segment)
	c.owner.add(r.Owner)
	c.revenue = append(c.revenue, r.Revenue)
	c.rev.add(r.Rev)
}

func (c *columns) row(i int, r *Row) {
	*r = Row{X: c.x[i], Y: c.y[i], ID: c.id.at(i), Cell: c.cell[i], Kind: c.kind[i], Status: c.status.at(i),
		Segment: c.segment.at(i), Owner: c.owner.at(i), Revenue: c.revenue[i], Rev: c.rev.at(i)}
}

func (c *columns) key(i int) uint64 { return Morton(c.x[i], c.y[i]) }

// search returns the first position whose key is ≥ k.
func (c *columns) search(k uint64) int { return c.searchIn(k, 0, len(c.x)) }

// searchIn is search within positions [lo, hi).
func (c *columns) searchIn(k uint64, lo, hi int) int {
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if Morton(c.x[m], c.y[m]) < k {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// span returns the positions [lo, hi) whose keys lie in the inclusive range [klo, khi].
func (c *columns) span(klo, khi uint64) (int, int) {
	lo := c.search(klo)
	if khi == ^uint64(0) {
		return lo, len(c.x)
	}
	return lo, c.search(khi + 1)
}

// find returns the base position of id, or -1.
func (c *columns) find(id int64) int {
	lo, hi := 0, len(c.byID)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if c.id.at(int(c.byID[m])) < id {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(c.byID) && c.id.at(int(c.byID[lo])) == id {
		return int(c.byID[lo])
	}
	return -1
}

// sorted returns c's rows reordered by Morton key, with byID built.
func (c *columns) sorted() *columns {
	n := c.len()
	pairs := make([]pair, n)
	for i := range pairs {
		pairs[i] = pair{c.key(i), uint32(i)}
	}
	radixSort(pairs)
	out := &columns{
		x: permute(c.x, pairs), y: permute(c.y, pairs), id: c.id.permuted(pairs), cell: permute(c.cell, pairs),
		kind: permute(c.kind, pairs), status: c.status.permuted(pairs), segment: c.segment.permuted(pairs),
		owner: c.owner.permuted(pairs), revenue: permute(c.revenue, pairs), rev: c.rev.permuted(pairs),
	}
	out.indexIDs(pairs)
	return out
}

// indexIDs builds byID, reusing scratch (len ≥ n) for the sort.
func (c *columns) indexIDs(scratch []pair) {
	n := c.len()
	scratch = scratch[:n]
	for i := range scratch {
		scratch[i] = pair{uint64(c.id.at(i)) ^ (1 << 63), uint32(i)} // flip the sign bit: unsigned order = signed order
	}
	radixSort(scratch)
	c.byID = make([]uint32, n)
	for i, p := range scratch {
		c.byID[i] = p.i
	}
}

func permute[T any](s []T, order []pair) []T {
	out := make([]T, len(order))
	for i, p := range order {
		out[i] = s[p.i]
	}
	return out
}

// merge returns the base without the dead positions (sorted) and with delta (sorted by key)
// merged in.
func (c *columns) merge(dead []uint32, delta []Row) *columns {
	n := c.len() - len(dead) + len(delta)
	out := newColumns(n)
	d, j := 0, 0
	var r Row
	for i := 0; i < c.len(); i++ {
		if d < len(dead) && int(dead[d]) == i {
			d++
			continue
		}
		k := c.key(i)
		for j < len(delta) && delta[j].key() < k {
			out.add(&delta[j])
			j++
		}
		c.row(i, &r)
		out.add(&r)
	}
	for ; j < len(delta); j++ {
		out.add(&delta[j])
	}
	out.indexIDs(make([]pair, out.len()))
	return out
}

type pair struct {
	k uint64
	i uint32
}

// radixSort sorts pairs by k (stable), skipping the byte positions where all keys agree.
func radixSort(a []pair) {
	if len(a) < 256 {
		slices.SortStableFunc(a, func(p, q pair) int {
			switch {
			case p.k < q.k:
				return -1
			case p.k > q.k:
				return 1
			}
			return 0
		})
		return
	}
	var counts [8][256]int
	for _, p := range a {
		for b := 0; b < 8; b++ {
			counts[b][byte(p.k>>(8*b))]++
		}
	}
	buf := make([]pair, len(a))
	src, dst := a, buf
	for b := 0; b < 8; b++ {
		c := &counts[b]
		if c[byte(src[0].k>>(8*b))] == len(a) {
			continue // every key has the same byte here
		}
		off := 0
		for v := 0; v < 256; v++ {
			n := c[v]
			c[v] = off
			off += n
		}
		shift := uint(8 * b)
		for _, p := range src {
			v := byte(p.k >> shift)
			dst[c[v]] = p
			c[v]++
		}
		src, dst = dst, src
	}
	if &src[0] != &a[0] {
		copy(a, src)
	}
}

// dict codes strings as dense uint32s. A published dict is never changed: adding a value
// makes a new one sharing the values' backing array (readers only look below their length).
type dict struct {
	values []string
	codes  map[string]uint32
}

func newDict() *dict { return &dict{values: []string{""}, codes: map[string]uint32{"": 0}} }

func (d *dict) value(code uint32) string {
	if int(code) < len(d.values) {
		return d.values[code]
	}
	return ""
}

// dictWriter adds values to a dict, copying the code map once per batch of additions.
type dictWriter struct {
	cur   *dict
	owned bool // cur is not published yet and may be changed in place
}

func (w *dictWriter) code(v string) uint32 {
	if c, ok := w.cur.codes[v]; ok {
		return c
	}
	if !w.owned {
		codes := make(map[string]uint32, len(w.cur.codes)+1)
		for k, c := range w.cur.codes {
			codes[k] = c
		}
		w.cur = &dict{values: w.cur.values, codes: codes}
		w.owned = true
	}
	c := uint32(len(w.cur.values))
	w.cur.values = append(w.cur.values, v)
	w.cur.codes[v] = c
	return c
}

// publish returns the dict for a snapshot; later additions copy it first.
func (w *dictWriter) publish() *dict {
	w.owned = false
	return &dict{values: w.cur.values[:len(w.cur.values):len(w.cur.values)], codes: w.cur.codes}
}

// codeCol is a column of dictionary codes: 16 bits each, widened to 32 bits for good once
// a code needs more.
type codeCol = packedCol[uint16, uint32]

// idCol is a column of ids (or revisions): 32 bits each while every one lies in
// [0, 2^32), widened to 64 bits for good once one does not.
type idCol = packedCol[uint32, int64]

// packedInt are the integer types a packedCol holds.
type packedInt interface {
	uint16 | uint32 | int32 | int64
}

// packedCol is a column of integers of type W held as the narrower N while every value
// fits N, widened to W for good once one does not (the cube's records and the engine's
// columns).
type packedCol[N, W packedInt] struct {
	narrow []N
	wide   []W // non-nil once widened
}

// packedCap returns an empty narrow column with room for n values.
func packedCap[N, W packedInt](n int) packedCol[N, W] {
	return packedCol[N, W]{narrow: make([]N, 0, n)}
}

func (c *packedCol[N, W]) at(i int) W {
	if c.wide != nil {
		return c.wide[i]
	}
	return W(c.narrow[i])
}

func (c *packedCol[N, W]) widen() {
	c.wide = make([]W, len(c.narrow), max(1, cap(c.narrow)))
	for i, v := range c.narrow {
		c.wide[i] = W(v)
	}
	c.narrow = nil
}

func (c *packedCol[N, W]) add(v W) {
	if c.wide == nil && W(N(v)) != v {
		c.widen()
	}
	if c.wide != nil {
		c.wide = append(c.wide, v)
	} else {
		c.narrow = append(c.narrow, N(v))
	}
}

func (c *packedCol[N, W]) set(i int, v W) {
	if c.wide == nil && W(N(v)) != v {
		c.widen()
	}
	if c.wide != nil {
		c.wide[i] = v
	} else {
		c.narrow[i] = N(v)
	}
}

func (c *packedCol[N, W]) permute(p []pair) { *c = c.permuted(p) }

// permuted returns c's values in the order of p (as permute does a column).
func (c *packedCol[N, W]) permuted(p []pair) packedCol[N, W] {
	if c.wide != nil {
		return packedCol[N, W]{wide: permute(c.wide, p)}
	}
	return packedCol[N, W]{narrow: permute(c.narrow, p)}
}

func (c *packedCol[N, W]) bytes() int64 {
	return int64(cap(c.narrow))*int64(unsafe.Sizeof(N(0))) + int64(cap(c.wide))*int64(unsafe.Sizeof(W(0)))
}
