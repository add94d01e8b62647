package web_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo/postgis/pgtest"
	"github.com/gcrm/gcrm/web"
	"github.com/go-chi/chi/v5"
)

// userToken creates a user with role (no password) and returns an API token of theirs.
func userToken(t testing.TB, srv *web.Server, email, role string) string {
	t.Helper()
	ctx := context.Background()
	u := &crm.User{Email: email, Role: role}
	if err := srv.Users.Create(ctx, u, ""); err != nil {
		t.Fatal(err)
	}
	secret, _, err := srv.Users.CreateToken(ctx, u, "", "test", 0)
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// as returns a copy of ts whose do sends token (or nothing for "").
func (ts *testServer) as(token string) *testServer {
	c := *ts
	c.auth = token
	return &c
}

// browser is a cookie-keeping client signed in through the login endpoint.
type browser struct {
	ts   *testServer
	c    *http.Client
	csrf string
}

func (ts *testServer) signIn(t *testing.T, email, password string) (*browser, *http.Response) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &browser{ts: ts, c: &http.Client{Jar: jar}}
	resp, body := b.do(t, "POST", "/api/v1/auth/login", fmt.Sprintf(`{"email":%q,"password":%q}`, email, password))
	var me struct {
		CSRF string `json:"csrf_token"`
	}
	json.Unmarshal([]byte(body), &me)
	b.csrf = me.CSRF
	return b, resp
}

func (b *browser) do(t *testing.T, method, path, body string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, b.ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b2, _ := io.ReadAll(resp.Body)
	return resp, string(b2)
}

