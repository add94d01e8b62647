package olap

import (
	"math"
	"math/bits"
	"slices"
	"sync"

	"github.com/gcrm/gcrm/crm"
	"github.com/paulmach/orb"
)

// CubeRes is the H3 resolution of the cube's finest pre-aggregated cells. Roll-ups to any
// coarser resolution, region, or dimension sum these cells; finer resolutions (up to 15)
// are answered from the engine's point columns.
const CubeRes = 9

// MaxCubeLevels is the number of region levels (county, state, …) one cube keys by.
const MaxCubeLevels = 4

// Status values counted as won and lost (a record's status, any kind). Conversion rate is
// won / (won + lost).
const (
	StatusWon  = "won"
	StatusLost = "lost"
)

// cubeKey is the key of one pre-aggregated cell: an H3 cell plus the dimension codes. A
// cuboid that drops a dimension keeps it zero; cell 0 means no spatial dimension.
type cubeKey struct {
	cell    uint64
	month   int32
	status  uint32
	segment uint32
	owner   uint32
	regions [MaxCubeLevels]uint32 // region codes per level; 0: in no region of the level
	kind    uint8
}

// cubeAcc holds the additive measures of a cell. Revenue is exact integer cents. Counts
// are 32-bit (a cell, or a result row, holds fewer than 2^31 records): 48 bytes a cell.
type cubeAcc struct {
	cents [3]int64 // revenue by kind
	n     [3]int32 // records by kind (crm.Kinds order)
	won   int32
	lost  int32
}

func (a *cubeAcc) add(b *cubeAcc, sign int32) {
	for k := range a.n {
		a.n[k] += sign * b.n[k]
		a.cents[k] += int64(sign) * b.cents[k]
	}
	a.won += sign * b.won
	a.lost += sign * b.lost
}

func (a *cubeAcc) records() int64 { return int64(a.n[0]) + int64(a.n[1]) + int64(a.n[2]) }

// dimension bits of a cuboid.
type dimMask uint16

const (
	dimKind dimMask = 1 << iota
	dimStatus
	dimSegment
	dimOwner
	dimMonth
	dimRegion0 // … one bit per region level
)

const dimAttrs = dimKind | dimStatus | dimSegment | dimOwner | dimMonth

func regionBit(l int) dimMask { return dimRegion0 << uint(l) }

const dimAllRegions = dimRegion0 | dimRegion0<<1 | dimRegion0<<2 | dimRegion0<<3

// cuboid is one set of pre-aggregated cells: the cube at one H3 resolution (-1: none)
// with some dimensions. keys[:sorted] are in key order (cells of a parent contiguous);
// cells created by later writes are appended.
type cuboid struct {
	res    int
	dims   dimMask
	index  map[cubeKey]uint32
	keys   []cubeKey
	acc    []cubeAcc
	sorted int
	live   int // cells with at least one record
}

func newCuboid(res int, dims dimMask, n int) *cuboid {
	return &cuboid{res: res, dims: dims, index: make(map[cubeKey]uint32, n), keys: make([]cubeKey, 0, n), acc: make([]cubeAcc, 0, n)}
}

// project maps a base key onto the cuboid's key.
func (c *cuboid) project(k *cubeKey) cubeKey {
	var p cubeKey
	if c.res >= 0 {
		p.cell = h3Parent(k.cell, c.res)
	}
	d := c.dims
	if d&dimKind != 0 {
		p.kind = k.kind
	}
	if d&dimStatus != 0 {
		p.status = k.status
	}
	if d&dimSegment != 0 {
		p.segment = k.segment
	}
	if d&dimOwner != 0 {
		p.owner = k.owner
	}
	if d&dimMonth != 0 {
		p.month = k.month
	}
	for l := range p.regions {
		if d&regionBit(l) != 0 {
			p.regions[l] = k.regions[l]
		}
	}
	return p
}

