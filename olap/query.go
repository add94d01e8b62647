package olap

import (
	"sync"

	"github.com/gcrm/gcrm/crm"
)

// Snapshot is an immutable view of the engine's points at one data version. It is safe to
// share between goroutines and stays valid (and unchanged) however the engine moves on.
type Snapshot struct {
	base    *columns
	dead    []uint32 // base positions removed since the base was built, sorted
	delta   []Row    // points added or changed since, sorted by Morton key
	version uint64
	epoch   uint64

	status, segment, owner *dict
}

// Version is the snapshot's data version.
func (s *Snapshot) Version() uint64 { return s.version }

// Len returns the number of points.
func (s *Snapshot) Len() int { return s.base.len() - len(s.dead) + len(s.delta) }

// Status, Segment and Owner return the text of a dictionary code.
func (s *Snapshot) Status(code uint32) string  { return s.status.value(code) }
func (s *Snapshot) Segment(code uint32) string { return s.segment.value(code) }
func (s *Snapshot) Owner(code uint32) string   { return s.owner.value(code) }

// Kind returns the text of a kind code.
func (s *Snapshot) Kind(code uint8) string {
	if int(code) < len(crm.Kinds) {
		return crm.Kinds[code]
	}
	return ""
}

// EngineStats describes the engine's memory use.
type EngineStats struct {
	Points, Delta, Dead int
	BaseBytes           int64 // bytes held by the base columns
}

// Stats returns the snapshot's sizes.
func (s *Snapshot) Stats() EngineStats {
	return EngineStats{Points: s.Len(), Delta: len(s.delta), Dead: len(s.dead), BaseBytes: s.base.bytes()}
}

// Filter selects points: the caller's scope plus optional filters (empty: any value).
type Filter struct {
	Scope    crm.Scope
	Kinds    []string
	Statuses []string
	Segments []string
}

// Match is a Filter compiled against one snapshot's dictionaries.
type Match struct {
	all                    bool
	kinds                  uint8 // bit per kind code
	status, segment, owner []bool
}

// Compile turns q into codes of s's dictionaries. Values the data does not hold match
// nothing.
func (s *Snapshot) Compile(q Filter) *Match {
	m := &Match{kinds: 0xff}
	if len(q.Kinds) > 0 {
		m.kinds = 0
		for _, k := range q.Kinds {
			if c := crm.KindCode(k); c >= 0 {
				m.kinds |= 1 << c
			}
		}
	}
	m.status = codeSet(s.status, q.Statuses, len(q.Statuses) > 0)
	m.segment = codeSet(s.segment, q.Segments, len(q.Segments) > 0)
	m.owner = codeSet(s.owner, q.Scope.Owners, q.Scope.Restricted)
	m.all = m.kinds == 0xff && m.status == nil && m.segment == nil && m.owner == nil
	return m
}

func codeSet(d *dict, values []string, restrict bool) []bool {
	if !restrict {
		return nil
	}
	set := make([]bool, len(d.values))
	for _, v := range values {
		if c, ok := d.codes[v]; ok && int(c) < len(set) {
			set[c] = true
		}
	}
	return set
}

func (m *Match) row(r *Row) bool {
	return m.all || (m.kinds&(1<<r.Kind) != 0 && in(m.status, r.Status) && in(m.segment, r.Segment) && in(m.owner, r.Owner))
}

func (m *Match) base(c *columns, i int) bool {
	return m.all || (m.kinds&(1<<c.kind[i]) != 0 && in(m.status, c.status.at(i)) && in(m.segment, c.segment.at(i)) && in(m.owner, c.owner.at(i)))
}

func in(set []bool, code uint32) bool { return set == nil || (int(code) < len(set) && set[code]) }

