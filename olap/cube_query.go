package olap

import (
	"encoding/json"
	"math"
	"math/bits"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
	"github.com/paulmach/orb"
)

// CubeDim is a dimension of the cube: "h3" (with Res 0..15), "region" (with Level), or
// one of "kind", "status", "segment", "owner", "month" (month created, UTC, "2006-01").
type CubeDim struct {
	Name  string
	Res   int
	Level string
}

// CubeDimNames lists the dimensions, as ParseCubeDim reads them.
var CubeDimNames = []string{"h3:<0-15>", "region:<level>", "kind", "status", "segment", "owner", "month"}

// ParseCubeDim reads "h3:6", "region:county", "segment", … Returns EINVALID naming the
// allowed dimensions.
func ParseCubeDim(s string) (CubeDim, error) {
	name, arg, hasArg := strings.Cut(s, ":")
	switch name {
	case "h3":
		res, err := strconv.Atoi(arg)
		if !hasArg || err != nil || res < 0 || res > 15 || !digitsOnly(arg) {
			return CubeDim{}, geo.Errorf(geo.EINVALID, "dimension %q: h3 needs a resolution 0..15, as h3:6", clip(s))
		}
		return CubeDim{Name: "h3", Res: res}, nil
	case "region":
		if !hasArg || ValidRegionLevel(arg) != nil {
			return CubeDim{}, geo.Errorf(geo.EINVALID, "dimension %q: region needs a level, as region:county", clip(s))
		}
		return CubeDim{Name: "region", Level: arg}, nil
	case "kind", "status", "segment", "owner", "month":
		if hasArg {
			break
		}
		return CubeDim{Name: name}, nil
	}
	return CubeDim{}, geo.Errorf(geo.EINVALID, "unknown dimension %q: use one of %s", clip(s), strings.Join(CubeDimNames, ", "))
}

func digitsOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// String formats d as ParseCubeDim reads it.
func (d CubeDim) String() string {
	switch d.Name {
	case "h3":
		return "h3:" + itoa(d.Res)
	case "region":
		return "region:" + d.Level
	}
	return d.Name
}

func itoa(i int) string { return strconv.Itoa(i) }

// CubeFilter keeps the records whose value of Dim is one of Values (Dim.Res is ignored
// for h3: each value is an H3 cell, hexadecimal, of any resolution; a record matches when
// it lies in the cell). Month values are "2006-01". Region values are region codes.
type CubeFilter struct {
	Dim    CubeDim
	Values []string
}

// CubeMeasure describes one measure.
type CubeMeasure struct {
	Name string `json:"name"`
	Doc  string `json:"doc"`
}

// CubeMeasures lists the measures in their usual order.
var CubeMeasures = []CubeMeasure{
	{"records", "customers + prospects + leads"},
	{"customers", "records of kind customer"},
	{"prospects", "records of kind prospect"},
	{"leads", "records of kind lead"},
	{"revenue", "sum of revenue of the records (any kind), exact to the cent"},
	{"customer_revenue", "sum of revenue of the customers"},
	{"won", `records with status "won"`},
	{"lost", `records with status "lost"`},
	{"conversion_rate", "won / (won + lost); null when both are 0"},
	{"revenue_per_customer", "customer_revenue / customers; null without customers"},
	{"activities", "activities (visits, calls, e-mails, meetings) logged on the records"},
	{"penetration", "customers per 1,000 residents of the row's region (needs by=region:<level> and a population attribute); null when unknown"},
	{"footfall", "mean daily footfall of the row's area: the footfall cells (measured and estimated) in its H3 cell, region or filters; not changed by attribute filters; null when unknown"},
	{"footfall_penetration", "customers per 1,000 daily footfall of the row's area; null without footfall"},
}

// notYet are measures of the issue the cube cannot answer yet, with the reason.
var notYet = map[string]string{}

func measureNames() []string {
	out := make([]string, len(CubeMeasures))
	for i, m := range CubeMeasures {
		out[i] = m.Name
	}
	return out
}

// CubeQuery is one question to the cube: measures grouped by dimensions (none: one total
// row), records kept by Filters (all must hold), inside Bound (lon/lat, edges included),
// within the caller's Scope.
type CubeQuery struct {
	Measures []string
	By       []CubeDim
	Filters  []CubeFilter
	Bound    *orb.Bound
	Scope    crm.Scope
}

// MaxCubeBy is the most dimensions one query groups by.
const MaxCubeBy = 8

// Check validates q against the cube's region levels. Returns EINVALID naming what is
// allowed.
func (q *CubeQuery) Check(levels []string) error {
	if len(q.Measures) == 0 {
		return geo.Errorf(geo.EINVALID, "give one or more measures: %s", strings.Join(measureNames(), ", "))
	}
	for _, m := range q.Measures {
		if why, ok := notYet[m]; ok {
			return geo.Errorf(geo.EINVALID, "measure %q is not available: %s; use one of %s", m, why, strings.Join(measureNames(), ", "))
		}
		if !slices.Contains(measureNames(), m) {
			return geo.Errorf(geo.EINVALID, "unknown measure %q: use one of %s", clip(m), strings.Join(measureNames(), ", "))
		}
		if m == "penetration" && !slices.ContainsFunc(q.By, func(d CubeDim) bool { return d.Name == "region" }) {
			return geo.Errorf(geo.EINVALID, "penetration is per region: add by=region:<level>")
		}
	}
	if len(q.By) > MaxCubeBy {
		return geo.Errorf(geo.EINVALID, "group by at most %d dimensions", MaxCubeBy)
	}
	seen := map[string]bool{}
	for _, d := range q.By {
		key := d.Name
		if d.Name == "region" {
			key += ":" + d.Level
		}
		if seen[key] {
			return geo.Errorf(geo.EINVALID, "dimension %s is given twice in by", d.Name)
		}
		seen[key] = true
	}
	checkLevel := func(d CubeDim) error {
		switch d.Name {
		case "h3", "region", "kind", "status", "segment", "owner", "month":
		default:
			return geo.Errorf(geo.EINVALID, "unknown dimension %q: use one of %s", clip(d.Name), strings.Join(CubeDimNames, ", "))
		}
		if d.Name == "h3" && (d.Res < 0 || d.Res > 15) {
			return geo.Errorf(geo.EINVALID, "h3 resolution %d is outside 0..15", d.Res)
		}
		if d.Name == "region" && !slices.Contains(levels, d.Level) {
			if len(levels) == 0 {
				return geo.Errorf(geo.EINVALID, "there are no region levels in the cube: import regions first")
			}
			return geo.Errorf(geo.EINVALID, "unknown region level %q: use one of %s", d.Level, strings.Join(levels, ", "))
		}
		return nil
	}
	for _, d := range q.By {
		if err := checkLevel(d); err != nil {
			return err
		}
	}
	for _, f := range q.Filters {
		if err := checkLevel(f.Dim); err != nil {
			return err
		}
		if len(f.Values) == 0 {
			return geo.Errorf(geo.EINVALID, "filter on %s has no values", f.Dim)
		}
		for _, v := range f.Values {
			switch f.Dim.Name {
			case "h3":
				if _, err := parseCell(v); err != nil {
					return err
				}
			case "month":
				if _, err := ParseMonth(v); err != nil {
					return err
				}
			case "kind":
				if crm.KindCode(v) < 0 {
					return geo.Errorf(geo.EINVALID, "kind %q is not one of %s", clip(v), strings.Join(crm.Kinds, ", "))
				}
			}
		}
	}
	if b := q.Bound; b != nil {
		if !(b.Min[0] <= b.Max[0] && b.Min[1] <= b.Max[1]) || !geo.ValidLonLat(b.Min[0], b.Min[1]) || !geo.ValidLonLat(b.Max[0], b.Max[1]) {
			return geo.Errorf(geo.EINVALID, "bbox must be minLon,minLat,maxLon,maxLat within the world, min ≤ max")
		}
	}
	return nil
}

func parseCell(v string) (uint64, error) {
	c, err := strconv.ParseUint(v, 16, 64)
	if err != nil || c == 0 || c>>59&0xf != 1 || !geo.Cell(c).IsValid() {
		return 0, geo.Errorf(geo.EINVALID, "%q is not an H3 cell (hexadecimal, as 8928308280fffff)", clip(v))
	}
	return c, nil
}

// ParseMonth reads "2006-01" as year*12 + month-1 (crm.MonthOf). Returns EINVALID.
func ParseMonth(s string) (int32, error) {
	y, m, ok := strings.Cut(s, "-")
	yi, err1 := strconv.Atoi(y)
	mi, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(y) != 4 || len(m) != 2 || mi < 1 || mi > 12 || !digitsOnly(y) || !digitsOnly(m) {
		return 0, geo.Errorf(geo.EINVALID, "month %q is not YYYY-MM", clip(s))
	}
	return int32(yi*12 + mi - 1), nil
}

// FormatMonth formats a month as ParseMonth reads it.
func FormatMonth(m int32) string {
	y, mo := m/12, m%12+1
	s := strconv.Itoa(int(y))
	for len(s) < 4 {
		s = "0" + s
	}
	if mo < 10 {
		return s + "-0" + strconv.Itoa(int(mo))
	}
	return s + "-" + strconv.Itoa(int(mo))
}

