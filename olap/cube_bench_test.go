package olap_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/olap"
	"github.com/paulmach/orb"
)

// BenchmarkCubeLoad loads n synthetic records (no regions) into a cube, reporting the time
// of adding them and of building the cuboids (Commit), and the cells.
func BenchmarkCubeLoad(b *testing.B) {
	pts := benchPoints(500_000, 3, 2, []string{"active", "won", "lost", "new"}, 2023)
	for b.Loop() {
		c := olap.NewCube()
		t0 := time.Now()
		l := c.BeginLoad()
		for i := range pts {
			l.Add(&pts[i])
		}
		add := time.Since(t0)
		t0 = time.Now()
		l.Commit()
		cells := 0
		for _, cb := range c.Stats().Cuboids {
			cells += cb.Cells
		}
		b.ReportMetric(add.Seconds(), "add-s")
		b.ReportMetric(time.Since(t0).Seconds(), "commit-s")
		b.ReportMetric(float64(cells), "cells")
	}
}

// BenchmarkCubeQuery answers roll-ups by H3 resolution with a filter over n synthetic
// records (no regions): the profile of the cube's read path. Every cuboid is kept, as the
// fine ones are at 10 M records (at 1 M spread over the US they hold too many cells).
func BenchmarkCubeQuery(b *testing.B) {
	pts := benchPoints(1_000_000, 8, 4, []string{"active", "won", "lost", "new", "dormant"}, 2022)
	defer olap.CubeTestMode()()
	c := olap.NewCube()
	l := c.BeginLoad()
	for i := range pts {
		l.Add(&pts[i])
	}
	l.Commit()
	months := []string{"2023-02", "2023-03", "2023-04", "2023-05", "2023-06", "2023-07", "2023-08"}
	for _, res := range []int{4, 5, 6, 7} {
		for name, f := range map[string][]olap.CubeFilter{
			"segment":      {{Dim: olap.CubeDim{Name: "segment"}, Values: []string{"smb"}}},
			"month+status": {{Dim: olap.CubeDim{Name: "month"}, Values: months}, {Dim: olap.CubeDim{Name: "status"}, Values: []string{"won", "lost"}}},
		} {
			q := &olap.CubeQuery{Measures: []string{"records", "revenue", "conversion_rate"}, By: []olap.CubeDim{{Name: "h3", Res: res}}, Filters: f}
			b.Run(fmt.Sprintf("h3:%d/%s", res, name), func(b *testing.B) {
				var rows int
				var src string
				var read int
				for b.Loop() {
					res, err := c.Query(q, nil)
					if err != nil {
						b.Fatal(err)
					}
					rows, src, read = len(res.Rows()), res.Source, res.Read
				}
				b.ReportMetric(float64(rows), "rows")
				b.Logf("%s: %d rows, %d read", src, rows, read)
			})
		}
	}
}

// benchPoints draws n records (seeded) normally around (-100, 38) with standard deviations
// sdLon, sdLat degrees, a random kind, status, segment, one of 40 owners, revenue, and a
// month in the three years from firstYear.
func benchPoints(n int, sdLon, sdLat float64, statuses []string, firstYear int) []crm.Point {
	r := rand.New(rand.NewPCG(1, 2))
	pts := make([]crm.Point, n)
	for i := range pts {
		p := orb.Point{-100 + r.NormFloat64()*sdLon, 38 + r.NormFloat64()*sdLat}
		pts[i] = crm.Point{ID: int64(i + 1), Located: true, Lon: p[0], Lat: p[1], Cell: geo.CellOf(p, 15),
			Kind: crm.Kinds[r.IntN(3)], Status: statuses[r.IntN(len(statuses))],
			Segment: []string{"smb", "mid", "ent"}[r.IntN(3)], Owner: fmt.Sprint("rep", r.IntN(40)),
			Revenue: float64(r.IntN(100000)) / 100, Month: int32(firstYear*12 + r.IntN(36))}
	}
	return pts
}
