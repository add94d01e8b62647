package web

import (
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/olap"
)

// FuzzParseFootfallTileQuery: any query string either parses into a how and key the
// footfall accepts, or fails with EINVALID — never a panic or another code.
func FuzzParseFootfallTileQuery(f *testing.F) {
	for _, s := range []string{"", "how=all", "how=hour-of-week&key=32", "how=hour&key=23", "how=date&key=2019-01-31",
		"how=hour-of-week&key=168", "how=hour&key=-1", "how=date&key=2019-13-01", "key=5", "how=minute", "how=all&how=all", "x=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := parseFootfallTileQuery(v)
		if err != nil {
			if geo.ErrorCode(err) != geo.EINVALID {
				t.Fatalf("parseFootfallTileQuery(%q): %v", raw, err)
			}
			return
		}
		n, _ := strconv.Atoi(q.Key)
		switch q.How {
		case "":
			if q.Key != "" {
				t.Fatalf("%q: key %q with all hours", raw, q.Key)
			}
		case olap.FootfallHourOfWeek:
			if strconv.Itoa(n) != q.Key || n < 0 || n > 167 {
				t.Fatalf("%q: hour of week %q", raw, q.Key)
			}
		case olap.FootfallHour:
			if strconv.Itoa(n) != q.Key || n < 0 || n > 23 {
				t.Fatalf("%q: hour %q", raw, q.Key)
			}
		case olap.FootfallDate:
			if _, err := time.Parse("2006-01-02", q.Key); err != nil {
				t.Fatalf("%q: date %q", raw, q.Key)
			}
		default:
			t.Fatalf("%q: how %q", raw, q.How)
		}
	})
}