// add adds sign × a to the cell of key k (already projected) and returns its slot.
func (c *cuboid) add(k cubeKey, a *cubeAcc, sign int32) uint32 {
	i, ok := c.index[k]
	if !ok {
		i = uint32(len(c.keys))
		c.index[k] = i
		c.keys = append(c.keys, k)
		c.acc = append(c.acc, cubeAcc{})
	}
	acc := &c.acc[i]
	was := acc.records() != 0
	acc.add(a, sign)
	if now := acc.records() != 0; now != was {
		if now {
			c.live++
		} else {
			c.live--
		}
	}
	return i
}

// sort orders the cells by key, drops empty ones and rebuilds the index. It returns the
// new slot of every old one.
func (c *cuboid) sort() []uint32 {
	order := make([]uint32, len(c.keys))
	for i := range order {
		order[i] = uint32(i)
	}
	slices.SortFunc(order, func(a, b uint32) int { return compareKeys(&c.keys[a], &c.keys[b]) })
	keys := make([]cubeKey, 0, len(order))
	acc := make([]cubeAcc, 0, len(order))
	remap := make([]uint32, len(order))
	for _, i := range order {
		if c.acc[i].records() == 0 {
			remap[i] = math.MaxUint32
			continue // drop empty cells
		}
		remap[i] = uint32(len(keys))
		keys = append(keys, c.keys[i])
		acc = append(acc, c.acc[i])
	}
	c.keys, c.acc, c.sorted, c.live = keys, acc, len(keys), len(keys)
	c.index = make(map[cubeKey]uint32, len(keys))
	for i := range keys {
		c.index[keys[i]] = uint32(i)
	}
	return remap
}

func compareKeys(a, b *cubeKey) int {
	switch {
	case a.cell != b.cell:
		return cmp64(a.cell, b.cell)
	case a.kind != b.kind:
		return int(a.kind) - int(b.kind)
	case a.status != b.status:
		return cmp64(uint64(a.status), uint64(b.status))
	case a.segment != b.segment:
		return cmp64(uint64(a.segment), uint64(b.segment))
	case a.owner != b.owner:
		return cmp64(uint64(a.owner), uint64(b.owner))
	case a.month != b.month:
		return cmp64(uint64(int64(a.month)+1<<40), uint64(int64(b.month)+1<<40))
	}
	for l := range a.regions {
		if a.regions[l] != b.regions[l] {
			return cmp64(uint64(a.regions[l]), uint64(b.regions[l]))
		}
	}
	return 0
}

func cmp64(a, b uint64) int {
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	return 0
}

// h3Parent returns the parent at resolution res of H3 cell h (res ≤ h's resolution), with
// bit operations only: the resolution field becomes res and the digits below it 7.
func h3Parent(h uint64, res int) uint64 {
	if h == 0 || res >= int(h>>52&0xf) {
		return h
	}
	return h&^(0xf<<52) | uint64(res)<<52 | (uint64(1)<<(uint(15-res)*3) - 1)
}

// h3Res returns the resolution of H3 cell h.
func h3Res(h uint64) int { return int(h >> 52 & 0xf) }

// cubeDict codes strings as dense uint32s for the cube (codes never change once given).
type cubeDict struct {
	values []string
	codes  map[string]uint32
}

func newCubeDict(seed ...string) *cubeDict {
	d := &cubeDict{codes: map[string]uint32{}}
	d.code("")
	for _, s := range seed {
		d.code(s)
	}
	return d
}

func (d *cubeDict) code(s string) uint32 {
	if c, ok := d.codes[s]; ok {
		return c
	}
	c := uint32(len(d.values))
	d.values = append(d.values, s)
	d.codes[s] = c
	return c
}

// status codes fixed by newCubeDict(StatusWon, StatusLost).
const (
	codeWon  = 1
	codeLost = 2
)

// cubeRec is what the cube remembers of one record, to take it out again: its base cell
// and revenue.
type cubeRec struct {
	slot  uint32
	cents int64
}

// regionDict codes the regions of one level: code 0 is "in none".
type regionDict struct {
	level string
	idx   *RegionIndex
	codes []string // code → region code ("" for 0)
	ids   []int64  // code → region id
	byIdx []uint32 // index into idx.Regions → code
}

