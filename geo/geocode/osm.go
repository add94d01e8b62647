package geocode

import (
	"compress/gzip"
	"context"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/gcrm/gcrm/geo"
	"github.com/paulmach/orb"
	orbgeo "github.com/paulmach/orb/geo"
	"github.com/paulmach/orb/planar"
	"github.com/paulmach/osm"
	"github.com/paulmach/osm/osmpbf"
	"github.com/paulmach/osm/osmxml"
)

// Address is one addressed point of an OpenStreetMap extract.
type Address struct {
	HouseNumber  string    `json:"housenumber"`
	Street       string    `json:"street"` // addr:street, or addr:place for addresses without a street
	Postcode     string    `json:"postcode,omitempty"`
	City         string    `json:"city,omitempty"`
	Country      string    `json:"country,omitempty"`
	Point        orb.Point `json:"point"`    // the node, or the centroid of the building / area
	OSMType      string    `json:"osm_type"` // node, way, relation
	OSMID        int64     `json:"osm_id"`
	Interpolated bool      `json:"interpolated,omitempty"` // placed on an addr:interpolation line
}

// ReadOSMAddresses reads the addresses of an OpenStreetMap extract (PBF, or XML as .osm or
// .osm.gz): nodes, ways (buildings, areas: their centroid) and multipolygon relations
// carrying addr:housenumber with addr:street or addr:place — or, for a house member of a
// type=associatedStreet relation, with the relation's street — and the house numbers
// between the numbered ends of addr:interpolation lines. It reads the file three times
// (relations and ways first, then the nodes they need) so memory grows with the
// addresses, not with the extract.
// Returns EINVALID for a file that is not an OSM PBF.
func ReadOSMAddresses(ctx context.Context, path string) ([]Address, error) {
	var out []Address
	type wayRef struct {
		tags  osm.Tags
		nodes []osm.NodeID
		id    int64
		kind  string // "way", "relation", "interp"
		assoc int    // houseWays: index of the associatedStreet in streets
	}
	var addrWays []wayRef             // ways with addresses, interpolation lines
	relOuter := map[osm.WayID][]int{} // member way → indexes of relations in rels
	var rels []wayRef
	// associatedStreet relations: the street of each (its name, or its street member's),
	// and their house members, which may carry a house number and no street of their own
	var streets []string
	houseNode := map[osm.NodeID]int{} // → index in streets
	houseWay := map[osm.WayID]int{}
	streetWay := map[osm.WayID][]int{} // street members of relations without a name
	var houseWays []wayRef             // house member ways with a number and no street

	// Pass 1: ways and relations.
	err := scanOSM(ctx, path, skip{nodes: true}, func(o osm.Object) {
		switch o := o.(type) {
		case *osm.Way:
			if hasAddress(o.Tags) || o.Tags.Find("addr:interpolation") != "" {
				kind := "way"
				if o.Tags.Find("addr:interpolation") != "" {
					kind = "interp"
				}
				addrWays = append(addrWays, wayRef{tags: o.Tags, nodes: o.Nodes.NodeIDs(), id: int64(o.ID), kind: kind})
			}
		case *osm.Relation:
			if o.Tags.Find("type") == "associatedStreet" {
				i := len(streets)
				streets = append(streets, o.Tags.Find("name"))
				for _, m := range o.Members {
					switch {
					case m.Role == "house" && m.Type == osm.TypeNode:
						houseNode[osm.NodeID(m.Ref)] = i
					case m.Role == "house" && m.Type == osm.TypeWay:
						houseWay[osm.WayID(m.Ref)] = i
					case m.Role == "street" && m.Type == osm.TypeWay && streets[i] == "":
						streetWay[osm.WayID(m.Ref)] = append(streetWay[osm.WayID(m.Ref)], i)
					}
				}
			}
			if hasAddress(o.Tags) && (o.Tags.Find("type") == "multipolygon" || o.Tags.Find("type") == "building") {
				i := len(rels)
				rels = append(rels, wayRef{tags: o.Tags, id: int64(o.ID), kind: "relation"})
				for _, m := range o.Members {
					if m.Type == osm.TypeWay && (m.Role == "outer" || m.Role == "" || m.Role == "outline") {
						relOuter[osm.WayID(m.Ref)] = append(relOuter[osm.WayID(m.Ref)], i)
					}
				}
			}
		}
	})
	if err != nil {
		return nil, err
	}
	// Pass 2: the member ways of addressed and associatedStreet relations.
	if len(relOuter)+len(houseWay)+len(streetWay) > 0 {
		member := func(w *osm.Way) bool {
			_, a := relOuter[w.ID]
			_, b := houseWay[w.ID]
			_, c := streetWay[w.ID]
			return a || b || c
		}
		err = scanOSM(ctx, path, skip{nodes: true, relations: true, way: member}, func(o osm.Object) {
			w, ok := o.(*osm.Way)
			if !ok {
				return
			}
			for _, i := range relOuter[w.ID] {
				rels[i].nodes = append(rels[i].nodes, w.Nodes.NodeIDs()...)
			}
			for _, i := range streetWay[w.ID] {
				if streets[i] == "" {
					streets[i] = w.Tags.Find("name")
				}
			}
			if i, ok := houseWay[w.ID]; ok && w.Tags.Find("addr:housenumber") != "" && !hasAddress(w.Tags) {
				houseWays = append(houseWays, wayRef{tags: w.Tags, nodes: w.Nodes.NodeIDs(), id: int64(w.ID), kind: "way", assoc: i})
			}
		})
		if err != nil {
			return nil, err
		}
	}
	for _, w := range houseWays {
		if streets[w.assoc] != "" {
			w.tags = withStreet(w.tags, streets[w.assoc])
			addrWays = append(addrWays, w)
		}
	}
	need := map[osm.NodeID]*nodeInfo{}
	for _, l := range [][]wayRef{addrWays, rels} {
		for _, w := range l {
			for _, n := range w.nodes {
				need[n] = nil
			}
		}
	}
	// Pass 3: nodes — addressed ones, and the coordinates the ways need.
	err = scanOSM(ctx, path, skip{ways: true, relations: true}, func(o osm.Object) {
		n, ok := o.(*osm.Node)
		if !ok {
			return
		}
		if hasAddress(n.Tags) {
			out = appendAddresses(out, n.Tags, orb.Point{n.Lon, n.Lat}, "node", int64(n.ID), false)
		} else if i, ok := houseNode[n.ID]; ok && streets[i] != "" && n.Tags.Find("addr:housenumber") != "" {
			out = appendAddresses(out, withStreet(n.Tags, streets[i]), orb.Point{n.Lon, n.Lat}, "node", int64(n.ID), false)
		}
		if _, ok := need[n.ID]; ok {
			need[n.ID] = &nodeInfo{pt: orb.Point{n.Lon, n.Lat}, number: n.Tags.Find("addr:housenumber"), tags: addrTags(n.Tags)}
		}
	})
	if err != nil {
		return nil, err
	}
	for _, w := range addrWays {
		if w.kind == "interp" {
			out = append(out, interpolate(w.tags, w.nodes, need, w.id)...)
			continue
		}
		if pt, ok := centroid(w.nodes, need); ok {
			out = appendAddresses(out, w.tags, pt, "way", w.id, false)
		}
	}
	for _, r := range rels {
		if pt, ok := centroid(r.nodes, need); ok {
			out = appendAddresses(out, r.tags, pt, "relation", r.id, false)
		}
	}
	return out, nil
}

