package olap_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/gcrm/gcrm/geo/postgis/pgtest"
	"github.com/gcrm/gcrm/olap"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	orbgeo "github.com/paulmach/orb/geo"
)

var usAtlas = filepath.Join("..", "web", "ui", "node_modules", "us-atlas")

func readFeatures(t *testing.T, data string, opt olap.RegionReadOptions) []olap.RegionFeature {
	t.Helper()
	feats, err := olap.ReadRegionFeatures([]byte(data), opt)
	if err != nil {
		t.Fatal(err)
	}
	return feats
}

func importStates(t *testing.T, db *postgis.DB) *olap.RegionImportResult {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(usAtlas, "states-10m.json"))
	if err != nil {
		t.Fatalf("read us-atlas (run scripts/setup): %v", err)
	}
	feats, err := olap.ReadRegionFeatures(data, olap.RegionReadOptions{Level: "state", CodeProp: "id", NameProp: "name"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := olap.NewRegionStore(db).Import(context.Background(), "state", feats)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestImportUSStates(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	s := olap.NewRegionStore(db)
	res := importStates(t, db)
	if res.Inserted != 56 || res.Updated != 0 {
		t.Fatalf("first import: %+v", res)
	}
	t.Logf("repaired: %v", res.Repaired)
	v1, _ := s.RegionsVersion(ctx)
	if res = importStates(t, db); res.Inserted != 0 || res.Updated != 56 {
		t.Fatalf("second import (upsert): %+v", res)
	}
	if v2, _ := s.RegionsVersion(ctx); v2 == v1 {
		t.Errorf("version did not change on re-import: %s", v2)
	}
	ca, err := s.FindRegion(ctx, "state", "06")
	if err != nil {
		t.Fatal(err)
	}
	// California: 403,466 km² of land, 423,970 km² with its waters; the 1:10m outline
	// takes some water.
	if ca.Name != "California" || ca.AreaM2/1e6 < 403466 || ca.AreaM2/1e6 > 423970 {
		t.Errorf("California = %s, %.0f km²", ca.Name, ca.AreaM2/1e6)
	}
	if a := orbgeo.Area(ca.Geometry) / 1e6; math.Abs(a-ca.AreaM2/1e6)/a > 0.01 {
		t.Errorf("geometry area %.0f km² vs stored %.0f km²", a, ca.AreaM2/1e6)
	}
	// Alaska's Aleutians lie on both sides of the antimeridian: parts near +180 and near
	// -180, and no part that spans the globe.
	ak, err := s.FindRegion(ctx, "state", "02")
	if err != nil {
		t.Fatal(err)
	}
	if ak.BBox[0] > -179 || ak.BBox[2] < 179 {
		t.Errorf("Alaska bbox %v should reach both sides of ±180", ak.BBox)
	}
	for i, p := range ak.Geometry {
		if b := p.Bound(); b.Max[0]-b.Min[0] > 60 {
			t.Errorf("Alaska polygon %d spans %v", i, b)
		}
	}
	if a := ak.AreaM2 / 1e6; a < 1.4e6 || a > 1.8e6 {
		t.Errorf("Alaska area %.0f km²", a)
	}
	levels, err := s.Levels(ctx)
	if err != nil || len(levels) != 1 || levels[0].Level != "state" || levels[0].Regions != 56 {
		t.Errorf("levels = %+v, %v", levels, err)
	}
	list, err := s.FindRegions(ctx, "state")
	if err != nil || len(list) != 56 || list[0].Code != "01" || list[0].Name != "Alabama" {
		t.Errorf("FindRegions: %d, %v", len(list), err)
	}
	if _, err := s.FindRegions(ctx, "county"); geo.ErrorCode(err) != geo.ENOTFOUND {
		t.Errorf("unknown level: %v", err)
	}
	if _, err := s.FindRegion(ctx, "state", "99"); geo.ErrorCode(err) != geo.ENOTFOUND {
		t.Errorf("unknown code: %v", err)
	}
}

// polygons: a bowtie (self-intersecting), a square with a hole, a MultiPolygon of two
// squares and a rectangle across the antimeridian.
const shapes = `{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"code":"bow","name":"Bowtie"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[2,2],[2,0],[0,2],[0,0]]]}},
 {"type":"Feature","properties":{"code":"hole","name":"Donut"},"geometry":{"type":"Polygon","coordinates":[[[10,0],[14,0],[14,4],[10,4],[10,0]],[[11,1],[11,3],[13,3],[13,1],[11,1]]]}},
 {"type":"Feature","properties":{"code":"multi"},"geometry":{"type":"MultiPolygon","coordinates":[[[[20,0],[21,0],[21,1],[20,1],[20,0]]],[[[22,0],[23,0],[23,1],[22,1],[22,0]]]]}},
 {"type":"Feature","properties":{"code":"am","name":"Across"},"geometry":{"type":"Polygon","coordinates":[[[179,50],[-179,50],[-179,52],[179,52],[179,50]]]}},
 {"type":"Feature","id":7,"properties":{"name":"By id"},"geometry":{"type":"Polygon","coordinates":[[[30,0],[31,0],[31,1],[30,1],[30,0]]]}}
]}`

func TestImportShapes(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	s := olap.NewRegionStore(db)
	feats := readFeatures(t, shapes, olap.RegionReadOptions{CodeProp: "code"})
	if feats[4].Code != "7" || feats[2].Name != "multi" || len(feats[4].Fixes) != 0 {
		t.Errorf("code from id / name from code: %+v %+v", feats[4], feats[2])
	}
	res, err := s.Import(ctx, "test", feats)
	if err != nil {
		t.Fatal(err)
	}
	if res.Inserted != 5 || len(res.Repaired) != 1 || res.Repaired[0].Feature != `feature 1 (code "bow")` ||
		!strings.Contains(res.Repaired[0].Reason, "Self-intersection") {
		t.Errorf("result %+v", res)
	}
	if len(res.Antimeridian) != 1 || !strings.Contains(res.Antimeridian[0], `"am"`) {
		t.Errorf("antimeridian %v", res.Antimeridian)
	}
	var checks = []struct {
		code            string
		parts           int
		areaDeg2        float64
		inside, outside orb.Point
	}{
		{"bow", 2, 2, orb.Point{1.5, 1}, orb.Point{1, 0.5}}, // two triangles meeting at (1, 1)
		{"hole", 1, 16 - 4, orb.Point{10.5, 0.5}, orb.Point{12, 2}},
		{"multi", 2, 2, orb.Point{22.5, 0.5}, orb.Point{21.5, 0.5}},
		{"am", 2, 4, orb.Point{-179.5, 51}, orb.Point{0, 51}},
	}
	for _, c := range checks {
		t.Run(c.code, func(t *testing.T) {
			var valid bool
			var parts int
			var area float64
			var in, out bool
			err := db.Pool.QueryRow(ctx, `SELECT ST_IsValid(geom), ST_NumGeometries(geom), ST_Area(geom),
				ST_Contains(geom, ST_SetSRID(ST_MakePoint($2, $3), 4326)), ST_Contains(geom, ST_SetSRID(ST_MakePoint($4, $5), 4326))
				FROM regions WHERE level = 'test' AND code = $1`, c.code, c.inside[0], c.inside[1], c.outside[0], c.outside[1]).
				Scan(&valid, &parts, &area, &in, &out)
			if err != nil {
				t.Fatal(err)
			}
			if !valid || parts != c.parts || math.Abs(area-c.areaDeg2) > 1e-9 || !in || out {
				t.Errorf("valid %v, parts %d (want %d), area %g (want %g), contains inside %v, outside %v",
					valid, parts, c.parts, area, c.areaDeg2, in, out)
			}
		})
	}
	am, err := s.FindRegion(ctx, "test", "am")
	if err != nil {
		t.Fatal(err)
	}
	if am.BBox[0] != -180 || am.BBox[2] != 180 {
		t.Errorf("antimeridian bbox %v", am.BBox)
	}
	if a := am.AreaM2 / 1e6; a < 25000 || a > 35000 { // 2°×2° at 51°N ≈ 30,900 km²
		t.Errorf("antimeridian area %.0f km²", a)
	}
}

func TestImportRejects(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	s := olap.NewRegionStore(db)
	// A ring with no area cannot be repaired into a polygon: the import fails naming it and
	// stores nothing, not even the good feature before it.
	feats := readFeatures(t, `{"type":"FeatureCollection","features":[
		{"type":"Feature","properties":{"code":"ok"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}},
		{"type":"Feature","properties":{"code":"flat"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[2,0],[0,0]]]}}]}`,
		olap.RegionReadOptions{CodeProp: "code"})
	_, err := s.Import(ctx, "test", feats)
	if geo.ErrorCode(err) != geo.EINVALID || !strings.Contains(err.Error(), `feature 2 (code "flat")`) {
		t.Fatalf("err = %v", err)
	}
	if n, _ := s.CountRegions(ctx, ""); n != 0 {
		t.Errorf("%d regions stored after a failed import", n)
	}
	// A ring too short to close has no area already when read: refused the same way.
	short := readFeatures(t, `{"type":"FeatureCollection","features":[
		{"type":"Feature","properties":{"code":"ok"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}},
		{"type":"Feature","properties":{"code":"line"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]}}]}`,
		olap.RegionReadOptions{CodeProp: "code"})
	if _, err := s.Import(ctx, "test", short); geo.ErrorCode(err) != geo.EINVALID ||
		!strings.Contains(err.Error(), `feature 2 (code "line"): no polygon has an area: polygon 1, ring 1 has only 3 positions`) {
		t.Fatalf("short ring: %v", err)
	}
	if res, err := s.ImportWith(ctx, "short", short, olap.RegionImportOptions{SkipUnrepairable: true}); err != nil || res.Inserted != 1 || len(res.Skipped) != 1 || len(res.Repaired) != 0 {
		t.Fatalf("short ring skipped: %+v, %v", res, err)
	}
	// Skipping instead: the good feature lands, the flat one is listed.
	res, err := s.ImportWith(ctx, "test", feats, olap.RegionImportOptions{SkipUnrepairable: true})
	if err != nil || res.Inserted != 1 || len(res.Skipped) != 1 || res.Skipped[0].Feature != `feature 2 (code "flat")` {
		t.Fatalf("skip: %+v, %v", res, err)
	}
	if _, err := s.Import(ctx, "Bad Level", feats[:1]); geo.ErrorCode(err) != geo.EINVALID {
		t.Errorf("bad level: %v", err)
	}
}

func TestReadRegionFeaturesErrors(t *testing.T) {
	square := `{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}`
	fc := func(features ...string) string {
		return `{"type":"FeatureCollection","features":[` + strings.Join(features, ",") + `]}`
	}
	for _, tc := range []struct{ name, in, want string }{
		{"not json", `{`, "neither GeoJSON nor TopoJSON"},
		{"wrong type", `{"type":"Polygon","coordinates":[]}`, `"Polygon"`},
		{"empty", fc(), "no features"},
		{"no code", fc(`{"type":"Feature","properties":{},"geometry":` + square + `}`), "feature 1 has no code"},
		{"duplicate", fc(`{"type":"Feature","id":"a","geometry":`+square+`}`, `{"type":"Feature","id":"a","geometry":`+square+`}`), "same code as feature 1"},
		{"line", fc(`{"type":"Feature","id":"a","geometry":{"type":"LineString","coordinates":[[0,0],[1,1]]}}`), `feature 1 (code "a") is a LineString`},
		{"null geometry", fc(`{"type":"Feature","id":"a","geometry":null}`), "has no geometry"},
		{"outside world", fc(`{"type":"Feature","id":"a","geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,91],[0,0]]]}}`), "outside the world"},
		{"topology objects", `{"type":"Topology","objects":{"a":{"type":"Polygon","arcs":[]},"b":{"type":"Polygon","arcs":[]}},"arcs":[]}`, "--object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := olap.ReadRegionFeatures([]byte(tc.in), olap.RegionReadOptions{})
			if geo.ErrorCode(err) != geo.EINVALID || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want EINVALID containing %q", err, tc.want)
			}
		})
	}
}

