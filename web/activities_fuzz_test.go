package web

import (
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
)

// FuzzParseActivity: any body gives an activity or EINVALID; an activity that passes the
// store's Validate has a known kind, a valid note within the limit and a plausible time.
func FuzzParseActivity(f *testing.F) {
	f.Add(`{"kind":"visit","note":"met the buyer","occurred_at":"2025-03-01T10:00:00Z"}`)
	f.Add(`{"kind":" call "}`)
	f.Add(`{"kind":"fax","note":"\u0000"}`)
	f.Add(`{"kind":"visit","extra":1}`)
	f.Add(`{"kind":"meeting","occurred_at":"0001-01-01T00:00:00Z"}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, body string) {
		a, err := parseActivity(strings.NewReader(body))
		if err != nil {
			if geo.ErrorCode(err) != geo.EINVALID {
				t.Fatalf("%q: %v is not EINVALID", body, err)
			}
			return
		}
		if a.OccurredAt.IsZero() {
			a.OccurredAt = time.Now() // as LogActivity defaults it
		}
		if err := a.Validate(); err != nil {
			if geo.ErrorCode(err) != geo.EINVALID {
				t.Fatalf("%q: %v is not EINVALID", body, err)
			}
			return
		}
		if !slices.Contains(crm.ActivityKinds, a.Kind) || !utf8.ValidString(a.Note) ||
			utf8.RuneCountInString(a.Note) > crm.MaxActivityNote || a.OccurredAt.Year() < 1900 {
			t.Fatalf("%q passed as %+v", body, a)
		}
	})
}