// Cube is gcrm's OLAP cube: records pre-aggregated by H3 cell (CubeRes) and by kind,
// status, segment, owner, month created and region at each level, holding counts by kind,
// revenue in exact cents by kind, and won/lost counts. Coarser cuboids (fewer dimensions,
// coarser cells) are kept beside the base so that common roll-ups read few cells. It is
// kept current by the engine (set it as Engine.Observer before Load): every write takes
// the record's old contribution out and puts the new one in, in every cuboid — no rebuild.
// Queries (Query) read the smallest cuboid that holds what they group and filter by, and
// fall back to the engine's point columns for a bbox or a resolution finer than CubeRes.
// Methods are safe for concurrent use.
type Cube struct {
	mu      sync.RWMutex
	st      *cubeState
	regions []*regionDict // swapped in with the state by a load (cube_rekey.go)
	next    []*regionDict // the levels of the next load (SetRegionIndexes); nil: the current ones
	pops    map[string]map[string]float64
	ff      FootfallSource // footfall measures (cube_footfall.go); nil: none
	version uint64
}

// cubeState is everything a Load replaces.
type cubeState struct {
	status, segment, owner *cubeDict
	cuboids                []*cuboid // [0] is the base
	recs                   map[int64]cubeRec
	acts                   map[int64]actRec // records with activities (cube_activities.go)
}

// cuboidShape is the resolution (-1: none) and dimensions of a cuboid.
type cuboidShape struct {
	res  int
	dims dimMask
}

// cuboidShapes returns the cuboids kept beside the base (CubeRes, every dimension), finest
// first: a roll-up by H3 resolution, region level or attribute, sliced by one attribute,
// then reads a cuboid that holds just those dimensions. Each attribute has a cuboid per
// resolution up to 7 (kind, status, segment: a handful of values) or 5 (owner, month:
// dozens, which would not compress at finer cells). Space with two or more attributes
// falls back to the base: cuboids keyed by space and every attribute hold about one cell
// per record and cost more memory than they save time.
func cuboidShapes(levels int) []cuboidShape {
	var out []cuboidShape
	for r := CubeRes - 1; r >= 0; r-- {
		for _, d := range []dimMask{dimKind, dimStatus, dimSegment} {
			if r <= 7 {
				out = append(out, cuboidShape{r, d})
			}
		}
		if r <= 5 {
			out = append(out, cuboidShape{r, dimOwner}, cuboidShape{r, dimMonth})
		}
		out = append(out, cuboidShape{r, 0})
	}
	for l := 0; l < levels; l++ {
		for _, d := range []dimMask{dimKind, dimStatus, dimSegment, dimOwner, dimMonth, 0} {
			out = append(out, cuboidShape{-1, d | regionBit(l)})
		}
	}
	out = append(out, cuboidShape{-1, dimAttrs})
	for _, d := range []dimMask{dimKind | dimStatus | dimSegment, dimMonth | dimStatus, dimOwner | dimStatus, dimOwner | dimMonth} {
		out = append(out, cuboidShape{-1, d})
	}
	return out
}

// NewCube returns an empty cube keyed by the regions of the given indexes (at most
// MaxCubeLevels, one per level; nil entries are skipped). Region assignment is the
// indexes' (the same rule as customer_regions): after regions change, SetRegionIndexes
// and Engine.Load re-key the records (RekeyCube, FollowCubeRegions).
func NewCube(indexes ...*RegionIndex) *Cube {
	c := &Cube{pops: map[string]map[string]float64{}, regions: regionDicts(indexes...)}
	c.st = newState(c.regions, 0)
	c.st.finish()
	return c
}

func newState(regions []*regionDict, n int) *cubeState {
	all := dimAttrs
	for l := range regions {
		all |= regionBit(l)
	}
	st := &cubeState{status: newCubeDict(StatusWon, StatusLost), segment: newCubeDict(), owner: newCubeDict(),
		recs: make(map[int64]cubeRec, n)}
	st.cuboids = []*cuboid{newCuboid(CubeRes, all, n)}
	return st
}

