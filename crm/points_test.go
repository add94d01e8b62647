package crm_test

import (
	"context"
	"testing"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo/postgis/pgtest"
)

func TestScanPoints(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	store := crm.NewStore(db)
	want := map[string]crm.Point{}
	for _, c := range []struct {
		name     string
		lon, lat float64
		revenue  float64
	}{
		{"a", -97.74, 30.27, 1234.56}, {"b", 151.2093, -33.8688, -0.01}, {"c", 0, 0, 9999999999999.99}, {"d", -180, 85, 0},
	} {
		cu := &crm.Customer{Name: c.name, Kind: "lead", Status: "won", Segment: "smb", Owner: "ann", Revenue: c.revenue}
		if err := cu.SetLocation(c.lon, c.lat); err != nil {
			t.Fatal(err)
		}
		if err := store.Create(ctx, cu); err != nil {
			t.Fatal(err)
		}
		want[c.name] = crm.PointOf(cu)
	}
	unplaced := &crm.Customer{Name: "e"}
	if err := store.Create(ctx, unplaced); err != nil {
		t.Fatal(err)
	}
	got := map[int64]crm.Point{}
	xmin, err := store.ScanPoints(ctx, func(p *crm.Point) error { got[p.ID] = *p; return nil })
	if err != nil || xmin <= 0 {
		t.Fatalf("scan: xmin %d, %v", xmin, err)
	}
	if len(got) != 4 {
		t.Fatalf("%d points, want the 4 located", len(got))
	}
	for name, w := range want {
		if g := got[w.ID]; g != w {
			t.Errorf("%s: got %+v, want %+v", name, g, w)
		}
	}

	// The change feed from xmin: an update, a deletion, the unplaced record; none twice.
	c, err := store.FindByID(ctx, crm.Scope{}, want["a"].ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Update(ctx, crm.Scope{}, c.ID, c.Version, func(c *crm.Customer) error { c.Status = "lost"; return nil }); err != nil {
		t.Fatal(err)
	}
	delRev, err := store.Delete(ctx, crm.Scope{}, want["b"].ID)
	if err != nil {
		t.Fatal(err)
	}
	var puts []crm.Point
	var dels []crm.Deletion
	next, err := store.ScanChanges(ctx, xmin, func(p *crm.Point) error { puts = append(puts, *p); return nil },
		func(d crm.Deletion) error { dels = append(dels, d); return nil })
	if err != nil || next < xmin {
		t.Fatalf("changes: next xmin %d (from %d), %v", next, xmin, err)
	}
	found := false
	for _, p := range puts {
		if p.ID == c.ID {
			found = p.Status == "lost" && p.Rev > c.Rev
		}
		if p.ID == unplaced.ID && p.Located {
			t.Errorf("the unplaced record came with a location: %+v", p)
		}
	}
	if !found || len(dels) != 1 || dels[0].ID != want["b"].ID || dels[0].Rev != delRev {
		t.Fatalf("changes: puts %+v dels %+v", puts, dels)
	}
}
