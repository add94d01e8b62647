package web_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo/postgis/pgtest"
	"github.com/gcrm/gcrm/olap"
	"github.com/gcrm/gcrm/web"
	"github.com/go-chi/chi/v5"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/geojson"
)

// newRegionServer is a server with the region routes mounted and the us-atlas states
// imported; requests go as a rep (the least privileged role that sees the map).
func newRegionServer(t *testing.T) *testServer {
	t.Helper()
	db := pgtest.New(t)
	store := olap.NewRegionStore(db)
	data, err := os.ReadFile(filepath.Join("..", "web", "ui", "node_modules", "us-atlas", "states-10m.json"))
	if err != nil {
		t.Fatalf("read us-atlas (run scripts/setup): %v", err)
	}
	feats, err := olap.ReadRegionFeatures(data, olap.RegionReadOptions{Level: "state", NameProp: "name"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Import(context.Background(), "state", feats); err != nil {
		t.Fatal(err)
	}
	srv := &web.Server{DB: db, Customers: crm.NewStore(db), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	srv.Mounts = []func(chi.Router){srv.RegionRoutes(store)}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &testServer{Server: ts, srv: srv, auth: userToken(t, srv, "rep1@test.gcrm", crm.RoleRep)}
}

func TestRegionTileHTTP(t *testing.T) {
	ts := newRegionServer(t)
	resp, body := ts.do(t, "GET", "/tiles/regions/5/5/12.mvt?level=state", "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.mapbox-vector-tile" {
		t.Fatalf("status %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	etag := resp.Header.Get("ETag")
	if etag == "" || !strings.Contains(resp.Header.Get("Cache-Control"), "max-age") {
		t.Errorf("headers %v", resp.Header)
	}
	names := tileNames(t, []byte(body))
	if !names["California"] || !names["Nevada"] || names["Texas"] {
		t.Errorf("names %v", names)
	}
	// Cached, gzipped on request (the transport would gunzip on its own: ask explicitly).
	resp, gz := ts.do(t, "GET", "/tiles/regions/5/5/12.mvt?level=state", "", "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("no gzip: %v", resp.Header)
	}
	zr, err := gzip.NewReader(bytes.NewReader([]byte(gz)))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if !bytes.Equal(plain, []byte(body)) {
		t.Error("gzipped tile differs from the plain one")
	}
	if resp, _ := ts.do(t, "GET", "/tiles/regions/5/5/12.mvt?level=state", "", "If-None-Match", etag); resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: status %d", resp.StatusCode)
	}
	for _, tc := range []struct{ path, want string }{
		{"/tiles/regions/5/32/12.mvt?level=state", "x must be within 0..31"},
		{"/tiles/regions/a/0/0.mvt?level=state", "not a whole number"},
		{"/tiles/regions/99/0/0.mvt?level=state", "zoom must be within"},
		{"/tiles/regions/1/0/0.mvt?level=county", `no region level \"county\"; the levels are state`},
		{"/tiles/regions/1/0/0.mvt", "give the region level"},
	} {
		resp, body := ts.do(t, "GET", tc.path, "")
		if resp.StatusCode != 400 || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s, want 400 with %q", tc.path, resp.StatusCode, body, tc.want)
		}
	}
}

func tileNames(t *testing.T, b []byte) map[string]bool {
	t.Helper()
	layers, err := mvt.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, l := range layers {
		if l.Name != "regions" {
			t.Errorf("layer %q", l.Name)
		}
		for _, f := range l.Features {
			names[f.Properties.MustString("name")] = true
		}
	}
	return names
}

func TestRegionAPI(t *testing.T) {
	ts := newRegionServer(t)
	resp, body := ts.do(t, "GET", "/api/v1/regions", "")
	var levels struct {
		Levels []olap.RegionLevel `json:"levels"`
	}
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &levels) != nil || len(levels.Levels) != 1 || levels.Levels[0].Regions != 56 {
		t.Fatalf("levels: %d %s", resp.StatusCode, body)
	}
	resp, body = ts.do(t, "GET", "/api/v1/regions?level=state", "")
	var list struct {
		Regions []olap.RegionInfo `json:"regions"`
	}
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &list) != nil || len(list.Regions) != 56 || strings.Contains(body, "coordinates") {
		t.Fatalf("list: %d %.300s", resp.StatusCode, body)
	}
	resp, body = ts.do(t, "GET", "/api/v1/regions/state/06", "")
	if resp.StatusCode != 200 {
		t.Fatalf("get: %d %s", resp.StatusCode, body)
	}
	f, err := geojson.UnmarshalFeature([]byte(body))
	if err != nil || f.Properties.MustString("name") != "California" || f.Geometry.GeoJSONType() != "MultiPolygon" {
		t.Fatalf("feature %v: %.300s", err, body)
	}
	if resp, body := ts.do(t, "GET", "/api/v1/regions/state/99", ""); resp.StatusCode != 404 || !strings.Contains(body, `no region \"99\"`) {
		t.Errorf("missing region: %d %s", resp.StatusCode, body)
	}
	if resp, _ := ts.as("").do(t, "GET", "/api/v1/regions", ""); resp.StatusCode != 401 {
		t.Errorf("anonymous: %d", resp.StatusCode)
	}
	// The map's search: by name anywhere in it (exact, then prefix, then larger first), by
	// code; LIKE wildcards in the text are literal.
	search := func(q string) []string {
		t.Helper()
		resp, body := ts.do(t, "GET", "/api/v1/regions?"+url.Values{"q": {q}}.Encode(), "")
		var res struct {
			Regions []olap.RegionInfo `json:"regions"`
		}
		if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &res) != nil {
			t.Fatalf("search %q: %d %s", q, resp.StatusCode, body)
		}
		var names []string
		for _, r := range res.Regions {
			if len(r.BBox) != 4 {
				t.Errorf("%s has no bbox", r.Name)
			}
			names = append(names, r.Name)
		}
		return names
	}
	for q, want := range map[string]string{
		"virginia": "Virginia,West Virginia", "north": "North Dakota,North Carolina,Commonwealth of the Northern Mariana Islands", // prefix, larger first
		"48": "Texas", "new y": "New York", "%": "", "zzz": "",
	} {
		if got := strings.Join(search(q), ","); got != want {
			t.Errorf("search %q = %q, want %q", q, got, want)
		}
	}
	if resp, _ := ts.do(t, "GET", "/api/v1/regions?q="+strings.Repeat("x", 101), ""); resp.StatusCode != 400 {
		t.Errorf("a 101-character search: %d", resp.StatusCode)
	}
}

func TestRegionUpload(t *testing.T) {
	ts := newRegionServer(t)
	body := `{"type":"FeatureCollection","features":[
		{"type":"Feature","properties":{"zip":"90001","name":"South LA"},"geometry":{"type":"Polygon","coordinates":[[[-118.26,33.96],[-118.23,33.96],[-118.23,33.99],[-118.26,33.99],[-118.26,33.96]]]}},
		{"type":"Feature","properties":{"zip":"bow"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[2,2],[2,0],[0,2],[0,0]]]}}]}`
	// Reps may not change boundaries; planners may.
	if resp, _ := ts.do(t, "POST", "/api/v1/regions?level=zip&code_prop=zip", body); resp.StatusCode != 403 {
		t.Errorf("rep upload: status %d", resp.StatusCode)
	}
	planner := ts.as(userToken(t, ts.srv, "planner@test.gcrm", crm.RolePlanner))
	resp, out := planner.do(t, "POST", "/api/v1/regions?level=zip&code_prop=zip", body)
	if resp.StatusCode != 200 || !strings.Contains(out, `"inserted":2`) || !strings.Contains(out, "Self-intersection") {
		t.Fatalf("upload: %d %s", resp.StatusCode, out)
	}
	if resp, out := planner.do(t, "GET", "/tiles/regions/14/2810/6546.mvt?level=zip", ""); resp.StatusCode != 200 || !tileNames(t, []byte(out))["South LA"] {
		t.Errorf("tile of the new level: %d", resp.StatusCode)
	}
	if resp, out := planner.do(t, "POST", "/api/v1/regions?level=zip", `{"type":"FeatureCollection","features":[]}`); resp.StatusCode != 400 || !strings.Contains(out, "no features") {
		t.Errorf("empty upload: %d %s", resp.StatusCode, out)
	}
}
