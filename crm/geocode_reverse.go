package crm

import (
	"context"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/geocode"
	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
)

// RegionRef names a region a point lies in.
type RegionRef struct {
	Level string `json:"level"` // state, county, zip, or any level a user imported
	Code  string `json:"code"`
	Name  string `json:"name,omitempty"`
}

// Reverse is what is known about a point: the regions containing it (from the regions
// table), the nearest populated place (from the gazetteer), its ZIP area and the nearest
// stored OSM address.
//
// The ZIP area is the ZIP region containing the point when ZIP polygons were imported
// ('gcrm import regions' with level zip or zcta; PostcodeBasis "polygon"); otherwise it is
// the ZIP whose Census ZCTA centroid is nearest (PostcodeBasis "nearest_centroid",
// PostcodeMeters away), which is the right ZIP for most points but can be a neighbour's
// near a boundary: no ZCTA polygons ship with gcrm.
type Reverse struct {
	Point          orb.Point         `json:"point"`
	Regions        []RegionRef       `json:"regions"`
	Place          *geocode.Place    `json:"place,omitempty"`
	PlaceMeters    float64           `json:"place_meters,omitempty"`
	Postcode       *geocode.Postcode `json:"postcode,omitempty"`
	PostcodeBasis  string            `json:"postcode_basis,omitempty"` // polygon or nearest_centroid
	PostcodeMeters float64           `json:"postcode_meters,omitempty"`
	Address        *geocode.Address  `json:"address,omitempty"`
	AddressMeters  float64           `json:"address_meters,omitempty"`
	Services       []ServiceReverse  `json:"services,omitempty"` // what geocoding services have there, when asked
}

// ServiceReverse is one geocoding service's answer for a point: its result, or why there
// is none.
type ServiceReverse struct {
	Service string          `json:"service"`
	Result  *geocode.Result `json:"result,omitempty"`
	Error   string          `json:"error,omitempty"`
}

// How Reverse found its postcode.
const (
	PostcodePolygon         = "polygon"          // a zip/zcta region contains the point
	PostcodeNearestCentroid = "nearest_centroid" // the postcode centroid nearest to the point
)

// ReverseGeocode describes p (see Reverse); g may be nil (no place or postcode then).
// Returns EINVALID for a point outside WGS84.
func (s *AddressStore) ReverseGeocode(ctx context.Context, g *geocode.Gazetteer, p orb.Point) (*Reverse, error) {
	if !geo.ValidLonLat(p[0], p[1]) {
		return nil, geo.Errorf(geo.EINVALID, "point %g,%g is outside the world: lat must be within -90..90 and lon within -180..180", p[1], p[0])
	}
	r := &Reverse{Point: p, Regions: []RegionRef{}}
	rows, err := s.DB.Pool.Query(ctx, `SELECT level, code, name FROM regions
		WHERE ST_Intersects(geom, ST_SetSRID(ST_MakePoint($1, $2), 4326)) ORDER BY area_m2 DESC, level, code`, p[0], p[1])
	if err != nil {
		return nil, postgis.Wrap(err)
	}
	r.Regions, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (RegionRef, error) {
		var ref RegionRef
		err := row.Scan(&ref.Level, &ref.Code, &ref.Name)
		return ref, err
	})
	if err != nil {
		return nil, postgis.Wrap(err)
	}
	list, err := s.find(ctx, `SELECT `+addressColumns+` FROM addresses
		WHERE geom && ST_Expand(ST_SetSRID(ST_MakePoint($1, $2), 4326), 0.05)
		ORDER BY geom <-> ST_SetSRID(ST_MakePoint($1, $2), 4326) LIMIT 1`, p[0], p[1])
	if err != nil {
		return nil, err
	}
	if len(list) == 1 {
		r.Address, r.AddressMeters = &list[0], geoDistance(p, list[0].Point)
	}
	if g != nil {
		if pl, d, ok := g.NearestPlace(p); ok {
			r.Place, r.PlaceMeters = &pl, d
		}
		if pc, d, ok := g.NearestPostcode(p); ok {
			r.Postcode, r.PostcodeBasis, r.PostcodeMeters = &pc, PostcodeNearestCentroid, d
		}
	}
	for _, reg := range r.Regions {
		if reg.Level == "zip" || reg.Level == "zcta" {
			r.Postcode, r.PostcodeBasis, r.PostcodeMeters = &geocode.Postcode{Code: reg.Code, Place: reg.Name}, PostcodePolygon, 0
			break
		}
	}
	return r, nil
}
