package olap_test

import (
	"math/rand/v2"
	"os"
	"testing"

	"github.com/gcrm/gcrm/olap"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
)

// BenchmarkRegionIndexLocate measures the in-memory part of the assignment: one point
// located among the 3,231 us-atlas counties (uniform over the contiguous US bbox, so
// about half the points fall outside every county, the worst case for the R-tree).
//
//	go test ./olap -run XXX -bench RegionIndexLocate
func BenchmarkRegionIndexLocate(b *testing.B) {
	data, err := os.ReadFile(countiesFile)
	if err != nil {
		b.Fatal(err)
	}
	fc, err := geojson.UnmarshalFeatureCollection(data)
	if err != nil {
		b.Fatal(err)
	}
	var regions []olap.Region
	var geoms []orb.Geometry
	for i, f := range fc.Features {
		regions = append(regions, olap.Region{ID: int64(i + 1)})
		geoms = append(geoms, f.Geometry)
	}
	idx := olap.NewRegionIndex("county", regions, geoms)
	rng := rand.New(rand.NewPCG(1, 2))
	pts := make([]orb.Point, 1<<16)
	for i := range pts {
		pts[i] = orb.Point{-125 + 59*rng.Float64(), 24 + 26*rng.Float64()}
	}
	b.ResetTimer()
	found := 0
	for i := 0; i < b.N; i++ {
		if idx.Locate(pts[i&(len(pts)-1)]) >= 0 {
			found++
		}
	}
	b.ReportMetric(float64(found)/float64(b.N), "found/op")
}
