package olap

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"testing"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
	"github.com/paulmach/orb"
	"github.com/uber/h3-go/v4"
)

// Packed keys give back the cell and codes they were packed from, and sort as H3 indexes
// (cell ranges) within each dimension value.
func TestCuboidPackRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 2000; i++ {
		res := r.IntN(CubeRes + 1)
		cb := &cuboid{res: res, fields: []cubeField{{fStatus, 8}, {fMonth, 17}}}
		p := orb.Point{-180 + 360*r.Float64(), -85 + 170*r.Float64()}
		cell := uint64(geo.CellOf(p, geo.CellResolution))
		k := cubeKey{cell: cell, status: uint32(r.IntN(256)), month: int32(2020*12 + r.IntN(100))}
		key, ok := cb.pack(&k)
		if !ok {
			t.Fatalf("%+v does not fit", k)
		}
		got := cb.unpack(key)
		want := cubeKey{cell: h3Parent(cell, res), status: k.status, month: k.month}
		if got != want || !geo.Cell(got.cell).IsValid() {
			t.Fatalf("res %d: %+v packed and unpacked is %+v", res, want, got)
		}
		if res > 0 { // the parent's descendants hold this key
			lo, hi := h3Range(h3Parent(cell, res-1), res)
			k.cell = lo
			klo, _ := cb.pack(&k)
			k.cell = hi
			khi, _ := cb.pack(&k)
			if key < klo || key > khi {
				t.Fatalf("res %d: key %x outside its parent's range %x..%x", res, key, klo, khi)
			}
		}
	}
	cb := &cuboid{res: 3, fields: []cubeField{{fStatus, 8}}}
	if _, ok := cb.pack(&cubeKey{status: 256}); ok {
		t.Fatal("a code wider than its field packed")
	}
}

