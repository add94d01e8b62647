package olap_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gcrm/gcrm/olap"
)

// Regions imported while the cube serves re-key it (FollowCubeRegions): a new level shows
// and answers like SQL, and a level whose polygons change re-keys its records.
func TestCube_FollowsRegions(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newCubeFixture(t, 1500)
	go olap.FollowCubeRegions(ctx, f.db, f.cube, f.engine, f.store, slog.New(slog.NewTextHandler(io.Discard, nil)), 50*time.Millisecond)
	regions := olap.NewRegionStore(f.db)
	// A new level: 2° squares with a population.
	var zones []olap.RegionFeature
	for i := 0; i < 5; i++ {
		for j := 0; j < 5; j++ {
			zones = append(zones, cubeSquare(fmt.Sprintf("z%d%d", i, j), -100+2*float64(i), 30+2*float64(j), 2, 10000+i))
		}
	}
	version := f.cube.Version()
	if _, err := regions.Import(ctx, "zone", zones); err != nil {
		t.Fatal(err)
	}
	wait := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the cube did not re-key: %s", what)
			}
		}
	}
	wait("level zone", func() bool { return slices.Contains(f.cube.Levels(), "zone") })
	if f.cube.Version() == version {
		t.Fatal("the cube's version did not change (tile caches would not notice)")
	}
	// The SQL reference reads customer_regions: assign the new level there, then compare.
	zidx, err := olap.LoadRegionIndex(ctx, f.db, "zone")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := olap.AssignAll(ctx, f.db, zidx); err != nil {
		t.Fatal(err)
	}
	levels := f.cube.Levels()
	pops := map[string]map[string]float64{}
	for _, l := range levels {
		if pops[l], err = olap.LoadRegionPopulation(ctx, f.db, l); err != nil {
			t.Fatal(err)
		}
	}
	compare := func(q *olap.CubeQuery) {
		t.Helper()
		got, err := f.cube.Query(q, f.engine.Snapshot())
		if err != nil {
			t.Fatal(err)
		}
		want, err := olap.QueryCubeSQL(ctx, f.db, q, levels, pops)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Rows()) == 0 || !reflect.DeepEqual(got.Rows(), want.Rows()) {
			t.Fatalf("%s:\ncube %v\nsql  %v", describe(q), head(got.Rows()), head(want.Rows()))
		}
	}
	compare(&olap.CubeQuery{Measures: []string{"records", "customers", "penetration"}, By: []olap.CubeDim{{Name: "region", Level: "zone"}, {Name: "kind"}}})
	compare(&olap.CubeQuery{Measures: []string{"records"}, By: []olap.CubeDim{{Name: "region", Level: "county"}},
		Filters: []olap.CubeFilter{{Dim: olap.CubeDim{Name: "region", Level: "zone"}, Values: []string{"z11", "z22"}}}})
	// A level's polygons move: its records follow.
	var moved []olap.RegionFeature
	for i := 0; i < 5; i++ {
		for j := 0; j < 5; j++ {
			moved = append(moved, cubeSquare(fmt.Sprintf("z%d%d", i, j), -99+2*float64(i), 31+2*float64(j), 2, 10000+i))
		}
	}
	before, _ := f.cube.Query(&olap.CubeQuery{Measures: []string{"records"}, By: []olap.CubeDim{{Name: "region", Level: "zone"}}}, f.engine.Snapshot())
	if _, err := regions.Import(ctx, "zone", moved); err != nil {
		t.Fatal(err)
	}
	wait("moved zones", func() bool {
		now, _ := f.cube.Query(&olap.CubeQuery{Measures: []string{"records"}, By: []olap.CubeDim{{Name: "region", Level: "zone"}}}, f.engine.Snapshot())
		return !reflect.DeepEqual(now.Rows(), before.Rows())
	})
	if zidx, err = olap.LoadRegionIndex(ctx, f.db, "zone"); err != nil {
		t.Fatal(err)
	}
	if _, err := olap.AssignAll(ctx, f.db, zidx); err != nil {
		t.Fatal(err)
	}
	compare(&olap.CubeQuery{Measures: []string{"records", "revenue"}, By: []olap.CubeDim{{Name: "region", Level: "zone"}, {Name: "segment"}}})

	// The same boundaries again, then new populations only: the boundaries' version stays
	// (no re-assignment, no re-key), the cube's populations follow.
	geomRev := func() (g, all int64) {
		t.Helper()
		if err := f.db.Pool.QueryRow(ctx, `SELECT max(geom_rev), max(rev) FROM regions WHERE level = 'zone'`).Scan(&g, &all); err != nil {
			t.Fatal(err)
		}
		return g, all
	}
	g0, r0 := geomRev()
	if _, err := regions.Import(ctx, "zone", moved); err != nil {
		t.Fatal(err)
	}
	if g1, r1 := geomRev(); g1 != g0 || r1 == r0 {
		t.Fatalf("re-import of the same boundaries: geom_rev %d → %d (want unchanged), rev %d → %d (want moved)", g0, g1, r0, r1)
	}
	pen := &olap.CubeQuery{Measures: []string{"customers", "penetration"}, By: []olap.CubeDim{{Name: "region", Level: "zone"}}}
	before, _ = f.cube.Query(pen, f.engine.Snapshot())
	csv := "code,population\n"
	for _, z := range moved {
		csv += z.Code + ",777\n"
	}
	if _, err := olap.ImportRegionAttributes(ctx, f.db, "zone", strings.NewReader(csv), olap.RegionAttributesOptions{Code: "code"}, nil); err != nil {
		t.Fatal(err)
	}
	if g2, _ := geomRev(); g2 != g0 {
		t.Fatalf("new populations moved geom_rev %d → %d", g0, g2)
	}
	wait("new populations", func() bool {
		now, _ := f.cube.Query(pen, f.engine.Snapshot())
		return !reflect.DeepEqual(now.Rows(), before.Rows())
	})
	if pops["zone"], err = olap.LoadRegionPopulation(ctx, f.db, "zone"); err != nil || pops["zone"]["z11"] != 777 {
		t.Fatalf("population of z11: %v, %v", pops["zone"]["z11"], err)
	}
	compare(pen)
}