func TestSignIn(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	if err := ts.srv.Users.Create(ctx, &crm.User{Email: "rep1@demo.gcrm", Role: crm.RoleRep}, "rep password 1"); err != nil {
		t.Fatal(err)
	}
	t.Run("FailuresSayNothing", func(t *testing.T) {
		_, r1 := ts.signIn(t, "rep1@demo.gcrm", "wrong password")
		_, r2 := ts.signIn(t, "nobody@demo.gcrm", "rep password 1")
		if r1.StatusCode != 401 || r2.StatusCode != 401 {
			t.Fatalf("status %d %d, want 401", r1.StatusCode, r2.StatusCode)
		}
		if len(r1.Cookies()) != 0 {
			t.Fatal("a failed sign-in set a cookie")
		}
	})
	b, resp := ts.signIn(t, "REP1@demo.gcrm", "rep password 1")
	if resp.StatusCode != 200 || b.csrf == "" {
		t.Fatalf("sign-in: %d, csrf %q", resp.StatusCode, b.csrf)
	}
	t.Run("Cookie", func(t *testing.T) {
		var c *http.Cookie
		for _, x := range resp.Cookies() {
			if x.Name == "gcrm_session" {
				c = x
			}
		}
		if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure || c.Path != "/" {
			t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Lax, not Secure over plain HTTP", c)
		}
	})
	t.Run("Me", func(t *testing.T) {
		resp, body := b.do(t, "GET", "/api/v1/auth/me", "")
		if resp.StatusCode != 200 || !strings.Contains(body, `"email":"rep1@demo.gcrm"`) || !strings.Contains(body, `"role":"rep"`) ||
			!strings.Contains(body, `"customers.export":true`) || !strings.Contains(body, `"audit":false`) {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})
	t.Run("WriteNeedsCSRF", func(t *testing.T) {
		resp, body := b.do(t, "POST", "/api/v1/customers", `{"name":"Mine"}`)
		if resp.StatusCode != 403 || !strings.Contains(body, "X-CSRF-Token") {
			t.Fatalf("without token: %d %s", resp.StatusCode, body)
		}
		resp, _ = b.do(t, "POST", "/api/v1/customers", `{"name":"Mine"}`, "X-CSRF-Token", "forged")
		if resp.StatusCode != 403 {
			t.Fatalf("forged token: %d", resp.StatusCode)
		}
		resp, _ = b.do(t, "POST", "/api/v1/customers", `{"name":"Mine"}`, "X-CSRF-Token", b.csrf, "Origin", "https://evil.example")
		if resp.StatusCode != 403 {
			t.Fatalf("cross-origin: %d", resp.StatusCode)
		}
		resp, body = b.do(t, "POST", "/api/v1/customers", `{"name":"Mine"}`, "X-CSRF-Token", b.csrf, "Origin", ts.URL)
		if resp.StatusCode != 201 || !strings.Contains(body, `"owner":"rep1@demo.gcrm"`) {
			t.Fatalf("with token: %d %s (a rep's new record is theirs)", resp.StatusCode, body)
		}
	})
	t.Run("LoginNeedsJSON", func(t *testing.T) {
		resp, _ := b.do(t, "POST", "/api/v1/auth/login", "", "Content-Type", "application/x-www-form-urlencoded")
		if resp.StatusCode != 400 {
			t.Fatalf("form sign-in: %d", resp.StatusCode)
		}
	})
	t.Run("SignOut", func(t *testing.T) {
		b2, _ := ts.signIn(t, "rep1@demo.gcrm", "rep password 1")
		if resp, _ := b2.do(t, "POST", "/api/v1/auth/logout", "", "X-CSRF-Token", b2.csrf); resp.StatusCode != 204 {
			t.Fatalf("sign-out: %d", resp.StatusCode)
		}
		if resp, _ := b2.do(t, "GET", "/api/v1/auth/me", ""); resp.StatusCode != 401 {
			t.Fatalf("after sign-out: %d", resp.StatusCode)
		}
		if resp, _ := b.do(t, "GET", "/api/v1/auth/me", ""); resp.StatusCode != 200 {
			t.Fatalf("another session of the same user ended too: %d", resp.StatusCode)
		}
	})
	t.Run("RateLimited", func(t *testing.T) {
		ts.srv.Users.MaxFailsAccount = 3
		for i := 0; i < 3; i++ {
			ts.signIn(t, "rep1@demo.gcrm", "guess")
		}
		_, resp := ts.signIn(t, "rep1@demo.gcrm", "rep password 1")
		if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("after 3 failures: %d", resp.StatusCode)
		}
	})
	t.Run("Audited", func(t *testing.T) {
		resp, body := ts.do(t, "GET", "/api/v1/audit?object_type=user&object_id=rep1@demo.gcrm&limit=100", "")
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		var got struct{ Entries []crm.AuditEntry }
		json.Unmarshal([]byte(body), &got)
		count := map[string]int{}
		for _, e := range got.Entries {
			count[e.Action]++
		}
		if count["login"] != 2 || count["login.failed"] < 4 {
			t.Fatalf("audit of sign-ins: %v", count)
		}
	})
}

func TestTokensAPI(t *testing.T) {
	ts := newTestServer(t)
	rep := ts.as(userToken(t, ts.srv, "rep1@demo.gcrm", crm.RoleRep))
	resp, body := rep.do(t, "POST", "/api/v1/auth/tokens", `{"name":"phone"}`)
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	var tok struct {
		ID    int64  `json:"id"`
		Token string `json:"token"`
		Role  string `json:"role"`
	}
	json.Unmarshal([]byte(body), &tok)
	if tok.Role != "rep" || !strings.HasPrefix(tok.Token, "gcrm_") {
		t.Fatalf("token %s", body)
	}
	if resp, body := rep.do(t, "POST", "/api/v1/auth/tokens", `{"role":"admin"}`); resp.StatusCode != 403 {
		t.Fatalf("a rep made an admin token: %d %s", resp.StatusCode, body)
	}
	phone := ts.as(tok.Token)
	if resp, body := phone.do(t, "GET", "/api/v1/auth/me", ""); resp.StatusCode != 200 || !strings.Contains(body, `"via":"token"`) {
		t.Fatalf("me with the new token: %d %s", resp.StatusCode, body)
	}
	if _, body := rep.do(t, "GET", "/api/v1/auth/tokens", ""); strings.Contains(body, tok.Token) || !strings.Contains(body, `"name":"phone"`) {
		t.Fatalf("list shows secrets or misses the token: %s", body)
	}
	if resp, _ := rep.do(t, "DELETE", fmt.Sprintf("/api/v1/auth/tokens/%d", tok.ID), ""); resp.StatusCode != 204 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if resp, _ := phone.do(t, "GET", "/api/v1/auth/me", ""); resp.StatusCode != 401 {
		t.Fatalf("revoked token: %d", resp.StatusCode)
	}
	for _, h := range []string{"Basic YWRtaW46YWRtaW4=", "Bearer", "Bearer gcrm_x", "bearer " + strings.Repeat("a", 300)} {
		if resp, _ := ts.do(t, "GET", "/api/v1/customers", "", "Authorization", h); resp.StatusCode != 401 {
			t.Errorf("Authorization %q: %d, want 401", h, resp.StatusCode)
		}
	}
}

