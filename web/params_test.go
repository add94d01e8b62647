package web

import "testing"

func FuzzParseBBox(f *testing.F) {
	for _, s := range []string{"", "1,2,3,4", "-180,-90,180,90", "a,b,c,d", "1,2,3", "NaN,0,1,1", "1e400,0,1,1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := parseBBox(s)
		if err != nil || b == nil {
			return
		}
		if b.Min[0] > b.Max[0] || b.Min[1] > b.Max[1] || b.Min[0] < -180 || b.Max[0] > 180 || b.Min[1] < -90 || b.Max[1] > 90 {
			t.Fatalf("parseBBox(%q) accepted %v", s, b)
		}
	})
}
