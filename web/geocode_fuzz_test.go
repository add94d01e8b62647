package web

import (
	"net/url"
	"testing"
	"unicode/utf8"

	"github.com/gcrm/gcrm/geo"
)

// FuzzGeocodeParams feeds arbitrary query strings to the geocoding routes' parsers: they
// must never panic, and what they accept must be in range.
func FuzzGeocodeParams(f *testing.F) {
	for _, s := range []string{"", "lat=30.3&lon=-97.7", "lat=91&lon=0", "lat=NaN&lon=1", "lat=1e999&lon=0",
		"q=12+Main+St%2C+Springfield%2C+IL", "q=%ff", "q=+++", "limit=0", "limit=1000&max_confidence=0.5",
		"max_confidence=-1", "max_confidence=Inf", "cursor=AAAA", "geocoded=false", "geocoded=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		if p, err := parseLatLon(q); err == nil && !geo.ValidLonLat(p[0], p[1]) {
			t.Fatalf("parseLatLon(%q) accepted %v", raw, p)
		}
		if sq, err := parseSearchQuery(q); err == nil {
			if sq.Empty() || !utf8.ValidString(sq.Text) || utf8.RuneCountInString(sq.Text) > maxQueryRunes {
				t.Fatalf("parseSearchQuery(%q) accepted %+v", raw, sq)
			}
		}
		if b, err := parseGeocoded(q.Get("geocoded")); (err == nil) != (q.Get("geocoded") == "" || q.Get("geocoded") == "true" || q.Get("geocoded") == "false") || (err == nil && (b == nil) != (q.Get("geocoded") == "")) {
			t.Fatalf("parseGeocoded(%q) = %v, %v", q.Get("geocoded"), b, err)
		}
		if rf, err := parseReviewQuery(q); err == nil {
			if rf.Limit < 0 || rf.Limit > 1000 || rf.MaxConfidence < 0 || rf.MaxConfidence > 1 || rf.MaxConfidence != rf.MaxConfidence {
				t.Fatalf("parseReviewQuery(%q) accepted %+v", raw, rf)
			}
		}
	})
}
