package olap

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

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
	Name string
	Doc  string
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

// CubeResult is the answer to a query: Columns are the by dimensions then the measures;
// each row holds strings for dimensions and, for measures, int64 counts, json.Number
// revenues (exact, two decimals), float64 ratios or nil (no value).
type CubeResult struct {
	Columns []string
	Rows    [][]any
	Source  string // the cuboid read, "points" (point columns) or "sql"
	Read    int    // cells (or points) read
}

// match is a query's filter compiled against one cube state.
type match struct {
	kinds   uint8
	sets    []cubeSet
	months  map[int32]bool
	cells   []uint64 // any of these (h3 filter); each with its own resolution
	cellsOK bool     // false: no h3 filter
	none    bool     // matches nothing
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
	if m.months != nil && !m.months[k.month] {
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
	if m.kinds == 0 || (m.cellsOK && len(m.cells) == 0) {
		m.none = true
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
}

func newGrouper(c *Cube, by []CubeDim) *grouper {
	g := &grouper{by: by, index: map[gkey]int32{}, lastAt: -1, level: make([]int, len(by))}
	for i, d := range by {
		if d.Name == "region" {
			g.level[i] = c.levelIndex(d.Level)
		}
	}
	return g
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

func (g *grouper) add(k *cubeKey, a *cubeAcc) {
	gk := g.key(k)
	if g.lastAt >= 0 && gk == g.last {
		g.accs[g.lastAt].add(a, 1)
		return
	}
	i, ok := g.index[gk]
	if !ok {
		i = int32(len(g.keys))
		g.index[gk] = i
		g.keys = append(g.keys, gk)
		g.accs = append(g.accs, cubeAcc{})
	}
	g.accs[i].add(a, 1)
	g.last, g.lastAt = gk, i
}

// Query answers q from the pre-aggregated cells, or from the point columns of snap when q
// has a bbox or groups/filters by an H3 resolution finer than CubeRes (snap may be nil
// otherwise). Rows are sorted by their dimension values. Returns EINVALID for a query that
// fails Check.
func (c *Cube) Query(q *CubeQuery, snap *Snapshot) (*CubeResult, error) {
	if err := q.Check(c.Levels()); err != nil {
		return nil, err
	}
	ffp := c.planFootfall(q) // nil without a footfall measure (cube_footfall.go)
	c.mu.RLock()
	st := c.st
	m, need, res := c.compile(st, q)
	g := newGrouper(c, q.By)
	source, read := "", 0
	switch {
	case m.none:
		source = "none"
	case q.Bound != nil || res > CubeRes:
		if snap == nil {
			c.mu.RUnlock()
			return nil, geo.Errorf(geo.EINTERNAL, "cube: a bbox or a resolution finer than %d needs the engine's points", CubeRes)
		}
		if q.Bound != nil && res <= CubeRes {
			var ok bool
			if source, read, ok = c.scanBound(st, snap, *q.Bound, need, res, m, g); ok {
				break
			}
		}
		source = "points"
		read = c.scanPoints(st, snap, q.Bound, res, m, g)
	default:
		cb := c.choose(st, need, res)
		source = c.cuboidName(cb)
		read = scanCuboid(cb, m, g)
	}
	// Sort the groups by their values without formatting them first: H3 cells and months
	// sort as numbers (same order as their text), other codes by the rank of their text.
	order := make([]int32, 0, len(g.keys))
	for i := range g.keys {
		if g.accs[i].records() != 0 {
			order = append(order, int32(i))
		}
	}
	ranks := make([][]uint32, len(q.By))
	for i, d := range q.By {
		var values []string
		switch d.Name {
		case "kind":
			values = crm.Kinds
		case "status":
			values = st.status.values
		case "segment":
			values = st.segment.values
		case "owner":
			values = st.owner.values
		case "region":
			values = c.regions[g.level[i]].codes
		default:
			continue
		}
		ranks[i] = rankOf(values)
	}
	slices.SortFunc(order, func(a, b int32) int {
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
	regionCol := slices.IndexFunc(q.By, func(d CubeDim) bool { return d.Name == "region" })
	r.Rows = make([][]any, 0, len(order))
	var customers []int64
	for _, i := range order {
		keys := c.format(st, q.By, g.level, g.keys[i])
		r.Rows = append(r.Rows, q.row(keys, &g.accs[i], c.pops, regionCol))
		customers = append(customers, int64(g.accs[i].n[0]))
	}
	c.fillActivities(st, q, m, g, res, r, order) // cube_activities.go
	ffp.fill(c, q, r, customers, c.pops)
	c.mu.RUnlock()
	return r, nil
}

// rankOf returns the rank of each value in text order.
func rankOf(values []string) []uint32 {
	idx := make([]int, len(values))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return strings.Compare(values[a], values[b]) })
	ranks := make([]uint32, len(values))
	for r, i := range idx {
		ranks[i] = uint32(r)
	}
	return ranks
}

// scanCuboid groups the cells of cb that m keeps; with an h3 filter it reads only the
// sorted ranges of the filter cells' descendants (plus the unsorted cells of later writes).
func scanCuboid(cb *cuboid, m *match, g *grouper) int {
	visit := func(from, to int) {
		for i := from; i < to; i++ {
			k, a := &cb.keys[i], &cb.acc[i]
			if a.n[0]|a.n[1]|a.n[2] == 0 || !m.ok(k) {
				continue
			}
			g.add(k, a)
		}
	}
	if !m.cellsOK || cb.res < 0 {
		visit(0, len(cb.keys))
		return len(cb.keys)
	}
	type span struct{ lo, hi uint64 }
	var spans []span
	for _, f := range m.cells {
		lo, hi := h3Range(f, cb.res)
		spans = append(spans, span{lo, hi})
	}
	slices.SortFunc(spans, func(a, b span) int { return cmp64(a.lo, b.lo) })
	read, next := 0, 0
	sorted := cb.keys[:cb.sorted]
	for _, sp := range spans {
		from, _ := slices.BinarySearchFunc(sorted, sp.lo, func(k cubeKey, v uint64) int { return cmp64(k.cell, v) })
		from = max(from, next) // nested or repeated filter cells: each cell once
		to := from
		for to < len(sorted) && sorted[to].cell <= sp.hi {
			to++
		}
		visit(from, to)
		read += to - from
		next = max(next, to)
	}
	visit(cb.sorted, len(cb.keys))
	return read + len(cb.keys) - cb.sorted
}

// h3Range returns the smallest and largest index of the descendants at resolution r of
// cell f: in index order they are exactly the cells at r between the two.
func h3Range(f uint64, r int) (lo, hi uint64) {
	q := h3Res(f)
	base := f&^(0xf<<52) | uint64(r)<<52
	digits := uint64(1)<<(uint(15-q)*3) - 1 // digits q+1..15
	below := uint64(1)<<(uint(15-r)*3) - 1  // digits r+1..15
	return base&^digits | below, base | digits
}

// choose returns the cuboid with the fewest cells that has every needed dimension and at
// least resolution res (-1: any).
func (c *Cube) choose(st *cubeState, need dimMask, res int) *cuboid {
	best := st.cuboids[0]
	for _, cb := range st.cuboids[1:] {
		if cb.dims&need == need && cb.res >= res && len(cb.keys) < len(best.keys) {
			best = cb
		}
	}
	return best
}

// scanPoints groups the engine's points inside bound (nil: all) by what the cube knows of
// each record; res > CubeRes replaces the cell by the point's own cell.
func (c *Cube) scanPoints(st *cubeState, snap *Snapshot, bound *orb.Bound, res int, m *match, g *grouper) int {
	base := st.cuboids[0]
	read := 0
	visit := func(r *Row) {
		rec, ok := st.recs[r.ID]
		if !ok {
			return // applied to the engine but not (yet) to the cube, or gone
		}
		read++
		k := base.keys[rec.slot]
		if res > CubeRes {
			k.cell = r.Cell
		}
		if !m.ok(&k) {
			return
		}
		a := accOf(&k, rec.cents)
		g.add(&k, &a)
	}
	if bound == nil {
		snap.Each(Tile{}, snap.Compile(Filter{}), visit)
		return read
	}
	x0, y0 := Project(bound.Min[0], bound.Max[1])
	x1, y1 := Project(bound.Max[0], bound.Min[1])
	scanRect(snap, x0, y0, x1, y1, visit)
	return read
}

// scanRect calls fn for every point whose web-mercator position lies in [x0, x1] × [y0, y1].
func scanRect(snap *Snapshot, x0, y0, x1, y1 uint32, fn func(*Row)) {
	if x0 > x1 || y0 > y1 {
		return
	}
	all := snap.Compile(Filter{})
	// A zoom where the rectangle spans at most a few tiles a side.
	z := 0
	for z < 20 && (x1-x0)>>(31-z) == 0 && (y1-y0)>>(31-z) == 0 {
		z++
	}
	s := uint(32 - z)
	for ty := y0 >> s; ty <= y1>>s; ty++ {
		for tx := x0 >> s; tx <= x1>>s; tx++ {
			t := Tile{Z: z, X: tx, Y: ty}
			inside := z > 0 && tx<<s >= x0 && ty<<s >= y0 && uint64(tx+1)<<s-1 <= uint64(x1) && uint64(ty+1)<<s-1 <= uint64(y1)
			snap.Each(t, all, func(r *Row) {
				if inside || (r.X >= x0 && r.X <= x1 && r.Y >= y0 && r.Y <= y1) {
					fn(r)
				}
			})
			if tx == x1>>s {
				break
			}
		}
		if ty == y1>>s {
			break
		}
	}
}

// format returns the dimension values of a group.
func (c *Cube) format(st *cubeState, by []CubeDim, level []int, gk gkey) []string {
	out := make([]string, len(by))
	for i, d := range by {
		code := gk.codes[i]
		switch d.Name {
		case "h3":
			out[i] = strconv.FormatUint(gk.cell, 16)
		case "kind":
			out[i] = crm.Kinds[code]
		case "status":
			out[i] = st.status.values[code]
		case "segment":
			out[i] = st.segment.values[code]
		case "owner":
			out[i] = st.owner.values[code]
		case "month":
			out[i] = FormatMonth(int32(code))
		case "region":
			out[i] = c.regions[level[i]].codes[code]
		}
	}
	return out
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
	r.Rows = make([][]any, 0, len(keys))
	for _, i := range order {
		if accs[i].records() != 0 {
			r.Rows = append(r.Rows, q.row(keys[i], &accs[i], pops, regionCol))
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
		row = append(row, measure(m, a, func() (float64, bool) {
			if regionCol < 0 {
				return 0, false
			}
			p, ok := pops[q.By[regionCol].Level][keys[regionCol]]
			return p, ok && p > 0
		}))
	}
	return row
}

func measure(name string, a *cubeAcc, pop func() (float64, bool)) any {
	switch name {
	case "records":
		return a.records()
	case "customers":
		return int64(a.n[0])
	case "prospects":
		return int64(a.n[1])
	case "leads":
		return int64(a.n[2])
	case "revenue":
		return FormatCents(a.cents[0] + a.cents[1] + a.cents[2])
	case "customer_revenue":
		return FormatCents(a.cents[0])
	case "won":
		return int64(a.won)
	case "lost":
		return int64(a.lost)
	case "conversion_rate":
		if a.won+a.lost == 0 {
			return nil
		}
		return float64(a.won) / float64(a.won+a.lost)
	case "revenue_per_customer":
		if a.n[0] == 0 {
			return nil
		}
		return float64(a.cents[0]) / float64(a.n[0]) / 100
	case "penetration":
		p, ok := pop()
		if !ok {
			return nil
		}
		return float64(a.n[0]) * 1000 / p
	}
	return nil
}

// FormatCents writes an amount of cents as an exact decimal number with two decimals.
func FormatCents(c int64) json.Number {
	neg := c < 0
	u := uint64(c)
	if neg {
		u = uint64(-c)
	}
	s := strconv.FormatUint(u/100, 10) + "." + string(rune('0'+u%100/10)) + string(rune('0'+u%10))
	if neg {
		s = "-" + s
	}
	return json.Number(s)
}
