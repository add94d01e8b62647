package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo/postgis/pgtest"
)

// Regions imported through the API while gcrm serves: the cube lists the new level and
// groups by it within seconds, without a restart.
func TestServeRekeysCubeOnRegionImport(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db := pgtest.New(t)
	srv, err := buildServer(ctx, db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	admin := &crm.User{Email: "admin@serve.test", Role: crm.RoleAdmin}
	if err := srv.Users.Create(ctx, admin, ""); err != nil {
		t.Fatal(err)
	}
	secret, sess, err := srv.Users.CreateSession(ctx, admin, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.AddCookie(&http.Cookie{Name: "gcrm_session", Value: secret})
		req.Header.Set("X-CSRF-Token", sess.CSRFToken)
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, body := do("POST", "/api/v1/customers", `{"name":"A","kind":"customer","lat":30.5,"lon":-97.5}`); st != 201 {
		t.Fatalf("create: %d %s", st, body)
	}
	if st, body := do("GET", "/api/v1/cube?measures=records&by=region:zone", ""); st != 400 {
		t.Fatalf("before: %d %s", st, body)
	}
	zone := `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"Z1","name":"Zone 1"},
		"geometry":{"type":"Polygon","coordinates":[[[-98,30],[-97,30],[-97,31],[-98,31],[-98,30]]]}}]}`
	if st, body := do("POST", "/api/v1/regions?level=zone&code_prop=code&name_prop=name", zone); st != 200 {
		t.Fatalf("import: %d %s", st, body)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		st, body := do("GET", "/api/v1/cube?measures=records&by=region:zone", "")
		if st == 200 {
			if !strings.Contains(body, `[["Z1",1]]`) {
				t.Fatalf("after: %s", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cube did not re-key within 30 s: %d %s", st, body)
		}
	}
}