type nodeInfo struct {
	pt     orb.Point
	number string
	tags   osm.Tags
}

// scanOSM reads an OSM extract — PBF, or XML (.osm, .osm.gz) — handing each object of the
// kinds not skipped to each.
func scanOSM(ctx context.Context, path string, sk skip, each func(osm.Object)) error {
	f, err := os.Open(path)
	if err != nil {
		return geo.Errorf(geo.EINVALID, "cannot open the OSM extract: %v", err)
	}
	defer f.Close()
	var sc osm.Scanner
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return geo.Errorf(geo.EINVALID, "%s is not gzip-compressed: %v", path, err)
		}
		defer zr.Close()
		r = zr
	}
	if strings.HasSuffix(path, ".osm") || strings.HasSuffix(path, ".osm.gz") || strings.HasSuffix(path, ".xml") {
		sc = osmxml.New(ctx, r)
	} else {
		s := osmpbf.New(ctx, r, min(runtime.GOMAXPROCS(0), 2))
		s.SkipNodes, s.SkipWays, s.SkipRelations = sk.nodes, sk.ways, sk.relations
		if sk.way != nil {
			s.FilterWay = sk.way
		}
		sc = s
	}
	defer sc.Close()
	for sc.Scan() {
		switch o := sc.Object().(type) {
		case *osm.Node:
			if !sk.nodes {
				each(o)
			}
		case *osm.Way:
			if !sk.ways && (sk.way == nil || sk.way(o)) {
				each(o)
			}
		case *osm.Relation:
			if !sk.relations {
				each(o)
			}
		}
	}
	if err := sc.Err(); err != nil {
		if ctx.Err() != nil {
			return geo.Errorf(geo.EUNAVAILABLE, "reading the OSM extract was cancelled")
		}
		return geo.Errorf(geo.EINVALID, "%s is not a readable OpenStreetMap extract (PBF, .osm or .osm.gz): %v", path, err)
	}
	return nil
}

type skip struct {
	nodes, ways, relations bool
	way                    func(*osm.Way) bool
}

func hasAddress(t osm.Tags) bool {
	return t.Find("addr:housenumber") != "" && (t.Find("addr:street") != "" || t.Find("addr:place") != "")
}

// withStreet returns t with addr:street set to street (a house of an associatedStreet
// relation).
func withStreet(t osm.Tags, street string) osm.Tags {
	out := append(osm.Tags{}, t...)
	return append(out, osm.Tag{Key: "addr:street", Value: street})
}

