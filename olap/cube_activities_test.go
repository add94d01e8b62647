package olap_test

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/olap"
)

// The activities measure equals the count of rows of the activities table per group (SQL),
// for random queries; logging an activity shows at once (Put) and through the change feed
// (Sync); a deleted record takes its activities out.
func TestCube_ActivitiesEqualSQL(t *testing.T) {
	ctx := context.Background()
	f := newCubeFixture(t, 2000)
	var ids []int64
	rows, err := f.db.Pool.Query(ctx, `SELECT id FROM customers ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		ids = append(ids, id)
	}
	check := func(n int) {
		t.Helper()
		withActs := 0
		for i := 0; i < n; i++ {
			q := f.randomQuery()
			if !slices.Contains(q.Measures, "activities") {
				q.Measures = append(q.Measures, "activities")
			}
			got, err := f.cube.Query(q, f.engine.Snapshot())
			if err != nil {
				t.Fatalf("%s: %v", describe(q), err)
			}
			want, err := olap.QueryCubeSQL(ctx, f.db, q, f.levels, f.pops)
			if err != nil {
				t.Fatalf("%s: SQL: %v", describe(q), err)
			}
			if !reflect.DeepEqual(got.Rows(), want.Rows()) {
				t.Fatalf("query %d: %s (from %s)\ncube: %v\nsql:  %v", i, describe(q), got.Source, head(got.Rows()), head(want.Rows()))
			}
			col := len(q.By) + slices.Index(q.Measures, "activities")
			for _, r := range got.Rows() {
				if r[col].(int64) > 0 {
					withActs++
					break
				}
			}
		}
		if withActs < n/4 {
			t.Fatalf("only %d of %d queries had activities", withActs, n)
		}
	}
	// Round 1: told to the engine (the API path); round 2: read from the change feed.
	for round := 0; round < 2; round++ {
		for i := 0; i < 600; i++ {
			id := ids[f.rng.IntN(len(ids))]
			a := &crm.Activity{CustomerID: id, Kind: crm.ActivityKinds[f.rng.IntN(4)], Owner: "ann", Note: "n",
				OccurredAt: time.Date(2025, 3, 1+f.rng.IntN(28), 10, 0, 0, 0, time.UTC)}
			c, err := f.store.LogActivity(ctx, crm.Scope{}, a)
			if err != nil {
				t.Fatal(err)
			}
			if round == 0 {
				f.engine.Put(c)
			}
		}
		if round == 1 {
			if err := f.engine.Sync(ctx, f.store); err != nil {
				t.Fatal(err)
			}
		}
		check(150)
	}
	// A deleted record's activities go with it.
	var busiest int64
	if err := f.db.Pool.QueryRow(ctx, `SELECT customer_id FROM activities GROUP BY 1 ORDER BY count(*) DESC LIMIT 1`).Scan(&busiest); err != nil {
		t.Fatal(err)
	}
	rev, err := f.store.Delete(ctx, crm.Scope{}, busiest)
	if err != nil {
		t.Fatal(err)
	}
	f.engine.Remove(busiest, rev)
	check(50)
	// A rebuilt cube agrees.
	e2, c2 := f.load(t)
	q := &olap.CubeQuery{Measures: []string{"records", "activities"}, By: []olap.CubeDim{{Name: "region", Level: "state"}, {Name: "kind"}}}
	a, _ := f.cube.Query(q, f.engine.Snapshot())
	b, _ := c2.Query(q, e2.Snapshot())
	if !reflect.DeepEqual(a.Rows(), b.Rows()) {
		t.Fatalf("incremental %v\nrebuilt %v", a.Rows(), b.Rows())
	}
}
