package web_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/gcrm/gcrm/geo"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
)

// footfallFeatures decodes a footfall tile into h3 → properties.
func footfallFeatures(t *testing.T, body string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	if body == "" {
		return out
	}
	layers, err := mvt.Unmarshal([]byte(body))
	if err != nil || len(layers) != 1 || layers[0].Name != "footfall" {
		t.Fatalf("tile: %v, %d layers", err, len(layers))
	}
	for _, f := range layers[0].Features {
		if _, ok := f.Geometry.(orb.Polygon); !ok {
			t.Fatalf("feature geometry %T", f.Geometry)
		}
		out[f.Properties["h3"].(string)] = f.Properties
	}
	return out
}

func TestFootfallTiles(t *testing.T) {
	ts := newFootfallServer(t)
	path := func(z int, q string) string {
		return strings.Replace(tilePath(z, 144.9631, -37.8136), "/tiles/customers/", "/tiles/footfall/", 1) + q
	}
	cellA := strconv.FormatUint(uint64(geo.CellOf(orb.Point{144.9631, -37.8136}, geo.CellResolution).Parent(10)), 16)
	cellB := strconv.FormatUint(uint64(geo.CellOf(orb.Point{144.9650, -37.8150}, geo.CellResolution).Parent(10)), 16)
	// All hours, at zoom 16 (resolution 10, the sensors') and zoom 19 (still 10).
	for _, z := range []int{16, 19} {
		resp, body := ts.do(t, "GET", path(z, ""), "")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.mapbox-vector-tile" {
			t.Fatalf("z%d: %d %s", z, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		feats := footfallFeatures(t, body)
		a := feats[cellA]
		if a == nil || a["mean"] != 200.0 || a["estimated"] != false {
			t.Fatalf("z%d: sensor a's cell %v (of %d)", z, a, len(feats))
		}
		if z == 16 {
			if b := feats[cellB]; b == nil || b["mean"] != 50.0 {
				t.Fatalf("sensor b's cell %v", b)
			}
			est := 0
			for _, p := range feats {
				if p["estimated"] == true {
					est++
					if m := p["mean"].(float64); m < 50-1e-9 || m > 200+1e-9 {
						t.Fatalf("estimate %v", p)
					}
				}
			}
			if est == 0 {
				t.Fatal("no estimated cells")
			}
		}
	}
	// Zoom 12: resolution 7, one coarse cell holding both sensors (their mean).
	_, body := ts.do(t, "GET", path(12, ""), "")
	coarse := strconv.FormatUint(uint64(geo.CellOf(orb.Point{144.9631, -37.8136}, geo.CellResolution).Parent(7)), 16)
	if p := footfallFeatures(t, body)[coarse]; p == nil || p["mean"] != (100.0+300+50)/3 {
		t.Fatalf("z12: %v", footfallFeatures(t, body))
	}
	// An hour of the week: Monday 08:00 has the counts, 09:00 none (an empty tile).
	_, body = ts.do(t, "GET", path(16, "?how=hour-of-week&key=8"), "")
	if p := footfallFeatures(t, body)[cellA]; p == nil || p["mean"] != 200.0 {
		t.Fatalf("hour 8: %v", p)
	}
	resp, body := ts.do(t, "GET", path(16, "?how=hour-of-week&key=9"), "")
	if resp.StatusCode != 200 || body != "" {
		t.Fatalf("hour 9: %d, %d bytes", resp.StatusCode, len(body))
	}
	// ETag, 304, gzip; another hour has another ETag.
	resp, _ = ts.do(t, "GET", path(16, "?how=hour-of-week&key=8"), "")
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if resp, _ := ts.do(t, "GET", path(16, "?how=hour-of-week&key=8"), "", "If-None-Match", etag); resp.StatusCode != 304 {
		t.Fatalf("If-None-Match: %d", resp.StatusCode)
	}
	if resp, _ := ts.do(t, "GET", path(16, ""), "", "If-None-Match", etag); resp.StatusCode != 200 || resp.Header.Get("ETag") == etag {
		t.Fatalf("other hours: %d, same ETag %s", resp.StatusCode, etag)
	}
	resp, gz := ts.do(t, "GET", path(16, ""), "", "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("no gzip: %v", resp.Header)
	}
	zr, err := gzip.NewReader(bytes.NewReader([]byte(gz)))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if feats := footfallFeatures(t, string(plain)); feats[cellA] == nil {
		t.Fatal("gzipped tile without sensor a")
	}
	// Bad requests.
	for _, q := range []string{"?how=minute", "?how=hour-of-week", "?how=hour-of-week&key=168", "?how=hour&key=07", "?how=date&key=2019-02-30",
		"?key=3", "?how=all&key=3", "?measure=x", "?how=hour&how=hour&key=1"} {
		if resp, body := ts.do(t, "GET", path(16, q), ""); resp.StatusCode != 400 || !strings.Contains(body, "detail") {
			t.Errorf("%s: %d %s, want 400", q, resp.StatusCode, body)
		}
	}
	// Signed out: 401.
	auth := ts.auth
	ts.auth = ""
	if resp, _ := ts.do(t, "GET", path(16, ""), ""); resp.StatusCode != 401 {
		t.Errorf("anonymous: %d", resp.StatusCode)
	}
	ts.auth = auth
	// TileJSON carries how and key into the tile URL.
	resp, body = ts.do(t, "GET", "/tiles/footfall.json?how=hour-of-week&key=8", "")
	var tj struct {
		Tiles  []string `json:"tiles"`
		Layers []struct {
			ID string `json:"id"`
		} `json:"vector_layers"`
	}
	if err := json.Unmarshal([]byte(body), &tj); err != nil || resp.StatusCode != 200 || len(tj.Tiles) != 1 ||
		!strings.HasSuffix(tj.Tiles[0], "/tiles/footfall/{z}/{x}/{y}.mvt?how=hour-of-week&key=8") || tj.Layers[0].ID != "footfall" {
		t.Fatalf("tilejson: %d %s", resp.StatusCode, body)
	}
}
