// Package topojson decodes TopoJSON (https://github.com/topojson/topojson-specification)
// into orb geometries and GeoJSON features, in pure Go.
//
// It handles shared arcs (negative indexes are reversed arcs), quantized topologies (a
// transform with delta-encoded arc positions), every geometry type including nested
// GeometryCollections, null geometries, holes, and per-geometry ids and properties. The
// coordinates it produces are exactly those of topojson-client's feature(): the same
// float operations in the same order.
//
// Decoding untrusted bytes never panics: malformed input is an *geo.Error with code
// EINVALID and a message saying where the problem is.
package topojson

import (
	"bytes"
	"encoding/json"
	"math"
	"sort"
	"strconv"

	"github.com/gcrm/gcrm/geo"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
)

// Transform maps quantized integer positions to coordinates: x*Scale[0]+Translate[0].
type Transform struct {
	Scale     [2]float64 `json:"scale"`
	Translate [2]float64 `json:"translate"`
}

// Topology is a decoded TopoJSON topology: its arcs in absolute coordinates and its named
// objects, ready to be turned into features.
type Topology struct {
	BBox      []float64
	Transform *Transform
	// MaxPositions caps the positions one conversion (FeatureCollection, Object) may
	// produce, because shared arcs let a small file expand into huge geometries; 0 means
	// DefaultMaxPositions.
	MaxPositions int

	left    int // positions the running conversion may still produce
	limit   int // the cap of the running conversion
	arcs    [][]orb.Point
	objects map[string]*rawGeometry
}

type rawTopology struct {
	Type      string                  `json:"type"`
	BBox      []float64               `json:"bbox"`
	Transform *Transform              `json:"transform"`
	Objects   map[string]*rawGeometry `json:"objects"`
	Arcs      [][][]float64           `json:"arcs"`
}

type rawGeometry struct {
	Type        string          `json:"type"`
	ID          any             `json:"id"`
	Properties  map[string]any  `json:"properties"`
	Arcs        json.RawMessage `json:"arcs"`
	Coordinates json.RawMessage `json:"coordinates"`
	Geometries  []*rawGeometry  `json:"geometries"`
}

// IsTopology reports whether data looks like a TopoJSON topology (a JSON object whose
// "type" is "Topology"), so callers can tell it from GeoJSON without decoding it twice.
func IsTopology(data []byte) bool {
	var head struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(data, &head) == nil {
		return head.Type == "Topology"
	}
	// Not valid JSON as a whole: guess from the text so the caller's error names TopoJSON.
	return bytes.Contains(data, []byte(`"Topology"`))
}

// Decode parses a TopoJSON topology and decodes its arcs. It returns EINVALID when data is
// not a topology, an arc position is not a pair of finite numbers, or a transform is
// malformed. Geometries are checked when they are converted (Object, FeatureCollection).
func Decode(data []byte) (*Topology, error) {
	var raw rawTopology
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, geo.Errorf(geo.EINVALID, "the TopoJSON is not valid JSON of a topology: %v", err)
	}
	if raw.Type != "Topology" {
		return nil, geo.Errorf(geo.EINVALID, "the TopoJSON's type is %q: a topology must have \"type\": \"Topology\"", raw.Type)
	}
	t := &Topology{BBox: raw.BBox, Transform: raw.Transform, objects: raw.Objects, arcs: make([][]orb.Point, len(raw.Arcs))}
	if tr := raw.Transform; tr != nil {
		for _, v := range []float64{tr.Scale[0], tr.Scale[1], tr.Translate[0], tr.Translate[1]} {
			if !finite(v) {
				return nil, geo.Errorf(geo.EINVALID, "the TopoJSON transform has a number that is not finite")
			}
		}
	}
	for i, a := range raw.Arcs {
		pts := make([]orb.Point, len(a))
		var x, y float64
		for k, p := range a {
			if len(p) < 2 {
				return nil, geo.Errorf(geo.EINVALID, "TopoJSON arc %d, position %d has %d numbers: a position needs two (x, y)", i, k, len(p))
			}
			if tr := raw.Transform; tr != nil {
				x += p[0]
				y += p[1]
				pts[k] = orb.Point{x*tr.Scale[0] + tr.Translate[0], y*tr.Scale[1] + tr.Translate[1]}
			} else {
				pts[k] = orb.Point{p[0], p[1]}
			}
			if !finite(pts[k][0]) || !finite(pts[k][1]) {
				return nil, geo.Errorf(geo.EINVALID, "TopoJSON arc %d, position %d is not a pair of finite numbers", i, k)
			}
		}
		t.arcs[i] = pts
	}
	return t, nil
}