// seedScope creates records of two reps and one without owner; it returns their ids by owner.
func seedScope(t *testing.T, ts *testServer) map[string][]int64 {
	t.Helper()
	ids := map[string][]int64{}
	for i, c := range []struct {
		owner, email string
		consent      bool
	}{
		{"rep1@demo.gcrm", "a@x.org", true}, {"rep1@demo.gcrm", "b@x.org", false},
		{"rep2@demo.gcrm", "c@x.org", true}, {"rep2@demo.gcrm", "d@x.org", false}, {"", "e@x.org", false},
	} {
		resp, body := ts.do(t, "POST", "/api/v1/customers", fmt.Sprintf(
			`{"name":"C%d","owner":%q,"email":%q,"phone":"+1 555 010%d","street":"%d Main St","consent_email":%v,"lat":30.%d,"lon":-97.%d}`,
			i, c.owner, c.email, i, i, c.consent, i, i))
		if resp.StatusCode != 201 {
			t.Fatalf("seed: %d %s", resp.StatusCode, body)
		}
		var f struct{ ID int64 }
		json.Unmarshal([]byte(body), &f)
		ids[c.owner] = append(ids[c.owner], f.ID)
	}
	return ids
}

func listIDs(t *testing.T, ts *testServer, path string) []int64 {
	t.Helper()
	resp, body := ts.do(t, "GET", path, "")
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
	}
	var fc struct{ Features []struct{ ID int64 } }
	json.Unmarshal([]byte(body), &fc)
	var ids []int64
	for _, f := range fc.Features {
		ids = append(ids, f.ID)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

func TestScopeAPI(t *testing.T) {
	ts := newTestServer(t)
	ids := seedScope(t, ts)
	rep1 := ts.as(userToken(t, ts.srv, "rep1@demo.gcrm", crm.RoleRep))
	t.Run("List", func(t *testing.T) {
		if got := listIDs(t, rep1, "/api/v1/customers"); fmt.Sprint(got) != fmt.Sprint(ids["rep1@demo.gcrm"]) {
			t.Fatalf("rep1 lists %v, want %v", got, ids["rep1@demo.gcrm"])
		}
		if got := listIDs(t, ts, "/api/v1/customers"); len(got) != 5 {
			t.Fatalf("admin lists %v", got)
		}
	})
	other := ids["rep2@demo.gcrm"][0]
	path := fmt.Sprintf("/api/v1/customers/%d", other)
	t.Run("GetOutOfScopeIs404", func(t *testing.T) {
		if resp, _ := rep1.do(t, "GET", path, ""); resp.StatusCode != 404 {
			t.Fatalf("%d", resp.StatusCode)
		}
		if resp, _ := rep1.do(t, "GET", "/api/v1/customers/999999", ""); resp.StatusCode != 404 {
			t.Fatalf("missing: %d", resp.StatusCode)
		}
	})
	t.Run("UpdateOutOfScopeIs404", func(t *testing.T) {
		if resp, _ := rep1.do(t, "PATCH", path, `{"version":1,"name":"mine now"}`); resp.StatusCode != 404 {
			t.Fatalf("%d", resp.StatusCode)
		}
		mine := fmt.Sprintf("/api/v1/customers/%d", ids["rep1@demo.gcrm"][0])
		if resp, _ := rep1.do(t, "PATCH", mine, `{"version":1,"owner":"rep2@demo.gcrm"}`); resp.StatusCode != 403 {
			t.Fatalf("handing a record out of scope: %d", resp.StatusCode)
		}
	})
	t.Run("CreateOutOfScope", func(t *testing.T) {
		if resp, _ := rep1.do(t, "POST", "/api/v1/customers", `{"name":"x","owner":"rep2@demo.gcrm"}`); resp.StatusCode != 403 {
			t.Fatalf("%d", resp.StatusCode)
		}
	})
	t.Run("Export", func(t *testing.T) {
		resp, body := rep1.do(t, "GET", "/api/v1/customers/export.csv", "")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		rows, _ := csv.NewReader(strings.NewReader(body)).ReadAll()
		if len(rows) != 3 {
			t.Fatalf("rep1 exported %d rows, want header + 2: %v", len(rows), rows)
		}
		for _, r := range rows[1:] {
			if r[13] != "rep1@demo.gcrm" {
				t.Fatalf("row out of scope: %v", r)
			}
		}
	})
	t.Run("MarketerExportNeedsConsent", func(t *testing.T) {
		mk := ts.as(userToken(t, ts.srv, "marketer@demo.gcrm", crm.RoleMarketer))
		if got := listIDs(t, mk, "/api/v1/customers"); len(got) != 5 {
			t.Fatalf("marketer lists %v, want all 5", got)
		}
		if _, body := mk.do(t, "GET", "/api/v1/customers", ""); strings.Contains(body, "b@x.org") || !strings.Contains(body, "a@x.org") {
			t.Fatalf("marketer's list: contact details without consent, or none with it: %s", body)
		}
		_, body := mk.do(t, "GET", "/api/v1/customers/export.csv", "")
		rows, _ := csv.NewReader(strings.NewReader(body)).ReadAll()
		if len(rows) != 6 {
			t.Fatalf("marketer exported %d rows: %v", len(rows), rows)
		}
		for _, r := range rows[1:] {
			consent := r[17] == "true"
			hasContact := r[15] != "" || r[16] != "" || r[4] != ""
			if hasContact != consent {
				t.Fatalf("consent %v but contact details %q %q %q", consent, r[15], r[16], r[4])
			}
		}
	})
	t.Run("ExportAudited", func(t *testing.T) {
		_, body := ts.do(t, "GET", "/api/v1/audit?action=export", "")
		var got struct{ Entries []crm.AuditEntry }
		json.Unmarshal([]byte(body), &got)
		if len(got.Entries) != 2 {
			t.Fatalf("export entries: %s", body)
		}
		e := got.Entries[1] // oldest: rep1's
		if e.Actor != "rep1@demo.gcrm" || e.Details["rows"] != float64(2) {
			t.Fatalf("rep1's export entry %+v", e)
		}
		if e := got.Entries[0]; e.Details["rows"] != float64(5) || e.Details["contacts_redacted"] != float64(3) {
			t.Fatalf("marketer's export entry %+v", e)
		}
	})
	t.Run("WritesAudited", func(t *testing.T) {
		_, body := ts.do(t, "GET", "/api/v1/audit?action=customer.create&limit=1000", "")
		var got struct{ Entries []crm.AuditEntry }
		json.Unmarshal([]byte(body), &got)
		if len(got.Entries) != 5 || got.Entries[0].ObjectID == "" || got.Entries[0].Actor != "admin@test.gcrm" {
			t.Fatalf("customer.create entries: %s", body)
		}
	})
	t.Run("AuditIsAdminOnly", func(t *testing.T) {
		if resp, _ := rep1.do(t, "GET", "/api/v1/audit", ""); resp.StatusCode != 403 {
			t.Fatalf("%d", resp.StatusCode)
		}
		_, body := ts.do(t, "GET", "/api/v1/audit?action=access.denied&actor=rep1@demo.gcrm", "")
		if !strings.Contains(body, `"reason":"role"`) || !strings.Contains(body, `GET /api/v1/audit`) {
			t.Fatalf("the refusal is not audited: %s", body)
		}
	})
}

func TestPrivacy(t *testing.T) {
	ts := newTestServer(t)
	ids := seedScope(t, ts)
	id := ids["rep1@demo.gcrm"][0]
	rep1 := ts.as(userToken(t, ts.srv, "rep1@demo.gcrm", crm.RoleRep))
	for _, p := range []string{"personal-data", "erase"} {
		method := map[string]string{"personal-data": "GET", "erase": "POST"}[p]
		if resp, _ := rep1.do(t, method, fmt.Sprintf("/api/v1/customers/%d/%s", id, p), ""); resp.StatusCode != 403 {
			t.Fatalf("rep %s: %d", p, resp.StatusCode)
		}
	}
	resp, body := ts.do(t, "GET", fmt.Sprintf("/api/v1/customers/%d/personal-data", id), "")
	if resp.StatusCode != 200 || !strings.Contains(body, `"a@x.org"`) || !strings.Contains(body, `"customer.create"`) {
		t.Fatalf("personal data: %d %s", resp.StatusCode, body)
	}
	resp, body = ts.do(t, "POST", fmt.Sprintf("/api/v1/customers/%d/erase", id), "")
	if resp.StatusCode != 200 {
		t.Fatalf("erase: %d %s", resp.StatusCode, body)
	}
	_, body = ts.do(t, "GET", fmt.Sprintf("/api/v1/customers/%d", id), "")
	for _, gone := range []string{"a@x.org", "555 010", "Main St", `"C0"`} {
		if strings.Contains(body, gone) {
			t.Fatalf("erased record still holds %q: %s", gone, body)
		}
	}
	if !strings.Contains(body, `"owner":"rep1@demo.gcrm"`) || !strings.Contains(body, `"coordinates"`) {
		t.Fatalf("erase dropped what aggregates need: %s", body)
	}
	_, body = ts.do(t, "GET", fmt.Sprintf("/api/v1/audit?object_type=customer&object_id=%d", id), "")
	if !strings.Contains(body, `"privacy.erase"`) || !strings.Contains(body, `"privacy.export"`) {
		t.Fatalf("audit lacks the tombstone: %s", body)
	}
}

func TestSecurityHeaders(t *testing.T) {
	ts := newTestServer(t)
	for _, p := range []string{"/healthz", "/api/v1/customers", "/api/v1/nothing-here"} {
		resp, _ := ts.do(t, "GET", p, "")
		h := resp.Header
		if !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") || h.Get("X-Content-Type-Options") != "nosniff" ||
			h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") == "" {
			t.Errorf("%s: headers %v", p, h)
		}
	}
	resp, body := ts.do(t, "POST", "/api/v1/customers", `{"name":"`+strings.Repeat("x", 2<<20)+`"}`)
	if resp.StatusCode != 413 || !strings.Contains(body, "larger") {
		t.Fatalf("2 MiB body: %d %.200s", resp.StatusCode, body)
	}
	if resp, _ := ts.do(t, "GET", "/api/v1/customers", "", "Authorization", ""); resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("anonymous list: %d", resp.StatusCode)
	}
}

// TestDenyByDefault: a route someone adds without a rule in the policy is refused to
// everyone, admins included, and its handler never runs.
func TestDenyByDefault(t *testing.T) {
	db := pgtest.New(t)
	ran := false
	srv := &web.Server{DB: db, Customers: crm.NewStore(db), Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Mounts: []func(chi.Router){func(r chi.Router) {
			r.Get("/api/v1/secret", func(w http.ResponseWriter, r *http.Request) { ran = true })
		}}}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	ts := &testServer{Server: hs, srv: srv, auth: userToken(t, srv, "admin@test.gcrm", crm.RoleAdmin)}
	if resp, _ := ts.do(t, "GET", "/api/v1/secret", ""); resp.StatusCode != 403 || ran {
		t.Fatalf("admin on a route without a rule: %d (handler ran: %v)", resp.StatusCode, ran)
	}
	if resp, _ := ts.do(t, "GET", "/api/v1/secret", "", "Authorization", ""); resp.StatusCode != 403 || ran {
		t.Fatalf("anonymous on a route without a rule: %d", resp.StatusCode)
	}
}
