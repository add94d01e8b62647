package crm

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/geocode"
	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/ewkb"
	orbgeo "github.com/paulmach/orb/geo"
)

// AddressStore keeps the offline address index (OpenStreetMap addresses) in PostGIS and
// answers geocoding queries from it.
type AddressStore struct {
	DB    *postgis.DB
	state atomic.Int32 // addressesUnknown, addressesNone or addressesSome; kept by Follow
}

const (
	addressesUnknown int32 = iota // not followed (or the follower is reconnecting): ask the table
	addressesNone                 // the table is empty: answer ENOTFOUND without a query
	addressesSome
)

// AddressesChannel is the NOTIFY channel ReplaceAddresses signals on (payload: the source).
const AddressesChannel = "gcrm_addresses"

// NewAddressStore returns an AddressStore on db.
func NewAddressStore(db *postgis.DB) *AddressStore { return &AddressStore{DB: db} }

// ReplaceAddresses stores addrs as the addresses of source (an extract's file name),
// replacing what an earlier import of the same source stored, in one transaction. The
// cache's "not found" answers are dropped, since the new addresses may answer them.
// Returns the number of addresses stored; EINVALID for an address outside the world.
func (s *AddressStore) ReplaceAddresses(ctx context.Context, source string, addrs []geocode.Address) (int64, error) {
	var n int64
	err := s.DB.WithTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM addresses WHERE source = $1`, source); err != nil {
			return postgis.Wrap(err)
		}
		i := 0
		src := pgx.CopyFromFunc(func() ([]any, error) {
			if i >= len(addrs) {
				return nil, nil
			}
			a := addrs[i]
			i++
			if !geo.ValidLonLat(a.Point[0], a.Point[1]) {
				return nil, geo.Errorf(geo.EINVALID, "address %s %s (%s %d) is outside the world", a.Street, a.HouseNumber, a.OSMType, a.OSMID)
			}
			g, err := ewkb.Marshal(a.Point, 4326)
			if err != nil {
				return nil, err
			}
			return []any{source, a.OSMType, a.OSMID, a.HouseNumber, a.Street, a.Postcode, a.City, a.Country,
				geocode.NormalizeStreet(a.Street), geocode.NormalizeHouseNumber(a.HouseNumber), a.Interpolated, g}, nil
		})
		var err error
		n, err = tx.CopyFrom(ctx, pgx.Identifier{"addresses"}, []string{"source", "osm_type", "osm_id", "housenumber",
			"street", "postcode", "city", "country", "street_key", "housenumber_key", "interpolated", "geom"}, src)
		if err != nil {
			return postgis.Wrap(err)
		}
		if _, err = tx.Exec(ctx, `DELETE FROM geocode_cache WHERE NOT found`); err != nil {
			return postgis.Wrap(err)
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, AddressesChannel, source) // delivered at commit
		return postgis.Wrap(err)
	})
	return n, err
}

// Follow keeps s current with imports while ctx lasts, for a long-running server: it
// LISTENs on AddressesChannel, so addresses that 'gcrm import addresses' (any process, any
// ReplaceAddresses) stores are used at once, and while the table is empty Geocode answers
// without a query. It reconnects after a database restart; meanwhile Geocode asks the table.
func (s *AddressStore) Follow(ctx context.Context, log *slog.Logger) {
	postgis.Retry(ctx, log, "following address imports", func(ctx context.Context) error {
		defer s.state.Store(addressesUnknown)
		l, err := s.DB.Listen(ctx, AddressesChannel)
		if err != nil {
			return err
		}
		defer l.Close()
		for {
			var some bool
			if err := s.DB.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM addresses)`).Scan(&some); err != nil {
				return postgis.Wrap(err)
			}
			if some {
				s.state.Store(addressesSome)
			} else {
				s.state.Store(addressesNone)
			}
			select {
			case <-l.Notes:
			case err := <-l.Err:
				return err
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	})
}

