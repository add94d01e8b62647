package olap

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/gcrm/gcrm/geo/topojson"
	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"
	"github.com/paulmach/orb/geojson"
)

// RegionFeature is one region read from a file, ready for RegionStore.Import.
type RegionFeature struct {
	Code       string
	Name       string
	Geometry   orb.MultiPolygon // [lon, lat]; a polygon crossing the antimeridian is unwrapped (lon may pass ±180)
	Attributes map[string]any   // the feature's properties
	// Ref names the feature in messages: `feature 17 (code "06")`; numbers count from 1.
	Ref string
	// Antimeridian is true when a polygon crossed ±180° and was unwrapped (Import splits it).
	Antimeridian bool
	// Fixes lists what reading repaired (e.g. a ring that was not closed); Import reports
	// them with its own repairs.
	Fixes []string
	// NoArea, when not "", says why the feature has no polygon left (Geometry is nil): Import
	// refuses it, or skips it with RegionImportOptions.SkipUnrepairable.
	NoArea string
}

// RegionReadOptions say how ReadRegionFeatures finds each feature's code and name.
type RegionReadOptions struct {
	// CodeProp is the property holding the region's code; a feature without that property
	// (or with it empty) uses its id ("" or "id" means: the id).
	CodeProp string
	// NameProp is the property holding the name (default "name"); the code when missing.
	NameProp string
	// Object names the TopoJSON object to read; "" takes the only object, or the one named
	// like Level (the level or its plural: "states" for "state", "counties" for "county").
	Object string
	// Level helps choose the TopoJSON object (see Object).
	Level string
}