// appendMonth appends m as FormatMonth writes it.
func appendMonth(dst []byte, m int32) []byte {
	y, mo := m/12, m%12+1
	if m < 0 || y > 9999 {
		return append(dst, FormatMonth(m)...)
	}
	return append(dst, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-', byte('0'+mo/10), byte('0'+mo%10))
}

// match is a query's filter compiled against one cube state.
type match struct {
	kinds   uint8
	kindSet bool // kinds comes from a filter
	sets    []cubeSet
	months  map[int32]bool
	monthLo int32 // with months: monthIn[i] says whether month monthLo+i is kept
	monthIn []bool
	cells   []uint64 // any of these (h3 filter); each with its own resolution
	cellsOK bool     // false: no h3 filter
	none    bool     // matches nothing
	// The sums the query's measures read besides the counts by kind (needs): a scan of
	// records may leave the others zero, and not read their columns.
	cents, wonLost bool
}

// needs sets which sums the measures ids read besides the counts by kind: revenue (cents)
// and won/lost (statuses).
func (m *match) needs(ids []measureID) {
	for _, id := range ids {
		switch id {
		case mRevenue, mCustomerRevenue, mRevenuePerCustomer:
			m.cents = true
		case mWon, mLost, mConversionRate:
			m.wonLost = true
		}
	}
}

type cubeSet struct {
	field int // 0 status, 1 segment, 2 owner, 3+l region level l
	in    []bool
}

func (m *match) ok(k *cubeKey) bool {
	if m.kinds&(1<<k.kind) == 0 {
		return false
	}
	for i := range m.sets {
		s := &m.sets[i]
		var v uint32
		switch s.field {
		case 0:
			v = k.status
		case 1:
			v = k.segment
		case 2:
			v = k.owner
		default:
			v = k.regions[s.field-3]
		}
		if int(v) >= len(s.in) || !s.in[v] {
			return false
		}
	}
	if m.months != nil && !m.month(k.month) {
		return false
	}
	if m.cellsOK {
		found := false
		for _, c := range m.cells {
			if h3Parent(k.cell, h3Res(c)) == c {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func (m *match) month(mo int32) bool {
	i := int64(mo) - int64(m.monthLo)
	return i >= 0 && i < int64(len(m.monthIn)) && m.monthIn[i]
}

// statusOnly says whether m filters by nothing but kind, status and month (no other
// attribute, region or cell): what the runs of cubeRecords.byStatusMonth select exactly.
func (m *match) statusOnly() bool {
	for i := range m.sets {
		if m.sets[i].field != 0 {
			return false
		}
	}
	return !m.cellsOK
}

// okRecord is ok for record slot s, read from the columns (no key built).
func (m *match) okRecord(r *cubeRecords, s int) bool {
	if m.kinds&(1<<r.kind[s]) == 0 { // a dead slot's kind shifts the bit out
		return false
	}
	for i := range m.sets {
		st := &m.sets[i]
		var v uint32
		switch st.field {
		case 0:
			v = r.status.at(s)
		case 1:
			v = r.segment.at(s)
		case 2:
			v = r.owner.at(s)
		default:
			v = r.regions[st.field-3].at(s)
		}
		if int(v) >= len(st.in) || !st.in[v] {
			return false
		}
	}
	if m.months != nil && !m.month(r.month.at(s)) {
		return false
	}
	if m.cellsOK {
		for _, c := range m.cells {
			if h3Parent(r.cell[s], h3Res(c)) == c {
				return true
			}
		}
		return false
	}
	return true
}

// values returns the codes m allows for key field id, ascending; false when m does not
// constrain the field.
func (m *match) values(id uint8) ([]uint64, bool) {
	var out []uint64
	switch id {
	case fKind:
		if !m.kindSet {
			return nil, false
		}
		for k := range 8 {
			if m.kinds&(1<<k) != 0 {
				out = append(out, uint64(k))
			}
		}
		return out, true
	case fMonth:
		if m.months == nil {
			return nil, false
		}
		for mo := range m.months {
			out = append(out, uint64(uint32(mo)))
		}
		slices.Sort(out)
		return out, true
	}
	field := int(id) - int(fStatus) // status 0, segment 1, owner 2, region level l 3+l
	if id >= fRegion {
		field = 3 + int(id-fRegion)
	}
	var in []bool
	found := false
	for i := range m.sets {
		if m.sets[i].field != field {
			continue
		}
		if !found {
			in, found = slices.Clone(m.sets[i].in), true
			continue
		}
		for v := range in {
			in[v] = in[v] && v < len(m.sets[i].in) && m.sets[i].in[v]
		}
	}
	if !found {
		return nil, false
	}
	for v, ok := range in {
		if ok {
			out = append(out, uint64(v))
		}
	}
	return out, true
}

func (c *Cube) levelIndex(level string) int {
	for i, d := range c.regions {
		if d.level == level {
			return i
		}
	}
	return -1
}

// compile turns q's filters and scope into codes of st, and says which dimensions and
// resolution a cuboid needs to answer.
func (c *Cube) compile(st *cubeState, q *CubeQuery) (m *match, need dimMask, res int) {
	m = &match{kinds: 0xff}
	res = -1
	addSet := func(field int, d func(string) (uint32, bool), n int, values []string) {
		in := make([]bool, n)
		for _, v := range values {
			if code, ok := d(v); ok && int(code) < n {
				in[code] = true
			}
		}
		m.sets = append(m.sets, cubeSet{field, in})
	}
	dictFn := func(d *cubeDict) func(string) (uint32, bool) {
		return func(s string) (uint32, bool) { c, ok := d.codes[s]; return c, ok }
	}
	for _, f := range q.Filters {
		switch f.Dim.Name {
		case "kind":
			var bits uint8
			for _, v := range f.Values {
				if k := crm.KindCode(v); k >= 0 {
					bits |= 1 << k
				}
			}
			m.kinds &= bits
			m.kindSet = true
			need |= dimKind
		case "status":
			addSet(0, dictFn(st.status), len(st.status.values), f.Values)
			need |= dimStatus
		case "segment":
			addSet(1, dictFn(st.segment), len(st.segment.values), f.Values)
			need |= dimSegment
		case "owner":
			addSet(2, dictFn(st.owner), len(st.owner.values), f.Values)
			need |= dimOwner
		case "month":
			months := map[int32]bool{}
			for _, v := range f.Values {
				if mo, err := ParseMonth(v); err == nil && (m.months == nil || m.months[mo]) {
					months[mo] = true
				}
			}
			m.months = months
			need |= dimMonth
		case "region":
			l := c.levelIndex(f.Dim.Level)
			if l < 0 {
				m.none = true
				continue
			}
			d := c.regions[l]
			addSet(3+l, func(s string) (uint32, bool) {
				if s == "" {
					return 0, true
				}
				i := slices.Index(d.codes[1:], s)
				return uint32(i + 1), i >= 0
			}, len(d.codes), f.Values)
			need |= regionBit(l)
		case "h3":
			var cells []uint64
			for _, v := range f.Values {
				if cell, err := parseCell(v); err == nil {
					if m.cellsOK && !slices.ContainsFunc(m.cells, func(o uint64) bool {
						return h3Parent(cell, min(h3Res(cell), h3Res(o))) == h3Parent(o, min(h3Res(cell), h3Res(o)))
					}) {
						continue
					}
					cells = append(cells, cell)
					res = max(res, h3Res(cell))
				}
			}
			if m.cellsOK { // a second h3 filter: keep the cells of this one inside the first
				var keep []uint64
				for _, a := range cells {
					for _, b := range m.cells {
						if h3Res(a) >= h3Res(b) && h3Parent(a, h3Res(b)) == b {
							keep = append(keep, a)
						} else if h3Res(b) > h3Res(a) && h3Parent(b, h3Res(a)) == a {
							keep = append(keep, b)
						}
					}
				}
				cells = keep
			}
			m.cells, m.cellsOK = cells, true
		}
	}
	if q.Scope.Restricted {
		addSet(2, dictFn(st.owner), len(st.owner.values), q.Scope.Owners)
		need |= dimOwner
	}
	for _, d := range q.By {
		switch d.Name {
		case "h3":
			res = max(res, d.Res)
		case "kind":
			need |= dimKind
		case "status":
			need |= dimStatus
		case "segment":
			need |= dimSegment
		case "owner":
			need |= dimOwner
		case "month":
			need |= dimMonth
		case "region":
			if l := c.levelIndex(d.Level); l >= 0 {
				need |= regionBit(l)
			}
		}
	}
	if m.kinds == 0 || (m.cellsOK && len(m.cells) == 0) || (m.months != nil && len(m.months) == 0) {
		m.none = true
	}
	if len(m.months) > 0 {
		lo, hi := int32(math.MaxInt32), int32(math.MinInt32)
		for mo := range m.months {
			lo, hi = min(lo, mo), max(hi, mo)
		}
		m.monthLo, m.monthIn = lo, make([]bool, int64(hi)-int64(lo)+1)
		for mo := range m.months {
			m.monthIn[mo-lo] = true
		}
	}
	return m, need, res
}

// gkey is the group of a row: its H3 cell (when grouped by h3) and dimension codes.
type gkey struct {
	cell  uint64
	codes [MaxCubeBy]uint32
}

type grouper struct {
	by     []CubeDim
	level  []int // region level index per by dim
	index  map[gkey]int32
	keys   []gkey
	accs   []cubeAcc
	last   gkey
	lastAt int32
	// cellOnly: by is one h3 dimension, the cell is the key. While ordered, every new
	// cell came after the previous one (records and cuboid ranges are read in cell
	// order), so groups are appended without an index, already sorted.
	cellOnly, ordered bool
	cells             map[uint64]int32
	// cellDense, once out of order at a resolution up to 6: cellDense[rank-cellLo]-1 is
	// the group of the cell of that rank (cellRank; -1: none yet) for ranks between those
	// of the first and last cells read in order; cells outside use cells.
	cellDense []int32
	cellLo    int
	// ordKeys, when set, are the packed cells (at the resolution of by) of the cube's
	// cuboid of space alone at that resolution: cellDense is then indexed by a cell's
	// ordinal among them (found by galloping from the last one, ordPos: the input comes in
	// runs in cell order), at any resolution.
	ordKeys []uint64
	ordPos  int
	// dense, when every by dimension is a code with a small domain (a month only within
	// its filter's range): dense[slot]-1 is the group of the codes at slot (-1: none yet),
	// slot = Σ (code_i - base_i) × stride_i; codes outside the domains use index.
	dense        []int32
	base, stride []uint32
	size         []uint32
	// Memory kept from an earlier query (grouperPool): cellDense and dense are made from
	// these, and keys and accs keep their capacity.
	cellDenseBuf, denseBuf, orderBuf []int32
}

// grouperPool keeps groupers between queries: a roll-up to a fine resolution groups
// hundreds of thousands of cells, and fresh memory that size costs more to fault in and
// zero than the grouping itself. It is a free list of one grouper per core (queries
// running at once), not a sync.Pool: a grouper put back on one core's private slot was
// not found by the next query on the other, nor after a garbage collection, and a
// roll-up to resolution 6 then spent a fifth of its time growing fresh slices. It holds
// at most the memory of the biggest answers (about 30 MB for 290,000 cells) per core.
var grouperPool = make(chan *grouper, runtime.GOMAXPROCS(0))

// zeroed returns buf resized to n zero values, in its own memory when it is big enough.
func zeroed[T any](buf []T, n int) []T {
	if cap(buf) < n {
		return make([]T, n)
	}
	buf = buf[:n]
	clear(buf)
	return buf
}

// cellRank numbers the cells of resolution r in their order: base cell, then digits 1..r
// in base 7.
func cellRank(cell uint64, r int) int {
	v := packCell(cell, r)
	rank := int(v >> (3 * uint(r)))
	for i := r - 1; i >= 0; i-- {
		rank = rank*7 + int(v>>(3*uint(i))&7)
	}
	return rank
}

// indexCells indexes the groups so far (in cell order) by cell: in cellDense when the
// ranks from the first to the last cell fit maxDense slots (at resolution ≤ 6), in cells.
func (g *grouper) indexCells() {
	g.cells = map[uint64]int32{}
	r := g.by[0].Res
	if g.ordKeys != nil {
		g.cellDense = zeroed(g.cellDenseBuf, len(g.ordKeys))
		g.cellDenseBuf = g.cellDense
		for j := range g.keys {
			if s, ok := g.cellSlot(g.keys[j].cell); ok {
				g.cellDense[s] = int32(j) + 1
			} else {
				g.cells[g.keys[j].cell] = int32(j)
			}
		}
		return
	}
	if n := len(g.keys); n > 0 && r <= 6 {
		lo, hi := cellRank(g.keys[0].cell, r), cellRank(g.keys[n-1].cell, r)
		if hi-lo < maxDense*4 {
			g.cellLo, g.cellDense = lo, zeroed(g.cellDenseBuf, hi-lo+1)
			g.cellDenseBuf = g.cellDense
			for j := range g.keys {
				g.cellDense[cellRank(g.keys[j].cell, r)-lo] = int32(j) + 1
			}
			return
		}
	}
	for j := range g.keys {
		g.cells[g.keys[j].cell] = int32(j)
	}
}

// cellSlot returns cell's slot in cellDense, or false.
func (g *grouper) cellSlot(cell uint64) (int, bool) {
	if g.cellDense == nil {
		return 0, false
	}
	if g.ordKeys != nil {
		return g.ordinal(packCell(cell, g.by[0].Res))
	}
	j := cellRank(cell, g.by[0].Res) - g.cellLo
	return j, j >= 0 && j < len(g.cellDense)
}

// ordinal returns the index of packed cell p in ordKeys, or false: galloping forward from
// the last one found, or from the start when p lies before it.
func (g *grouper) ordinal(p uint64) (int, bool) {
	keys, lo := g.ordKeys, g.ordPos
	if lo >= len(keys) || keys[lo] > p {
		lo = 0
	}
	hi, step := lo, 1
	for hi < len(keys) && keys[hi] < p {
		lo, hi, step = hi+1, hi+step, step*2
	}
	hi = min(hi, len(keys))
	i, _ := slices.BinarySearch(keys[lo:hi], p)
	i += lo
	g.ordPos = i
	return i, i < len(keys) && keys[i] == p
}

// useOrdinals lets a grouper by one H3 resolution index cells read out of order by their
// ordinal in the cuboid of space alone at that resolution (grouper.ordKeys), when there is
// one.
func (g *grouper) useOrdinals(st *cubeState) {
	if !g.cellOnly {
		return
	}
	for _, cb := range st.cuboids {
		if cb.res == g.by[0].Res && len(cb.fields) == 0 && !cb.broken {
			g.ordKeys = cb.keys[:cb.sorted]
			return
		}
	}
}

// order returns the groups that hold records, and whether they are in row order: when
// they were appended in cell order, when every group is in cellDense (read in its order),
// or, grouped by one coded dimension whose codes in text order are byText (nil for
// others), when every group is in the dense index (read in that order, with no sort).
func (g *grouper) order(byText []uint32) ([]int32, bool) {
	order := g.orderBuf[:0]
	keep := func(v int32) { // v: a group + 1, or 0
		if v > 0 && g.accs[v-1].records() != 0 {
			order = append(order, v-1)
		}
	}
	sorted := true
	switch {
	case g.cellDense != nil && len(g.cells) == 0:
		for _, v := range g.cellDense {
			keep(v)
		}
	case byText != nil && g.dense != nil && len(g.index) == 0:
		for _, code := range byText {
			if j := code - g.base[0]; j < g.size[0] {
				keep(g.dense[j])
			}
		}
	default:
		for i := range g.keys {
			keep(int32(i) + 1)
		}
		sorted = g.ordered
	}
	g.orderBuf = order
	return order, sorted
}

// maxDense bounds the slots of a grouper's dense index.
const maxDense = 1 << 18

// useDense sets up the dense index when the by dimensions allow it (see grouper.dense).
func (g *grouper) useDense(c *Cube, st *cubeState, m *match) {
	n := 1
	base, size := make([]uint32, len(g.by)), make([]uint32, len(g.by))
	for i, d := range g.by {
		switch d.Name {
		case "kind":
			size[i] = uint32(len(crm.Kinds))
		case "status":
			size[i] = uint32(len(st.status.values))
		case "segment":
			size[i] = uint32(len(st.segment.values))
		case "owner":
			size[i] = uint32(len(st.owner.values))
		case "region":
			size[i] = uint32(len(c.regions[g.level[i]].codes))
		case "month":
			if m.monthIn == nil {
				return
			}
			base[i], size[i] = uint32(m.monthLo), uint32(len(m.monthIn))
		default:
			return
		}
		if n *= max(int(size[i]), 1); n > maxDense {
			return
		}
	}
	g.stride = make([]uint32, len(g.by))
	st1 := uint32(1)
	for i := len(g.by) - 1; i >= 0; i-- {
		g.stride[i], st1 = st1, st1*max(size[i], 1)
	}
	g.dense, g.base, g.size = zeroed(g.denseBuf, n), base, size
	g.denseBuf = g.dense
}

// slot returns gk's slot in the dense index, or false.
func (g *grouper) slot(gk *gkey) (int, bool) {
	j := 0
	for i := range g.by {
		v := gk.codes[i] - g.base[i]
		if v >= g.size[i] {
			return 0, false
		}
		j += int(v * g.stride[i])
	}
	return j, true
}

// newGrouper returns a grouper by the dimensions by, from grouperPool: release it when its
// groups have been read.
func newGrouper(c *Cube, by []CubeDim) *grouper {
	var old *grouper
	select {
	case old = <-grouperPool:
	default:
		old = new(grouper)
	}
	g := &grouper{by: by, lastAt: -1, level: zeroed(old.level, len(by)),
		keys: old.keys[:0], accs: old.accs[:0], cellDenseBuf: old.cellDenseBuf, denseBuf: old.denseBuf, orderBuf: old.orderBuf}
	for i, d := range by {
		if d.Name == "region" {
			g.level[i] = c.levelIndex(d.Level)
		}
	}
	g.cellOnly = len(by) == 1 && by[0].Name == "h3"
	g.ordered = g.cellOnly
	return g
}

// release returns g's memory to grouperPool.
func (g *grouper) release() {
	select {
	case grouperPool <- &grouper{level: g.level, keys: g.keys, accs: g.accs,
		cellDenseBuf: g.cellDenseBuf, denseBuf: g.denseBuf, orderBuf: g.orderBuf}:
	default: // as many kept as there are cores
	}
}

func (g *grouper) key(k *cubeKey) gkey {
	var out gkey
	for i, d := range g.by {
		switch d.Name {
		case "h3":
			out.cell = h3Parent(k.cell, d.Res)
		case "kind":
			out.codes[i] = uint32(k.kind)
		case "status":
			out.codes[i] = k.status
		case "segment":
			out.codes[i] = k.segment
		case "owner":
			out.codes[i] = k.owner
		case "month":
			out.codes[i] = uint32(k.month)
		case "region":
			out.codes[i] = k.regions[g.level[i]]
		}
	}
	return out
}

func (g *grouper) add(k *cubeKey, a *cubeAcc) { g.addKey(g.key(k), a) }

// addKey adds a to the group gk.
func (g *grouper) addKey(gk gkey, a *cubeAcc) {
	if g.lastAt >= 0 && gk == g.last {
		g.accs[g.lastAt].add(a, 1)
		return
	}
	var i int32
	switch {
	case g.ordered && (len(g.keys) == 0 || gk.cell > g.keys[len(g.keys)-1].cell):
		i = g.push(gk)
	case g.cellOnly:
		if g.ordered { // out of order: index the cells so far
			g.ordered = false
			g.indexCells()
		}
		if j, ok := g.cellSlot(gk.cell); ok {
			if i = g.cellDense[j] - 1; i < 0 {
				i = g.push(gk)
				g.cellDense[j] = i + 1
			}
			break
		}
		var ok bool
		if i, ok = g.cells[gk.cell]; !ok {
			i = g.push(gk)
			g.cells[gk.cell] = i
		}
	default:
		if g.dense != nil {
			if j, ok := g.slot(&gk); ok {
				if i = g.dense[j] - 1; i < 0 {
					i = g.push(gk)
					g.dense[j] = i + 1
				}
				break
			}
		}
		var ok bool
		if i, ok = g.index[gk]; !ok {
			if g.index == nil {
				g.index = map[gkey]int32{}
			}
			i = g.push(gk)
			g.index[gk] = i
		}
	}
	g.accs[i].add(a, 1)
	g.last = gk
	g.lastAt = i
}

// addCell adds a to the group of cell p (g.cellOnly): appended straight away while the
// cells come in order, as the sums of runs of records do.
func (g *grouper) addCell(p uint64, a *cubeAcc) {
	if n := len(g.keys); g.ordered && (n == 0 || p > g.keys[n-1].cell) {
		g.pushCell(p, a)
		g.last = g.keys[n] // (one statement each: see extend)
		g.lastAt = int32(n)
		return
	}
	g.addKey(gkey{cell: p}, a)
}

// append adds the groups of h to g: appended as they are when both are in cell order
// and h's cells all come after g's.
func (g *grouper) append(h *grouper) {
	if n := len(g.keys); g.ordered && h.ordered && (n == 0 || len(h.keys) == 0 || g.keys[n-1].cell < h.keys[0].cell) {
		g.keys, g.accs = append(g.keys, h.keys...), append(g.accs, h.accs...)
		if n = len(g.keys); n > 0 {
			g.last, g.lastAt = g.keys[n-1], int32(n-1)
		}
		return
	}
	for i := range h.keys {
		if h.accs[i].records() != 0 {
			g.addKey(h.keys[i], &h.accs[i])
		}
	}
}

// lookup returns the group of key gk, if there is one.
func (g *grouper) lookup(gk gkey) (int32, bool) {
	switch {
	case g.ordered:
		i, ok := slices.BinarySearchFunc(g.keys, gk.cell, func(k gkey, c uint64) int { return cmp64(k.cell, c) })
		return int32(i), ok
	case g.cellOnly:
		if j, ok := g.cellSlot(gk.cell); ok {
			return g.cellDense[j] - 1, g.cellDense[j] > 0
		}
		i, ok := g.cells[gk.cell]
		return i, ok
	}
	if g.dense != nil {
		if j, ok := g.slot(&gk); ok {
			return g.dense[j] - 1, g.dense[j] > 0
		}
	}
	i, ok := g.index[gk]
	return i, ok
}

// grow makes room for about n groups.
func (g *grouper) grow(n int) {
	n = min(n, 1<<22)
	g.keys, g.accs = slices.Grow(g.keys, n), slices.Grow(g.accs, n)
}

// push appends the group gk, with zero sums.
func (g *grouper) push(gk gkey) int32 {
	n := g.extend()
	g.keys[n] = gk
	g.accs[n] = cubeAcc{}
	return int32(n)
}

// pushCell appends the group of cell p, with a copy of a's sums.
func (g *grouper) pushCell(p uint64, a *cubeAcc) {
	n := g.extend()
	g.keys[n] = gkey{cell: p}
	g.accs[n] = *a // one statement each: a pair assignment copies through a temporary too
}

// extend makes room for one more group and returns its index. The new group is written
// in place by the caller, not appended: append copies a 40-byte key or sums through a
// stack temporary, in overlapping 16-byte moves whose second load spans two stores, and
// waits for them (store forwarding) — appending groups ran at half the speed.
func (g *grouper) extend() int {
	n := len(g.keys)
	if n == cap(g.keys) || n == cap(g.accs) {
		g.grow(max(n, 64))
	}
	g.keys, g.accs = g.keys[:n+1], g.accs[:n+1]
	return n
}

// Query answers q from the pre-aggregated cells, or from the cube's record columns when
// no cuboid holds what q groups and filters by (an H3 resolution finer than CubeRes, a
// bbox's edges, several attributes with space). snap is not read (the cube keeps its own
// records; it may be nil). Rows are sorted by their dimension values. Returns EINVALID for
// a query that fails Check.
func (c *Cube) Query(q *CubeQuery, snap *Snapshot) (*CubeResult, error) {
	if err := q.Check(c.Levels()); err != nil {
		return nil, err
	}
	ffp := c.planFootfall(q) // nil without a footfall measure (cube_footfall.go)
	c.mu.RLock()
	st := c.st
	m, need, res := c.compile(st, q)
	ids := make([]measureID, len(q.Measures))
	for j, name := range q.Measures {
		ids[j] = measureOf(name)
	}
	m.needs(ids)
	g := newGrouper(c, q.By)
	g.useDense(c, st, m)
	g.useOrdinals(st)
	source, read := "", 0
	switch {
	case m.none:
		source = "none"
	case q.Bound != nil:
		source, read = c.scanBound(st, *q.Bound, need, res, m, g)
	default:
		var cells []uint64
		if m.cellsOK {
			cells = m.cells
		}
		cb, spans, exact, slots := c.plan(st, m, need, res, cells)
		source = "points"
		if cb != nil {
			source = c.cuboidName(cb)
		}
		read = c.scanPlan(st, cb, spans, exact, slots, res, m, g)
	}
	// Sort the groups by their values without formatting them first: H3 cells and months
	// sort as numbers (same order as their text), other codes by the rank of their text.
	ranks := make([][]uint32, len(q.By))
	var byText []uint32 // with one coded dimension: its codes in text order
	for i, d := range q.By {
		if d.Name == "h3" || d.Name == "month" {
			continue
		}
		values := c.values(st, d, g.level[i])
		to := textOrderOf(values)
		ranks[i] = to.rank
		if len(q.By) == 1 {
			byText = to.codes
		}
	}
	order, sorted := g.order(byText)
	sortGroups := slices.SortFunc[[]int32, int32]
	if sorted {
		sortGroups = func([]int32, func(a, b int32) int) {}
	}
	sortGroups(order, func(a, b int32) int {
		ka, kb := &g.keys[a], &g.keys[b]
		for i, d := range q.By {
			var x, y uint64
			switch {
			case d.Name == "h3":
				x, y = ka.cell, kb.cell
			case d.Name == "month":
				x, y = uint64(int64(int32(ka.codes[i]))+1<<40), uint64(int64(int32(kb.codes[i]))+1<<40)
			default:
				x, y = uint64(ranks[i][ka.codes[i]]), uint64(ranks[i][kb.codes[i]])
			}
			if x != y {
				return cmp64(x, y)
			}
		}
		return 0
	})
	r := &CubeResult{Source: source, Read: read}
	for _, d := range q.By {
		r.Columns = append(r.Columns, d.String())
	}
	r.Columns = append(r.Columns, q.Measures...)
	t := &resultGroups{g: g, order: order, values: make([][]string, len(q.By)), dimKinds: make([]CubeKind, len(q.By)), ids: ids}
	regionCol := -1
	for i, d := range q.By {
		switch d.Name {
		case "h3":
			t.dimKinds[i] = CubeCell
		case "month":
			t.dimKinds[i] = CubeMonth
		default:
			t.dimKinds[i], t.values[i] = CubeText, c.values(st, d, g.level[i])
		}
		if d.Name == "region" && regionCol < 0 {
			regionCol = i
		}
	}
	if regionCol >= 0 && slices.Contains(t.ids, mPenetration) {
		t.pops = make([]float64, len(g.keys))
		pops := c.pops[q.By[regionCol].Level]
		for _, i := range order {
			t.pops[i] = pops[t.values[regionCol][g.keys[i].codes[regionCol]]]
		}
	}
	r.grp = t
	c.fillActivities(st, q, m, g, res, t) // cube_activities.go
	if ffp != nil {
		customers := make([]int64, len(order))
		for j, i := range order {
			customers[j] = int64(g.accs[i].n[0])
		}
		r.Rows()
		ffp.fill(c, q, r, customers, c.pops)
	}
	c.mu.RUnlock()
	return r, nil
}

// textOrder is the order of a dimension's values (indexed by code) by their text: each
// code's rank, and the codes in that order.
type textOrder struct{ rank, codes []uint32 }

// textOrders caches textOrderOf by values slice: a dimension's values only grow (a new
// code appends a value), so the first element's address and the length name one list.
// Sorting the 3,000 county codes took as long as the rest of a query by county.
var textOrders sync.Map // textOrderKey → *textOrder

type textOrderKey struct {
	first *string
	n     int
}

// textOrderOf returns the text order of values.
func textOrderOf(values []string) *textOrder {
	if len(values) == 0 {
		return &textOrder{}
	}
	key := textOrderKey{unsafe.SliceData(values), len(values)}
	if o, ok := textOrders.Load(key); ok {
		return o.(*textOrder)
	}
	o := &textOrder{rank: make([]uint32, len(values)), codes: make([]uint32, len(values))}
	for i := range o.codes {
		o.codes[i] = uint32(i)
	}
	slices.SortFunc(o.codes, func(a, b uint32) int { return strings.Compare(values[a], values[b]) })
	for r, code := range o.codes {
		o.rank[code] = uint32(r)
	}
	if textOrdersN.Add(1) > 256 { // values that grew many times: start again
		textOrders.Clear()
		textOrdersN.Store(1)
	}
	textOrders.Store(key, o)
	return o
}

var textOrdersN atomic.Int32

// span is a range [lo, hi) of sorted slots (of a cuboid or of the records).
type span struct{ lo, hi int }

func spanLen(spans []span) int {
	n := 0
	for _, sp := range spans {
		n += sp.hi - sp.lo
	}
	return n
}

// mergeSpans sorts spans and joins overlapping ones.
func mergeSpans(spans []span) []span {
	slices.SortFunc(spans, func(a, b span) int { return a.lo - b.lo })
	out := spans[:0]
	for _, sp := range spans {
		if sp.hi <= sp.lo {
			continue
		}
		if n := len(out); n > 0 && sp.lo <= out[n-1].hi {
			out[n-1].hi = max(out[n-1].hi, sp.hi)
			continue
		}
		out = append(out, sp)
	}
	return out
}

// maxPrefixes bounds the key ranges one query looks up in a cuboid.
const maxPrefixes = 4096

// spans returns the sorted slots of cb that can hold cells m keeps: narrowed by the
// leading key fields m constrains (a field m leaves free but a later one constrains is
// enumerated when it has few codes), and, when every field is fixed, by the index range of
// the descendants of each of cells (nil: no cell constraint). exact says that every cell in
// the spans is one m keeps (every field and the cells were narrowed to exactly m's values),
// so that a scan need not check. Cells appended since the last sort are not included
// (scanCuboid reads them all).
func (c *Cube) spans(st *cubeState, cb *cuboid, m *match, cells []uint64) (_ []span, exact bool) {
	prefixes := []uint64{0}
	rest := cb.bits()
	i := 0
	for ; i < len(cb.fields); i++ {
		f := cb.fields[i]
		vals, ok := m.values(f.id)
		if !ok {
			later := cells != nil && cb.res >= 0
			for _, g := range cb.fields[i+1:] {
				if _, ok := m.values(g.id); ok {
					later = true
				}
			}
			n := c.domain(st, f.id)
			if !later || n == 0 || n > 64 || len(prefixes)*n > maxPrefixes {
				break
			}
			vals = make([]uint64, n)
			for v := range vals {
				vals[v] = uint64(v)
			}
		}
		if len(prefixes)*len(vals) > maxPrefixes {
			break
		}
		next := make([]uint64, 0, len(prefixes)*len(vals))
		for _, p := range prefixes {
			for _, v := range vals {
				if v>>f.width == 0 {
					next = append(next, p<<f.width|v)
				}
			}
		}
		prefixes = next
		rest -= uint(f.width)
	}
	type krange struct{ lo, hi uint64 }
	var ranges []krange
	// Exact when the fields left free by the prefixes are ones m does not constrain, and
	// the cells (if any) become ranges below.
	exact = !m.none && cells == nil
	for _, f := range cb.fields[i:] {
		if _, ok := m.values(f.id); ok {
			exact = false
		}
	}
	if i == len(cb.fields) && cb.res >= 0 && cells != nil && len(prefixes)*len(cells) <= 16*maxPrefixes {
		exact = !m.none
		bits := cellBits(cb.res)
		for _, p := range prefixes {
			for _, cell := range cells {
				exact = exact && h3Res(cell) <= cb.res
				lo, hi := h3Parent(cell, cb.res), h3Parent(cell, cb.res)
				if h3Res(cell) < cb.res {
					lo, hi = h3Range(cell, cb.res)
				}
				ranges = append(ranges, krange{p<<bits | packCell(lo, cb.res), p<<bits | packCell(hi, cb.res)})
			}
		}
	} else {
		for _, p := range prefixes {
			if rest >= 64 {
				ranges = append(ranges, krange{0, ^uint64(0)})
			} else {
				ranges = append(ranges, krange{p << rest, p<<rest | (1<<rest - 1)})
			}
		}
	}
	sorted := cb.keys[:cb.sorted]
	out := make([]span, 0, len(ranges))
	for _, r := range ranges {
		lo, _ := slices.BinarySearch(sorted, r.lo)
		out = append(out, span{lo, lo + upperBound(sorted[lo:], r.hi)})
	}
	return mergeSpans(out), exact
}

// recordSpans returns the sorted record slots under cells (nil: all). The cells' index
// ranges are sorted and joined first, and each is then found by galloping forward from the
// last one: a bbox's cover has hundreds of cells, often siblings (adjacent ranges), and a
// binary search over all the records for each cost as much as reading them.
func recordSpans(recs *cubeRecords, cells []uint64) []span {
	if cells == nil {
		return []span{{0, recs.sorted}}
	}
	type krange struct{ lo, hi uint64 }
	ranges := make([]krange, len(cells))
	for i, cell := range cells {
		ranges[i].lo, ranges[i].hi = h3Range(cell, geo.CellResolution)
	}
	slices.SortFunc(ranges, func(a, b krange) int { return cmp64(a.lo, b.lo) })
	joined := ranges[:0]
	for _, r := range ranges {
		if n := len(joined); n > 0 && r.lo <= joined[n-1].hi+1 {
			joined[n-1].hi = max(joined[n-1].hi, r.hi)
			continue
		}
		joined = append(joined, r)
	}
	sorted := recs.cell[:recs.sorted]
	out := make([]span, 0, len(joined))
	at := 0
	for _, r := range joined {
		lo := at + leadBelow(sorted[at:], r.lo)
		at = lo + leadBelow(sorted[lo:], r.hi+1)
		if lo < at {
			out = append(out, span{lo, at})
		}
	}
	return out
}

// leadBelow returns the number of leading values of s (sorted) below v, galloping from the
// start.
func leadBelow[T uint32 | uint64](s []T, v T) int {
	lo, next, step := 0, 0, 1
	for next < len(s) && s[next] < v {
		lo, next, step = next+1, next+step, step*2
	}
	hi := min(next, len(s))
	i, _ := slices.BinarySearch(s[lo:hi], v)
	return lo + i
}

// plan picks what answers a query without a bbox: the cuboid (holding the needed
// dimensions at resolution ≥ res) that reads the fewest cells, or the records (nil) when
// no cuboid reads fewer than half as many cells as there are records to read; with the
// slots to read (exact: see Cube.spans). The records to read are those under cells, or,
// with a month filter and no h3 filter, the runs of byStatusMonth of its months (and
// statuses) when they are fewer: then slots is byStatusMonth, the spans index it.
func (c *Cube) plan(st *cubeState, m *match, need dimMask, res int, cells []uint64) (cb *cuboid, spans []span, exact bool, slots []uint32) {
	recs := st.recs
	recSpans := recordSpans(recs, cells)
	if cells == nil {
		statuses, some := m.values(fStatus)
		if runs, ok := recs.statusMonthRuns(m, statuses, !some); ok && spanLen(runs) < spanLen(recSpans) {
			recSpans, slots = runs, recs.byStatusMonth
		}
	}
	best := 2 * (spanLen(recSpans) + recs.len() - recs.sorted)
	for _, o := range st.cuboids {
		if o.broken || o.dims&need != need || o.res < res {
			continue
		}
		sp, ex := c.spans(st, o, m, cells)
		if cost := spanLen(sp) + len(o.keys) - o.sorted; cost < best || cb == nil && cost <= best {
			best, cb, spans, exact = cost, o, sp, ex
		}
	}
	if cb == nil {
		return nil, recSpans, false, slots
	}
	return cb, spans, exact, nil
}

// cubeSplitMin is the fewest cells or records a roll-up by one H3 resolution reads on two
// cores (scanPlan; tests lower it).
var cubeSplitMin = 1 << 17

// scanPlan groups what plan chose into g: the cells of cb in spans, or with cb nil the
// records (in spans, or in the spans of slots). A roll-up by one H3 resolution that reads
// many cells, or records in cell order, is cut in two halves at a group's first cell, the
// upper half grouped on another core into a grouper of its own and then appended to g:
// both halves come in cell order (inTwo). Records read through slots are cut by
// scanRecords, once their slots are marked and read in order. Cells or records written
// since the last sort are read with the upper half. It returns the cells or records read.
func (c *Cube) scanPlan(st *cubeState, cb *cuboid, spans []span, exact bool, slots []uint32, res int, m *match, g *grouper) int {
	recs := st.recs
	n := spanLen(spans)
	if g.cellOnly && cb != nil && cb.res > g.by[0].Res {
		n >>= 2 * (cb.res - g.by[0].Res) // cells roll up about 7 to 1, fewer at the edges
	} else if cb == nil {
		n = min(n/8, 1<<16)
	}
	scan := func(g *grouper, spans []span, tail bool) int {
		if len(g.by) > 0 {
			g.grow(n)
		}
		if cb != nil {
			return scanCuboid(cb, spans, exact, m, g, tail)
		}
		return c.scanRecords(st, spans, slots, tail, res, m, g, nil)
	}
	if !g.cellOnly || slots != nil || runtime.GOMAXPROCS(0) < 2 || spanLen(spans) < cubeSplitMin {
		return scan(g, spans, true)
	}
	n /= 2
	// The cut: the first cell, at the cuboid's resolution or 15, of the group of the
	// middle cell of the longest run of cuboid keys, or of the middle record read.
	var lower, upper []span
	if cb != nil {
		bits := cellBits(cb.res)
		runs := cuboidRuns(cb.keys, spans, bits)
		var long span
		for _, r := range runs {
			if r.hi-r.lo > long.hi-long.lo {
				long = r
			}
		}
		mid := unpackCell(cb.keys[(long.lo+long.hi)/2]&(1<<bits-1), cb.res)
		cut, _ := h3Range(h3Parent(mid, g.by[0].Res), cb.res)
		lower, upper = splitRuns(cb.keys, runs, bits, packCell(cut, cb.res))
	} else {
		mid := spanLen(spans) / 2
		at := spans[0].lo
		for _, sp := range spans {
			if at = sp.lo + mid; mid < sp.hi-sp.lo {
				break
			}
			mid -= sp.hi - sp.lo
		}
		cut, _ := h3Range(h3Parent(recs.cell[at], g.by[0].Res), geo.CellResolution)
		s := leadBelow(recs.cell[:recs.sorted], cut)
		lower, upper = clipSpans(spans, span{0, s}), clipSpans(spans, span{s, recs.sorted})
	}
	return c.inTwo(g, func(g *grouper, up bool) int {
		if up {
			return scan(g, upper, true)
		}
		return scan(g, lower, false)
	})
}

// inTwo runs scan for the lower half of a roll-up by one H3 resolution into g and, on
// another core, for the upper half (upper true) into a grouper of its own, whose groups
// are then appended to g: when both halves come in cell order and the upper's cells all
// come after the lower's, as they are. It returns the sum of the two scans' returns.
func (c *Cube) inTwo(g *grouper, scan func(g *grouper, upper bool) int) int {
	h := newGrouper(c, g.by)
	h.ordKeys = g.ordKeys
	if cap(h.keys) > cap(g.keys) { // g, which gets h's groups too, takes the bigger memory
		g.keys, h.keys, g.accs, h.accs = h.keys, g.keys, h.accs, g.accs
	}
	var read int
	done := make(chan struct{})
	go func() {
		read = scan(h, true)
		close(done)
	}()
	read0 := scan(g, false)
	<-done
	g.append(h)
	h.release()
	return read0 + read
}

// cuboidRuns returns the runs of cuboid keys in spans: the keys of one code of the fields
// before the cell (whose low bits hold the packed cell), in cell order.
func cuboidRuns(keys []uint64, spans []span, bits uint) []span {
	var runs []span
	for _, sp := range spans {
		for lo := sp.lo; lo < sp.hi; {
			hi := sp.hi
			if next := (keys[lo]>>bits + 1) << bits; next != 0 {
				hi = lo + leadBelow(keys[lo:sp.hi], next)
			}
			runs = append(runs, span{lo, hi})
			lo = hi
		}
	}
	return runs
}

// splitRuns cuts runs of cuboid keys (cuboidRuns) before packed cell cut.
func splitRuns(keys []uint64, runs []span, bits uint, cut uint64) (lower, upper []span) {
	for _, r := range runs {
		at := r.lo + leadBelow(keys[r.lo:r.hi], keys[r.lo]>>bits<<bits|cut)
		lower, upper = append(lower, span{r.lo, at}), append(upper, span{at, r.hi})
	}
	return lower, upper
}

// clipSpans returns the parts of spans within w.
func clipSpans(spans []span, w span) []span {
	var out []span
	for _, sp := range spans {
		if lo, hi := max(sp.lo, w.lo), min(sp.hi, w.hi); lo < hi {
			out = append(out, span{lo, hi})
		}
	}
	return out
}

// scanCuboid groups the cells of cb in spans (and, with tail, the cells appended since
// the last sort) that m keeps; with exact spans (Cube.spans) it keeps them all unchecked,
// and reads each cell's group straight from its packed key. It returns the cells read.
func scanCuboid(cb *cuboid, spans []span, exact bool, m *match, g *grouper, tail bool) int {
	x := g.extractor(cb)
	read := spanLen(spans)
	if exact && x != nil && g.cellOnly && g.ordered && len(g.keys) == 0 {
		scanMerged(cb, spans, x, g)
		spans = nil
	}
	for _, sp := range spans {
		if !exact || x == nil {
			scanCells(cb, sp.lo, sp.hi, m, g)
			continue
		}
		for i := sp.lo; i < sp.hi; i++ {
			if a := &cb.acc[i]; a.n[0]|a.n[1]|a.n[2] != 0 {
				g.addKey(x.key(cb.keys[i]), a)
			}
		}
	}
	if tail {
		scanCells(cb, cb.sorted, len(cb.keys), m, g)
		read += len(cb.keys) - cb.sorted
	}
	return read
}

// scanMerged groups the cells of spans, all kept (an exact read), by their cell alone, into
// g (empty), merging the spans' runs so that the cells come in order (a heap of the runs'
// next cells): the groups are appended in order, with no index to find them, and read in
// that order. A month range with statuses reads a run per month and status, a kind filter
// one per kind; indexing their cells by ordinal instead cost half as much again.
func scanMerged(cb *cuboid, spans []span, x *keyExtractor, g *grouper) {
	type head struct {
		cell  uint64 // packed, at the group's resolution
		i, hi int
	}
	cellOf := func(i int) uint64 { return cb.keys[i] & x.cellMask >> x.cellShift }
	// A span is in cell order within each run of one code of the fields before the cell
	// (a month range's span of one status holds a run per month): each run is a head.
	var h []head
	for _, r := range cuboidRuns(cb.keys, spans, cellBits(cb.res)) {
		if r.lo < r.hi {
			h = append(h, head{cellOf(r.lo), r.lo, r.hi})
		}
	}
	down := func(i int) {
		for {
			c := 2*i + 1
			if c >= len(h) {
				return
			}
			if c+1 < len(h) && h[c+1].cell < h[c].cell {
				c++
			}
			if h[i].cell <= h[c].cell {
				return
			}
			h[i], h[c] = h[c], h[i]
			i = c
		}
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		down(i)
	}
	// The cells come in order: a new one is appended with a copy of its sums (g stays
	// ordered), a repeat (cells rolled up to a coarser group, or the same cell of another
	// run) adds to the last.
	prev, last := uint64(0), -1
	add := func(cell uint64, a *cubeAcc) {
		if a.n[0]|a.n[1]|a.n[2] == 0 {
			return
		}
		if last >= 0 && cell == prev {
			g.accs[last].add(a, 1)
			return
		}
		prev, last = cell, len(g.keys)
		g.pushCell(unpackCell(cell, x.cellRes), a)
	}
	if len(h) == 1 { // one run: no merge
		for i := h[0].i; i < h[0].hi; i++ {
			add(cellOf(i), &cb.acc[i])
		}
		h = nil
	}
	for len(h) > 0 {
		top := &h[0]
		add(top.cell, &cb.acc[top.i])
		if top.i++; top.i < top.hi {
			top.cell = cellOf(top.i)
		} else {
			h[0] = h[len(h)-1]
			h = h[:len(h)-1]
		}
		down(0)
	}
	if last >= 0 {
		g.last, g.lastAt = g.keys[last], int32(last)
	}
}

// scanCells groups the cells [from, to) of cb that m keeps.
func scanCells(cb *cuboid, from, to int, m *match, g *grouper) {
	for i := from; i < to; i++ {
		a := &cb.acc[i]
		if a.n[0]|a.n[1]|a.n[2] == 0 {
			continue
		}
		if k := cb.unpack(cb.keys[i]); m.ok(&k) {
			g.add(&k, a)
		}
	}
}

// keyExtractor reads a group key straight from a cuboid's packed keys: each by dimension's
// field as a shift and a mask, the H3 cell as the parent (shift) of the packed cell.
type keyExtractor struct {
	shift, mask      [MaxCubeBy]uint64
	n                int
	cellRes          int // -1: not grouped by h3
	cellMask         uint64
	cellShift, cbRes uint
}

// extractor returns the key extractor of g's dimensions for cb, or nil when cb cannot give
// them (a dimension cb does not hold).
func (g *grouper) extractor(cb *cuboid) *keyExtractor {
	x := &keyExtractor{n: len(g.by), cellRes: -1}
	at := func(id uint8) (uint64, uint64, bool) {
		sh := uint64(0)
		if cb.res >= 0 {
			sh = uint64(cellBits(cb.res))
		}
		for i := len(cb.fields) - 1; i >= 0; i-- {
			f := cb.fields[i]
			if f.id == id {
				return sh, 1<<f.width - 1, true
			}
			sh += uint64(f.width)
		}
		return 0, 0, false
	}
	for i, d := range g.by {
		var id uint8
		switch d.Name {
		case "h3":
			if cb.res < d.Res {
				return nil
			}
			x.cellRes, x.cbRes = d.Res, uint(cb.res)
			x.cellMask, x.cellShift = 1<<cellBits(cb.res)-1, 3*uint(cb.res-d.Res)
			continue
		case "kind":
			id = fKind
		case "status":
			id = fStatus
		case "segment":
			id = fSegment
		case "owner":
			id = fOwner
		case "month":
			id = fMonth
		case "region":
			if g.level[i] < 0 {
				return nil
			}
			id = fRegion + uint8(g.level[i])
		default:
			return nil
		}
		sh, mask, ok := at(id)
		if !ok {
			return nil
		}
		x.shift[i], x.mask[i] = sh, mask
	}
	return x
}

// key returns the group key of a packed cuboid key.
func (x *keyExtractor) key(key uint64) gkey {
	var gk gkey
	if x.cellRes >= 0 {
		gk.cell = unpackCell(key&x.cellMask>>x.cellShift, x.cellRes)
	}
	for i := 0; i < x.n; i++ {
		gk.codes[i] = uint32(key >> x.shift[i] & x.mask[i])
	}
	return gk
}

// rect is a web-mercator rectangle, edges included.
type rect struct{ x0, y0, x1, y1 uint32 }

func (r *rect) has(x, y uint32) bool { return x >= r.x0 && x <= r.x1 && y >= r.y0 && y <= r.y1 }

// holds reports whether o lies wholly inside r, misses whether wholly outside.
func (r *rect) holds(o *rect) bool {
	return o.x0 >= r.x0 && o.x1 <= r.x1 && o.y0 >= r.y0 && o.y1 <= r.y1
}
func (r *rect) misses(o *rect) bool { return o.x1 < r.x0 || o.x0 > r.x1 || o.y1 < r.y0 || o.y0 > r.y1 }

// extend grows r to hold (x, y).
func (r *rect) extend(x, y uint32) {
	r.x0, r.y0, r.x1, r.y1 = min(r.x0, x), min(r.y0, y), max(r.x1, x), max(r.y1, y)
}

// scanRecords groups the records in spans (and, with tail, those written since the last
// sort) that m keeps and that lie in box (nil: anywhere); with slots, the spans index
// slots (the records' slots in another order). res > CubeRes groups by the record's own
// cell. By one H3 resolution, the spans are read a cell's run at a time (sumRuns). It
// returns the records read.
func (c *Cube) scanRecords(st *cubeState, spans []span, slots []uint32, tail bool, res int, m *match, g *grouper, box *bbox) int {
	recs := st.recs
	kres := CubeRes
	if res > CubeRes {
		kres = geo.CellResolution
	}
	cellRes := -1
	if g.cellOnly {
		cellRes = g.by[0].Res
	}
	visit := func(s int) {
		if box != nil && !box.has(recs.x[s], recs.y[s]) || !m.okRecord(recs, s) {
			return
		}
		if cellRes >= 0 { // the group is the cell: no key of every dimension
			a := accOf(recs.kind[s], recs.status.at(s), recs.cents.at(s))
			g.addKey(gkey{cell: h3Parent(recs.cell[s], cellRes)}, &a)
			return
		}
		k := recs.key(s, kres)
		a := accOf(k.kind, k.status, recs.cents.at(s))
		g.add(&k, &a)
	}
	read := spanLen(spans)
	if slots != nil {
		// Mark the slots and read them in ascending order: the columns are then read
		// forward (a run of slots in another order reads them at random, about 0.5 µs a
		// record at 10 M), and in cell order (groups appended, no index). mark marks
		// those in [lo, hi), bit s-lo for slot s.
		mark := func(lo, hi int) []uint64 {
			marks := make([]uint64, (hi-lo+63)/64)
			for _, sp := range spans {
				for _, s := range slots[sp.lo:sp.hi] {
					if s -= uint32(lo); s < uint32(hi-lo) {
						marks[s>>6] |= 1 << (s & 63)
					}
				}
			}
			return marks
		}
		if cellRes >= 0 && m.statusOnly() {
			// Read forward, the slots are marked and read faster on two cores (1.6× at
			// 10 M): the upper half, from the first slot of the group of the middle slot,
			// on another.
			if runtime.GOMAXPROCS(0) < 2 || read < cubeSplitMin {
				sumMarked(recs, mark(0, recs.sorted), 0, cellRes, m, g)
			} else {
				lo, _ := h3Range(h3Parent(recs.cell[recs.sorted/2], cellRes), geo.CellResolution)
				cut := leadBelow(recs.cell[:recs.sorted], lo)
				c.inTwo(g, func(g *grouper, upper bool) int {
					if upper {
						sumMarked(recs, mark(cut, recs.sorted), cut, cellRes, m, g)
					} else {
						sumMarked(recs, mark(0, cut), 0, cellRes, m, g)
					}
					return 0
				})
			}
		} else {
			marks := mark(0, recs.sorted)
			for w, word := range marks {
				for word != 0 {
					visit(w<<6 | bits.TrailingZeros64(word))
					word &= word - 1
				}
			}
		}
		spans = nil
	}
	if cellRes >= 0 {
		read += sumRuns(recs, spans, cellRes, m, box, g) - spanLen(spans)
		spans = nil
	}
	for _, sp := range spans {
		for s := sp.lo; s < sp.hi; s++ {
			visit(s)
		}
	}
	if tail {
		for s := recs.sorted; s < recs.len(); s++ {
			visit(s)
		}
		read += recs.len() - recs.sorted
	}
	return read
}

// rowBuilder builds the rows of a result with few allocations: the values of all rows
// share one backing array, the texts formatted for them (H3 cells, months, revenues) share
// one byte buffer — appended to, never changed, so each text is a string over its bytes —
// and the values themselves (counts, ratios, string headers) sit in slabs that the rows'
// interface values point into (box), instead of one allocation per boxed value: at 10⁵
// rows those allocations were most of a query's time. The memory comes from rowPool and
// goes back with CubeResult.Release, so that a server answering roll-ups of hundreds of
// thousands of rows reuses it instead of faulting in and zeroing fresh memory each time.
type rowBuilder struct {
	*rowMem
	width int
	free  []any // vals not yet given to a row
	tmp   [32]byte
}

// rowMem is the memory of a result's rows, kept in rowPool between queries. A slab that
// fills up is replaced by a bigger one, which the next query then reuses.
type rowMem struct {
	rows   [][]any
	vals   []any
	text   []byte
	ints   []int64
	floats []float64
	strs   []string
}

var rowPool = sync.Pool{New: func() any { return new(rowMem) }}

// reuse returns buf emptied with room for n, in its own memory when it is big enough.
func reuse[T any](buf []T, n int) []T {
	if cap(buf) < n || buf == nil {
		return make([]T, 0, n)
	}
	return buf[:0]
}

// newRowBuilder returns a builder of rows of dims dimensions and the measures ids, with
// room for about rows of them.
func newRowBuilder(dims int, ids []measureID, rows int) *rowBuilder {
	width := dims + len(ids)
	mem := rowPool.Get().(*rowMem)
	ints, floats := 0, 0
	for _, id := range ids { // what each measure gives, asked of a cell where every one has a value
		switch k, _ := measureOfAcc(id, &cubeAcc{n: [3]int32{1}, won: 1}, 1); k {
		case CubeInt:
			ints++
		case CubeFloat:
			floats++
		}
	}
	mem.rows, mem.vals, mem.text = reuse(mem.rows, rows), reuse(mem.vals, width*rows), reuse(mem.text, rows*24)
	mem.ints, mem.floats, mem.strs = reuse(mem.ints, ints*rows), reuse(mem.floats, floats*rows), reuse(mem.strs, dims*rows)
	return &rowBuilder{rowMem: mem, width: width, free: mem.vals[:width*rows]}
}

// eface is the layout of an interface value in the Go runtime: its dynamic type and a
// pointer to its value (for a value that is not itself a pointer).
type eface struct{ typ, data unsafe.Pointer }

// box returns an interface holding *p with the dynamic type of zero (p's type), pointing
// at p instead of at a copy allocated for it. The slabs p lives in are never written again.
func box[T any](zero any, p *T) any {
	(*eface)(unsafe.Pointer(&zero)).data = unsafe.Pointer(p)
	return zero
}

// slot appends v to *slab (a new slab when full: earlier values stay where they are) and
// returns its address.
func slot[T any](slab *[]T, v T) *T {
	if len(*slab) == cap(*slab) {
		*slab = make([]T, 0, max(64, cap(*slab)))
	}
	*slab = append(*slab, v)
	return &(*slab)[len(*slab)-1]
}

func (b *rowBuilder) int(v int64) any     { return box(int64(0), slot(&b.ints, v)) }
func (b *rowBuilder) float(v float64) any { return box(float64(0), slot(&b.floats, v)) }
func (b *rowBuilder) string(s string) any { return box("", slot(&b.strs, s)) }
func (b *rowBuilder) number(s string) any { return box(json.Number(""), slot(&b.strs, s)) }

// next returns the next row's values (width of them).
func (b *rowBuilder) next() []any {
	if len(b.free) < b.width {
		b.free = make([]any, b.width*64)
	}
	row := b.free[:b.width:b.width]
	b.free = b.free[b.width:]
	return row
}

// str returns p as a string held by the builder.
func (b *rowBuilder) str(p []byte) string {
	if len(p) == 0 {
		return ""
	}
	if len(b.text)+len(p) > cap(b.text) { // a new buffer: the texts so far keep the old one
		b.text = make([]byte, 0, max(4096, 2*cap(b.text)))
	}
	start := len(b.text)
	b.text = append(b.text, p...)
	return unsafe.String(&b.text[start], len(p))
}

// value returns v as CubeValue.Value does, held by the builder.
func (b *rowBuilder) value(v CubeValue) any {
	switch v.Kind {
	case CubeNull:
		return nil
	case CubeText:
		return b.string(v.Text)
	case CubeInt:
		return b.int(v.Int())
	case CubeFloat:
		return b.float(v.Float())
	case CubeCell, CubeMonth:
		return b.string(b.str(v.AppendText(b.tmp[:0])))
	case CubeCents:
		return b.number(b.str(v.AppendText(b.tmp[:0])))
	}
	return v.Value()
}

// values returns the texts of the codes of a dimension held as codes (not h3 or month),
// indexed by code.
func (c *Cube) values(st *cubeState, d CubeDim, level int) []string {
	switch d.Name {
	case "kind":
		return crm.Kinds
	case "status":
		return st.status.values
	case "segment":
		return st.segment.values
	case "owner":
		return st.owner.values
	case "region":
		return c.regions[level].codes
	}
	return nil
}

// result builds the rows (sorted by their dimension values) from grouped measures.
func (q *CubeQuery) result(keys [][]string, accs []cubeAcc, pops map[string]map[string]float64) *CubeResult {
	r := &CubeResult{}
	for _, d := range q.By {
		r.Columns = append(r.Columns, d.String())
	}
	r.Columns = append(r.Columns, q.Measures...)
	order := make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return slices.Compare(keys[a], keys[b]) })
	regionCol := slices.IndexFunc(q.By, func(d CubeDim) bool { return d.Name == "region" })
	r.rows = make([][]any, 0, len(keys))
	for _, i := range order {
		if accs[i].records() != 0 {
			r.rows = append(r.rows, q.row(keys[i], &accs[i], pops, regionCol))
		}
	}
	return r
}

// row returns one result row: the dimension values, then the measures.
func (q *CubeQuery) row(keys []string, a *cubeAcc, pops map[string]map[string]float64, regionCol int) []any {
	row := make([]any, 0, len(keys)+len(q.Measures))
	for _, s := range keys {
		row = append(row, s)
	}
	for _, m := range q.Measures {
		row = append(row, measure(m, a, func() float64 {
			if regionCol < 0 {
				return 0
			}
			return pops[q.By[regionCol].Level][keys[regionCol]]
		}))
	}
	return row
}

// measure returns measure name of a as Rows holds it (pop: the population of its region,
// 0 for none, asked only for penetration).
func measure(name string, a *cubeAcc, pop func() float64) any {
	id, p := measureOf(name), 0.0
	if id == mPenetration {
		p = pop()
	}
	k, num := measureOfAcc(id, a, p)
	return CubeValue{Kind: k, Num: num}.Value()
}

// measureID names a measure computed from a cell's sums (measureOfAcc):
// the name is looked up once per query, not once per row.
type measureID uint8

const (
	mOther measureID = iota // computed elsewhere (activities, footfall), or unknown
	mRecords
	mCustomers
	mProspects
	mLeads
	mRevenue
	mCustomerRevenue
	mWon
	mLost
	mConversionRate
	mRevenuePerCustomer
	mPenetration // this and later ones need more than the sums (resultGroups.apart)
	mActivities  // computed apart (fillActivities)
)

var measureIDs = map[string]measureID{"records": mRecords, "customers": mCustomers, "prospects": mProspects,
	"leads": mLeads, "revenue": mRevenue, "customer_revenue": mCustomerRevenue, "won": mWon, "lost": mLost,
	"conversion_rate": mConversionRate, "revenue_per_customer": mRevenuePerCustomer, "penetration": mPenetration,
	"activities": mActivities}

func measureOf(name string) measureID { return measureIDs[name] }

// measureOfAcc returns measure id of the sums a: its kind (CubeInt, CubeCents, CubeFloat,
// or CubeNull for no value or a measure computed elsewhere) and number. pop is the
// population of a's region (penetration; none when not above 0).
func measureOfAcc(id measureID, a *cubeAcc, pop float64) (CubeKind, uint64) {
	switch id {
	case mRecords:
		return CubeInt, uint64(a.records())
	case mCustomers:
		return CubeInt, uint64(int64(a.n[0]))
	case mProspects:
		return CubeInt, uint64(int64(a.n[1]))
	case mLeads:
		return CubeInt, uint64(int64(a.n[2]))
	case mWon:
		return CubeInt, uint64(int64(a.won))
	case mLost:
		return CubeInt, uint64(int64(a.lost))
	case mRevenue:
		return CubeCents, uint64(a.cents)
	case mCustomerRevenue:
		return CubeCents, uint64(a.custCents)
	case mConversionRate:
		if a.won+a.lost == 0 {
			return CubeNull, 0
		}
		return CubeFloat, math.Float64bits(float64(a.won) / float64(a.won+a.lost))
	case mRevenuePerCustomer:
		if a.n[0] == 0 {
			return CubeNull, 0
		}
		return CubeFloat, math.Float64bits(float64(a.custCents) / float64(a.n[0]) / 100)
	case mPenetration:
		if !(pop > 0) {
			return CubeNull, 0
		}
		return CubeFloat, math.Float64bits(float64(a.n[0]) * 1000 / pop)
	}
	return CubeNull, 0
}

// appendHex appends v in lower-case hexadecimal, as strconv.AppendUint(dst, v, 16) does
// but without its general-base loop (an H3 cell is 15 digits).
func appendHex(dst []byte, v uint64) []byte {
	n := max(1, (bits.Len64(v)+3)/4)
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, "0123456789abcdef"[v>>(4*uint(i))&15])
	}
	return dst
}

// FormatCents writes an amount of cents as an exact decimal number with two decimals.
func FormatCents(c int64) json.Number {
	var tmp [32]byte
	return json.Number(appendCents(tmp[:0], c))
}

// appendCents appends c as FormatCents writes it.
func appendCents(dst []byte, c int64) []byte {
	u := uint64(c)
	if c < 0 {
		dst, u = append(dst, '-'), uint64(-c)
	}
	dst = strconv.AppendUint(dst, u/100, 10)
	return append(dst, '.', byte('0'+u%100/10), byte('0'+u%10))
}
