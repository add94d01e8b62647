package crm

import (
	"net/mail"
	"testing"
)

// FuzzPlainEmail: the fast path accepts only addresses mail.ParseAddress accepts unchanged,
// so validEmail says the same with or without it.
func FuzzPlainEmail(f *testing.F) {
	for _, s := range []string{"c1@example.com", "a.b+c_d-e@x-y.example.org", "a..b@x", ".a@x", "a.@x",
		"a@x.", "a@.x", "@x", "a@", "a@b@c", "a b@x", "A@B", "a@x_y", "\"a\"@x", "a@[1.2.3.4]", "ü@x.de"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !plainEmail(s) {
			return
		}
		a, err := mail.ParseAddress(s)
		if err != nil || a.Address != s {
			t.Fatalf("plainEmail accepts %q but mail.ParseAddress gives %v, %v", s, a, err)
		}
	})
}

func TestPlainEmail(t *testing.T) {
	for s, want := range map[string]bool{"c1@example.com": true, "a.b+c_d-e@x-y.example.org": true, "A@B": true,
		"a..b@x": false, ".a@x": false, "a.@x": false, "a@x.": false, "@x": false, "a@": false, "a@b@c": false,
		"a b@x": false, "a@x_y": false, "\"a\"@x": false, "ü@x.de": false} {
		if plainEmail(s) != want {
			t.Errorf("plainEmail(%q) = %v", s, !want)
		}
	}
}
