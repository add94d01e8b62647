package web

import (
	"net/url"
	"testing"

	"github.com/gcrm/gcrm/geo"
)

// FuzzParseCubeQuery: any query string either parses into a query that passes the cube's
// own Check (with a county level), or fails with EINVALID — never a panic or another code.
func FuzzParseCubeQuery(f *testing.F) {
	for _, s := range []string{
		"measures=customers,revenue&by=h3:6,segment&filter=segment:SMB,kind:lead&bbox=-98,30,-97,31",
		"measures=records&by=region:county,month&filter=month:2024-01..2024-06&format=csv",
		"measures=penetration&by=region:county&filter=region:county:48453,h3:8928308280fffff",
		"measures=&by=h3:16", "measures=records&filter=month:2024-13", "measures=records&filter=region:county",
		"measures=records&by=h3:6&by=kind", "measures=records&format=xml", "filter=%zz", "measures=won&filter=h3:zz",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, format, err := parseCubeQuery(v)
		if err != nil {
			if geo.ErrorCode(err) != geo.EINVALID {
				t.Fatalf("parseCubeQuery(%q): %v (code %s)", raw, err, geo.ErrorCode(err))
			}
			return
		}
		if format != "json" && format != "csv" {
			t.Fatalf("parseCubeQuery(%q): format %q", raw, format)
		}
		if err := q.Check([]string{"county"}); err != nil && geo.ErrorCode(err) != geo.EINVALID {
			t.Fatalf("Check after parseCubeQuery(%q): %v", raw, err)
		}
		_, _ = q.SQL() // identifiers come from the allow-list: building SQL never fails
	})
}