// deadFrom returns the index in s.dead of the first tombstone at or after base position i.
func (s *Snapshot) deadFrom(i int) int {
	lo, hi := 0, len(s.dead)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if int(s.dead[m]) < i {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

func (s *Snapshot) deltaSpan(klo, khi uint64) (int, int) {
	search := func(k uint64) int {
		lo, hi := 0, len(s.delta)
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if s.delta[m].key() < k {
				lo = m + 1
			} else {
				hi = m
			}
		}
		return lo
	}
	lo := search(klo)
	if khi == ^uint64(0) {
		return lo, len(s.delta)
	}
	return lo, search(khi + 1)
}

// Each calls fn for every point of tile t that m selects. fn's *Row is reused.
func (s *Snapshot) Each(t Tile, m *Match, fn func(*Row)) {
	klo, khi := t.keyRange()
	s.eachRange(klo, khi, m, fn)
}

func (s *Snapshot) eachRange(klo, khi uint64, m *Match, fn func(*Row)) {
	lo, hi := s.base.span(klo, khi)
	dlo, dhi := s.deltaSpan(klo, khi)
	s.eachSpan(lo, hi, dlo, dhi, m, fn)
}

// eachSpan visits base positions [lo, hi) (less tombstones) and delta positions [dlo, dhi).
func (s *Snapshot) eachSpan(lo, hi, dlo, dhi int, m *Match, fn func(*Row)) {
	var r Row
	d := s.deadFrom(lo)
	for i := lo; i < hi; i++ {
		if d < len(s.dead) && int(s.dead[d]) == i {
			d++
			continue
		}
		if m.base(s.base, i) {
			s.base.row(i, &r)
			fn(&r)
		}
	}
	for i := dlo; i < dhi; i++ {
		if r = s.delta[i]; m.row(&r) {
			fn(&r)
		}
	}
}

// EachBuffer calls fn for every point m selects that lies outside tile t but within a
// margin of one zoom-(t.Z+levels) tile around it: the edge buffer of a rendered tile
// (levels 4 is a buffer of 1/16 of the tile, 256 at extent 4096).
func (s *Snapshot) EachBuffer(t Tile, levels int, m *Match, fn func(*Row)) {
	z := t.Z + levels
	if z > 32 || t.Z == 0 {
		return // the world tile has no neighbours
	}
	n := uint32(1) << uint(levels) // sub-tiles per side
	limit := int64(1) << uint(t.Z)
	for dy := int64(-1); dy <= 1; dy++ {
		for dx := int64(-1); dx <= 1; dx++ {
			nx, ny := int64(t.X)+dx, int64(t.Y)+dy
			if dx == 0 && dy == 0 || nx < 0 || ny < 0 || nx >= limit || ny >= limit {
				continue
			}
			// The neighbour's range first, then its sub-tiles along the shared edge searched
			// inside it: short searches over memory the first one brought in.
			nt := Tile{Z: t.Z, X: uint32(nx), Y: uint32(ny)}
			klo, khi := nt.keyRange()
			lo, hi := s.base.span(klo, khi)
			dlo, dhi := s.deltaSpan(klo, khi)
			if lo == hi && dlo == dhi {
				continue
			}
			x0, x1 := edge(dx, n)
			y0, y1 := edge(dy, n)
			for sy := y0; sy < y1; sy++ {
				for sx := x0; sx < x1; sx++ {
					st := Tile{Z: z, X: nt.X<<uint(levels) | sx, Y: nt.Y<<uint(levels) | sy}
					slo, shi := st.keyRange()
					a := s.base.searchIn(slo, lo, hi)
					b := s.base.searchIn(shi+1, a, hi)
					da, db := dlo, dhi
					if dlo < dhi {
						da, db = s.deltaSpan(slo, shi)
					}
					if a < b || da < db {
						s.eachSpan(a, b, da, db, m, fn)
					}
				}
			}
		}
	}
}

// edge returns the sub-tile columns (or rows) of a neighbour at offset d that touch the
// tile: the last one for the neighbour before, the first for the one after, all for d 0.
func edge(d int64, n uint32) (uint32, uint32) {
	switch d {
	case -1:
		return n - 1, n
	case 1:
		return 0, 1
	}
	return 0, n
}

// Count returns the number of points of tile t that m selects.
func (s *Snapshot) Count(t Tile, m *Match) int {
	n := 0
	s.Each(t, m, func(*Row) { n++ })
	return n
}

// GridCell is one cell of a Grid: how many points it holds, the sums of their positions
// relative to the tile's north-west corner (for the centroid), and its first point.
type GridCell struct {
	Count      int
	SumX, SumY uint64
	First      Row
}

// Grid counts the points of tile t that m selects in a 2^levels × 2^levels grid, exactly:
// every point lands in one cell. cells must have 4^levels entries, all zero; cell (cx, cy)
// is cells[cy<<levels|cx].
func (s *Snapshot) Grid(t Tile, levels int, m *Match, cells []GridCell) {
	ox, oy := t.Origin()
	shift := uint(32 - t.Z - levels)
	klo, khi := t.keyRange()
	lo, hi := s.base.span(klo, khi)
	b := s.base
	d := s.deadFrom(lo)
	if m.all && (d == len(s.dead) || int(s.dead[d]) >= hi) {
		// The common case, kept tight: no filter and no tombstones in range.
		xs, ys := b.x[lo:hi], b.y[lo:hi]
		for i := range xs {
			dx, dy := xs[i]-ox, ys[i]-oy
			c := &cells[(dy>>shift)<<levels|dx>>shift]
			if c.Count == 0 {
				b.row(lo+i, &c.First)
			}
			c.Count++
			c.SumX += uint64(dx)
			c.SumY += uint64(dy)
		}
	} else {
		for i := lo; i < hi; i++ {
			if d < len(s.dead) && int(s.dead[d]) == i {
				d++
				continue
			}
			if !m.base(b, i) {
				continue
			}
			dx, dy := b.x[i]-ox, b.y[i]-oy
			c := &cells[(dy>>shift)<<levels|dx>>shift]
			if c.Count == 0 {
				b.row(i, &c.First)
			}
			c.Count++
			c.SumX += uint64(dx)
			c.SumY += uint64(dy)
		}
	}
	lo, hi = s.deltaSpan(klo, khi)
	for i := lo; i < hi; i++ {
		r := &s.delta[i]
		if !m.row(r) {
			continue
		}
		dx, dy := r.X-ox, r.Y-oy
		c := &cells[(dy>>shift)<<levels|dx>>shift]
		if c.Count == 0 {
			c.First = *r
		}
		c.Count++
		c.SumX += uint64(dx)
		c.SumY += uint64(dy)
	}
}

// tileVersions remembers, per tile down to zoom versionZoom, the data version of the last
// change inside it, so a write invalidates only the tiles it touches.
type tileVersions struct {
	mu      sync.RWMutex
	floor   uint64 // every tile is at least this version (last load or big batch)
	byZoom  [versionZoom + 1]map[uint64]uint64
	entries int
}

const (
	versionZoom       = 16
	maxVersionEntries = 1 << 20
)

func (tv *tileVersions) reset(v uint64) {
	tv.mu.Lock()
	defer tv.mu.Unlock()
	tv.floor, tv.entries = v, 0
	for z := range tv.byZoom {
		tv.byZoom[z] = map[uint64]uint64{}
	}
}

func (tv *tileVersions) all(v uint64) { tv.reset(v) }

func (tv *tileVersions) touch(v uint64, x, y uint32) {
	tv.mu.Lock()
	defer tv.mu.Unlock()
	if tv.entries > maxVersionEntries {
		tv.mu.Unlock()
		tv.reset(v)
		tv.mu.Lock()
		return
	}
	for z := 0; z <= versionZoom; z++ {
		s := uint(32 - z)
		k := uint64(x)>>s<<32 | uint64(y)>>s
		if _, ok := tv.byZoom[z][k]; !ok {
			tv.entries++
		}
		tv.byZoom[z][k] = v
	}
}

func (tv *tileVersions) get(t Tile) uint64 {
	z, x, y := t.Z, int64(t.X), int64(t.Y)
	if z > versionZoom {
		x >>= uint(z - versionZoom)
		y >>= uint(z - versionZoom)
		z = versionZoom
	}
	tv.mu.RLock()
	defer tv.mu.RUnlock()
	v := tv.floor
	limit := int64(1) << uint(z)
	for dy := int64(-1); dy <= 1; dy++ {
		for dx := int64(-1); dx <= 1; dx++ {
			nx, ny := x+dx, y+dy
			if nx < 0 || ny < 0 || nx >= limit || ny >= limit {
				continue
			}
			if w, ok := tv.byZoom[z][uint64(nx)<<32|uint64(ny)]; ok && w > v {
				v = w
			}
		}
	}
	return v
}
