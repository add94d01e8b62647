package olap

import (
	"math"
	"math/bits"
	"slices"
	"sync"
	"unsafe"

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

// cubeAcc holds the additive measures of a cell. Revenue is exact integer cents, of every
// kind and of the customers (the measures read no other kind's revenue alone; a kind
// filter reads cells keyed by kind, or sums records of the kinds kept). Counts are 32-bit
// (a cell, or a result row, holds fewer than 2^31 records): 40 bytes a cell.
type cubeAcc struct {
	cents     int64    // revenue of every kind
	custCents int64    // revenue of the customers
	n         [3]int32 // records by kind (crm.Kinds order)
	won       int32
	lost      int32
}

func (a *cubeAcc) add(b *cubeAcc, sign int32) {
	for k := range a.n {
		a.n[k] += sign * b.n[k]
	}
	a.cents += int64(sign) * b.cents
	a.custCents += int64(sign) * b.custCents
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

// Key fields of a cuboid, in the order of the dimension bits (fRegion+l is level l).
const (
	fKind uint8 = iota
	fStatus
	fSegment
	fOwner
	fMonth
	fRegion
)

func fieldBit(id uint8) dimMask { return dimMask(1) << id }

// field returns the code of dimension id in k.
func (k *cubeKey) field(id uint8) uint64 {
	switch id {
	case fKind:
		return uint64(k.kind)
	case fStatus:
		return uint64(k.status)
	case fSegment:
		return uint64(k.segment)
	case fOwner:
		return uint64(k.owner)
	case fMonth:
		return uint64(uint32(k.month))
	}
	return uint64(k.regions[id-fRegion])
}

func (k *cubeKey) setField(id uint8, v uint64) {
	switch id {
	case fKind:
		k.kind = uint8(v)
	case fStatus:
		k.status = uint32(v)
	case fSegment:
		k.segment = uint32(v)
	case fOwner:
		k.owner = uint32(v)
	case fMonth:
		k.month = int32(uint32(v))
	default:
		k.regions[id-fRegion] = uint32(v)
	}
}

// cubeField is one dimension of a cuboid's packed key and its width in bits.
type cubeField struct{ id, width uint8 }

// cuboid is one set of pre-aggregated cells: the cube at one H3 resolution (-1: none)
// with some dimensions. Each cell's key is packed into a uint64: the dimension codes
// (fields, most significant first) then the H3 cell (cellBits(res) low bits: base cell and
// res digits, in H3 index order). keys[:sorted] are ascending, so the cells of one
// dimension value are a contiguous range, and within it the descendants of any H3 cell;
// cells first created by later writes are appended and found through tail, and merged in
// when tail grows. A code that outgrows its field (a dictionary that grew far since the
// build) marks the cuboid broken: queries then do without it until the next load.
type cuboid struct {
	res    int
	dims   dimMask
	fields []cubeField
	keys   []uint64
	acc    []cubeAcc
	sorted int
	tail   map[uint64]uint32
	live   int // cells with at least one record
	broken bool
}

// cellBits is the width of a packed H3 cell of resolution r: 7 bits of base cell and 3 a digit.
func cellBits(r int) uint { return uint(7 + 3*r) }

// packCell returns the base cell and digits 1..r of h (resolution ≥ r): ordered as H3
// indexes of resolution r are.
func packCell(h uint64, r int) uint64 { return h >> (45 - 3*uint(r)) & (1<<cellBits(r) - 1) }

// unpackCell is the H3 cell of resolution r that packCell packed into v.
func unpackCell(v uint64, r int) uint64 {
	s := 45 - 3*uint(r)
	return 1<<59 | uint64(r)<<52 | v<<s | (1<<s - 1)
}

// pack returns the key of k's cell in cb; false when a code does not fit its field.
func (cb *cuboid) pack(k *cubeKey) (uint64, bool) {
	var key uint64
	for _, f := range cb.fields {
		v := k.field(f.id)
		if v>>f.width != 0 {
			return 0, false
		}
		key = key<<f.width | v
	}
	if cb.res >= 0 {
		key = key<<cellBits(cb.res) | packCell(k.cell, cb.res)
	}
	return key, true
}

// unpack returns the cube key of a packed key (the dimensions cb drops zero).
func (cb *cuboid) unpack(key uint64) cubeKey {
	var k cubeKey
	if cb.res >= 0 {
		k.cell = unpackCell(key&(1<<cellBits(cb.res)-1), cb.res)
		key >>= cellBits(cb.res)
	}
	for i := len(cb.fields) - 1; i >= 0; i-- {
		f := cb.fields[i]
		k.setField(f.id, key&(1<<f.width-1))
		key >>= f.width
	}
	return k
}

// bits is the width of cb's keys.
func (cb *cuboid) bits() uint {
	n := uint(0)
	if cb.res >= 0 {
		n = cellBits(cb.res)
	}
	for _, f := range cb.fields {
		n += uint(f.width)
	}
	return n
}

// add adds sign × a to the cell of k.
func (cb *cuboid) add(k *cubeKey, a *cubeAcc, sign int32) {
	if cb.broken {
		return
	}
	key, ok := cb.pack(k)
	if !ok {
		cb.broken = true
		return
	}
	i, found := slices.BinarySearch(cb.keys[:cb.sorted], key)
	if !found {
		j, ok := cb.tail[key]
		if !ok {
			j = uint32(len(cb.keys))
			cb.tail[key] = j
			cb.keys = append(cb.keys, key)
			cb.acc = append(cb.acc, cubeAcc{})
		}
		i = int(j)
	}
	acc := &cb.acc[i]
	was := acc.records() != 0
	acc.add(a, sign)
	if now := acc.records() != 0; now != was {
		if now {
			cb.live++
		} else {
			cb.live--
		}
	}
	if len(cb.tail) > max(cubeMergeMin, cb.sorted/8) {
		cb.merge()
	}
}

// merge sorts the appended cells in and drops empty ones.
func (cb *cuboid) merge() {
	order := make([]uint32, 0, len(cb.keys))
	for i := range cb.keys {
		if cb.acc[i].records() != 0 {
			order = append(order, uint32(i))
		}
	}
	slices.SortFunc(order, func(a, b uint32) int { return cmp64(cb.keys[a], cb.keys[b]) })
	keys, acc := make([]uint64, len(order)), make([]cubeAcc, len(order))
	for j, i := range order {
		keys[j] = cb.keys[i]
		acc[j] = cb.acc[i] // (one statement each: see grouper.extend)
	}
	cb.keys, cb.acc, cb.sorted, cb.live, cb.tail = keys, acc, len(keys), len(keys), map[uint64]uint32{}
}

// fill sums the cells each yields into cb, sorted by key. reset, when each says so, drops
// the key index (the caller knows no later key repeats an earlier one).
func (cb *cuboid) fill(each func(yield func(k *cubeKey, a *cubeAcc), reset func())) {
	index := map[uint64]uint32{}
	var keys []uint64
	var acc []cubeAcc
	each(func(k *cubeKey, a *cubeAcc) {
		key, _ := cb.pack(k) // the widths fit every code of the build
		i, ok := index[key]
		if !ok {
			i = uint32(len(keys))
			index[key] = i
			keys = append(keys, key)
			acc = append(acc, cubeAcc{})
		}
		acc[i].add(a, 1)
	}, func() { clear(index) })
	order := make([]uint32, len(keys))
	for i := range order {
		order[i] = uint32(i)
	}
	slices.SortFunc(order, func(a, b uint32) int { return cmp64(keys[a], keys[b]) })
	cb.keys, cb.acc = make([]uint64, len(keys)), make([]cubeAcc, len(keys))
	for j, i := range order {
		cb.keys[j] = keys[i]
		cb.acc[j] = acc[i]
	}
	cb.sorted, cb.live, cb.tail = len(keys), len(keys), map[uint64]uint32{}
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
	// regionsAt is the regions' version its levels and populations were read at (LoadCube,
	// RekeyCube, SyncCubeRegions): a sync compares the table's version with it.
	regionsAt cubeRegionsVersion
	syncMu    sync.Mutex     // one SyncCubeRegions at a time (cube_rekey.go)
	ff        FootfallSource // footfall measures (cube_footfall.go); nil: none
	version   uint64
}

// cubeState is everything a Load replaces.
type cubeState struct {
	status, segment, owner *cubeDict
	regions                []*regionDict // the levels the records are keyed by
	recs                   *cubeRecords
	cuboids                []*cuboid
	acts                   map[int64]actRec // records with activities (cube_activities.go)
}

// cuboidShape is the resolution (-1: none) and the key fields of a cuboid, most
// significant first.
type cuboidShape struct {
	res    int
	fields []uint8
}

// cuboidShapes returns the cuboids built beside the records, each before the ones it can
// be rolled up into. A roll-up by H3 resolution, region level or attribute, sliced or
// filtered by one attribute (or by status and a month range), reads a cuboid that holds
// just those dimensions. Attribute fields lead the keys, so a filter on them reads only its
// own contiguous ranges. Space alone has a cuboid per resolution up to 7; with kind, status,
// segment or owner up to 5, month up to 4, status × month at 5, 3 and 1 (a query at 4
// reads 5: a few ranges of one index). Finer space, or space with more attributes, is
// answered from the records: at 10 M records those cuboids held a cell per 3–8 records
// and cost 830 MB for queries returning 10⁵–10⁶ rows.
func cuboidShapes(levels int) []cuboidShape {
	var out []cuboidShape
	sh := func(res int, fields ...uint8) { out = append(out, cuboidShape{res, fields}) }
	for r := 7; r >= 0; r-- {
		if r != 6 {
			sh(r, fKind)
			sh(r, fStatus)
			sh(r, fSegment)
		}
		if r == 5 || r == 3 || r == 1 {
			sh(r, fStatus, fMonth)
		}
		if r <= 4 {
			sh(r, fMonth)
		}
		if r <= 5 {
			sh(r, fOwner)
		}
		sh(r)
	}
	for l := uint8(0); l < uint8(levels); l++ {
		sh(-1, fStatus, fMonth, fRegion+l)
		for _, f := range []uint8{fKind, fStatus, fSegment, fOwner, fMonth} {
			sh(-1, f, fRegion+l)
		}
		sh(-1, fRegion+l)
	}
	// Attributes alone: all of them, status × month with one more, and every pair (a few
	// thousand cells at most each).
	sh(-1, fOwner, fKind, fStatus, fSegment, fMonth)
	sh(-1, fKind, fStatus, fSegment)
	for _, f := range []uint8{fOwner, fKind, fSegment} {
		sh(-1, f, fStatus, fMonth)
	}
	attrs := []uint8{fOwner, fKind, fStatus, fSegment, fMonth} // month last: its codes are not listed
	for i, a := range attrs {
		for _, b := range attrs[i+1:] {
			sh(-1, a, b)
		}
	}
	return out
}

// cubeMergeMin is the fewest appended cells a cuboid merges, and 4× it the fewest
// written or removed records that re-sort the records (tests lower it).
var cubeMergeMin = 1024

// cubeKeepAll keeps every cuboid however many cells it has (tests: every cuboid path).
var cubeKeepAll = false

// NewCube returns an empty cube keyed by the regions of the given indexes (at most
// MaxCubeLevels, one per level; nil entries are skipped). Region assignment is the
// indexes' (the same rule as customer_regions): after regions change, SetRegionIndexes
// and Engine.Load re-key the records (RekeyCube, FollowCubeRegions).
func NewCube(indexes ...*RegionIndex) *Cube {
	c := &Cube{pops: map[string]map[string]float64{}, regions: regionDicts(indexes...)}
	c.st = newState(c.regions)
	c.finish(c.st)
	return c
}

func newState(regions []*regionDict) *cubeState {
	return &cubeState{status: newCubeDict(StatusWon, StatusLost), segment: newCubeDict(), owner: newCubeDict(),
		regions: regions, recs: newCubeRecords(len(regions))}
}

// width returns the bits a key field takes: room for four times the codes given so far
// (a month: any year up to 10922).
func (c *Cube) width(st *cubeState, id uint8) uint8 {
	dictWidth := func(n int) uint8 { return uint8(max(8, bits.Len(uint(4*n)))) }
	switch id {
	case fKind:
		return 2
	case fStatus:
		return dictWidth(len(st.status.values))
	case fSegment:
		return dictWidth(len(st.segment.values))
	case fOwner:
		return dictWidth(len(st.owner.values))
	case fMonth:
		return 17
	}
	return uint8(bits.Len(uint(len(st.regions[id-fRegion].codes))))
}

// domain returns the number of codes of field id given so far (0: too many to list).
func (c *Cube) domain(st *cubeState, id uint8) int {
	switch id {
	case fKind:
		return len(crm.Kinds)
	case fStatus:
		return len(st.status.values)
	case fSegment:
		return len(st.segment.values)
	case fOwner:
		return len(st.owner.values)
	case fMonth:
		return 0
	}
	return len(st.regions[id-fRegion].codes)
}

// finish sorts the records and builds the cuboids from them (after a load): each from the
// smallest cuboid built before it that holds its dimensions, else from the records. A
// cuboid with more than one cell per four records is dropped: reading the records costs
// about as much, and it would cost the memory of a sum per record.
func (c *Cube) finish(st *cubeState) {
	recs := st.recs
	recs.compact()
	st.cuboids = nil
	for _, sh := range cuboidShapes(len(st.regions)) {
		cb := &cuboid{res: sh.res}
		for _, id := range sh.fields {
			cb.fields = append(cb.fields, cubeField{id, c.width(st, id)})
			cb.dims |= fieldBit(id)
		}
		if cb.bits() > 64 {
			continue
		}
		var src *cuboid
		for _, o := range st.cuboids {
			if o.dims&cb.dims == cb.dims && o.res >= cb.res && (src == nil || len(o.keys) < len(src.keys)) {
				src = o
			}
		}
		if src != nil {
			cb.fill(func(yield func(*cubeKey, *cubeAcc), _ func()) {
				for i, key := range src.keys {
					k := src.unpack(key)
					yield(&k, &src.acc[i])
				}
			})
		} else {
			cb.fill(func(yield func(*cubeKey, *cubeAcc), reset func()) {
				last := ^uint64(0)
				for s := range recs.sorted {
					if cb.res >= 0 { // records in cell order: a new parent cell repeats no key
						if p := packCell(recs.cell[s], cb.res); p != last {
							last = p
							reset()
						}
					}
					k := recs.key(s, CubeRes)
					a := accOf(k.kind, k.status, recs.cents.at(s))
					yield(&k, &a)
				}
			})
		}
		if !cubeKeepAll && len(cb.keys)*4 > recs.live {
			continue
		}
		st.cuboids = append(st.cuboids, cb)
	}
}

// factOf returns what the cube keeps of a located point, keyed by st's region levels.
func factOf(st *cubeState, p *crm.Point) cubeFact {
	f := cubeFact{cell: uint64(p.Cell), month: p.Month, cents: int64(math.Round(p.Revenue * 100)),
		status: st.status.code(p.Status), segment: st.segment.code(p.Segment), owner: st.owner.code(p.Owner)}
	f.x, f.y = Project(p.Lon, p.Lat)
	if kc := crm.KindCode(p.Kind); kc > 0 {
		f.kind = uint8(kc)
	}
	for l, d := range st.regions {
		if i := d.idx.Locate(orb.Point{p.Lon, p.Lat}); i >= 0 {
			f.regions[l] = d.byIdx[i]
		}
	}
	return f
}

// key returns the cube key of a record's facts (its cell at CubeRes).
func (f *cubeFact) key() cubeKey {
	return cubeKey{cell: h3Parent(f.cell, CubeRes), month: f.month, status: f.status, segment: f.segment, owner: f.owner,
		regions: f.regions, kind: f.kind}
}

// accOf is what one record of kind and status with revenue cents adds to a cell.
func accOf(kind uint8, status uint32, cents int64) cubeAcc {
	var a cubeAcc
	a.n[kind] = 1
	a.cents = cents
	if kind == 0 {
		a.custCents = cents
	}
	switch status {
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
	return &cubeLoad{c: c, regions: regions, st: newState(regions)}
}

// cubeLoad collects the records of a load into new record columns; Commit sorts them and
// builds the cuboids.
type cubeLoad struct {
	c       *Cube
	regions []*regionDict // the levels this load keys by
	st      *cubeState
}

func (l *cubeLoad) Add(p *crm.Point) {
	l.st.putActs(p)
	if p.Located {
		f := factOf(l.st, p)
		l.st.recs.add(p.ID, &f)
	}
}

func (l *cubeLoad) Commit() {
	l.c.finish(l.st)
	l.c.mu.Lock()
	l.c.st = l.st
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
	recs := st.recs
	s, had := recs.find(p.ID)
	if had {
		k := recs.key(int(s), CubeRes)
		a := accOf(k.kind, k.status, recs.cents.at(int(s)))
		for _, cb := range st.cuboids {
			cb.add(&k, &a, -1)
		}
	}
	if p.Located {
		f := factOf(st, p)
		switch {
		case had && (int(s) >= recs.sorted || recs.cell[s] == f.cell && recs.status.at(int(s)) == f.status && recs.month.at(int(s)) == f.month):
			// the same place in the order (and in byStatusMonth)
			recs.set(s, &f)
		default:
			if had {
				recs.remove(p.ID, s)
			}
			recs.tail[p.ID] = recs.add(p.ID, &f)
		}
		k := f.key()
		a := accOf(k.kind, k.status, f.cents)
		for _, cb := range st.cuboids {
			cb.add(&k, &a, 1)
		}
	} else if had {
		recs.remove(p.ID, s)
	}
	if recs.needsCompact() {
		recs.compact()
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
// penetration measure (LoadRegionPopulation reads them from regions.attributes). It is a
// change (Version grows): tiles of the penetration measure are cached by the version.
func (c *Cube) SetPopulation(level string, byCode map[string]float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pops[level] = byCode
	c.version++
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
	Records     int
	RecordBytes int64 // the record columns
	Cuboids     []CuboidStats
	Versions    uint64
}

// CuboidStats describes one cuboid.
type CuboidStats struct {
	Name   string
	Cells  int
	Bytes  int64
	Broken bool // a code outgrew its key field: unused until the next load
}

// Stats returns the cube's sizes.
func (c *Cube) Stats() CubeStats {
	c.mu.RLock()
	defer c.mu.RUnlock()
	s := CubeStats{Records: c.st.recs.live, RecordBytes: c.st.recs.bytes(), Versions: c.version}
	for _, cb := range c.st.cuboids {
		s.Cuboids = append(s.Cuboids, CuboidStats{Name: c.cuboidName(cb), Cells: cb.live,
			Bytes: int64(cap(cb.keys))*8 + int64(cap(cb.acc))*int64(unsafe.Sizeof(cubeAcc{})) + int64(len(cb.tail))*16, Broken: cb.broken})
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