// ReadRegionFeatures reads regions from GeoJSON (a FeatureCollection or one Feature) or
// TopoJSON (told apart by "type": "Topology"). Every feature must have a code and a
// Polygon, MultiPolygon or GeometryCollection of polygons with coordinates inside the
// world; rings of fewer than four positions and duplicate codes are refused, unclosed rings
// are closed (and listed in the feature's Fixes).
// Polygons crossing the antimeridian (an edge jumping more than 180° of longitude) are
// unwrapped and marked so Import splits them at ±180°. Returns EINVALID naming the first
// bad feature (numbered from 1) and ENOTFOUND for an unknown TopoJSON object.
func ReadRegionFeatures(data []byte, opt RegionReadOptions) ([]RegionFeature, error) {
	if opt.NameProp == "" {
		opt.NameProp = "name"
	}
	var fc *geojson.FeatureCollection
	if topojson.IsTopology(data) {
		topo, err := topojson.Decode(data)
		if err != nil {
			return nil, err
		}
		name := opt.Object
		if name == "" {
			names := topo.ObjectNames()
			switch {
			case len(names) == 1:
				name = names[0]
			case opt.Level != "" && contains(names, opt.Level):
				name = opt.Level
			case opt.Level != "" && contains(names, opt.Level+"s"):
				name = opt.Level + "s"
			case strings.HasSuffix(opt.Level, "y") && contains(names, strings.TrimSuffix(opt.Level, "y")+"ies"):
				name = strings.TrimSuffix(opt.Level, "y") + "ies"
			default:
				return nil, geo.Errorf(geo.EINVALID, "the topology has objects %v: say which one to import (--object)", names)
			}
		}
		if fc, err = topo.FeatureCollection(name); err != nil {
			return nil, err
		}
	} else {
		var err error
		if fc, err = decodeGeoJSON(data); err != nil {
			return nil, err
		}
	}
	if len(fc.Features) == 0 {
		return nil, geo.Errorf(geo.EINVALID, "the file has no features")
	}
	out := make([]RegionFeature, 0, len(fc.Features))
	seen := make(map[string]int, len(fc.Features))
	for i, f := range fc.Features {
		rf, err := regionFeature(i+1, f, opt)
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[rf.Code]; dup {
			return nil, geo.Errorf(geo.EINVALID, "%s has the same code as feature %d: codes must be unique within a level", rf.Ref, prev)
		}
		seen[rf.Code] = i + 1
		out = append(out, rf)
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// decodeGeoJSON reads a FeatureCollection or a single Feature. orb's decoder is wrapped so
// that a panic on hostile input becomes an error.
func decodeGeoJSON(data []byte) (fc *geojson.FeatureCollection, err error) {
	defer func() {
		if r := recover(); r != nil {
			fc, err = nil, geo.Errorf(geo.EINVALID, "the GeoJSON is malformed (%v)", r)
		}
	}()
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, geo.Errorf(geo.EINVALID, "the file is neither GeoJSON nor TopoJSON: %v", err)
	}
	switch head.Type {
	case "FeatureCollection":
		fc, err := geojson.UnmarshalFeatureCollection(data)
		if err != nil {
			return nil, geo.Errorf(geo.EINVALID, "the GeoJSON FeatureCollection is malformed: %v", err)
		}
		for i, f := range fc.Features {
			if f == nil {
				return nil, geo.Errorf(geo.EINVALID, "feature %d is null", i+1)
			}
		}
		return fc, nil
	case "Feature":
		f, err := geojson.UnmarshalFeature(data)
		if err != nil {
			return nil, geo.Errorf(geo.EINVALID, "the GeoJSON Feature is malformed: %v", err)
		}
		fc := geojson.NewFeatureCollection()
		return fc.Append(f), nil
	}
	return nil, geo.Errorf(geo.EINVALID, "the file's type is %q: give a GeoJSON FeatureCollection or Feature, or a TopoJSON Topology", head.Type)
}

func regionFeature(n int, f *geojson.Feature, opt RegionReadOptions) (RegionFeature, error) {
	code, _ := propString(f.Properties, opt.CodeProp)
	if code == "" && f.ID != nil {
		code = valueString(f.ID)
	}
	code = strings.TrimSpace(code)
	if code == "" {
		prop := opt.CodeProp
		if prop == "" {
			prop = "id"
		}
		return RegionFeature{}, geo.Errorf(geo.EINVALID, "feature %d has no code: its property %q (or id) is missing or empty; pick the code property with --code-prop", n, prop)
	}
	rf := RegionFeature{Code: code, Ref: fmt.Sprintf("feature %d (code %q)", n, code), Attributes: map[string]any(f.Properties)}
	if rf.Attributes == nil {
		rf.Attributes = map[string]any{}
	}
	rf.Name, _ = propString(f.Properties, opt.NameProp)
	if rf.Name = strings.TrimSpace(rf.Name); rf.Name == "" {
		rf.Name = code
	}
	var err error
	if rf.Geometry, err = multiPolygonOf(f.Geometry, rf.Ref); err != nil {
		return RegionFeature{}, err
	}
	// Rings too short to enclose any area (fewer than four positions once closed, which
	// coarse data has for tiny islands) are dropped with a note: a dropped outer ring drops
	// its polygon. A feature left with no polygon is refused.
	kept := rf.Geometry[:0]
	for pi, p := range rf.Geometry {
		if len(p) == 0 {
			return RegionFeature{}, geo.Errorf(geo.EINVALID, "%s: polygon %d has no rings", rf.Ref, pi+1)
		}
		rings, dropped := p[:0], false
		for ri, r := range p {
			if len(r) > 0 && r[0] != r[len(r)-1] {
				// TopoJSON rings stitched from quantized arcs sometimes miss closing by one
				// quantum (us-atlas's Illinois): close them, and say so.
				r = append(r, r[0])
				rf.Fixes = append(rf.Fixes, fmt.Sprintf("polygon %d, ring %d was not closed: its first position was repeated at the end", pi+1, ri+1))
			}
			for _, pt := range r {
				if !geo.ValidLonLat(pt[0], pt[1]) {
					return RegionFeature{}, geo.Errorf(geo.EINVALID, "%s: position %v is outside the world: coordinates must be [lon, lat] in degrees (WGS84), lon within -180..180, lat within -90..90", rf.Ref, pt)
				}
			}
			if len(r) < 4 {
				what := "hole dropped"
				if ri == 0 {
					what = "polygon dropped"
				}
				rf.Fixes = append(rf.Fixes, fmt.Sprintf("polygon %d, ring %d has only %d positions and no area: %s", pi+1, ri+1, len(r), what))
				if ri == 0 {
					dropped = true
					break
				}
				continue
			}
			rings = append(rings, r)
		}
		if dropped {
			continue
		}
		if unwrapPolygon(rings) {
			rf.Antimeridian = true
		}
		kept = append(kept, rings)
	}
	if len(kept) == 0 {
		// Import refuses it (or skips it) with the other features that have no area.
		rf.Geometry, rf.NoArea = nil, "no polygon has an area: "+strings.Join(rf.Fixes, "; ")
		return rf, nil
	}
	rf.Geometry = kept
	return rf, nil
}

// WithArea splits features into those with a polygon left after reading and those without
// (NoArea set: tiny regions that coarse data collapses to rings of no area).
func WithArea(feats []RegionFeature) (kept, noArea []RegionFeature) {
	for _, f := range feats {
		if f.NoArea == "" {
			kept = append(kept, f)
		} else {
			noArea = append(noArea, f)
		}
	}
	return kept, noArea
}

// propString returns property key as a string (numbers formatted without exponent).
func propString(props geojson.Properties, key string) (string, bool) {
	if key == "" || props == nil {
		return "", false
	}
	v, ok := props[key]
	if !ok || v == nil {
		return "", false
	}
	return valueString(v), true
}

func valueString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func multiPolygonOf(g orb.Geometry, ref string) (orb.MultiPolygon, error) {
	switch g := g.(type) {
	case nil:
		return nil, geo.Errorf(geo.EINVALID, "%s has no geometry: a region needs a Polygon or MultiPolygon", ref)
	case orb.Polygon:
		return orb.MultiPolygon{g.Clone()}, nil
	case orb.MultiPolygon:
		if len(g) == 0 {
			return nil, geo.Errorf(geo.EINVALID, "%s has an empty MultiPolygon", ref)
		}
		return g.Clone(), nil
	case orb.Collection:
		var mp orb.MultiPolygon
		for _, m := range g {
			sub, err := multiPolygonOf(m, ref)
			if err != nil {
				return nil, geo.Errorf(geo.EINVALID, "%s: its GeometryCollection holds a %s; a region may only hold polygons", ref, typeName(m))
			}
			mp = append(mp, sub...)
		}
		if len(mp) == 0 {
			return nil, geo.Errorf(geo.EINVALID, "%s has an empty GeometryCollection", ref)
		}
		return mp, nil
	}
	return nil, geo.Errorf(geo.EINVALID, "%s is a %s: a region must be a Polygon or MultiPolygon", ref, typeName(g))
}

func typeName(g orb.Geometry) string {
	if g == nil {
		return "null geometry"
	}
	return g.GeoJSONType()
}

// unwrapPolygon makes a polygon that crosses the antimeridian continuous in longitude
// (e.g. 179 → 181 instead of 179 → -179) and reports whether it did. An edge crosses when
// its ends are more than 180° of longitude apart (except an edge along ±180 itself); a
// ring is unwrapped only when that narrows it and it closes again (a ring around a pole
// does not). Holes follow their shell, so they end up on the same side.
func unwrapPolygon(p orb.Polygon) bool {
	changed := false
	var shellMid float64
	for ri, r := range p {
		minX, maxX := r[0][0], r[0][0]
		for _, pt := range r {
			minX, maxX = math.Min(minX, pt[0]), math.Max(maxX, pt[0])
		}
		un := make([]float64, len(r))
		off := 0.0
		un[0] = r[0][0]
		for i := 1; i < len(r); i++ {
			a, b := r[i-1][0], r[i][0]
			if math.Abs(a) != 180 || math.Abs(b) != 180 {
				if b-a > 180 {
					off -= 360
				} else if a-b > 180 {
					off += 360
				}
			}
			un[i] = b + off
		}
		umin, umax := un[0], un[0]
		for _, x := range un {
			umin, umax = math.Min(umin, x), math.Max(umax, x)
		}
		if off == 0 && umax-umin < maxX-minX-1e-9 {
			for i := range r {
				r[i][0] = un[i]
			}
			minX, maxX = umin, umax
			changed = true
		}
		mid := (minX + maxX) / 2
		if ri == 0 {
			shellMid = mid
			continue
		}
		// Put a hole on its shell's side of the antimeridian.
		shift := 0.0
		if mid-shellMid > 180 {
			shift = -360
		} else if shellMid-mid > 180 {
			shift = 360
		}
		if shift != 0 {
			for i := range r {
				r[i][0] += shift
			}
			changed = true
		}
	}
	return changed
}

// RegionStore keeps regions (boundaries of any level) in PostGIS.
type RegionStore struct {
	DB *postgis.DB
}

// NewRegionStore returns a RegionStore on db.
func NewRegionStore(db *postgis.DB) *RegionStore { return &RegionStore{DB: db} }

// RegionIssue is something Import fixed or refused in one feature.
type RegionIssue struct {
	Feature string `json:"feature"` // e.g. `feature 17 (code "06")`
	Reason  string `json:"reason"`  // PostGIS's reason, e.g. "Self-intersection[3 1]"
}

// RegionImportOptions tune Import.
type RegionImportOptions struct {
	// SkipUnrepairable leaves out (and lists in the result) features whose geometry has no
	// area even after ST_MakeValid, instead of refusing the whole import. Tiny regions
	// collapse like that in coarse data (Falls Church, VA in us-atlas's 1:10m counties).
	SkipUnrepairable bool
}

// RegionImportResult says what Import did.
type RegionImportResult struct {
	Level        string        `json:"level"`
	Inserted     int           `json:"inserted"`
	Updated      int           `json:"updated"`
	Repaired     []RegionIssue `json:"repaired,omitempty"`     // rings closed on reading, invalid geometries made valid with ST_MakeValid
	Antimeridian []string      `json:"antimeridian,omitempty"` // features split at ±180°
	Skipped      []RegionIssue `json:"skipped,omitempty"`      // left out (SkipUnrepairable): no area after repair
}

var levelPattern = regexp.MustCompile(`^[a-z0-9_-]{1,40}$`)

// ValidRegionLevel returns EINVALID unless level is 1–40 lower-case letters, digits, '_'
// or '-' (levels become URL parts and cube dimension names).
func ValidRegionLevel(level string) error {
	if !levelPattern.MatchString(level) {
		return geo.Errorf(geo.EINVALID, "region level %q must be 1 to 40 lower-case letters, digits, '_' or '-', e.g. state or county", level)
	}
	return nil
}

// Import upserts feats as regions of level by (level, code), all in one transaction: either
// every feature is stored or none. Invalid geometries are repaired with ST_MakeValid (and
// listed in the result with PostGIS's reason); a geometry that does not repair into a
// polygon (e.g. a ring with no area) makes the import fail with EINVALID naming every such
// feature and why (ImportWith can skip them instead). Polygons unwrapped across the antimeridian are split at ±180°. The
// simplified copies for tiles and the geodesic area are computed here.
func (s *RegionStore) Import(ctx context.Context, level string, feats []RegionFeature) (*RegionImportResult, error) {
	return s.ImportWith(ctx, level, feats, RegionImportOptions{})
}

// ImportWith is Import with options (see RegionImportOptions).
func (s *RegionStore) ImportWith(ctx context.Context, level string, feats []RegionFeature, opt RegionImportOptions) (*RegionImportResult, error) {
	if err := ValidRegionLevel(level); err != nil {
		return nil, err
	}
	if len(feats) == 0 {
		return nil, geo.Errorf(geo.EINVALID, "there are no regions to import")
	}
	res := &RegionImportResult{Level: level}
	var noArea []string
	stage := make([]int, 0, len(feats)) // indexes of the features to store
	for i, f := range feats {
		switch {
		case f.NoArea == "":
			stage = append(stage, i)
		case opt.SkipUnrepairable:
			res.Skipped = append(res.Skipped, RegionIssue{Feature: f.Ref, Reason: f.NoArea})
		default:
			noArea = append(noArea, f.Ref+": "+f.NoArea)
		}
	}
	err := s.DB.WithTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE region_import (
			n int, code text, name text, attributes jsonb, wkb bytea, g geometry, reason text) ON COMMIT DROP`); err != nil {
			return postgis.Wrap(err)
		}
		rows := make([][]any, 0, len(stage))
		for _, i := range stage {
			f := feats[i]
			attrs, err := json.Marshal(f.Attributes)
			if err != nil {
				return geo.Errorf(geo.EINVALID, "%s: its properties cannot be stored as JSON: %v", f.Ref, err)
			}
			b, err := wkb.Marshal(f.Geometry)
			if err != nil {
				return geo.Errorf(geo.EINVALID, "%s: its geometry cannot be encoded: %v", f.Ref, err)
			}
			rows = append(rows, []any{i, f.Code, f.Name, attrs, b})
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"region_import"}, []string{"n", "code", "name", "attributes", "wkb"}, pgx.CopyFromRows(rows)); err != nil {
			return postgis.Wrap(err)
		}
		if _, err := tx.Exec(ctx, regionPrepareSQL); err != nil {
			return postgis.Wrap(err)
		}
		issues, err := tx.Query(ctx, `SELECT n, reason, g IS NULL OR ST_IsEmpty(g) FROM region_import WHERE reason IS NOT NULL ORDER BY n`)
		if err != nil {
			return postgis.Wrap(err)
		}
		rejected := noArea
		for issues.Next() {
			var n int
			var reason string
			var empty bool
			if err := issues.Scan(&n, &reason, &empty); err != nil {
				issues.Close()
				return postgis.Wrap(err)
			}
			switch {
			case empty && opt.SkipUnrepairable:
				res.Skipped = append(res.Skipped, RegionIssue{Feature: feats[n].Ref, Reason: reason + "; no area left after repair"})
			case empty:
				rejected = append(rejected, fmt.Sprintf("%s: its geometry is invalid (%s) and has no area left after repair", feats[n].Ref, reason))
			default:
				res.Repaired = append(res.Repaired, RegionIssue{Feature: feats[n].Ref, Reason: reason})
			}
		}
		issues.Close()
		if err := issues.Err(); err != nil {
			return postgis.Wrap(err)
		}
		if total := len(rejected); total > 0 {
			more := ""
			if len(rejected) > 5 {
				more = fmt.Sprintf("; and %d more", len(rejected)-5)
				rejected = rejected[:5]
			}
			return geo.Errorf(geo.EINVALID, "%d region(s) were refused, nothing was imported: %s%s. Fix or remove them and import again, or skip them (--skip-invalid)", total, strings.Join(rejected, "; "), more)
		}
		if len(res.Skipped) > 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM region_import WHERE g IS NULL OR ST_IsEmpty(g)`); err != nil {
				return postgis.Wrap(err)
			}
		}
		up, err := tx.Query(ctx, regionUpsertSQL, level)
		if err != nil {
			return postgis.Wrap(err)
		}
		for up.Next() {
			var inserted bool
			if err := up.Scan(&inserted); err != nil {
				up.Close()
				return postgis.Wrap(err)
			}
			if inserted {
				res.Inserted++
			} else {
				res.Updated++
			}
		}
		up.Close()
		return postgis.Wrap(up.Err())
	})
	if err != nil {
		return nil, err
	}
	var fixed []RegionIssue
	for _, f := range feats {
		if f.NoArea != "" {
			continue // listed in Skipped
		}
		for _, fix := range f.Fixes {
			fixed = append(fixed, RegionIssue{Feature: f.Ref, Reason: fix})
		}
		if f.Antimeridian {
			res.Antimeridian = append(res.Antimeridian, f.Ref)
		}
	}
	res.Repaired = append(fixed, res.Repaired...)
	return res, nil
}

