package crm_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/postgis/pgtest"
)

func TestUsers_Create(t *testing.T) {
	ctx := context.Background()
	us := crm.NewUsers(pgtest.New(t))
	t.Run("OK", func(t *testing.T) {
		u := &crm.User{Email: " Rep1@Example.COM ", Role: crm.RoleRep}
		if err := us.Create(ctx, u, "correct horse"); err != nil {
			t.Fatal(err)
		}
		if u.ID == 0 || u.Email != "rep1@example.com" {
			t.Fatalf("created %+v", u)
		}
	})
	t.Run("ErrConflict", func(t *testing.T) {
		err := us.Create(ctx, &crm.User{Email: "rep1@example.com", Role: crm.RoleAdmin}, "")
		if geo.ErrorCode(err) != geo.ECONFLICT {
			t.Fatalf("duplicate: %v", err)
		}
	})
	for _, tc := range []struct{ name, email, role, pw string }{
		{"BadRole", "x@example.com", "root", ""},
		{"BadEmail", "not-an-email", crm.RoleRep, ""},
		{"ShortPassword", "y@example.com", crm.RoleRep, "short"},
	} {
		t.Run("ErrInvalid/"+tc.name, func(t *testing.T) {
			if err := us.Create(ctx, &crm.User{Email: tc.email, Role: tc.role}, tc.pw); geo.ErrorCode(err) != geo.EINVALID {
				t.Fatalf("got %v, want EINVALID", err)
			}
		})
	}
}

func TestUsers_Authenticate(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	us := crm.NewUsers(db)
	us.MaxFailsAccount, us.MaxFailsAddress = 3, 6
	if err := us.Create(ctx, &crm.User{Email: "a@example.com", Role: crm.RoleAdmin}, "right password"); err != nil {
		t.Fatal(err)
	}
	t.Run("OK", func(t *testing.T) {
		u, err := us.Authenticate(ctx, "A@example.com", "right password", "10.0.0.1")
		if err != nil || u.Email != "a@example.com" || u.Role != crm.RoleAdmin {
			t.Fatalf("%v %v", u, err)
		}
	})
	t.Run("FailuresSayNothing", func(t *testing.T) {
		_, e1 := us.Authenticate(ctx, "a@example.com", "wrong password", "10.0.0.2")
		_, e2 := us.Authenticate(ctx, "nobody@example.com", "right password", "10.0.0.2")
		if geo.ErrorCode(e1) != geo.EUNAUTHORIZED || e1.Error() != e2.Error() {
			t.Fatalf("wrong password %v, unknown user %v: must be the same EUNAUTHORIZED", e1, e2)
		}
	})
	t.Run("RateLimitPerAccount", func(t *testing.T) {
		us.Authenticate(ctx, "a@example.com", "wrong", "10.0.0.3")
		us.Authenticate(ctx, "a@example.com", "wrong", "10.0.0.4")
		// three failures now (one above): even the right password is refused.
		if _, err := us.Authenticate(ctx, "a@example.com", "right password", "10.0.0.5"); err != crm.ErrTooManyAttempts {
			t.Fatalf("after 3 failures: %v, want ErrTooManyAttempts", err)
		}
		// Time passes: the window slides.
		if _, err := db.Pool.Exec(ctx, `UPDATE login_attempts SET at = at - interval '1 hour'`); err != nil {
			t.Fatal(err)
		}
		if _, err := us.Authenticate(ctx, "a@example.com", "right password", "10.0.0.5"); err != nil {
			t.Fatalf("after the window: %v", err)
		}
	})
	t.Run("RateLimitPerAddress", func(t *testing.T) {
		for i := 0; i < 6; i++ {
			us.Authenticate(ctx, "user"+string(rune('a'+i))+"@example.com", "guess", "10.9.9.9")
		}
		if _, err := us.Authenticate(ctx, "a@example.com", "right password", "10.9.9.9"); err != crm.ErrTooManyAttempts {
			t.Fatalf("after 6 failures from one address: %v", err)
		}
		if _, err := us.Authenticate(ctx, "a@example.com", "right password", "10.9.9.8"); err != nil {
			t.Fatalf("another address: %v", err)
		}
	})
	t.Run("PasswordInTheEmailField", func(t *testing.T) {
		us.Authenticate(ctx, "hunter2secret", "right password", "10.0.2.1")
		var n int
		db.Pool.QueryRow(ctx, `SELECT count(*) FROM login_attempts WHERE email LIKE '%hunter2%'`).Scan(&n)
		if n != 0 {
			t.Fatal("a password typed as the e-mail was stored")
		}
	})
	t.Run("Disabled", func(t *testing.T) {
		if err := us.SetDisabled(ctx, "a@example.com", true); err != nil {
			t.Fatal(err)
		}
		if _, err := us.Authenticate(ctx, "a@example.com", "right password", "10.0.1.1"); geo.ErrorCode(err) != geo.EUNAUTHORIZED {
			t.Fatalf("disabled user signed in: %v", err)
		}
	})
}