// DefaultMaxPositions is the default cap on the positions one conversion produces (about
// 50 times what the most detailed us-atlas topology needs).
const DefaultMaxPositions = 20_000_000

func (t *Topology) startBudget() {
	t.limit = t.MaxPositions
	if t.limit <= 0 {
		t.limit = DefaultMaxPositions
	}
	t.left = t.limit
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// ObjectNames returns the names of the topology's objects, sorted.
func (t *Topology) ObjectNames() []string {
	names := make([]string, 0, len(t.objects))
	for n := range t.objects {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ArcCount returns how many arcs the topology has.
func (t *Topology) ArcCount() int { return len(t.arcs) }

// FeatureCollection converts the named object to GeoJSON features like topojson-client's
// feature(): a GeometryCollection object gives one feature per member geometry, any other
// object a single feature. Each feature keeps the geometry's id and properties; a null
// geometry (type null or missing) gives a feature with a nil Geometry. Returns ENOTFOUND
// for an unknown object name and EINVALID for a malformed geometry (naming it).
func (t *Topology) FeatureCollection(name string) (*geojson.FeatureCollection, error) {
	obj, ok := t.objects[name]
	if !ok || obj == nil {
		return nil, geo.Errorf(geo.ENOTFOUND, "the topology has no object %q; it has %v", name, t.ObjectNames())
	}
	t.startBudget()
	fc := geojson.NewFeatureCollection()
	members := []*rawGeometry{obj}
	if obj.Type == "GeometryCollection" {
		members = obj.Geometries
	}
	for i, g := range members {
		if g == nil {
			g = &rawGeometry{}
		}
		where := "object " + strconv.Quote(name)
		if obj.Type == "GeometryCollection" {
			where += ", geometry " + strconv.Itoa(i)
			if g.ID != nil {
				where += " (id " + idString(g.ID) + ")"
			}
		}
		geom, err := t.geometry(g, where)
		if err != nil {
			return nil, err
		}
		f := &geojson.Feature{Type: "Feature", ID: g.ID, Geometry: geom, Properties: geojson.Properties(g.Properties)}
		if f.Properties == nil {
			f.Properties = geojson.Properties{}
		}
		fc.Append(f)
	}
	return fc, nil
}

// Object converts the named object to one orb geometry (a GeometryCollection object becomes
// an orb.Collection). Returns ENOTFOUND for an unknown name and EINVALID for bad geometry.
func (t *Topology) Object(name string) (orb.Geometry, error) {
	obj, ok := t.objects[name]
	if !ok || obj == nil {
		return nil, geo.Errorf(geo.ENOTFOUND, "the topology has no object %q; it has %v", name, t.ObjectNames())
	}
	t.startBudget()
	return t.geometry(obj, "object "+strconv.Quote(name))
}

func idString(id any) string {
	switch v := id.(type) {
	case string:
		return strconv.Quote(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	b, _ := json.Marshal(id)
	return string(b)
}

func (t *Topology) geometry(g *rawGeometry, where string) (orb.Geometry, error) {
	bad := func(format string, args ...any) error {
		return geo.Errorf(geo.EINVALID, "TopoJSON %s: "+format, append([]any{where}, args...)...)
	}
	switch g.Type {
	case "", "null":
		return nil, nil
	case "Point":
		var c []float64
		if err := json.Unmarshal(g.Coordinates, &c); err != nil || len(c) < 2 {
			return nil, bad("a Point needs \"coordinates\": [x, y]")
		}
		return t.point(c), nil
	case "MultiPoint":
		var cs [][]float64
		if err := json.Unmarshal(g.Coordinates, &cs); err != nil {
			return nil, bad("a MultiPoint needs \"coordinates\": [[x, y], …]")
		}
		mp := make(orb.MultiPoint, 0, len(cs))
		for _, c := range cs {
			if t.left--; t.left < 0 {
				return nil, bad("the geometries expand to too many positions")
			}
			if len(c) < 2 {
				return nil, bad("a MultiPoint position needs two numbers")
			}
			mp = append(mp, t.point(c))
		}
		return mp, nil
	case "LineString":
		var a []int
		if err := json.Unmarshal(g.Arcs, &a); err != nil {
			return nil, bad("a LineString needs \"arcs\": [arc index, …]")
		}
		ls, err := t.line(a)
		if err != nil {
			return nil, bad("%s", geo.ErrorMessage(err))
		}
		return orb.LineString(ls), nil
	case "MultiLineString":
		var a [][]int
		if err := json.Unmarshal(g.Arcs, &a); err != nil {
			return nil, bad("a MultiLineString needs \"arcs\": [[arc index, …], …]")
		}
		mls := make(orb.MultiLineString, 0, len(a))
		for _, l := range a {
			ls, err := t.line(l)
			if err != nil {
				return nil, bad("%s", geo.ErrorMessage(err))
			}
			mls = append(mls, orb.LineString(ls))
		}
		return mls, nil
	case "Polygon":
		var a [][]int
		if err := json.Unmarshal(g.Arcs, &a); err != nil {
			return nil, bad("a Polygon needs \"arcs\": [[arc index, …], …] (one list per ring)")
		}
		p, err := t.polygon(a)
		if err != nil {
			return nil, bad("%s", geo.ErrorMessage(err))
		}
		return p, nil
	case "MultiPolygon":
		var a [][][]int
		if err := json.Unmarshal(g.Arcs, &a); err != nil {
			return nil, bad("a MultiPolygon needs \"arcs\": [[[arc index, …], …], …] (rings per polygon)")
		}
		mp := make(orb.MultiPolygon, 0, len(a))
		for _, pa := range a {
			p, err := t.polygon(pa)
			if err != nil {
				return nil, bad("%s", geo.ErrorMessage(err))
			}
			mp = append(mp, p)
		}
		return mp, nil
	case "GeometryCollection":
		c := make(orb.Collection, 0, len(g.Geometries))
		for i, m := range g.Geometries {
			if m == nil {
				continue
			}
			sub, err := t.geometry(m, where+", member "+strconv.Itoa(i))
			if err != nil {
				return nil, err
			}
			if sub != nil {
				c = append(c, sub)
			}
		}
		return c, nil
	}
	return nil, bad("geometry type %q is not a TopoJSON type", g.Type)
}

// point decodes a Point/MultiPoint position: quantized positions are not delta-encoded.
func (t *Topology) point(c []float64) orb.Point {
	if tr := t.Transform; tr != nil {
		return orb.Point{c[0]*tr.Scale[0] + tr.Translate[0], c[1]*tr.Scale[1] + tr.Translate[1]}
	}
	return orb.Point{c[0], c[1]}
}

// line stitches arcs into one line: each arc after the first drops its first point (the
// previous arc's last); a negative index ~i is arc i reversed.
func (t *Topology) line(idx []int) ([]orb.Point, error) {
	n := 0
	for _, i := range idx {
		j := i
		if i < 0 {
			j = ^i
		}
		if j >= len(t.arcs) {
			return nil, geo.Errorf(geo.EINVALID, "arc index %d is out of range (the topology has %d arcs)", i, len(t.arcs))
		}
		n += len(t.arcs[j])
		if n > t.left {
			return nil, geo.Errorf(geo.EINVALID, "the geometries expand to more than %d positions; raise MaxPositions if the topology is really that large", t.limit)
		}
	}
	t.left -= n
	pts := make([]orb.Point, 0, n)
	for _, i := range idx {
		if len(pts) > 0 {
			pts = pts[:len(pts)-1]
		}
		start := len(pts)
		if i < 0 {
			pts = append(pts, t.arcs[^i]...)
			for a, b := start, len(pts)-1; a < b; a, b = a+1, b-1 {
				pts[a], pts[b] = pts[b], pts[a]
			}
		} else {
			pts = append(pts, t.arcs[i]...)
		}
	}
	return pts, nil
}

func (t *Topology) polygon(rings [][]int) (orb.Polygon, error) {
	p := make(orb.Polygon, 0, len(rings))
	for _, r := range rings {
		pts, err := t.line(r)
		if err != nil {
			return nil, err
		}
		if len(pts) == 0 {
			return nil, geo.Errorf(geo.EINVALID, "a polygon ring has no positions")
		}
		for len(pts) < 4 { // as topojson-client: a ring has at least four positions
			pts = append(pts, pts[0])
		}
		p = append(p, orb.Ring(pts))
	}
	return p, nil
}