// regionPrepareSQL turns the staged WKB into final geometries: repaired when invalid
// (reason kept), split at ±180° when unwrapped across the antimeridian, always a
// MultiPolygon.
const regionPrepareSQL = `
UPDATE region_import SET g = ST_SetSRID(ST_GeomFromWKB(wkb), 4326), wkb = NULL;
UPDATE region_import SET reason = ST_IsValidReason(g), g = ST_CollectionExtract(ST_MakeValid(g), 3)
	WHERE NOT ST_IsValid(g);
UPDATE region_import SET g = ST_CollectionExtract(ST_Collect(ARRAY[
		ST_Translate(ST_Intersection(g, ST_MakeEnvelope(-540, -90, -180, 90, 4326)), 360, 0),
		ST_Intersection(g, ST_MakeEnvelope(-180, -90, 180, 90, 4326)),
		ST_Translate(ST_Intersection(g, ST_MakeEnvelope(180, -90, 540, 90, 4326)), -360, 0)]), 3)
	WHERE NOT ST_IsEmpty(g) AND (ST_XMin(g) < -180 OR ST_XMax(g) > 180);
UPDATE region_import SET g = ST_CollectionExtract(ST_MakeValid(g), 3)
	WHERE NOT ST_IsEmpty(g) AND NOT ST_IsValid(g);
UPDATE region_import SET g = ST_Multi(g) WHERE NOT ST_IsEmpty(g);`

