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
	const n = 500_000
	r := rand.New(rand.NewPCG(1, 2))
	pts := make([]crm.Point, n)
	for i := range pts {
		p := orb.Point{-100 + r.NormFloat64()*3, 38 + r.NormFloat64()*2}
		pts[i] = crm.Point{ID: int64(i + 1), Located: true, Lon: p[0], Lat: p[1], Cell: geo.CellOf(p, 15),
			Kind: crm.Kinds[r.IntN(3)], Status: []string{"active", "won", "lost", "new"}[r.IntN(4)],
			Segment: []string{"smb", "mid", "ent"}[r.IntN(3)], Owner: fmt.Sprint("rep", r.IntN(40)),
			Revenue: float64(r.IntN(100000)) / 100, Month: int32(2023*12 + r.IntN(36))}
	}
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
