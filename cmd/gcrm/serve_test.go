package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/gcrm/gcrm/geo/postgis/pgtest"
	"github.com/gcrm/gcrm/olap"
	"github.com/jackc/pgx/v5"
)

// Regions imported by another process while gcrm serves (the CLI, another replica): the
// cube lists the new level and groups by it within seconds (olap.FollowCubeRegions),
// without a restart.
func TestServeRekeysCubeOnRegionImport(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db, do := serveForTest(ctx, t)
	if st, body := do("POST", "/api/v1/customers", `{"name":"A","kind":"customer","lat":30.5,"lon":-97.5}`); st != 201 {
		t.Fatalf("create: %d %s", st, body)
	}
	if st, body := do("GET", "/api/v1/cube?measures=records&by=region:zone", ""); st != 400 {
		t.Fatalf("before: %d %s", st, body)
	}
	zone := `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"Z1","name":"Zone 1"},
		"geometry":{"type":"Polygon","coordinates":[[[-98,30],[-97,30],[-97,31],[-98,31],[-98,30]]]}}]}`
	feats, err := olap.ReadRegionFeatures([]byte(zone), olap.RegionReadOptions{Level: "zone", CodeProp: "code", NameProp: "name"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := olap.NewRegionStore(db).Import(ctx, "zone", feats); err != nil { // as 'gcrm import regions' does
		t.Fatal(err)
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

// Reference data imported through the API is in the cube when the import answers: a query
// sent right after the boundaries' import groups by the new level, and one sent right
// after the population's import has the penetration SQL computes from the same rows — not
// only after the follower's next check, 5 s later.
func TestServeCubeCurrentWhenImportAnswers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db, do := serveForTest(ctx, t)
	for _, c := range []string{
		`{"name":"A","kind":"customer","lat":30.2,"lon":-97.8}`, // Z1
		`{"name":"B","kind":"customer","lat":30.4,"lon":-97.6}`,
		`{"name":"C","kind":"customer","lat":30.6,"lon":-97.4}`,
		`{"name":"D","kind":"lead","lat":30.5,"lon":-97.5}`,
		`{"name":"E","kind":"customer","lat":30.5,"lon":-96.5}`, // Z2
		`{"name":"F","kind":"prospect","lat":30.3,"lon":-96.3}`,
		`{"name":"G","kind":"customer","lat":35,"lon":-90}`, // in no zone
	} {
		if st, body := do("POST", "/api/v1/customers", c); st != 201 {
			t.Fatalf("create: %d %s", st, body)
		}
	}
	zones := `{"type":"FeatureCollection","features":[
		{"type":"Feature","properties":{"code":"Z1"},"geometry":{"type":"Polygon","coordinates":[[[-98,30],[-97,30],[-97,31],[-98,31],[-98,30]]]}},
		{"type":"Feature","properties":{"code":"Z2"},"geometry":{"type":"Polygon","coordinates":[[[-97,30],[-96,30],[-96,31],[-97,31],[-97,30]]]}}]}`
	if st, body := do("POST", "/api/v1/regions?level=zone&code_prop=code", zones); st != 200 {
		t.Fatalf("import regions: %d %s", st, body)
	}
	if st, body := do("GET", "/api/v1/cube?measures=customers&by=region:zone", ""); st != 200 || !strings.Contains(body, `"rows":[["",1],["Z1",3],["Z2",1]]`) {
		t.Fatalf("right after the regions import: %d %s", st, body)
	}
	if st, body := do("POST", "/api/v1/regions/zone/attributes?code_col=code", "code,population\nZ1,12345\nZ2,678\n"); st != 200 {
		t.Fatalf("import attributes: %d %s", st, body)
	}
	st, body := do("GET", "/api/v1/cube?measures=penetration&by=region:zone", "")
	if st != 200 {
		t.Fatalf("right after the attributes import: %d %s", st, body)
	}
	var res struct{ Rows [][]any }
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	for _, r := range res.Rows {
		got[r[0].(string)] = r[1]
	}
	// The reference: customers per 1,000 residents from the stored assignment and attributes.
	rows, err := db.Pool.Query(ctx, `SELECT r.code, count(*) * 1000 / (r.attributes->>'population')::float8
		FROM customer_regions cr JOIN customers c ON c.id = cr.customer_id JOIN regions r ON r.id = cr.region_id
		WHERE cr.level = 'zone' AND c.kind = 'customer' GROUP BY r.code, r.attributes->>'population'`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{}
	var code string
	var pen float64
	if _, err := pgx.ForEachRow(rows, []any{&code, &pen}, func() error { want[code] = pen; return nil }); err != nil {
		t.Fatal(err)
	}
	// Z1, Z2 and the row of G (in no zone), which has no residents: penetration null.
	if len(want) != 2 || len(got) != 3 || got[""] != nil {
		t.Fatalf("penetration by zone: cube %v, SQL %v", got, want)
	}
	for code, w := range want {
		if g, ok := got[code].(float64); !ok || math.Abs(g-w) > 1e-9*w {
			t.Fatalf("penetration of %s right after the import: cube %v, SQL %v (cube answer %s)", code, got[code], w, body)
		}
	}
}

// serveForTest builds the server as 'gcrm serve' does on a fresh database and returns it
// with a client that calls it as a signed-in admin (status and body of the answer).
func serveForTest(ctx context.Context, t *testing.T) (*postgis.DB, func(method, path, body string) (int, string)) {
	t.Helper()
	db := pgtest.New(t)
	srv, err := buildServer(ctx, db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
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
		if !strings.HasPrefix(body, "{") {
			req.Header.Set("Content-Type", "text/csv")
		}
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
	return db, do
}