func TestUsers_Sessions(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	us := crm.NewUsers(db)
	u := &crm.User{Email: "rep@example.com", Role: crm.RoleRep}
	if err := us.Create(ctx, u, "a good password"); err != nil {
		t.Fatal(err)
	}
	secret, sess, err := us.CreateSession(ctx, u, "127.0.0.1", "test")
	if err != nil || !crm.ValidSessionToken(secret) || sess.CSRFToken == "" {
		t.Fatalf("%q %+v %v", secret, sess, err)
	}
	t.Run("OK", func(t *testing.T) {
		got, err := us.FindSession(ctx, secret)
		if err != nil || got.User.Email != u.Email || got.CSRFToken != sess.CSRFToken {
			t.Fatalf("%+v %v", got, err)
		}
	})
	t.Run("StoredHashed", func(t *testing.T) {
		var n int
		db.Pool.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE token_hash = $1::text::bytea`, secret).Scan(&n)
		if n != 0 {
			t.Fatal("the cookie secret is stored in clear")
		}
	})
	t.Run("IdleExpiry", func(t *testing.T) {
		s2, _, _ := us.CreateSession(ctx, u, "", "")
		db.Pool.Exec(ctx, `UPDATE sessions SET last_seen_at = now() - interval '3 hours'`)
		if _, err := us.FindSession(ctx, s2); geo.ErrorCode(err) != geo.EUNAUTHORIZED {
			t.Fatalf("idle session: %v", err)
		}
	})
	t.Run("AbsoluteExpiry", func(t *testing.T) {
		s3, _, _ := us.CreateSession(ctx, u, "", "")
		db.Pool.Exec(ctx, `UPDATE sessions SET expires_at = now() - interval '1 second'`)
		if _, err := us.FindSession(ctx, s3); geo.ErrorCode(err) != geo.EUNAUTHORIZED {
			t.Fatalf("expired session: %v", err)
		}
	})
	t.Run("PasswordResetEndsSessions", func(t *testing.T) {
		s4, _, _ := us.CreateSession(ctx, u, "", "")
		if err := us.SetPassword(ctx, u.Email, "another password"); err != nil {
			t.Fatal(err)
		}
		if _, err := us.FindSession(ctx, s4); geo.ErrorCode(err) != geo.EUNAUTHORIZED {
			t.Fatalf("session after reset: %v", err)
		}
	})
	t.Run("Malformed", func(t *testing.T) {
		for _, s := range []string{"", "gcs_", "gcs_short", strings.Repeat("x", 47), "gcrm_" + secret[4:]} {
			if _, err := us.FindSession(ctx, s); geo.ErrorCode(err) != geo.EUNAUTHORIZED {
				t.Errorf("%q: %v", s, err)
			}
		}
	})
}

func TestUsers_Tokens(t *testing.T) {
	ctx := context.Background()
	us := crm.NewUsers(pgtest.New(t))
	admin := &crm.User{Email: "admin@example.com", Role: crm.RoleAdmin}
	rep := &crm.User{Email: "rep@example.com", Role: crm.RoleRep}
	for _, u := range []*crm.User{admin, rep} {
		if err := us.Create(ctx, u, ""); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("ScopedToRole", func(t *testing.T) {
		secret, tok, err := us.CreateToken(ctx, admin, crm.RoleMarketer, "campaign tool", 0)
		if err != nil || tok.Role != crm.RoleMarketer || !strings.HasPrefix(secret, tok.Prefix) {
			t.Fatalf("%+v %v", tok, err)
		}
		u, _, err := us.FindToken(ctx, secret)
		if err != nil || u.Email != admin.Email || u.Role != crm.RoleMarketer {
			t.Fatalf("token user %+v %v: want the admin acting as marketer", u, err)
		}
	})
	t.Run("ErrForbidden", func(t *testing.T) {
		if _, _, err := us.CreateToken(ctx, rep, crm.RoleAdmin, "", 0); geo.ErrorCode(err) != geo.EFORBIDDEN {
			t.Fatalf("rep made an admin token: %v", err)
		}
	})
	t.Run("Revoke", func(t *testing.T) {
		secret, tok, err := us.CreateToken(ctx, rep, "", "phone", 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := us.RevokeToken(ctx, admin.ID, tok.ID); geo.ErrorCode(err) != geo.ENOTFOUND {
			t.Fatalf("revoking someone else's token as a user: %v", err)
		}
		if _, err := us.RevokeToken(ctx, rep.ID, tok.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := us.FindToken(ctx, secret); geo.ErrorCode(err) != geo.EUNAUTHORIZED {
			t.Fatalf("revoked token still works: %v", err)
		}
		list, err := us.Tokens(ctx, rep.ID)
		if err != nil || len(list) != 1 || list[0].RevokedAt == nil {
			t.Fatalf("list %+v %v", list, err)
		}
	})
	t.Run("Expired", func(t *testing.T) {
		secret, _, err := us.CreateToken(ctx, rep, "", "", time.Nanosecond)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
		if _, _, err := us.FindToken(ctx, secret); geo.ErrorCode(err) != geo.EUNAUTHORIZED {
			t.Fatalf("expired token works: %v", err)
		}
	})
	t.Run("RoleChangeRevokes", func(t *testing.T) {
		secret, _, _ := us.CreateToken(ctx, rep, "", "", 0)
		if err := us.SetRole(ctx, rep.Email, crm.RoleMarketer); err != nil {
			t.Fatal(err)
		}
		if _, _, err := us.FindToken(ctx, secret); geo.ErrorCode(err) != geo.EUNAUTHORIZED {
			t.Fatalf("token of the old role still works: %v", err)
		}
	})
}

func TestScopeFor(t *testing.T) {
	rep := crm.ScopeFor(&crm.User{Email: "rep1@demo.gcrm", Role: crm.RoleRep})
	if !rep.Allows("rep1@demo.gcrm") || rep.Allows("rep2@demo.gcrm") || rep.Allows("") {
		t.Errorf("rep scope %+v", rep)
	}
	for _, role := range []string{crm.RoleAdmin, crm.RoleManager, crm.RolePlanner, crm.RoleMarketer} {
		if s := crm.ScopeFor(&crm.User{Email: "x@y.z", Role: role}); s.Restricted {
			t.Errorf("%s scope %+v, want everything", role, s)
		}
	}
	if s := crm.ScopeFor(nil); !s.Restricted || s.Allows("") || s.Allows("anyone") {
		t.Errorf("anonymous scope %+v, want nothing", s)
	}
	if a, b := crm.ScopeFor(&crm.User{Email: "rep1@x.y", Role: crm.RoleRep}).Key(), crm.ScopeFor(&crm.User{Email: "rep2@x.y", Role: crm.RoleRep}).Key(); a == b || a == "" {
		t.Errorf("scope keys %q %q must differ", a, b)
	}
	if crm.ScopeFor(nil).Key() == "" {
		t.Error("the empty scope shares the cache key of everything")
	}
}

func TestAudit_AppendOnly(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	a := crm.NewAudit(db)
	for i, act := range []string{"login", "customer.create", "customer.update", "export"} {
		if err := a.Record(ctx, &crm.AuditEntry{Actor: "admin@example.com", Action: act, ObjectType: "customer", ObjectID: string(rune('1' + i))}); err != nil {
			t.Fatal(err)
		}
	}
	for _, sql := range []string{`UPDATE audit_log SET actor = 'x'`, `DELETE FROM audit_log`, `TRUNCATE audit_log`} {
		if _, err := db.Pool.Exec(ctx, sql); err == nil {
			t.Errorf("%s succeeded on the append-only log", sql)
		}
	}
	t.Run("Find", func(t *testing.T) {
		list, next, err := a.Find(ctx, crm.AuditFilter{Action: "customer.", Limit: 1})
		if err != nil || len(list) != 1 || list[0].Action != "customer.update" || next == "" {
			t.Fatalf("%+v %q %v", list, next, err)
		}
		list, next, err = a.Find(ctx, crm.AuditFilter{Action: "customer.", Limit: 1, Cursor: next})
		if err != nil || len(list) != 1 || list[0].Action != "customer.create" {
			t.Fatalf("page 2 %+v %q %v", list, next, err)
		}
		if _, _, err := a.Find(ctx, crm.AuditFilter{Cursor: "!!"}); geo.ErrorCode(err) != geo.EINVALID {
			t.Fatalf("bad cursor: %v", err)
		}
	})
}
