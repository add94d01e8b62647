package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gcrm/gcrm/crm"
)

// FuzzParseBearer: the Authorization header is anyone's input. Parsing never panics, and
// what it accepts is one bounded token without whitespace.
func FuzzParseBearer(f *testing.F) {
	for _, s := range []string{"Bearer gcrm_" + strings.Repeat("A", 43), "bearer x", "Bearer", "Bearer  ", "Basic abc",
		"Bearer a b", "BEARER\tx", "Bearer " + strings.Repeat("x", 300), "Bearer \x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		tok, ok := parseBearer(h)
		if !ok {
			return
		}
		if tok == "" || len(tok) > 256 || strings.ContainsAny(tok, " \t\r\n") || !strings.EqualFold(h[:7], "bearer ") {
			t.Fatalf("parseBearer(%q) accepted %q", h, tok)
		}
	})
}

// FuzzSessionCookie: Cookie headers are anyone's input. Only a value of the session shape
// is returned, whatever else the header holds.
func FuzzSessionCookie(f *testing.F) {
	good := "gcs_" + strings.Repeat("B", 43)
	for _, s := range []string{"gcrm_session=" + good, "a=b; gcrm_session=" + good + "; c=d", "gcrm_session=", "gcrm_session=x;gcrm_session=" + good,
		"gcrm_session=\"" + good + "\"", ";;;=", "gcrm_session=" + good + "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cookie string) {
		got := sessionSecret(http.Header{"Cookie": {cookie}})
		if got != "" && !crm.ValidSessionToken(got) {
			t.Fatalf("sessionSecret(%q) = %q, not a session token", cookie, got)
		}
	})
}

// FuzzSameOrigin: Origin and Host come from the client; a mismatch is never same-origin.
func FuzzSameOrigin(f *testing.F) {
	f.Add("http://gcrm.example", "gcrm.example")
	f.Add("null", "gcrm.example")
	f.Add("http://gcrm.example.evil", "gcrm.example")
	f.Add("http://user@gcrm.example", "gcrm.example")
	f.Fuzz(func(t *testing.T, origin, host string) {
		r := &http.Request{Header: http.Header{"Origin": {origin}}, Host: host}
		if sameOrigin(r) && origin != "" && !strings.Contains(strings.ToLower(origin), strings.ToLower(host)) {
			t.Fatalf("origin %q counted as host %q", origin, host)
		}
	})
}