// regionUpsertSQL stores the prepared rows; tolerances are about half a pixel of a
// 4096-unit tile at zoom 3, 6 and 9.
const regionUpsertSQL = `
INSERT INTO regions AS r (level, code, name, geom, geom_z3, geom_z6, geom_z9, attributes, area_m2)
SELECT $1, code, name, g,
	ST_Multi(ST_SimplifyPreserveTopology(g, 0.005)),
	ST_Multi(ST_SimplifyPreserveTopology(g, 0.0007)),
	ST_Multi(ST_SimplifyPreserveTopology(g, 0.0001)),
	attributes, ST_Area(g::geography)
FROM region_import ORDER BY n
ON CONFLICT (level, code) DO UPDATE SET name = excluded.name, geom = excluded.geom,
	geom_z3 = excluded.geom_z3, geom_z6 = excluded.geom_z6, geom_z9 = excluded.geom_z9,
	attributes = excluded.attributes, area_m2 = excluded.area_m2,
	rev = nextval('region_rev'), updated_at = now(),
	geom_rev = CASE WHEN ST_AsEWKB(r.geom) = ST_AsEWKB(excluded.geom) THEN r.geom_rev ELSE nextval('region_rev') END
RETURNING (xmax = 0)`

// RegionLevel is one level of regions and how many it has.
type RegionLevel struct {
	Level   string    `json:"level"`
	Regions int       `json:"regions"`
	BBox    []float64 `json:"bbox"` // minLon, minLat, maxLon, maxLat
}

