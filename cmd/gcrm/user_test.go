package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/gcrm/gcrm/geo/postgis/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// gcrm runs the command line against the database at url and returns exit code and output.
func gcrm(t *testing.T, url, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string {
		switch k {
		case "DATABASE_URL":
			return url
		case "USER":
			return "tester"
		}
		return ""
	}
	code := run(context.Background(), args, getenv, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestUserCommand(t *testing.T) {
	url := pgtest.URL(t)
	code, out, errs := gcrm(t, url, "", "user", "add", "Ann@Example.com", "--role", "rep", "--token")
	if code != 0 {
		t.Fatalf("add: %d %s %s", code, out, errs)
	}
	pw := regexp.MustCompile(`password: (\S+)`).FindStringSubmatch(out)
	tok := regexp.MustCompile(`token:\s+(gcrm_\S+)`).FindStringSubmatch(out)
	if pw == nil || tok == nil || !strings.Contains(out, "ann@example.com (rep)") {
		t.Fatalf("add printed %q", out)
	}
	t.Run("Duplicate", func(t *testing.T) {
		if code, _, errs := gcrm(t, url, "", "user", "add", "ann@example.com", "--role", "admin"); code != 1 || !strings.Contains(errs, "already exists") {
			t.Fatalf("%d %s", code, errs)
		}
	})
	t.Run("NeedsRole", func(t *testing.T) {
		if code, _, errs := gcrm(t, url, "", "user", "add", "bob@example.com"); code != 1 || !strings.Contains(errs, "--role") {
			t.Fatalf("%d %s", code, errs)
		}
	})
	t.Run("PasswordStdin", func(t *testing.T) {
		code, out, errs := gcrm(t, url, "a long enough secret\n", "user", "add", "--role", "marketer", "mia@example.com", "--password-stdin")
		if code != 0 || strings.Contains(out, "secret") {
			t.Fatalf("%d %s %s", code, out, errs)
		}
	})
	t.Run("List", func(t *testing.T) {
		code, out, _ := gcrm(t, url, "", "user", "list")
		if code != 0 || !strings.Contains(out, "ann@example.com") || !strings.Contains(out, "marketer") {
			t.Fatalf("%d %s", code, out)
		}
	})
	t.Run("ResetAndTokens", func(t *testing.T) {
		code, out, _ := gcrm(t, url, "", "user", "reset", "ann@example.com")
		if code != 0 || !strings.Contains(out, "password: ") || strings.Contains(out, pw[1]) {
			t.Fatalf("reset: %d %s", code, out)
		}
		code, out, _ = gcrm(t, url, "", "user", "tokens", "ann@example.com")
		if code != 0 || !strings.Contains(out, tok[1][:11]) || strings.Contains(out, tok[1]) || !strings.Contains(out, "active") {
			t.Fatalf("tokens: %d %s", code, out)
		}
		id := regexp.MustCompile(`(?m)^(\d+)\s`).FindStringSubmatch(out)
		if code, out, errs := gcrm(t, url, "", "user", "revoke", id[1]); code != 0 {
			t.Fatalf("revoke: %d %s %s", code, out, errs)
		}
		if _, out, _ = gcrm(t, url, "", "user", "tokens"); !strings.Contains(out, "revoked") {
			t.Fatalf("after revoke: %s", out)
		}
	})
	t.Run("Audited", func(t *testing.T) {
		var n int
		conn := openURL(t, url)
		conn.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE actor = 'cli:tester' AND action IN ('user.create', 'user.update', 'token.create', 'token.revoke')`).Scan(&n)
		if n < 5 {
			t.Fatalf("%d audit entries from the CLI", n)
		}
	})
	t.Run("DemoUsers", func(t *testing.T) {
		conn := openURL(t, url)
		var out bytes.Buffer
		for i := 0; i < 2; i++ { // twice: the demo may run again on the same data
			if err := ensureDemoUsers(context.Background(), conn, &out); err != nil {
				t.Fatal(err)
			}
		}
		u, err := crm.NewUsers(conn).Authenticate(context.Background(), "rep1@demo.gcrm", DemoPassword, "t")
		if err != nil || u.Role != crm.RoleRep || !strings.Contains(out.String(), "rep1@demo.gcrm") {
			t.Fatalf("%v %v %s", u, err, out.String())
		}
	})
}

func openURL(t *testing.T, url string) *postgis.DB {
	t.Helper()
	db, err := postgis.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}