// addrTags keeps the addr:* tags of an interpolation end node.
func addrTags(t osm.Tags) osm.Tags {
	var out osm.Tags
	for _, tag := range t {
		if strings.HasPrefix(tag.Key, "addr:") {
			out = append(out, tag)
		}
	}
	return out
}

// appendAddresses adds one address per house number ("1;3" lists several at one point).
func appendAddresses(out []Address, t osm.Tags, pt orb.Point, typ string, id int64, interp bool) []Address {
	street := t.Find("addr:street")
	if street == "" {
		street = t.Find("addr:place")
	}
	city := t.Find("addr:city")
	if city == "" && t.Find("addr:street") != "" {
		city = t.Find("addr:place")
	}
	for _, hn := range strings.FieldsFunc(t.Find("addr:housenumber"), func(r rune) bool { return r == ';' || r == ',' }) {
		if hn = strings.TrimSpace(hn); hn == "" {
			continue
		}
		out = append(out, Address{
			HouseNumber: hn, Street: street, Postcode: t.Find("addr:postcode"), City: city,
			Country: strings.ToUpper(t.Find("addr:country")), Point: pt, OSMType: typ, OSMID: id, Interpolated: interp,
		})
	}
	return out
}

// centroid is the area centroid of a closed way (a building) and the mean of the nodes
// otherwise.
func centroid(nodes []osm.NodeID, info map[osm.NodeID]*nodeInfo) (orb.Point, bool) {
	ring := make(orb.Ring, 0, len(nodes))
	for _, n := range nodes {
		if ni := info[n]; ni != nil {
			ring = append(ring, ni.pt)
		}
	}
	switch {
	case len(ring) == 0:
		return orb.Point{}, false
	case len(ring) >= 4 && ring.Closed():
		c, area := planar.CentroidArea(orb.Polygon{ring})
		if area != 0 {
			return c, true
		}
	}
	var x, y float64
	for _, p := range ring {
		x, y = x+p[0], y+p[1]
	}
	return orb.Point{x / float64(len(ring)), y / float64(len(ring))}, true
}

// interpolate places the house numbers between the numbered nodes of an addr:interpolation
// line (odd, even, all, or a step), spaced evenly by length between each pair of ends.
func interpolate(t osm.Tags, nodes []osm.NodeID, info map[osm.NodeID]*nodeInfo, id int64) []Address {
	step := 1
	switch t.Find("addr:interpolation") {
	case "odd", "even":
		step = 2
	case "all":
	default:
		if s, err := atoiSmall(t.Find("addr:interpolation")); err == nil && s > 0 {
			step = s
		} else {
			return nil // alphabetic and unknown schemes are not placed
		}
	}
	var out []Address
	last := -1 // index of the previous numbered node
	var line orb.LineString
	var lineIdx []int
	for i, n := range nodes {
		ni := info[n]
		if ni == nil {
			continue
		}
		line = append(line, ni.pt)
		lineIdx = append(lineIdx, i)
		num, err := atoiSmall(ni.number)
		if err != nil {
			continue
		}
		if last >= 0 {
			a := info[nodes[lineIdx[last]]]
			from, _ := atoiSmall(a.number)
			seg := line[last:]
			tags := ni.tags
			if len(tags) == 0 {
				tags = a.tags
			}
			out = append(out, placeRange(seg, from, num, step, tags, t, id)...)
		}
		last = len(line) - 1
	}
	return out
}

func placeRange(seg orb.LineString, from, to, step int, ends, way osm.Tags, id int64) []Address {
	if from == to || len(seg) < 2 || abs(to-from) > 2000 {
		return nil
	}
	dir := 1
	if to < from {
		dir = -1
	}
	total := orbgeo.Length(seg)
	var out []Address
	for n := from + dir*step; (to-n)*dir > 0; n += dir * step {
		frac := float64(n-from) / float64(to-from)
		pt := pointAlong(seg, frac*total)
		tags := osm.Tags{{Key: "addr:housenumber", Value: itoa(n)}}
		for _, k := range []string{"addr:street", "addr:place", "addr:postcode", "addr:city", "addr:country"} {
			v := way.Find(k)
			if v == "" {
				v = ends.Find(k)
			}
			if v != "" {
				tags = append(tags, osm.Tag{Key: k, Value: v})
			}
		}
		out = appendAddresses(out, tags, pt, "way", id, true)
	}
	return out
}

func pointAlong(ls orb.LineString, meters float64) orb.Point {
	for i := 1; i < len(ls); i++ {
		d := orbgeo.Distance(ls[i-1], ls[i])
		if meters <= d && d > 0 {
			f := meters / d
			return orb.Point{ls[i-1][0] + f*(ls[i][0]-ls[i-1][0]), ls[i-1][1] + f*(ls[i][1]-ls[i-1][1])}
		}
		meters -= d
	}
	return ls[len(ls)-1]
}

func atoiSmall(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 6 || !allDigits(s) {
		return 0, geo.Errorf(geo.EINVALID, "not a house number")
	}
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n, nil
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