// Levels returns every level with its count and extent, sorted by level.
func (s *RegionStore) Levels(ctx context.Context) ([]RegionLevel, error) {
	rows, err := s.DB.Pool.Query(ctx, `SELECT level, count(*), ST_XMin(ST_Extent(geom)), ST_YMin(ST_Extent(geom)),
		ST_XMax(ST_Extent(geom)), ST_YMax(ST_Extent(geom)) FROM regions GROUP BY level ORDER BY level`)
	if err != nil {
		return nil, postgis.Wrap(err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (RegionLevel, error) {
		var l RegionLevel
		var b [4]float64
		err := r.Scan(&l.Level, &l.Regions, &b[0], &b[1], &b[2], &b[3])
		l.BBox = b[:]
		return l, err
	})
	if list == nil {
		list = []RegionLevel{}
	}
	return list, postgis.Wrap(err)
}

// RegionInfo is a stored region; Geometry is filled only by FindRegion.
type RegionInfo struct {
	ID         int64            `json:"id"`
	Level      string           `json:"level"`
	Code       string           `json:"code"`
	Name       string           `json:"name"`
	AreaM2     float64          `json:"area_m2"`
	BBox       []float64        `json:"bbox"` // minLon, minLat, maxLon, maxLat
	Attributes map[string]any   `json:"attributes"`
	Geometry   orb.MultiPolygon `json:"-"`
}

const regionColumns = `id, level, code, name, area_m2, ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom), attributes`

func scanRegion(r pgx.Row, extra ...any) (*RegionInfo, error) {
	var ri RegionInfo
	var b [4]float64
	dest := append([]any{&ri.ID, &ri.Level, &ri.Code, &ri.Name, &ri.AreaM2, &b[0], &b[1], &b[2], &b[3], &ri.Attributes}, extra...)
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	ri.BBox = b[:]
	return &ri, nil
}

// FindRegions returns the regions of level without their geometry, ordered by code.
// Returns ENOTFOUND when the level has no regions.
func (s *RegionStore) FindRegions(ctx context.Context, level string) ([]*RegionInfo, error) {
	rows, err := s.DB.Pool.Query(ctx, `SELECT `+regionColumns+` FROM regions WHERE level = $1 ORDER BY code`, level)
	if err != nil {
		return nil, postgis.Wrap(err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*RegionInfo, error) { return scanRegion(r) })
	if err != nil {
		return nil, postgis.Wrap(err)
	}
	if len(list) == 0 {
		return nil, geo.Errorf(geo.ENOTFOUND, "there are no regions of level %q: import them with 'gcrm import regions FILE --level %s'", level, level)
	}
	return list, nil
}

// SearchRegions returns up to limit regions of any level whose name contains text (case
// and accents as typed), or whose code is text: an exact name first, then names starting
// with text, then the largest. No geometry.
func (s *RegionStore) SearchRegions(ctx context.Context, text string, limit int) ([]*RegionInfo, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return []*RegionInfo{}, nil
	}
	like := postgis.EscapeLike(text)
	rows, err := s.DB.Pool.Query(ctx, `SELECT `+regionColumns+` FROM regions
		WHERE name ILIKE '%' || $1 || '%' OR code = $2
		ORDER BY lower(name) = lower($2) OR code = $2 DESC, name ILIKE $1 || '%' DESC, area_m2 DESC, level, code
		LIMIT $3`, like, text, limit)
	if err != nil {
		return nil, postgis.Wrap(err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*RegionInfo, error) { return scanRegion(r) })
	if list == nil {
		list = []*RegionInfo{}
	}
	return list, postgis.Wrap(err)
}

