package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo/postgis/pgtest"
	"github.com/gcrm/gcrm/web"
	"github.com/go-chi/chi/v5"
)

// expectedAccess is who may call each route, written out here independently of
// web/auth_policy.go: "public", or the roles allowed. A route registered by the real
// server that is missing here, or missing a rule in the policy, fails the test — add both
// when you add a route.
var expectedAccess = map[string]string{
	"GET /healthz":    "public",
	"GET /readyz":     "public",
	"GET /metrics":    "admin manager planner rep marketer",
	"GET /":           "public",
	"GET /index.html": "public",
	"GET /static/*":   "public",
	"HEAD /static/*":  "public",

	"POST /api/v1/auth/login":         "public",
	"POST /api/v1/auth/logout":        "admin manager planner rep marketer",
	"GET /api/v1/auth/me":             "admin manager planner rep marketer",
	"GET /api/v1/auth/tokens":         "admin manager planner rep marketer",
	"POST /api/v1/auth/tokens":        "admin manager planner rep marketer",
	"DELETE /api/v1/auth/tokens/{id}": "admin manager planner rep marketer",
	"GET /api/v1/audit":               "admin",

	"GET /api/v1/customers/":                   "admin manager planner rep marketer",
	"POST /api/v1/customers/":                  "admin manager rep",
	"GET /api/v1/customers/{id}":               "admin manager planner rep marketer",
	"PATCH /api/v1/customers/{id}":             "admin manager rep",
	"DELETE /api/v1/customers/{id}":            "admin manager",
	"GET /api/v1/customers/export.csv":         "admin manager rep marketer",
	"GET /api/v1/customers/{id}/personal-data": "admin",
	"POST /api/v1/customers/{id}/erase":        "admin",
	"GET /api/v1/customers/{id}/activities":    "admin manager planner rep marketer",
	"POST /api/v1/customers/{id}/activities":   "admin manager rep",

	"GET /tiles/customers/{z}/{x}/{y}.mvt":    "admin manager planner rep marketer",
	"GET /tiles/customers.json":               "admin manager planner rep marketer",
	"GET /api/v1/cube":                        "admin manager planner rep marketer",
	"GET /api/v1/cube/meta":                   "admin manager planner rep marketer",
	"GET /tiles/hexagons/{z}/{x}/{y}.mvt":     "admin manager planner rep marketer",
	"GET /tiles/regions/{z}/{x}/{y}.mvt":      "admin manager planner rep marketer",
	"GET /tiles/regions.json":                 "admin manager planner rep marketer",
	"GET /api/v1/regions":                     "admin manager planner rep marketer",
	"GET /api/v1/regions/{level}/{code}":      "admin manager planner rep marketer",
	"POST /api/v1/regions":                    "admin planner",
	"POST /api/v1/regions/{level}/attributes": "admin planner",
	"POST /api/v1/footfall":                   "admin planner",
	"GET /api/v1/footfall":                    "admin manager planner rep marketer",
	"GET /tiles/footfall/{z}/{x}/{y}.mvt":     "admin manager planner rep marketer",
	"GET /tiles/footfall.json":                "admin manager planner rep marketer",

	"POST /api/v1/imports":                 "admin manager",
	"GET /api/v1/imports/{id}":             "admin manager",
	"GET /api/v1/imports/{id}/rejects.csv": "admin manager",

	"GET /api/v1/geocode/review":  "admin manager rep",
	"GET /api/v1/geocode/search":  "admin manager planner rep marketer",
	"GET /api/v1/geocode/reverse": "admin manager planner rep marketer",
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestAuthorizationMatrix walks every route of the real server (as gcrm serve builds it)
// and calls each as every role and as an anonymous caller: an allowed caller must not be
// refused (401/403), a caller not allowed must be (401 anonymous, 403 signed in).
func TestAuthorizationMatrix(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	var logs syncBuffer
	srv, err := buildServer(ctx, db, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	ts := httptest.NewServer(h)
	defer ts.Close()

	users := map[string]*crm.User{}
	for _, role := range crm.Roles {
		u := &crm.User{Email: role + "@matrix.test", Role: role}
		if err := srv.Users.Create(ctx, u, ""); err != nil {
			t.Fatal(err)
		}
		users[role] = u
	}
	c := &crm.Customer{Name: "Matrix", Owner: "rep@matrix.test"}
	c.SetLocation(-97.7, 30.3)
	if err := srv.Customers.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprint(c.ID)

	type route struct{ method, pattern string }
	var routes []route
	err = chi.Walk(h.(chi.Routes), func(method, pattern string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routes = append(routes, route{method, pattern})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(routes, func(i, j int) bool {
		if routes[i].pattern != routes[j].pattern {
			return routes[i].pattern < routes[j].pattern
		}
		return routes[i].method < routes[j].method
	})
	seen := map[string]bool{}
	param := regexp.MustCompile(`\{[^}]+\}`)
	for _, rt := range routes {
		key := rt.method + " " + rt.pattern
		seen[key] = true
		want, ok := expectedAccess[key]
		if !ok {
			t.Errorf("%s: no expected access in this test — add it here and a rule in web/auth_policy.go", key)
			continue
		}
		if _, _, ok := web.PolicyRoles(rt.method, rt.pattern); !ok {
			t.Errorf("%s: no rule in web/auth_policy.go: everyone is refused", key)
			continue
		}
		path := param.ReplaceAllStringFunc(rt.pattern, func(p string) string {
			switch p {
			case "{id}":
				return id
			case "{z}", "{x}", "{y}":
				return "0"
			}
			return "1"
		})
		path = strings.Replace(path, "*", "app.js", 1)
		allowed := strings.Fields(want)
		for _, role := range append([]string{"anonymous"}, crm.Roles...) {
			t.Run(key+"/"+role, func(t *testing.T) {
				var body *strings.Reader
				if rt.method == "POST" || rt.method == "PATCH" || rt.method == "PUT" {
					body = strings.NewReader("{}")
				} else {
					body = strings.NewReader("")
				}
				req, _ := http.NewRequest(rt.method, ts.URL+path, body)
				req.Header.Set("Content-Type", "application/json")
				if u := users[role]; u != nil {
					// A fresh session per call: signing out must not end the next call's.
					secret, sess, err := srv.Users.CreateSession(ctx, u, "", "matrix")
					if err != nil {
						t.Fatal(err)
					}
					req.AddCookie(&http.Cookie{Name: "gcrm_session", Value: secret})
					req.Header.Set("X-CSRF-Token", sess.CSRFToken)
				}
				resp, err := ts.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				st := resp.StatusCode
				may := want == "public" || contains(allowed, role)
				switch {
				case may && st == http.StatusForbidden:
					t.Errorf("%s as %s: %d, want it allowed", key, role, st)
				case may && st == http.StatusUnauthorized && want != "public":
					t.Errorf("%s as %s: %d, want it allowed", key, role, st)
				case !may && role == "anonymous" && st != http.StatusUnauthorized:
					t.Errorf("%s anonymous: %d, want 401", key, st)
				case !may && role != "anonymous" && st != http.StatusForbidden:
					t.Errorf("%s as %s: %d, want 403", key, role, st)
				}
			})
		}
	}
	for key := range expectedAccess {
		if !seen[key] {
			t.Logf("expected route %s is not registered (yet)", key) // others' routes in progress
		}
	}
	for _, bad := range []string{"authorization rule was looked up for another route", "route has no authorization rule"} {
		if strings.Contains(logs.String(), bad) {
			t.Errorf("server log: %s", bad)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
