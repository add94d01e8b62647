package topojson_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/topojson"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/planar"
)

// The same data twice: us-atlas's TopoJSON (npm, installed by scripts/setup) and the GeoJSON
// made from it, kept in the shared data folder beside the repository.
var (
	statesTopo    = filepath.Join("..", "..", "web", "ui", "node_modules", "us-atlas", "states-10m.json")
	statesGeoJSON = filepath.Join("..", "..", "..", "shared", "data", "regions", "us", "states-10m.geojson")
)

func TestStatesMatchGeoJSON(t *testing.T) {
	data, err := os.ReadFile(statesTopo)
	if err != nil {
		t.Fatalf("read us-atlas (run scripts/setup): %v", err)
	}
	topo, err := topojson.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	got, err := topo.FeatureCollection("states")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := os.ReadFile(statesGeoJSON)
	if err != nil {
		t.Fatal(err)
	}
	want, err := geojson.UnmarshalFeatureCollection(ref)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Features) != len(want.Features) || len(got.Features) != 56 {
		t.Fatalf("got %d features, want %d (56)", len(got.Features), len(want.Features))
	}
	byID := map[any]*geojson.Feature{}
	for _, f := range want.Features {
		byID[f.ID] = f
	}
	vertices := 0
	for _, f := range got.Features {
		w := byID[f.ID]
		if w == nil {
			t.Fatalf("feature id %v not in the GeoJSON", f.ID)
		}
		if f.Properties.MustString("name") != w.Properties.MustString("name") {
			t.Errorf("id %v: name %q, want %q", f.ID, f.Properties.MustString("name"), w.Properties.MustString("name"))
		}
		gm, wm := asMulti(f.Geometry), asMulti(w.Geometry)
		if len(gm) != len(wm) {
			t.Errorf("%v: %d polygons, want %d", f.ID, len(gm), len(wm))
			continue
		}
		for i := range gm {
			if len(gm[i]) != len(wm[i]) {
				t.Errorf("%v polygon %d: %d rings, want %d", f.ID, i, len(gm[i]), len(wm[i]))
				continue
			}
			for j := range gm[i] {
				if n := len(wm[i][j]); n < 4 && len(gm[i][j]) == 4 {
					// A degenerate ring: the decoder pads it to four positions as
					// topojson-client does; the GeoJSON kept the short ring.
					gm[i][j] = gm[i][j][:n]
				}
				if len(gm[i][j]) != len(wm[i][j]) {
					t.Errorf("%v polygon %d ring %d: %d vertices, want %d", f.ID, i, j, len(gm[i][j]), len(wm[i][j]))
					continue
				}
				for k := range gm[i][j] {
					a, b := gm[i][j][k], wm[i][j][k]
					if math.Abs(a[0]-b[0]) > 1e-6 || math.Abs(a[1]-b[1]) > 1e-6 {
						t.Fatalf("%v polygon %d ring %d vertex %d: %v, want %v", f.ID, i, j, k, a, b)
					}
					vertices++
				}
			}
		}
		if ga, wa := planar.Area(gm), planar.Area(wm); math.Abs(ga-wa) > 1e-6*math.Max(1, wa) {
			t.Errorf("%v: area %g, want %g", f.ID, ga, wa)
		}
	}
	t.Logf("%d vertices match", vertices)
}

func asMulti(g orb.Geometry) orb.MultiPolygon {
	switch g := g.(type) {
	case orb.Polygon:
		return orb.MultiPolygon{g}
	case orb.MultiPolygon:
		return g
	}
	return nil
}

// A hand-made quantized topology: two squares sharing an edge (arc 0), one with a hole.
const twoSquares = `{"type":"Topology",
 "transform":{"scale":[0.5,0.25],"translate":[10,20]},
 "objects":{"shapes":{"type":"GeometryCollection","geometries":[
   {"type":"Polygon","id":"a","properties":{"name":"A"},"arcs":[[0,1],[3]]},
   {"type":"MultiPolygon","id":7,"arcs":[[[-1,2]]]},
   {"type":null,"id":"empty"},
   {"type":"Point","coordinates":[4,8]},
   {"type":"LineString","arcs":[1,-3]}
 ]}},
 "arcs":[
   [[4,0],[0,4]],
   [[4,4],[-4,0],[0,-4],[4,0]],
   [[4,0],[4,0],[0,4],[-4,0]],
   [[1,1],[0,1],[1,0],[0,-1],[-1,0]]
 ]}`

