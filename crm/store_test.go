package crm_test

import (
	"context"
	"os"
	"testing"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/postgis/pgtest"
	"github.com/paulmach/orb"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func newCustomer(name, owner string, lon, lat float64) *crm.Customer {
	c := &crm.Customer{Name: name, Kind: crm.KindLead, Owner: owner}
	if err := c.SetLocation(lon, lat); err != nil {
		panic(err)
	}
	return c
}

func TestStore_Create(t *testing.T) {
	ctx := context.Background()
	s := crm.NewStore(pgtest.New(t))
	t.Run("OK", func(t *testing.T) {
		c := newCustomer("Acme", "rep1", -97.74, 30.27)
		c.ExternalID, c.Attributes = "x-1", map[string]any{"tier": "gold"}
		if err := s.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
		got, err := s.FindByID(ctx, crm.Scope{}, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "Acme" || got.Version != 1 || *got.Location != (orb.Point{-97.74, 30.27}) || got.Attributes["tier"] != "gold" {
			t.Fatalf("got %+v", got)
		}
		if got.Cell != geo.CellOf(orb.Point{-97.74, 30.27}, geo.CellResolution) {
			t.Fatalf("cell %v not derived from the location", got.Cell)
		}
	})
	t.Run("ECONFLICT", func(t *testing.T) {
		c := newCustomer("Dup", "", 0, 0)
		c.ExternalID = "x-1"
		if code := geo.ErrorCode(s.Create(ctx, c)); code != geo.ECONFLICT {
			t.Fatalf("code %q, want %q", code, geo.ECONFLICT)
		}
	})
	t.Run("EINVALID", func(t *testing.T) {
		for _, c := range []*crm.Customer{
			{Name: "", Kind: "lead"},
			{Name: "x", Kind: "alien"},
			{Name: "x", Email: "not an address"},
			{Name: "x", Location: &orb.Point{0, 95}},
		} {
			if code := geo.ErrorCode(s.Create(ctx, c)); code != geo.EINVALID {
				t.Errorf("%+v: code %q, want %q", c, code, geo.EINVALID)
			}
		}
	})
	t.Run("Ungeocoded", func(t *testing.T) {
		c := &crm.Customer{Name: "Nowhere", Geocode: crm.Geocode{Error: "no address"}}
		if err := s.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
		got, err := s.FindByID(ctx, crm.Scope{}, c.ID)
		if err != nil || got.Location != nil || got.Kind != crm.KindCustomer {
			t.Fatalf("got %+v, %v", got, err)
		}
	})
}

func TestStore_Update(t *testing.T) {
	ctx := context.Background()
	s := crm.NewStore(pgtest.New(t))
	c := newCustomer("Acme", "rep1", 1, 2)
	if err := s.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	setStatus := func(c *crm.Customer) error { c.Status = "won"; return nil }
	got, err := s.Update(ctx, crm.Scope{}, c.ID, 1, setStatus)
	if err != nil || got.Version != 2 || got.Status != "won" || got.Rev <= c.Rev {
		t.Fatalf("got %+v, %v", got, err)
	}
	t.Run("ECONFLICT", func(t *testing.T) {
		if _, err := s.Update(ctx, crm.Scope{}, c.ID, 1, setStatus); geo.ErrorCode(err) != geo.ECONFLICT {
			t.Fatalf("stale version: %v", err)
		}
	})
	t.Run("ENOTFOUND", func(t *testing.T) {
		if _, err := s.Update(ctx, crm.Scope{}, 999, 1, setStatus); geo.ErrorCode(err) != geo.ENOTFOUND {
			t.Fatalf("missing: %v", err)
		}
		other := crm.Scope{Restricted: true, Owners: []string{"rep2"}}
		if _, err := s.Update(ctx, other, c.ID, 2, setStatus); geo.ErrorCode(err) != geo.ENOTFOUND {
			t.Fatalf("out of scope: %v", err)
		}
	})
	t.Run("EINVALID", func(t *testing.T) {
		_, err := s.Update(ctx, crm.Scope{}, c.ID, 2, func(c *crm.Customer) error { c.Kind = "alien"; return nil })
		if geo.ErrorCode(err) != geo.EINVALID {
			t.Fatalf("bad kind: %v", err)
		}
		after, _ := s.FindByID(ctx, crm.Scope{}, c.ID)
		if after.Version != 2 || after.Kind != crm.KindLead {
			t.Fatalf("failed update changed the record: %+v", after)
		}
	})
}

func TestStore_Delete(t *testing.T) {
	ctx := context.Background()
	s := crm.NewStore(pgtest.New(t))
	c := newCustomer("Acme", "rep1", 1, 2)
	if err := s.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, crm.Scope{Restricted: true, Owners: []string{"rep2"}}, c.ID); geo.ErrorCode(err) != geo.ENOTFOUND {
		t.Fatalf("out of scope delete: %v", err)
	}
	rev, err := s.Delete(ctx, crm.Scope{}, c.ID)
	if err != nil || rev <= c.Rev {
		t.Fatalf("rev %d, err %v", rev, err)
	}
	if _, err := s.FindByID(ctx, crm.Scope{}, c.ID); geo.ErrorCode(err) != geo.ENOTFOUND {
		t.Fatalf("after delete: %v", err)
	}
	if _, err := s.Delete(ctx, crm.Scope{}, c.ID); geo.ErrorCode(err) != geo.ENOTFOUND {
		t.Fatalf("second delete: %v", err)
	}
}

func TestStore_Find(t *testing.T) {
	ctx := context.Background()
	s := crm.NewStore(pgtest.New(t))
	for i, p := range []struct {
		name, owner, kind, status string
		lon, lat                  float64
	}{
		{"Austin Diner", "rep1", "lead", "new", -97.7, 30.3},
		{"Dallas Deli", "rep1", "customer", "active", -96.8, 32.8},
		{"Boston Bakery", "rep2", "lead", "new", -71.1, 42.4},
		{"100% Juice_Bar", "rep2", "prospect", "qualified", -71.0, 42.3},
	} {
		c := newCustomer(p.name, p.owner, p.lon, p.lat)
		c.Kind, c.Status, c.ExternalID = p.kind, p.status, string(rune('a'+i))
		if err := s.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	texas := orb.Bound{Min: orb.Point{-107, 25}, Max: orb.Point{-93, 37}}
	for _, tc := range []struct {
		name string
		f    crm.Filter
		want []string
	}{
		{"All", crm.Filter{}, []string{"Austin Diner", "Dallas Deli", "Boston Bakery", "100% Juice_Bar"}},
		{"Bound", crm.Filter{Bound: &texas}, []string{"Austin Diner", "Dallas Deli"}},
		{"Kind", crm.Filter{Kinds: []string{"lead"}}, []string{"Austin Diner", "Boston Bakery"}},
		{"Status", crm.Filter{Statuses: []string{"qualified", "active"}}, []string{"Dallas Deli", "100% Juice_Bar"}},
		{"Text", crm.Filter{Text: "bak"}, []string{"Boston Bakery"}},
		{"TextLikeEscaped", crm.Filter{Text: "0% J"}, []string{"100% Juice_Bar"}},
		{"TextPercentIsLiteral", crm.Filter{Text: "%"}, []string{"100% Juice_Bar"}},
		{"Scope", crm.Filter{Scope: crm.Scope{Restricted: true, Owners: []string{"rep2"}}}, []string{"Boston Bakery", "100% Juice_Bar"}},
		{"ScopeNobody", crm.Filter{Scope: crm.Scope{Restricted: true}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			list, _, err := s.Find(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range list {
				got = append(got, c.Name)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %q, want %q", got, tc.want)
				}
			}
		})
	}
	t.Run("Paging", func(t *testing.T) {
		var names []string
		f := crm.Filter{Limit: 3}
		for pages := 0; ; pages++ {
			list, next, err := s.Find(ctx, f)
			if err != nil || pages > 3 {
				t.Fatal(err, pages)
			}
			for _, c := range list {
				names = append(names, c.Name)
			}
			if next == "" {
				break
			}
			f.Cursor = next
		}
		if len(names) != 4 {
			t.Fatalf("paged through %q", names)
		}
	})
	t.Run("BadCursor", func(t *testing.T) {
		if _, _, err := s.Find(ctx, crm.Filter{Cursor: "!!"}); geo.ErrorCode(err) != geo.EINVALID {
			t.Fatalf("err %v", err)
		}
	})
}
