package olap_test

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/olap"
	"github.com/paulmach/orb"
)

func randomCustomer(r *rand.Rand, id, rev int64) *crm.Customer {
	c := &crm.Customer{ID: id, Rev: rev, Kind: crm.Kinds[r.IntN(3)], Status: []string{"active", "won", ""}[r.IntN(3)],
		Segment: []string{"smb", "ent"}[r.IntN(2)], Owner: []string{"ann", "bob", "cy"}[r.IntN(3)]}
	p := orb.Point{-100 + r.Float64()*20, 30 + r.Float64()*15}
	c.Location = &p
	return c
}

// model is the brute-force truth the engine is checked against.
type model map[int64]*crm.Customer

func (m model) count(t olap.Tile, q olap.Filter) int {
	n := 0
	for _, c := range m {
		x, y := olap.Project(c.Location[0], c.Location[1])
		if t.Contains(x, y) && q.Scope.Allows(c.Owner) && (len(q.Kinds) == 0 || q.Kinds[0] == c.Kind) {
			n++
		}
	}
	return n
}

func TestEngineWrites(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	e := olap.New()
	e.MergeAt = 50
	m := model{}
	rev := int64(0)
	for i := 0; i < 3000; i++ {
		rev++
		switch op := r.IntN(10); {
		case op < 6 || len(m) == 0: // create
			c := randomCustomer(r, int64(len(m)+i+1), rev)
			m[c.ID] = c
			e.Put(c)
		case op < 8: // move or change
			for id := range m {
				c := randomCustomer(r, id, rev)
				m[id] = c
				e.Put(c)
				break
			}
		default:
			for id := range m {
				delete(m, id)
				e.Remove(id, rev)
				break
			}
		}
		if i%500 == 0 {
			e.Put(randomCustomer(r, 1, 0)) // stale: ignored
			if c, ok := m[1]; ok {
				e.Put(c)
			}
		}
	}
	s := e.Snapshot()
	if s.Len() != len(m) {
		t.Fatalf("engine holds %d points, want %d", s.Len(), len(m))
	}
	for _, q := range []olap.Filter{{}, {Kinds: []string{"lead"}}, {Scope: crm.Scope{Restricted: true, Owners: []string{"ann"}}}} {
		for _, tile := range []olap.Tile{{Z: 0}, {Z: 4, X: 3, Y: 6}, {Z: 5, X: 6, Y: 12}, {Z: 6, X: 13, Y: 25}, {Z: 7, X: 26, Y: 51}} {
			want := m.count(tile, q)
			if got := s.Count(tile, s.Compile(q)); got != want {
				t.Errorf("tile %v query %+v: count %d, want %d", tile, q, got, want)
			}
			levels := 6
			cells := make([]olap.GridCell, 1<<(2*levels))
			s.Grid(tile, levels, s.Compile(q), cells)
			sum := 0
			for _, c := range cells {
				sum += c.Count
			}
			if sum != want {
				t.Errorf("tile %v query %+v: grid sum %d, want %d", tile, q, sum, want)
			}
		}
	}
	e.Merge()
	s2 := e.Snapshot()
	if s2.Len() != len(m) || s2.Version() != s.Version() {
		t.Fatalf("after merge: %d points version %d, want %d version %d", s2.Len(), s2.Version(), len(m), s.Version())
	}
	if got, want := s2.Count(olap.Tile{Z: 4, X: 3, Y: 6}, s2.Compile(olap.Filter{})), m.count(olap.Tile{Z: 4, X: 3, Y: 6}, olap.Filter{}); got != want {
		t.Fatalf("after merge: count %d, want %d", got, want)
	}
}

