package geocode_test

import (
	"context"
	"testing"

	"github.com/gcrm/gcrm/geo/geocode"
)

// BenchmarkGazetteer measures the gazetteer on the real US data, one goroutine; the
// records/s figure of docs/performance.md comes from 'gcrm bench geocode'.
func BenchmarkGazetteer(b *testing.B) {
	g := usGazetteer(b)
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		q    geocode.Query
	}{
		{"postcode", geocode.Query{Postcode: "62701"}},
		{"city_state", geocode.Query{City: "Bay Minette", Region: "AL"}},
		{"text", geocode.Query{Text: "Bay Minette, AL"}},
		{"ambiguous", geocode.Query{City: "Georgetown", Region: "IN"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := g.Geocode(ctx, bc.q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
