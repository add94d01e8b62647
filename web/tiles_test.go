package web_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo/postgis/pgtest"
	"github.com/gcrm/gcrm/olap"
	"github.com/gcrm/gcrm/tiles"
	"github.com/gcrm/gcrm/web"
	"github.com/go-chi/chi/v5"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
)

// newTileServer is a test server with the engine as its change hook and the tile routes.
func newTileServer(t *testing.T) (*testServer, *olap.Engine) {
	t.Helper()
	db := pgtest.New(t)
	e := olap.New()
	srv := &web.Server{DB: db, Customers: crm.NewStore(db), Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Index: e}
	srv.Mounts = []func(chi.Router){srv.CustomerTiles(tiles.NewService(e))}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &testServer{Server: ts, srv: srv, auth: userToken(t, srv, "admin@test.gcrm", crm.RoleAdmin)}, e
}

// tilePath returns the path of the zoom-z tile holding lon/lat.
func tilePath(z int, lon, lat float64) string {
	x, y := olap.Project(lon, lat)
	s := uint(32 - z)
	return fmt.Sprintf("/tiles/customers/%d/%d/%d.mvt", z, x>>s, y>>s)
}

// tileIDs decodes a tile body (gunzipping when needed) into its feature ids and the sum
// of their counts.
func tileIDs(t *testing.T, body string) (ids []int64, count int) {
	t.Helper()
	b := []byte(body)
	if len(b) == 0 {
		return nil, 0
	}
	if b[0] == 0x1f {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	layers, err := mvt.Unmarshal(b)
	if err != nil {
		t.Fatalf("decode tile: %v", err)
	}
	for _, f := range layers[0].Features {
		p := f.Geometry.(orb.Point)
		if p[0] < 0 || p[1] < 0 || p[0] >= 4096 || p[1] >= 4096 {
			continue // edge buffer
		}
		ids = append(ids, int64(f.ID.(float64)))
		count += int(f.Properties["count"].(float64))
	}
	return ids, count
}

func TestCustomerTiles(t *testing.T) {
	ts, _ := newTileServer(t)
	resp, body := ts.do(t, "POST", "/api/v1/customers", `{"name":"Acme","kind":"lead","lat":30.27,"lon":-97.74,"status":"won"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	var created struct{ ID int64 }
	json.Unmarshal([]byte(body), &created)
	ts.do(t, "POST", "/api/v1/customers", `{"name":"Near","kind":"customer","lat":30.2701,"lon":-97.7401}`)
	path := tilePath(15, -97.74, 30.27)

	resp, body = ts.do(t, "GET", path, "")
	ids, _ := tileIDs(t, body)
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || len(ids) != 2 || etag == "" || resp.Header.Get("Content-Type") != "application/vnd.mapbox-vector-tile" ||
		!strings.Contains(resp.Header.Get("Cache-Control"), "no-cache") {
		t.Fatalf("tile: %d %v ids %v", resp.StatusCode, resp.Header, ids)
	}

	t.Run("NotModified", func(t *testing.T) {
		resp, body := ts.do(t, "GET", path, "", "If-None-Match", etag)
		if resp.StatusCode != http.StatusNotModified || body != "" {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
	})
	t.Run("Gzip", func(t *testing.T) {
		resp, body := ts.do(t, "GET", path, "", "Accept-Encoding", "gzip")
		if ids, _ := tileIDs(t, body); resp.Header.Get("Content-Encoding") != "gzip" || len(ids) != 2 {
			t.Fatalf("%d %v ids %v", resp.StatusCode, resp.Header, ids)
		}
	})
	t.Run("Filter", func(t *testing.T) {
		resp, body := ts.do(t, "GET", path+"?kind=lead&status=won", "")
		if ids, _ := tileIDs(t, body); resp.StatusCode != 200 || len(ids) != 1 || ids[0] != created.ID {
			t.Fatalf("%d ids %v", resp.StatusCode, ids)
		}
	})
	t.Run("ClusteredCounts", func(t *testing.T) {
		for z := 0; z <= 12; z += 4 {
			resp, body := ts.do(t, "GET", tilePath(z, -97.74, 30.27), "")
			if _, n := tileIDs(t, body); resp.StatusCode != 200 || n != 2 {
				t.Fatalf("zoom %d: %d count %d", z, resp.StatusCode, n)
			}
		}
	})
	t.Run("WriteShowsInNextTile", func(t *testing.T) {
		resp, body := ts.do(t, "PATCH", fmt.Sprintf("/api/v1/customers/%d", created.ID), `{"version":1,"lat":45,"lon":10}`)
		if resp.StatusCode != 200 {
			t.Fatalf("move: %d %s", resp.StatusCode, body)
		}
		resp, body = ts.do(t, "GET", path, "", "If-None-Match", etag)
		ids, _ := tileIDs(t, body)
		if resp.StatusCode != 200 || resp.Header.Get("ETag") == etag || len(ids) != 1 {
			t.Fatalf("after the move: %d etag %s (was %s) ids %v", resp.StatusCode, resp.Header.Get("ETag"), etag, ids)
		}
		resp, body = ts.do(t, "GET", tilePath(15, 10, 45), "")
		if ids, _ := tileIDs(t, body); len(ids) != 1 || ids[0] != created.ID {
			t.Fatalf("new place: %d ids %v", resp.StatusCode, ids)
		}
		// A tile far from the write keeps its ETag.
		far := tilePath(15, 100, -30)
		r1, _ := ts.do(t, "GET", far, "")
		ts.do(t, "DELETE", fmt.Sprintf("/api/v1/customers/%d", created.ID), "")
		r2, _ := ts.do(t, "GET", far, "", "If-None-Match", r1.Header.Get("ETag"))
		if r2.StatusCode != http.StatusNotModified {
			t.Fatalf("a tile far from the write: %d", r2.StatusCode)
		}
		resp, body = ts.do(t, "GET", tilePath(15, 10, 45), "")
		if ids, _ := tileIDs(t, body); len(ids) != 0 {
			t.Fatalf("after delete: ids %v", ids)
		}
	})
	t.Run("Scope", func(t *testing.T) {
		rep := ts.as(userToken(t, ts.srv, "rep@test.gcrm", crm.RoleRep))
		if resp, body := rep.do(t, "POST", "/api/v1/customers", `{"name":"Mine","owner":"rep@test.gcrm","lat":30.2702,"lon":-97.7402}`); resp.StatusCode != 201 {
			t.Fatalf("rep create: %d %s", resp.StatusCode, body)
		}
		resp, body := rep.do(t, "GET", path, "")
		if ids, _ := tileIDs(t, body); len(ids) != 1 || !strings.HasPrefix(resp.Header.Get("Cache-Control"), "private") {
			t.Fatalf("rep sees %v (%s)", ids, resp.Header.Get("Cache-Control"))
		}
		resp, body = ts.do(t, "GET", path, "")
		if ids, _ := tileIDs(t, body); len(ids) != 2 {
			t.Fatalf("admin sees %v", ids)
		}
		if resp, _ := ts.as("").do(t, "GET", path, ""); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("anonymous: %d", resp.StatusCode)
		}
	})
	t.Run("BadRequests", func(t *testing.T) {
		for _, tc := range []struct{ path, msg string }{
			{"/tiles/customers/7/200/5.mvt", "tile 7/200/5: x must be within 0..127 at zoom 7"},
			{"/tiles/customers/23/0/0.mvt", "zoom must be within 0..22"},
			{"/tiles/customers/3/a/0.mvt", `x \"a\" is not a whole number`},
			{"/tiles/customers/3/0/0.mvt?kind=vip", `kind \"vip\" is not one of customer, prospect, lead`},
			{"/tiles/customers/3/0/0.mvt?status=", "status is empty"},
		} {
			resp, body := ts.do(t, "GET", tc.path, "")
			if resp.StatusCode != 400 || !strings.Contains(body, tc.msg) || !strings.Contains(resp.Header.Get("Content-Type"), "problem+json") {
				t.Errorf("%s: %d %s", tc.path, resp.StatusCode, body)
			}
		}
	})
	t.Run("TileJSON", func(t *testing.T) {
		resp, body := ts.do(t, "GET", "/tiles/customers.json?kind=lead", "")
		var tj struct {
			Tiles  []string `json:"tiles"`
			Layers []struct {
				ID string `json:"id"`
			} `json:"vector_layers"`
		}
		json.Unmarshal([]byte(body), &tj)
		if resp.StatusCode != 200 || len(tj.Tiles) != 1 || !strings.HasSuffix(tj.Tiles[0], "/tiles/customers/{z}/{x}/{y}.mvt?kind=lead") ||
			len(tj.Layers) != 1 || tj.Layers[0].ID != "customers" {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})
}
