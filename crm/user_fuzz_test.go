package crm

import (
	"strings"
	"testing"
)

// FuzzParsePasswordHash: a stored hash is outside input once a database row can be
// tampered with; parsing must never panic nor accept parameters that would make a check
// take unbounded memory or time.
func FuzzParsePasswordHash(f *testing.F) {
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Gq0Sc9pZBa2dM2mN0m0nH2G3cJp2I8M1k1Qb1m8mFzA")
	f.Add("$argon2id$v=19$m=4294967295,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")
	f.Add("$2a$10$abcdefghijklmnopqrstuu")
	f.Add("")
	f.Add("$argon2id$v=19$m=,t=,p=$$")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePasswordHash(s)
		if err != nil {
			if VerifyPassword(s, "x") {
				t.Fatal("an unparsable hash verified")
			}
			return
		}
		if p.memory > 1<<20 || p.time > 16 || p.threads > 16 || len(p.key) > 64 || len(p.salt) > 64 {
			t.Fatalf("accepted parameters out of bounds: %+v", p)
		}
	})
}

func TestHashPassword(t *testing.T) {
	h := HashPassword("correct horse battery")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q", h)
	}
	if !VerifyPassword(h, "correct horse battery") || VerifyPassword(h, "correct horse batterY") {
		t.Fatal("verify")
	}
	if HashPassword("correct horse battery") == h {
		t.Fatal("no salt")
	}
}

// FuzzValidSecret: cookie and bearer values come from anyone.
func FuzzValidSecret(f *testing.F) {
	f.Add(newSecret(sessionPrefix))
	f.Add(newSecret(tokenPrefix))
	f.Add("gcs_")
	f.Add("gcrm_" + strings.Repeat("A", 43))
	f.Fuzz(func(t *testing.T, s string) {
		if ValidSessionToken(s) && ValidAPIToken(s) {
			t.Fatalf("%q is both a session and a token", s)
		}
		if ValidSessionToken(s) && (len(s) != 47 || !strings.HasPrefix(s, sessionPrefix)) {
			t.Fatalf("accepted session %q", s)
		}
	})
}