// finish sorts the base and builds the derived cuboids from it (after a load).
func (st *cubeState) finish() {
	base := st.cuboids[0]
	if base.sorted != len(base.keys) {
		remap := base.sort()
		for id, r := range st.recs {
			r.slot = remap[r.slot]
			st.recs[id] = r
		}
	}
	st.cuboids = st.cuboids[:1]
	for _, sh := range cuboidShapes(bits.OnesCount16(uint16(base.dims & dimAllRegions))) {
		// Build from the smallest cuboid built so far that holds the shape.
		src := base
		for _, cb := range st.cuboids[1:] {
			if cb.dims&sh.dims == sh.dims && cb.res >= sh.res && len(cb.keys) < len(src.keys) {
				src = cb
			}
		}
		st.cuboids = append(st.cuboids, buildCuboid(sh, src))
	}
}

// buildCuboid rolls src up into a cuboid of shape sh: project every cell, sort, sum runs
// of equal keys, index once (no map growth, no second pass).
func buildCuboid(sh cuboidShape, src *cuboid) *cuboid {
	type cell struct {
		k cubeKey
		a cubeAcc
	}
	cb := &cuboid{res: sh.res, dims: sh.dims}
	proj := make([]cell, 0, len(src.keys))
	for i := range src.keys {
		if src.acc[i].records() != 0 {
			proj = append(proj, cell{cb.project(&src.keys[i]), src.acc[i]})
		}
	}
	slices.SortFunc(proj, func(a, b cell) int { return compareKeys(&a.k, &b.k) })
	n := 0
	for i := range proj {
		if i > 0 && proj[i].k == proj[n-1].k {
			proj[n-1].a.add(&proj[i].a, 1)
			continue
		}
		proj[n] = proj[i]
		n++
	}
	cb.keys, cb.acc = make([]cubeKey, n), make([]cubeAcc, n)
	cb.index = make(map[cubeKey]uint32, n)
	for i := range proj[:n] {
		cb.keys[i], cb.acc[i] = proj[i].k, proj[i].a
		cb.index[proj[i].k] = uint32(i)
	}
	cb.sorted, cb.live = n, n
	return cb
}

// keyOf returns the base key and measures of a located point, keyed by regions.
func keyOf(regions []*regionDict, st *cubeState, p *crm.Point) (cubeKey, cubeAcc, int64) {
	k := cubeKey{cell: h3Parent(uint64(p.Cell), CubeRes), month: p.Month,
		status: st.status.code(p.Status), segment: st.segment.code(p.Segment), owner: st.owner.code(p.Owner)}
	if kc := crm.KindCode(p.Kind); kc > 0 {
		k.kind = uint8(kc)
	}
	for l, d := range regions {
		if i := d.idx.Locate(orb.Point{p.Lon, p.Lat}); i >= 0 {
			k.regions[l] = d.byIdx[i]
		}
	}
	cents := int64(math.Round(p.Revenue * 100))
	return k, accOf(&k, cents), cents
}

func accOf(k *cubeKey, cents int64) cubeAcc {
	var a cubeAcc
	a.n[k.kind] = 1
	a.cents[k.kind] = cents
	switch k.status {
	case codeWon:
		a.won = 1
	case codeLost:
		a.lost = 1
	}
	return a
}

// BeginLoad starts a reload (Observer).
func (c *Cube) BeginLoad() ObserverLoad {
	c.mu.RLock()
	regions := c.regions
	if c.next != nil {
		regions = c.next
	}
	c.mu.RUnlock()
	return &cubeLoad{c: c, regions: regions, st: newState(regions, 0)}
}

// cubeLoad collects the records of a load and builds the base by sorting them (no map
// growth per record).
type cubeLoad struct {
	c       *Cube
	regions []*regionDict // the levels this load keys by
	st      *cubeState
	rows    []loadRow
}

type loadRow struct {
	k     cubeKey
	id    int64
	cents int64
}

func (l *cubeLoad) Add(p *crm.Point) {
	l.st.putActs(p)
	if p.Located {
		k, _, cents := keyOf(l.regions, l.st, p)
		l.rows = append(l.rows, loadRow{k, p.ID, cents})
	}
}