func TestRegionTiles(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	s := olap.NewRegionStore(db)
	importStates(t, db)
	for _, tc := range []struct {
		z, x, y int
		want    []string
		min     int
	}{
		{0, 0, 0, []string{"Alaska", "California", "Hawaii", "Texas"}, 50}, // tiny islands vanish at z0
		{5, 5, 12, []string{"California", "Nevada"}, 2},                    // southern California
		{10, 175, 408, []string{"California"}, 1},                          // Los Angeles
		{3, 0, 2, []string{"Alaska"}, 1},                                   // 180°W..135°W: mainland and eastern Aleutians
		{3, 7, 2, []string{"Alaska"}, 1},                                   // 135°E..180°E: Attu and the Near Islands
	} {
		b, err := s.RegionTile(ctx, "state", tc.z, tc.x, tc.y)
		if err != nil {
			t.Fatal(err)
		}
		layers, err := mvt.Unmarshal(b)
		if err != nil {
			t.Fatalf("%d/%d/%d: %v", tc.z, tc.x, tc.y, err)
		}
		if len(layers) != 1 || layers[0].Name != "regions" {
			t.Fatalf("%d/%d/%d: layers %v", tc.z, tc.x, tc.y, layers)
		}
		var names []string
		for _, f := range layers[0].Features {
			names = append(names, f.Properties.MustString("name"))
			if f.Properties.MustString("level") != "state" || f.Properties.MustString("code") == "" {
				t.Errorf("properties %v", f.Properties)
			}
		}
		sort.Strings(names)
		if len(names) < tc.min {
			t.Errorf("%d/%d/%d: %d features, want ≥ %d: %v", tc.z, tc.x, tc.y, len(names), tc.min, names)
		}
		for _, w := range tc.want {
			if i := sort.SearchStrings(names, w); i == len(names) || names[i] != w {
				t.Errorf("%d/%d/%d: %s missing from %v", tc.z, tc.x, tc.y, w, names)
			}
		}
	}
	if b, err := s.RegionTile(ctx, "state", 10, 0, 0); err != nil || len(b) != 0 {
		t.Errorf("empty tile: %d bytes, %v", len(b), err)
	}
	if _, err := s.RegionTile(ctx, "state", 3, 8, 0); geo.ErrorCode(err) != geo.EINVALID {
		t.Errorf("x out of range: %v", err)
	}
}

