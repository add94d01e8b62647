// Package geocode turns addresses into points, offline first: a gazetteer of postcodes and
// populated places (GeoNames / Census ZCTA data), an address index built from an
// OpenStreetMap extract, and HTTP clients for Nominatim and Pelias, tried in a configured
// order by a Chain. Every Result carries its precision, a confidence score and the provider
// that answered.
//
// The package is pure apart from the HTTP clients (standard library net/http) and the PBF
// reader (paulmach/osm); the PostGIS address table and the geocode cache live in crm.
package geocode