func (l *cubeLoad) Commit() {
	rows, st := l.rows, l.st
	slices.SortFunc(rows, func(a, b loadRow) int { return compareKeys(&a.k, &b.k) })
	base := st.cuboids[0]
	st.recs = make(map[int64]cubeRec, len(rows))
	for i := range rows {
		r := &rows[i]
		if i == 0 || r.k != rows[i-1].k {
			base.keys = append(base.keys, r.k)
			base.acc = append(base.acc, cubeAcc{})
		}
		slot := uint32(len(base.keys) - 1)
		a := accOf(&r.k, r.cents)
		base.acc[slot].add(&a, 1)
		st.recs[r.id] = cubeRec{slot: slot, cents: r.cents}
	}
	l.rows = nil
	base.index = make(map[cubeKey]uint32, len(base.keys))
	for i := range base.keys {
		base.index[base.keys[i]] = uint32(i)
	}
	base.sorted, base.live = len(base.keys), len(base.keys)
	st.finish()
	l.c.mu.Lock()
	l.c.st = st
	if l.c.next != nil && len(l.c.next) == len(l.regions) && (len(l.regions) == 0 || &l.c.next[0] == &l.regions[0]) {
		l.c.next = nil // the levels asked for are in
	}
	l.c.regions = l.regions
	l.c.version++
	l.c.mu.Unlock()
}

// Apply takes p's previous contribution out of every cuboid and adds its new one
// (Observer). A record without a location leaves the cube.
func (c *Cube) Apply(p *crm.Point) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.st
	st.putActs(p)
	base := st.cuboids[0]
	if r, ok := st.recs[p.ID]; ok {
		k := base.keys[r.slot]
		a := accOf(&k, r.cents)
		for _, cb := range st.cuboids {
			cb.add(cb.project(&k), &a, -1)
		}
		delete(st.recs, p.ID)
	}
	if p.Located {
		k, a, cents := keyOf(c.regions, st, p)
		for i, cb := range st.cuboids {
			slot := cb.add(cb.project(&k), &a, 1)
			if i == 0 {
				st.recs[p.ID] = cubeRec{slot: slot, cents: cents}
			}
		}
	}
	c.version++
}

// Version grows with every change the cube applies.
func (c *Cube) Version() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.version
}

// Levels returns the region levels the cube keys by.
func (c *Cube) Levels() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]string, len(c.regions))
	for i, d := range c.regions {
		out[i] = d.level
	}
	return out
}

// SetPopulation gives the residents of each region (by code) of a level, for the
// penetration measure (LoadRegionPopulation reads them from regions.attributes).
func (c *Cube) SetPopulation(level string, byCode map[string]float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pops[level] = byCode
}

// PopulationLevels returns the region levels that have residents for at least one region,
// where the penetration measure has values.
func (c *Cube) PopulationLevels() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := []string{}
	for _, d := range c.regions {
		if len(c.pops[d.level]) > 0 {
			out = append(out, d.level)
		}
	}
	return out
}

// CubeStats describes the cube's size.
type CubeStats struct {
	Records  int
	Cuboids  []CuboidStats
	Versions uint64
}

// CuboidStats describes one cuboid.
type CuboidStats struct {
	Name  string
	Cells int
}

// Stats returns the cube's sizes.
func (c *Cube) Stats() CubeStats {
	c.mu.RLock()
	defer c.mu.RUnlock()
	s := CubeStats{Records: len(c.st.recs), Versions: c.version}
	for _, cb := range c.st.cuboids {
		s.Cuboids = append(s.Cuboids, CuboidStats{Name: c.cuboidName(cb), Cells: cb.live})
	}
	return s
}

func (c *Cube) cuboidName(cb *cuboid) string {
	name := "all"
	if cb.res >= 0 {
		name = "h3:" + itoa(cb.res)
	}
	for _, d := range []struct {
		bit  dimMask
		name string
	}{{dimKind, "kind"}, {dimStatus, "status"}, {dimSegment, "segment"}, {dimOwner, "owner"}, {dimMonth, "month"}} {
		if cb.dims&d.bit != 0 {
			name += "," + d.name
		}
	}
	for l, d := range c.regions {
		if cb.dims&regionBit(l) != 0 {
			name += ",region:" + d.level
		}
	}
	return name
}