// CountAddresses returns how many addresses are stored.
func (s *AddressStore) CountAddresses(ctx context.Context) (int64, error) {
	var n int64
	err := s.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM addresses`).Scan(&n)
	return n, postgis.Wrap(err)
}

// Name is "osm".
func (s *AddressStore) Name() string { return "osm" }

const addressColumns = `housenumber, street, postcode, city, country, ST_X(geom), ST_Y(geom), osm_type, osm_id, interpolated`

// Geocode places q by street and house number from the stored addresses (see
// geocode.ChooseAddress). Returns EINVALID for an empty query and ENOTFOUND when the
// query has no street or the street is not stored.
func (s *AddressStore) Geocode(ctx context.Context, q geocode.Query) (geocode.Result, error) {
	if q.Empty() {
		return geocode.Result{}, geo.Errorf(geo.EINVALID, "the address is empty: give a street, city, state or postcode")
	}
	q = q.Structured()
	if strings.TrimSpace(q.Street) == "" {
		return geocode.Result{}, geo.Errorf(geo.ENOTFOUND, "the address has no street to look up")
	}
	if s.state.Load() == addressesNone {
		return geocode.Result{}, geo.Errorf(geo.ENOTFOUND, "no OSM addresses are stored yet ('gcrm import addresses FILE.osm.pbf' adds them)")
	}
	street := geocode.NormalizeStreet(q.Street)
	var exact, onStreet []geocode.Address
	var err error
	if hn := geocode.NormalizeHouseNumber(q.HouseNumber); hn != "" {
		exact, err = s.find(ctx, `SELECT `+addressColumns+` FROM addresses WHERE street_key = $1 AND housenumber_key = $2 LIMIT 100`, street, hn)
		if err != nil {
			return geocode.Result{}, err
		}
	}
	if len(exact) == 0 {
		onStreet, err = s.find(ctx, `SELECT `+addressColumns+` FROM addresses WHERE street_key = $1 LIMIT 1000`, street)
		if err != nil {
			return geocode.Result{}, err
		}
	}
	return geocode.ChooseAddress(q, exact, onStreet, s.Name())
}

func (s *AddressStore) find(ctx context.Context, sql string, args ...any) ([]geocode.Address, error) {
	rows, err := s.DB.Pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, postgis.Wrap(err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (geocode.Address, error) {
		var a geocode.Address
		err := r.Scan(&a.HouseNumber, &a.Street, &a.Postcode, &a.City, &a.Country, &a.Point[0], &a.Point[1], &a.OSMType, &a.OSMID, &a.Interpolated)
		return a, err
	})
	return list, postgis.Wrap(err)
}

// GeocodeCache answers from PostGIS what Next answered before for the same normalised
// query, and asks Next otherwise, storing its answer — found or not found — so no query
// goes to a provider twice. Unavailable providers and cancelled requests are not cached.
// Wrap the providers that cost something (the address table, HTTP services): the
// in-memory gazetteer answers faster than any cache.
type GeocodeCache struct {
	DB   *postgis.DB
	Next geocode.Geocoder
}

// Name is the wrapped geocoder's name.
func (c *GeocodeCache) Name() string { return c.Next.Name() }

// Geocode returns the cached answer for q or Next's, with Next's error codes.
func (c *GeocodeCache) Geocode(ctx context.Context, q geocode.Query) (geocode.Result, error) {
	if q.Empty() {
		return geocode.Result{}, geo.Errorf(geo.EINVALID, "the address is empty: give a street, city, state or postcode")
	}
	key, providers := q.Key(), c.Next.Name()
	var r geocode.Result
	var found bool
	var lon, lat *float64
	var reason string
	err := c.DB.Pool.QueryRow(ctx, `SELECT found, lon, lat, precision, confidence, source, label, ambiguous, candidates, reason
		FROM geocode_cache WHERE providers = $1 AND query_key = $2`, providers, key).
		Scan(&found, &lon, &lat, &r.Precision, &r.Confidence, &r.Source, &r.Label, &r.Ambiguous, &r.Candidates, &reason)
	switch {
	case err == nil && found:
		r.Point = orb.Point{*lon, *lat}
		return r, nil
	case err == nil:
		return geocode.Result{}, geo.Errorf(geo.ENOTFOUND, "%s", reason)
	case !errors.Is(err, pgx.ErrNoRows):
		return geocode.Result{}, postgis.Wrap(err)
	}
	r, gerr := c.Next.Geocode(ctx, q)
	switch geo.ErrorCode(gerr) {
	case "":
		_, err = c.DB.Pool.Exec(ctx, `INSERT INTO geocode_cache (providers, query_key, found, lon, lat, precision,
			confidence, source, label, ambiguous, candidates) VALUES ($1, $2, true, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (providers, query_key) DO NOTHING`,
			providers, key, r.Point[0], r.Point[1], r.Precision, r.Confidence, r.Source, r.Label, r.Ambiguous, r.Candidates)
	case geo.ENOTFOUND:
		_, err = c.DB.Pool.Exec(ctx, `INSERT INTO geocode_cache (providers, query_key, found, reason)
			VALUES ($1, $2, false, $3) ON CONFLICT (providers, query_key) DO NOTHING`, providers, key, geo.ErrorMessage(gerr))
	}
	if err != nil && ctx.Err() == nil {
		return geocode.Result{}, postgis.Wrap(err)
	}
	return r, gerr
}

// ImportGeocoder adapts a geocode.Geocoder to the customer import's Geocoder hook
// (ImportOptions.Geocoder).
func ImportGeocoder(g geocode.Geocoder) Geocoder {
	return GeocoderFunc(func(ctx context.Context, a Address) (orb.Point, Geocode, error) {
		r, err := g.Geocode(ctx, geocode.Query{Street: a.Street, City: a.City, Region: a.Region, Postcode: a.Postcode, Country: a.Country})
		if err != nil {
			return orb.Point{}, Geocode{}, err
		}
		return r.Point, Geocode{Precision: r.Precision, Confidence: r.Confidence, Source: r.Source}, nil
	})
}

func geoDistance(a, b orb.Point) float64 { return orbgeo.Distance(a, b) }