// FindRegion returns the region (level, code) with its geometry. Returns ENOTFOUND.
func (s *RegionStore) FindRegion(ctx context.Context, level, code string) (*RegionInfo, error) {
	var b []byte
	ri, err := scanRegion(s.DB.Pool.QueryRow(ctx, `SELECT `+regionColumns+`, ST_AsBinary(geom) FROM regions WHERE level = $1 AND code = $2`, level, code), &b)
	if err != nil {
		if geo.ErrorCode(postgis.Wrap(err)) == geo.ENOTFOUND {
			return nil, geo.Errorf(geo.ENOTFOUND, "there is no region %q of level %q", code, level)
		}
		return nil, postgis.Wrap(err)
	}
	g, err := wkb.Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("region %s/%s: decode geometry: %w", level, code, err)
	}
	switch g := g.(type) {
	case orb.MultiPolygon:
		ri.Geometry = g
	case orb.Polygon:
		ri.Geometry = orb.MultiPolygon{g}
	}
	return ri, nil
}

// CountRegions returns how many regions level has ("" counts every level).
func (s *RegionStore) CountRegions(ctx context.Context, level string) (int, error) {
	var n int
	err := s.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM regions WHERE $1 = '' OR level = $1`, level).Scan(&n)
	return n, postgis.Wrap(err)
}

// RegionsVersion identifies the current content of the regions table: it changes with
// every import (upserts bump rev) and deletion (the count changes). Tile caches key on it.
func (s *RegionStore) RegionsVersion(ctx context.Context) (string, error) {
	var rev, n int64
	err := s.DB.Pool.QueryRow(ctx, `SELECT coalesce(max(rev), 0), count(*) FROM regions`).Scan(&rev, &n)
	return strconv.FormatInt(rev, 36) + "." + strconv.FormatInt(n, 36), postgis.Wrap(err)
}

// MaxTileZoom is the deepest zoom RegionTile serves.
const MaxTileZoom = 22

// RegionTile returns the Mapbox Vector Tile z/x/y of level's regions: one layer "regions"
// with properties code, name and level, extent 4096, buffer 64, geometry from the copy
// simplified for that zoom. A tile with no region is empty (zero bytes). Returns EINVALID
// for z/x/y outside the tile pyramid.
func (s *RegionStore) RegionTile(ctx context.Context, level string, z, x, y int) ([]byte, error) {
	if z < 0 || z > MaxTileZoom || x < 0 || y < 0 || x >= 1<<z || y >= 1<<z {
		return nil, geo.Errorf(geo.EINVALID, "tile %d/%d/%d does not exist: z must be within 0..%d and x, y within 0..2^z-1", z, x, y, MaxTileZoom)
	}
	col := "geom" // an allow-list: the column name is never taken from the request
	switch {
	case z <= 3:
		col = "geom_z3"
	case z <= 6:
		col = "geom_z6"
	case z <= 9:
		col = "geom_z9"
	}
	// The filter box is computed here, not with ST_Transform(ST_TileEnvelope(…, margin)):
	// PROJ wraps a margin past ±180° to the other side of the world.
	const margin = 64.0 / 4096
	n := float64(int(1) << z)
	lon := func(x float64) float64 { return math.Max(-180, math.Min(180, x/n*360-180)) }
	lat := func(y float64) float64 {
		return math.Max(-85.0511288, math.Min(85.0511288, math.Atan(math.Sinh(math.Pi*(1-2*y/n)))*180/math.Pi))
	}
	sql := `
WITH t AS (SELECT ST_TileEnvelope($1, $2, $3) AS env, ST_MakeEnvelope($5, $6, $7, $8, 4326) AS bbox)
SELECT coalesce((SELECT ST_AsMVT(m, 'regions', 4096, 'geom') FROM (
	SELECT r.code, r.name, r.level,
		ST_AsMVTGeom(ST_Transform(ST_ClipByBox2D(r.` + col + `, t.bbox), 3857), t.env, 4096, 64, true) AS geom
	FROM regions r, t
	WHERE r.level = $4 AND r.geom && t.bbox
) m WHERE m.geom IS NOT NULL), ''::bytea)`
	var b []byte
	err := s.DB.Pool.QueryRow(ctx, sql, z, x, y, level,
		lon(float64(x)-margin), lat(float64(y)+1+margin), lon(float64(x)+1+margin), lat(float64(y)-margin)).Scan(&b)
	if err != nil {
		return nil, postgis.Wrap(err)
	}
	return b, nil
}
