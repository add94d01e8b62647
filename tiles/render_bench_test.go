package tiles_test

import (
	"math/rand/v2"
	"testing"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/olap"
	"github.com/gcrm/gcrm/tiles"
)

// BenchmarkRender renders the tile holding a dense centre at several zooms from 1 M
// in-memory points (no database): the engine's per-tile cost, reported per point.
//
//	go test ./tiles -run '^$' -bench Render
func BenchmarkRender(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	centres := [][2]float64{{-74.0, 40.7}, {-87.6, 41.9}, {-118.2, 34.0}, {-95.4, 29.8}}
	ps := make([]crm.Point, 1_000_000)
	for i := range ps {
		c := centres[i%len(centres)]
		ps[i] = crm.Point{ID: int64(i + 1), Located: true, Lon: c[0] + r.NormFloat64()*0.3, Lat: c[1] + r.NormFloat64()*0.2,
			Kind: crm.Kinds[i%3], Status: []string{"active", "won", "lost"}[i%3], Segment: []string{"smb", "ent"}[i%2], Rev: 1}
	}
	e := olap.New()
	e.LoadPoints(ps)
	snap := e.Snapshot()
	m := snap.Compile(olap.Filter{})
	layer := tiles.NewCustomers()
	x, y := olap.Project(-74.0, 40.7)
	for _, z := range []int{6, 10, 14} {
		t := olap.Tile{Z: z, X: x >> uint(32-z), Y: y >> uint(32-z)}
		b.Run(tiles.String(t), func(b *testing.B) {
			var st tiles.RenderStats
			var n int
			for b.Loop() {
				body, s := layer.Render(snap, t, m)
				st, n = s, len(body)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(max(st.Points+st.Buffered, 1)), "ns/point")
			b.ReportMetric(float64(st.Points), "points")
			b.ReportMetric(float64(st.Buffered), "buffered")
			b.ReportMetric(float64(st.Features), "features")
			b.ReportMetric(float64(n), "bytes")
		})
	}
}