// Many writes (appended cells merged into cuboids, records re-sorted) leave every cuboid
// and the records equal to those of a cube loaded from the final points, and a code that
// outgrows its field retires the cuboid instead of corrupting it.
func TestCube_MergesEqualRebuild(t *testing.T) {
	defer CubeTestMode()()
	r := rand.New(rand.NewPCG(5, 6))
	point := func(id int64) crm.Point {
		p := orb.Point{-100 + r.NormFloat64(), 38 + r.NormFloat64()}
		return crm.Point{ID: id, Located: true, Lon: p[0], Lat: p[1], Cell: geo.CellOf(p, geo.CellResolution),
			Kind: crm.Kinds[r.IntN(3)], Status: []string{"", "won", "lost", "open"}[r.IntN(4)], Segment: []string{"a", "b"}[r.IntN(2)],
			Owner: fmt.Sprint("o", r.IntN(5)), Revenue: float64(r.IntN(100000)) / 100, Month: int32(2023*12 + r.IntN(30)), Rev: 1}
	}
	pts := map[int64]crm.Point{}
	load := func() *Cube {
		c := NewCube()
		l := c.BeginLoad()
		for _, p := range pts {
			l.Add(&p)
		}
		l.Commit()
		return c
	}
	for id := int64(1); id <= 3000; id++ {
		pts[id] = point(id)
	}
	c := load()
	merged, compacted := false, false
	next := int64(3001)
	for i := 0; i < 4000; i++ {
		p := randomWrite(r, pts, &next, 3, point, func(p *crm.Point, old crm.Point) {
			if r.IntN(2) == 0 {
				p.Lon, p.Lat, p.Cell = old.Lon, old.Lat, old.Cell // same place, other facts
			}
		})
		tails := 0
		for _, cb := range c.st.cuboids {
			tails += len(cb.tail)
		}
		sorted := c.st.recs.sorted
		c.Apply(&p)
		after := 0
		for _, cb := range c.st.cuboids {
			after += len(cb.tail)
		}
		merged = merged || after < tails && p.Located
		compacted = compacted || c.st.recs.sorted != sorted
		if p.Located {
			pts[p.ID] = p
		} else {
			delete(pts, p.ID)
		}
	}
	if !merged || !compacted {
		t.Fatalf("the writes did not reach the merge paths: cuboid merge %v, record re-sort %v", merged, compacted)
	}
	want := load()
	if got, w := c.st.recs.live, want.st.recs.live; got != w {
		t.Fatalf("%d records, rebuilt %d", got, w)
	}
	for id, p := range pts {
		s, ok := c.st.recs.find(id)
		if !ok {
			t.Fatalf("record %d is missing", id)
		}
		f := c.st.recs.fact(s)
		if f.cell != uint64(p.Cell) || f.cents != int64(p.Revenue*100+0.5) || f.month != p.Month || crm.Kinds[f.kind] != p.Kind {
			t.Fatalf("record %d: %+v, want %+v", id, f, p)
		}
	}
	if len(c.st.cuboids) != len(want.st.cuboids) {
		t.Fatalf("%d cuboids, rebuilt %d", len(c.st.cuboids), len(want.st.cuboids))
	}
	cells := func(cb *cuboid) map[cubeKey]cubeAcc {
		out := map[cubeKey]cubeAcc{}
		for i, key := range cb.keys {
			if cb.acc[i].records() != 0 {
				out[cb.unpack(key)] = cb.acc[i]
			}
		}
		return out
	}
	// Codes differ between the two cubes (given in a different order): compare by text.
	text := func(c *Cube, m map[cubeKey]cubeAcc) map[string]cubeAcc {
		out := map[string]cubeAcc{}
		for k, a := range m {
			out[fmt.Sprint(k.cell, k.kind, c.st.status.values[k.status], c.st.segment.values[k.segment], c.st.owner.values[k.owner], k.month)] = a
		}
		return out
	}
	for i, cb := range c.st.cuboids {
		got, w := text(c, cells(cb)), text(want, cells(want.st.cuboids[i]))
		if fmt.Sprint(got) != fmt.Sprint(w) {
			t.Fatalf("cuboid %s: %d cells, rebuilt %d", c.cuboidName(cb), len(got), len(w))
		}
		if cb.live != len(got) {
			t.Fatalf("cuboid %s: live %d, %d cells hold records", c.cuboidName(cb), cb.live, len(got))
		}
	}
	// Month-range queries read the records through byStatusMonth (the slots written in
	// place keep their status and month; the others moved to the tail): the same rows as
	// the rebuilt cube.
	for _, f := range [][]CubeFilter{
		{{Dim: CubeDim{Name: "month"}, Values: []string{"2023-03", "2023-04", "2023-05", "2023-06", "2023-07", "2023-08", "2023-09"}}, {Dim: CubeDim{Name: "status"}, Values: []string{"won", "lost"}}},
		{{Dim: CubeDim{Name: "month"}, Values: []string{"2024-01", "2024-05"}}},
		{{Dim: CubeDim{Name: "month"}, Values: []string{"2023-12"}}, {Dim: CubeDim{Name: "status"}, Values: []string{""}}, {Dim: CubeDim{Name: "kind"}, Values: []string{"lead"}}},
	} {
		for _, by := range [][]CubeDim{{{Name: "h3", Res: 9}}, {{Name: "h3", Res: 7}, {Name: "segment"}}, {{Name: "h3", Res: 12}}} {
			q := &CubeQuery{Measures: []string{"records", "revenue", "won", "lost"}, By: by, Filters: f}
			got, err := c.Query(q, nil)
			if err != nil {
				t.Fatal(err)
			}
			w, err := want.Query(q, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got.Source != "points" || len(got.Rows()) == 0 || fmt.Sprint(got.Rows()) != fmt.Sprint(w.Rows()) {
				t.Fatalf("by %v, %v: %d rows from %s, rebuilt %d rows from %s", by, f, len(got.Rows()), got.Source, len(w.Rows()), w.Source)
			}
		}
	}
	if c.st.recs.byStatusMonth == nil || c.st.recs.sorted == c.st.recs.len() {
		t.Fatalf("no byStatusMonth index, or no record in the tail (%d of %d sorted)", c.st.recs.sorted, c.st.recs.len())
	}
	// A status code beyond the 8-bit field retires the cuboids keyed by status.
	for i := 0; i < 300; i++ {
		p := point(next)
		next++
		p.Status = fmt.Sprint("status", i)
		c.Apply(&p)
	}
	broken := 0
	for _, s := range c.Stats().Cuboids {
		if s.Broken {
			broken++
		}
	}
	q := &CubeQuery{Measures: []string{"records"}, By: []CubeDim{{Name: "status"}, {Name: "h3", Res: 4}}}
	res, err := c.Query(q, nil)
	if err != nil {
		t.Fatal(err)
	}
	if broken == 0 || res.Source != "points" {
		t.Fatalf("after 300 new statuses: %d cuboids broken, query answered from %s", broken, res.Source)
	}
	var total int64
	for _, row := range res.Rows() {
		total += row[2].(int64)
	}
	if total != int64(len(pts)+300) {
		t.Fatalf("%d records by status, want %d", total, len(pts)+300)
	}
}

// randomWrite draws a write to the records pts (ids 1 to *next-1): a new record (news in 10),
// a new version of one (to 8 in 10; of an id that may be gone; again changes a record still
// there), or a removal.
func randomWrite(r *rand.Rand, pts map[int64]crm.Point, next *int64, news int, point func(int64) crm.Point, again func(p *crm.Point, old crm.Point)) crm.Point {
	switch op := r.IntN(10); {
	case op < news:
		*next++
		return point(*next - 1)
	case op < 8:
		id := 1 + r.Int64N(*next-1)
		p := point(id)
		if old, ok := pts[id]; ok {
			again(&p, old)
		}
		return p
	}
	return crm.Point{ID: 1 + r.Int64N(*next-1)}
}

// More than 65,535 owners widen the records' 16-bit owner codes (and retire the cuboids
// keyed by owner), ids past 2^32 their 32-bit ids: every owner still counts its records,
// and a record found by a big id moves to its new owner.
func TestCube_WideCodes(t *testing.T) {
	c := NewCube()
	l := c.BeginLoad()
	p := orb.Point{-100, 38}
	pt := crm.Point{ID: 1, Located: true, Lon: p[0], Lat: p[1], Cell: geo.CellOf(p, geo.CellResolution), Kind: "lead", Owner: "first", Rev: 1}
	l.Add(&pt)
	l.Commit()
	const n = 70000
	for i := 0; i < n; i++ {
		pt.ID, pt.Owner, pt.Lon = int64(i+2)+int64(i%2)<<33, fmt.Sprint("o", i), -100+float64(i)/1e5
		pt.Cell = geo.CellOf(orb.Point{pt.Lon, pt.Lat}, geo.CellResolution)
		c.Apply(&pt)
	}
	if c.st.recs.owner.wide == nil || c.st.recs.id.wide == nil {
		t.Fatal("70,000 owners and ids past 2^32 did not widen the owner codes and ids")
	}
	pt.ID, pt.Owner, pt.Lon, pt.Rev, pt.Month = 69999+2+1<<33, "moved", -100+69999/1e5, 2, 9999*12 // past 16 bits
	pt.Revenue = 30_000_000.01                                                                     // past 2^31 cents
	c.Apply(&pt)
	if c.st.recs.month.wide == nil || c.st.recs.cents.wide == nil {
		t.Fatal("a month past 65,535 and a revenue past 2^31 cents did not widen the months and cents")
	}
	for _, owner := range []string{"first", "o0", "o65533", "moved"} {
		q := &CubeQuery{Measures: []string{"records"}, By: []CubeDim{{Name: "h3", Res: 2}}, Filters: []CubeFilter{{Dim: CubeDim{Name: "owner"}, Values: []string{owner}}}}
		res, err := c.Query(q, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Rows()) != 1 || res.Rows()[0][1] != int64(1) {
			t.Fatalf("owner %s (from %s): %v, want one record", owner, res.Source, res.Rows())
		}
	}
	q := &CubeQuery{Measures: []string{"records"}, Filters: []CubeFilter{{Dim: CubeDim{Name: "owner"}, Values: []string{"o69999"}}}}
	if res, err := c.Query(q, nil); err != nil || len(res.Rows()) != 0 {
		t.Fatalf("the moved record's old owner: %v %v, want no records", res.Rows(), err)
	}
	q = &CubeQuery{Measures: []string{"records", "revenue"}, By: []CubeDim{{Name: "owner"}}, Filters: []CubeFilter{{Dim: CubeDim{Name: "month"}, Values: []string{"9999-01"}}}}
	if res, err := c.Query(q, nil); err != nil || !reflect.DeepEqual(res.Rows(), [][]any{{"moved", int64(1), json.Number("30000000.01")}}) {
		t.Fatalf("the records of 9999-01: %v %v, want the moved one", res.Rows(), err)
	}
	q = &CubeQuery{Measures: []string{"revenue"}, By: []CubeDim{{Name: "h3", Res: 9}}}
	res, err := c.Query(q, nil)
	if err != nil {
		t.Fatal(err)
	}
	big := 0
	for _, row := range res.Rows() { // summed by runs of records, the wide cents as they are
		switch row[1] {
		case json.Number("30000000.01"):
			big++
		case json.Number("0.00"):
		default:
			t.Fatalf("revenue by h3:9 (from %s): %v, want 0.00 or the moved record's", res.Source, row)
		}
	}
	if big != 1 {
		t.Fatalf("revenue by h3:9: %d cells with the moved record's, want 1", big)
	}
}

func TestAppendHex(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 100000; i++ {
		v := r.Uint64() >> r.IntN(64)
		if got, want := string(appendHex(nil, v)), strconv.FormatUint(v, 16); got != want {
			t.Fatalf("appendHex(%#x) = %q, want %q", v, got, want)
		}
	}
	if got := string(appendHex([]byte("x"), 0)); got != "x0" {
		t.Fatalf("appendHex(x, 0) = %q", got)
	}
}

// BenchmarkAppendRow reads every value of a roll-up's 290,000 rows (an H3 cell and six
// measures each) as the JSON and CSV writers do: the part of a big answer's time that is
// reading it.
func BenchmarkAppendRow(b *testing.B) {
	n := 290_000
	g := &grouper{}
	for i := range n {
		g.keys = append(g.keys, gkey{cell: uint64(0x87000000000000 + i)})
		g.accs = append(g.accs, cubeAcc{n: [3]int32{int32(i % 7), 1, 2}, cents: int64(i) + 11, custCents: int64(i), won: int32(i % 3), lost: 1})
	}
	order := make([]int32, n)
	for i := range order {
		order[i] = int32(i)
	}
	r := &CubeResult{grp: &resultGroups{g: g, order: order, values: make([][]string, 1), dimKinds: []CubeKind{CubeCell},
		ids: []measureID{mRecords, mCustomers, mRevenue, mWon, mLost, mConversionRate}}}
	var vals []CubeValue
	for b.Loop() {
		for i := range r.Len() {
			vals = r.AppendRow(vals[:0], i)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/row")
}

// The sums of long runs follow the records: after writes in place, moves, removals and
// the re-sorts they bring, the runs indexed are those of at least runMin sorted slots, and
// each holds the sums of its live records.
func TestCube_RunSumsFollowWrites(t *testing.T) {
	defer CubeTestMode()()
	r := rand.New(rand.NewPCG(7, 8))
	point := func(id int64) crm.Point {
		// A 0.03° square: a resolution-9 cell holds about 20 of 2,000 records.
		p := orb.Point{-95.05 + float64(r.IntN(300))/10000, 35 + float64(r.IntN(300))/10000}
		return crm.Point{ID: id, Located: true, Lon: p[0], Lat: p[1], Cell: geo.CellOf(p, geo.CellResolution),
			Kind: crm.Kinds[r.IntN(3)], Status: []string{"", "won", "lost", "open"}[r.IntN(4)], Segment: "a",
			Owner: "o", Revenue: float64(r.IntN(100000)) / 100, Month: int32(2024 * 12), Rev: 1}
	}
	pts := map[int64]crm.Point{}
	c := NewCube()
	l := c.BeginLoad()
	for id := int64(1); id <= 2000; id++ {
		pts[id] = point(id)
		p := pts[id]
		l.Add(&p)
	}
	l.Commit()
	check := func(when string) (entries int) {
		t.Helper()
		recs := c.st.recs
		for _, ri := range recs.runs {
			var lo, hi []uint32
			for s := 0; s < recs.sorted; {
				_, end := h3Range(h3Parent(recs.cell[s], ri.res), 15)
				e := runEnd(recs.cell, s, recs.sorted, end)
				if e-s >= runMin {
					lo, hi = append(lo, uint32(s)), append(hi, uint32(e))
				}
				s = e
			}
			if fmt.Sprint(lo, hi) != fmt.Sprint(ri.lo, ri.hi) {
				t.Fatalf("%s: resolution %d indexes %d runs, the sorted slots hold %d", when, ri.res, len(ri.lo), len(lo))
			}
			for j := range ri.lo {
				if want := recs.sumSlots(int(ri.lo[j]), int(ri.hi[j])); ri.sums != nil && ri.sums[j] != want {
					t.Fatalf("%s: resolution %d, run %d-%d: %+v, its records sum to %+v", when, ri.res, ri.lo[j], ri.hi[j], ri.sums[j], want)
				}
				for s := ri.lo[j]; s < ri.hi[j]; s++ {
					if recs.kind[s] != deadKind && !ri.box[j].has(recs.x[s], recs.y[s]) {
						t.Fatalf("%s: resolution %d, run %d-%d: slot %d lies outside the run's box", when, ri.res, ri.lo[j], ri.hi[j], s)
					}
				}
			}
			entries += len(ri.lo)
		}
		return entries
	}
	if n := check("after the load"); n < 50 {
		t.Fatalf("%d runs indexed: the records are not dense enough to test them", n)
	}
	inPlace, compacted := 0, false
	next := int64(2001)
	for i := 0; i < 3000; i++ {
		p := randomWrite(r, pts, &next, 2, point, func(p *crm.Point, old crm.Point) {
			if r.IntN(4) > 0 {
				p.Lon, p.Lat, p.Cell, p.Status = old.Lon, old.Lat, old.Cell, old.Status // same place: written in place
				if q := (orb.Point{old.Lon + 3e-7, old.Lat}); geo.CellOf(q, geo.CellResolution) == old.Cell {
					p.Lon = q[0] // a few cm east, in the same cell
				}
			}
		})
		sorted := c.st.recs.sorted
		if s, ok := c.st.recs.find(p.ID); ok && int(s) < sorted {
			inPlace++
		}
		c.Apply(&p)
		compacted = compacted || c.st.recs.sorted != sorted
		if p.Located {
			pts[p.ID] = p
		} else {
			delete(pts, p.ID)
		}
		if i%100 == 0 {
			check(fmt.Sprint("after write ", i))
		}
	}
	check("after the writes")
	if inPlace < 500 || !compacted {
		t.Fatalf("%d writes to sorted slots, re-sorted %v: the writes did not reach the index's paths", inPlace, compacted)
	}
}

// sampleCover holds the cell of every point of a rectangle, anywhere (near pentagons too,
// where it must decline): its corners, the middles of its edges and random points, and the
// cells h3's PolygonToCells finds in it. It fails without the neighbours, or with steps
// 3.3 times as long (samples 2 average edges apart).
func TestSampleCover(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	sampled := 0
	for i := 0; i < 20000; i++ {
		q := r.IntN(12)
		lat, lon := -80+160*r.Float64(), -179+358*r.Float64()
		if i%4 == 0 { // near a pentagon
			ps := h3.Pentagons(q)
			ll := ps[r.IntN(len(ps))].LatLng()
			lat, lon = math.Max(-80, math.Min(80, ll.Lat+cellRadiusDeg(q)*(r.Float64()-0.5))), math.Max(-179, math.Min(179, ll.Lng+cellRadiusDeg(q)*(r.Float64()-0.5)))
		}
		size := cellRadiusDeg(q) * (0.2 + 2*r.Float64())
		b := orb.Bound{Min: orb.Point{math.Max(-180, lon-size*r.Float64()), math.Max(-89, lat-size*r.Float64())}}
		b.Max = orb.Point{math.Min(180, b.Min[0]+size*(0.5+r.Float64())), math.Min(89, b.Min[1]+size)}
		got, ok := sampleCover(b, q)
		if !ok {
			continue
		}
		sampled++
		points := []orb.Point{b.Min, b.Max, {b.Min[0], b.Max[1]}, {b.Max[0], b.Min[1]}, b.Center(),
			{b.Min[0], b.Center()[1]}, {b.Max[0], b.Center()[1]}, {b.Center()[0], b.Min[1]}, {b.Center()[0], b.Max[1]}}
		for range 200 {
			points = append(points, orb.Point{b.Min[0] + r.Float64()*(b.Max[0]-b.Min[0]), b.Min[1] + r.Float64()*(b.Max[1]-b.Min[1])})
		}
		want := polygonCover(b, q)
		for _, p := range points {
			want = append(want, uint64(geo.CellOf(p, q)))
		}
		for _, c := range want {
			if !slices.Contains(got, c) {
				t.Fatalf("%v at resolution %d: cell %x missing from %d cells", b, q, c, len(got))
			}
		}
	}
	if sampled < 10000 {
		t.Fatalf("%d of 20,000 rectangles covered by samples", sampled)
	}
}