func TestEachBuffer(t *testing.T) {
	e := olap.New()
	tile := olap.Tile{Z: 10, X: 300, Y: 400}
	// Points just outside each edge (within 1/16 tile), and far outside.
	in, out := 0, 0
	for i, f := range [][2]float64{{-0.01, 0.5}, {1.01, 0.5}, {0.5, -0.05}, {0.5, 1.06}, {-0.05, -0.05}, {0.5, 0.5}, {-0.2, 0.5}, {0.5, 1.3}} {
		x := uint32((float64(tile.X) + f[0]) * (1 << 22))
		y := uint32((float64(tile.Y) + f[1]) * (1 << 22))
		lon, lat := olap.Unproject(x, y)
		c := &crm.Customer{ID: int64(i + 1), Rev: 1, Kind: "lead"}
		c.Location = &orb.Point{lon, lat}
		e.Put(c)
		switch {
		case i < 5:
			in++
		case i > 5:
			out++
		}
	}
	s := e.Snapshot()
	n := 0
	s.EachBuffer(tile, 4, s.Compile(olap.Filter{}), func(*olap.Row) { n++ })
	if n != in {
		t.Fatalf("buffer holds %d points, want %d", n, in)
	}
}

func TestProjectRoundTrip(t *testing.T) {
	for _, p := range [][2]float64{{0, 0}, {-122.4, 37.8}, {151.2, -33.9}, {-180, 85}, {179.999, -85}} {
		x, y := olap.Project(p[0], p[1])
		lon, lat := olap.Unproject(x, y)
		if d := lon - p[0]; d > 1e-6 || d < -1e-6 {
			t.Errorf("%v: lon %v", p, lon)
		}
		if d := lat - p[1]; d > 1e-6 || d < -1e-6 {
			t.Errorf("%v: lat %v", p, lat)
		}
	}
}

// The base columns hold ids and revs in 32 bits and codes in 16 until a value needs more:
// ids and revs past 2^32 and more than 65,535 owners widen them, in the load as in the
// merge, and every point keeps its id, rev (a stale write is still ignored) and owner.
func TestEngine_WideColumns(t *testing.T) {
	const n = 70_000
	owner := func(i int) string { return "rep" + strconv.Itoa(i) }
	cust := func(i int, rev int64) *crm.Customer {
		id := int64(i + 1)
		if i%2 == 1 {
			id += 1 << 33
		}
		c := &crm.Customer{ID: id, Rev: rev, Kind: "lead", Owner: owner(i)}
		c.Location = &orb.Point{-100 + float64(i%300)*0.01, 40 + float64(i/300)*0.01}
		return c
	}
	var pts []crm.Point
	for i := range n {
		pts = append(pts, crm.PointOf(cust(i, int64(i+1))))
	}
	e := olap.New()
	e.LoadPoints(pts)
	want := func(i int) int64 { return int64(i + 1) }
	const writes = 500
	for i := 0; i < n; i += n / writes { // newer revs, past 2^32
		e.Put(cust(i, 1<<32+int64(i)))
	}
	e.Put(cust(1, 1))       // stale: its rev is below the one held
	e.Put(cust(0, 1<<32-1)) // stale
	e.Merge()
	e.Put(cust(n/writes, 1<<32)) // stale, checked against the merged base
	s := e.Snapshot()
	if s.Len() != n {
		t.Fatalf("engine holds %d points, want %d", s.Len(), n)
	}
	got := map[int64]int64{}
	owners := map[int64]string{}
	s.Each(olap.Tile{}, s.Compile(olap.Filter{}), func(r *olap.Row) {
		got[r.ID] = r.Rev
		owners[r.ID] = s.Owner(r.Owner)
	})
	for i := range n {
		c, rev := cust(i, 0), want(i)
		if i%(n/writes) == 0 {
			rev = 1<<32 + int64(i)
		}
		if got[c.ID] != rev || owners[c.ID] != owner(i) {
			t.Fatalf("point %d (id %d): rev %d owner %q, want %d %q", i, c.ID, got[c.ID], owners[c.ID], rev, owner(i))
		}
	}
	q := olap.Filter{Scope: crm.Scope{Restricted: true, Owners: []string{owner(n - 1), owner(2)}}}
	if c := s.Count(olap.Tile{}, s.Compile(q)); c != 2 {
		t.Fatalf("two owners' points: %d, want 2", c)
	}
}