func TestHandMade(t *testing.T) {
	topo, err := topojson.Decode([]byte(twoSquares))
	if err != nil {
		t.Fatal(err)
	}
	fc, err := topo.FeatureCollection("shapes")
	if err != nil {
		t.Fatal(err)
	}
	if len(fc.Features) != 5 {
		t.Fatalf("%d features, want 5", len(fc.Features))
	}
	pt := func(x, y float64) orb.Point { return orb.Point{x*0.5 + 10, y*0.25 + 20} }
	a := fc.Features[0].Geometry.(orb.Polygon)
	wantA := orb.Polygon{
		{pt(4, 0), pt(4, 4), pt(0, 4), pt(0, 0), pt(4, 0)},
		{pt(1, 1), pt(1, 2), pt(2, 2), pt(2, 1), pt(1, 1)},
	}
	if !orb.Equal(a, wantA) {
		t.Errorf("polygon a = %v, want %v", a, wantA)
	}
	if fc.Features[0].Properties.MustString("name") != "A" || fc.Features[0].ID != "a" {
		t.Errorf("feature a: id %v properties %v", fc.Features[0].ID, fc.Features[0].Properties)
	}
	b := fc.Features[1].Geometry.(orb.MultiPolygon)
	wantB := orb.MultiPolygon{{{pt(4, 4), pt(4, 0), pt(8, 0), pt(8, 4), pt(4, 4)}}}
	if !orb.Equal(b, wantB) {
		t.Errorf("multipolygon b = %v, want %v", b, wantB)
	}
	if fc.Features[1].ID != 7.0 {
		t.Errorf("numeric id = %#v", fc.Features[1].ID)
	}
	if fc.Features[2].Geometry != nil {
		t.Errorf("null geometry = %v", fc.Features[2].Geometry)
	}
	if p := fc.Features[3].Geometry.(orb.Point); p != pt(4, 8) {
		t.Errorf("point (not delta-encoded) = %v, want %v", p, pt(4, 8))
	}
	if planar.Area(a) <= 0 || math.Abs(planar.Area(a)-(16-1)*0.125) > 1e-12 {
		t.Errorf("area with hole = %v", planar.Area(a))
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, obj, want string }{
		{"not json", `{"type":`, "x", "not valid JSON"},
		{"not topology", `{"type":"FeatureCollection"}`, "x", `"FeatureCollection"`},
		{"short position", `{"type":"Topology","objects":{},"arcs":[[[1]]]}`, "x", "arc 0, position 0"},
		{"arc out of range", `{"type":"Topology","objects":{"x":{"type":"Polygon","arcs":[[5]]}},"arcs":[]}`, "x", "arc index 5 is out of range"},
		{"negative out of range", `{"type":"Topology","objects":{"x":{"type":"LineString","arcs":[-9223372036854775808]}},"arcs":[]}`, "x", "out of range"},
		{"unknown type", `{"type":"Topology","objects":{"x":{"type":"Circle"}},"arcs":[]}`, "x", `"Circle"`},
		{"bad arcs shape", `{"type":"Topology","objects":{"x":{"type":"MultiPolygon","arcs":[0]}},"arcs":[]}`, "x", "MultiPolygon needs"},
		{"unknown object", `{"type":"Topology","objects":{"x":{"type":"Polygon","arcs":[]}},"arcs":[]}`, "y", `no object "y"`},
		{"empty ring", `{"type":"Topology","objects":{"x":{"type":"Polygon","arcs":[[]]}},"arcs":[]}`, "x", "no positions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topo, err := topojson.Decode([]byte(tc.in))
			if err == nil {
				_, err = topo.FeatureCollection(tc.obj)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			if c := geo.ErrorCode(err); c != geo.EINVALID && c != geo.ENOTFOUND {
				t.Errorf("code %q", c)
			}
		})
	}
}

func FuzzTopoJSON(f *testing.F) {
	f.Add([]byte(twoSquares))
	f.Add([]byte(`{"type":"Topology","objects":{"x":{"type":"GeometryCollection","geometries":[{"type":"GeometryCollection","geometries":[{"type":"Polygon","arcs":[[-1]]}]}]}},"arcs":[[[0,0],[1,0],[0,1]]]}`))
	f.Add([]byte(`{"type":"Topology","transform":{"scale":[1e308,1e308],"translate":[0,0]},"objects":{},"arcs":[[[1e308,1e308],[1e308,1]]]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		topo, err := topojson.Decode(data)
		if err != nil {
			if geo.ErrorCode(err) != geo.EINVALID {
				t.Fatalf("error without EINVALID: %v", err)
			}
			return
		}
		for _, name := range topo.ObjectNames() {
			fc, err := topo.FeatureCollection(name)
			if err != nil {
				if geo.ErrorCode(err) != geo.EINVALID {
					t.Fatalf("error without EINVALID: %v", err)
				}
				continue
			}
			if _, err := json.Marshal(fc); err != nil && !strings.Contains(err.Error(), "unsupported value") {
				t.Fatalf("marshal: %v", err)
			}
		}
	})
}

func TestExpansionCap(t *testing.T) {
	// One arc of 1,000 positions used 100 times: 100,000 positions from a small file.
	var b strings.Builder
	b.WriteString(`{"type":"Topology","objects":{"x":{"type":"MultiLineString","arcs":[`)
	for i := 0; i < 100; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("[0]")
	}
	b.WriteString(`]}},"arcs":[[`)
	for i := 0; i < 1000; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("[0,0]")
	}
	b.WriteString("]]}")
	topo, err := topojson.Decode([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	topo.MaxPositions = 50_000
	if _, err := topo.Object("x"); err == nil || !strings.Contains(err.Error(), "more than 50000 positions") {
		t.Fatalf("err = %v", err)
	}
	topo.MaxPositions = 0
	if _, err := topo.Object("x"); err != nil {
		t.Fatal(err)
	}
}