func FuzzRegionsGeoJSON(f *testing.F) {
	f.Add([]byte(shapes), "code")
	f.Add([]byte(`{"type":"Feature","id":1,"geometry":{"type":"GeometryCollection","geometries":[{"type":"Polygon","coordinates":[[[179,0],[-179,0],[-179,1],[179,0]]]}]}}`), "")
	f.Add([]byte(`{"type":"Topology","objects":{"x":{"type":"GeometryCollection","geometries":[{"type":"Polygon","id":"a","arcs":[[0]]}]}},"arcs":[[[0,0],[1,0],[1,1],[0,0]]]}`), "id")
	f.Fuzz(func(t *testing.T, data []byte, codeProp string) {
		feats, err := olap.ReadRegionFeatures(data, olap.RegionReadOptions{CodeProp: codeProp})
		if err != nil {
			if c := geo.ErrorCode(err); c != geo.EINVALID && c != geo.ENOTFOUND {
				t.Fatalf("error code %q: %v", c, err)
			}
			return
		}
		for _, f := range feats {
			if f.Code == "" || (len(f.Geometry) == 0) != (f.NoArea != "") {
				t.Fatalf("feature without code or geometry: %+v", f)
			}
		}
	})
}

func TestReadClosesRings(t *testing.T) {
	feats := readFeatures(t, `{"type":"Feature","id":"a","geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1]]]}}`, olap.RegionReadOptions{})
	if r := feats[0].Geometry[0][0]; len(r) != 4 || r[3] != r[0] || len(feats[0].Fixes) != 1 || !strings.Contains(feats[0].Fixes[0], "not closed") {
		t.Errorf("ring %v, fixes %v", r, feats[0].Fixes)
	}
}

func TestReadDropsDegenerateRings(t *testing.T) {
	feats := readFeatures(t, `{"type":"Feature","id":"a","geometry":{"type":"MultiPolygon","coordinates":[
		[[[0,0],[4,0],[4,4],[0,4],[0,0]],[[1,1],[2,1],[1,1]]],
		[[[9,9],[9,8],[9,9]]]]}}`, olap.RegionReadOptions{})
	g := feats[0].Geometry
	if len(g) != 1 || len(g[0]) != 1 || len(feats[0].Fixes) != 2 ||
		!strings.Contains(feats[0].Fixes[0], "polygon 1, ring 2 has only 3 positions and no area: hole dropped") ||
		!strings.Contains(feats[0].Fixes[1], "polygon 2, ring 1 has only 3 positions and no area: polygon dropped") {
		t.Errorf("geometry %v, fixes %q", g, feats[0].Fixes)
	}
}
