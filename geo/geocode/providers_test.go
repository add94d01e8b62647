package geocode_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/geocode"
	"github.com/paulmach/orb"
)

// server serves recorded bodies (see testdata/README.md) by the request it gets.
func server(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

func body(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fastOpts(url string) geocode.HTTPOptions {
	return geocode.HTTPOptions{BaseURL: url, UserAgent: "gcrm-test/1.0 (test@example.org)", Rate: 1000, Backoff: time.Millisecond, Timeout: 2 * time.Second}
}

// The bodies in testdata are responses recorded from the real services by other
// geocoding clients' test suites (testdata/README.md names each source).

func TestNominatim_OK(t *testing.T) {
	var got http.Header
	var query string
	s := server(t, func(w http.ResponseWriter, r *http.Request) {
		got, query = r.Header, r.URL.RawQuery
		q := r.URL.Query()
		switch {
		case r.URL.Path == "/reverse" && q.Get("lat") == "38.9002060":
			w.Write(body(t, "nominatim/reverse_building.json"))
		case r.URL.Path == "/reverse" && q.Get("lat") == "35.6860000":
			w.Write(body(t, "nominatim/reverse_road.json"))
		case r.URL.Path == "/reverse":
			w.Write([]byte(`{"error":"Unable to geocode"}`)) // Nominatim's documented answer for nothing there
		case r.URL.Path != "/search":
			http.NotFound(w, r)
		case q.Get("street") == "17 Jana Pawła Woronicza":
			w.Write(body(t, "nominatim/search_house.json"))
		case q.Get("postalcode") == "90210":
			w.Write(body(t, "nominatim/search_postcode.json"))
		case q.Get("q") == "Italia":
			w.Write(body(t, "nominatim/search_stream.json"))
		case q.Get("q") == "Madison Square Garden":
			w.Write(body(t, "nominatim/search_2012_no_rank.json"))
		case q.Get("q") == "blocked":
			w.Write(body(t, "nominatim/error_over_limit.html"))
		default:
			w.Write(body(t, "nominatim/search_empty.json"))
		}
	})
	n := geocode.NewNominatim(fastOpts(s.URL))
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		q          geocode.Query
		pt         orb.Point
		prec       string
		conf       float64
		labelStart string
	}{
		// place_rank 30, category place/house
		{"house", geocode.Query{HouseNumber: "17", Street: "Jana Pawła Woronicza", City: "Warszawa", Country: "PL"},
			orb.Point{21.0112069, 52.188724}, geocode.PrecisionRooftop, 0.9, "17, Jana Pawła Woronicza, Ksawerów"},
		// type postcode (no osm_type in the body)
		{"postcode", geocode.Query{Postcode: "90210", Country: "US"},
			orb.Point{-118.39932247264571, 34.09508267309781}, geocode.PrecisionPostcode, 0.8, "Beverly Hills, California, 90210"},
		// place_rank 22 but a waterway: not a city
		{"stream", geocode.Query{Text: "Italia"}, orb.Point{-58.5155525, -62.17462}, geocode.PrecisionRegion, 0.3, "Italia"},
		// a 2012 server: class instead of category, no place_rank; a stadium is the feature itself
		{"no rank", geocode.Query{Text: "Madison Square Garden"},
			orb.Point{-73.993466492276, 40.7504928941818}, geocode.PrecisionRooftop, 0.9, "Madison Square Garden, West 31st Street"},
	} {
		r, err := n.Geocode(ctx, tc.q)
		if err != nil || r.Point != tc.pt || r.Precision != tc.prec || r.Confidence != tc.conf || r.Source != "nominatim" || !strings.HasPrefix(r.Label, tc.labelStart) {
			t.Errorf("%s: %+v, %v", tc.name, r, err)
		}
	}
	if got.Get("User-Agent") != "gcrm-test/1.0 (test@example.org)" || !strings.Contains(query, "format=jsonv2") {
		t.Errorf("request: UA %q query %q", got.Get("User-Agent"), query)
	}
	if _, err := n.Geocode(ctx, geocode.Query{Text: "jsajhgsdkfjhsfkjhaldkadjaslgldasd"}); geo.ErrorCode(err) != geo.ENOTFOUND {
		t.Errorf("empty answer: %v, want ENOTFOUND", err)
	}
	// The public server's block page is HTML: unavailable, with the page's words.
	if _, err := n.Geocode(ctx, geocode.Query{Text: "blocked"}); geo.ErrorCode(err) != geo.EUNAVAILABLE || !strings.Contains(geo.ErrorMessage(err), "Bandwidth limit exceeded") {
		t.Errorf("block page: %v, want EUNAVAILABLE quoting it", err)
	}
	r, err := n.Reverse(ctx, orb.Point{-77.036991, 38.900206})
	if err != nil || r.Point != (orb.Point{-77.0374769, 38.9003895}) || r.Precision != geocode.PrecisionRooftop ||
		!strings.HasPrefix(r.Label, "United States Chamber of Commerce Building, H Street Northwest") {
		t.Errorf("reverse building: %+v, %v", r, err)
	}
	r, err = n.Reverse(ctx, orb.Point{139.8117, 35.686})
	if err != nil || r.Point != (orb.Point{139.8116922926535, 35.686010380404326}) || r.Precision != geocode.PrecisionStreet || r.Label != "Sarue 1-chome, Koto, Tokyo, 135-0002, Japan" {
		t.Errorf("reverse road: %+v, %v", r, err)
	}
	if _, err := n.Reverse(ctx, orb.Point{-140, 0}); geo.ErrorCode(err) != geo.ENOTFOUND || !strings.Contains(geo.ErrorMessage(err), "Unable to geocode") {
		t.Errorf("reverse in the ocean: %v, want ENOTFOUND", err)
	}
	if _, err := n.Reverse(ctx, orb.Point{0, 91}); geo.ErrorCode(err) != geo.EINVALID {
		t.Errorf("reverse off the world: %v, want EINVALID", err)
	}
}

func TestPelias_OK(t *testing.T) {
	var paths []string
	var mu sync.Mutex
	s := server(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path+"?"+r.URL.RawQuery)
		mu.Unlock()
		q := r.URL.Query()
		switch {
		case r.URL.Path == "/v1/search/structured" && q.Get("address") == "10 Downing St":
			w.Write(body(t, "pelias/search_address.json"))
		case r.URL.Path == "/v1/search" && q.Get("text") == "Hanover":
			w.Write(body(t, "pelias/search_locality.json"))
		case r.URL.Path == "/v1/search" && q.Get("text") == "Madison Square Garden, New York, NY 10001":
			w.Write(body(t, "pelias/search_2016_venue.json"))
		case r.URL.Path == "/v1/reverse" && q.Get("point.lat") == "54.0484068" && q.Get("point.lon") == "-2.7990345":
			w.Write(body(t, "pelias/reverse.json"))
		case q.Get("locality") == "x":
			w.WriteHeader(http.StatusBadRequest)
			w.Write(body(t, "pelias/error_400.json"))
		default:
			w.Write(body(t, "pelias/search_empty.json"))
		}
	})
	o := fastOpts(s.URL + "/v1")
	o.APIKey = "k1"
	p := geocode.NewPelias(o)
	ctx := context.Background()
	r, err := p.Geocode(ctx, geocode.Query{HouseNumber: "10", Street: "Downing St", City: "London", Country: "GB"})
	if err != nil || r.Precision != geocode.PrecisionRooftop || r.Point != (orb.Point{-0.127611, 51.503335}) || r.Confidence != 1 ||
		r.Ambiguous || r.Label != "10 Downing Street, London, England, United Kingdom" {
		t.Errorf("address: %+v, %v", r, err)
	}
	// Four localities called Hanover with confidence 1 (Germany, Maryland, Massachusetts,
	// Pennsylvania): the first is taken, flagged ambiguous, at lower confidence.
	r, err = p.Geocode(ctx, geocode.Query{Text: "Hanover"})
	if err != nil || r.Precision != geocode.PrecisionCity || r.Point != (orb.Point{9.787455, 52.379952}) || !r.Ambiguous || r.Candidates != 4 || r.Confidence != 0.6 {
		t.Errorf("locality: %+v, %v", r, err)
	}
	// A 2016 (Mapzen) answer: two venues 20 m apart are the same place, not an ambiguity.
	r, err = p.Geocode(ctx, geocode.Query{Text: "Madison Square Garden, New York, NY 10001"})
	if err != nil || r.Precision != geocode.PrecisionRooftop || r.Point != (orb.Point{-73.99347, 40.75066}) || r.Ambiguous || r.Confidence != 0.896 {
		t.Errorf("venue: %+v, %v", r, err)
	}
	r, err = p.Reverse(ctx, orb.Point{-2.7990345, 54.0484068})
	if err != nil || r.Precision != geocode.PrecisionRooftop || r.Point != (orb.Point{-2.79913, 54.048378}) || r.Confidence != 0.9 ||
		r.Label != "11 Ffrances Passage, Lancaster, England, United Kingdom" {
		t.Errorf("reverse: %+v, %v", r, err)
	}
	if _, err := p.Reverse(ctx, orb.Point{-140, 0}); geo.ErrorCode(err) != geo.ENOTFOUND {
		t.Errorf("reverse with no features: %v, want ENOTFOUND", err)
	}
	if _, err := p.Geocode(ctx, geocode.Query{Text: "jsajhgsdkfjhsfkjhaldkadjaslgldasd"}); geo.ErrorCode(err) != geo.ENOTFOUND {
		t.Errorf("no features: %v, want ENOTFOUND", err)
	}
	_, err = p.Geocode(ctx, geocode.Query{City: "x"})
	if geo.ErrorCode(err) != geo.EUNAVAILABLE || !strings.Contains(geo.ErrorMessage(err), "text length") {
		t.Errorf("400: %v, want EUNAVAILABLE with Pelias' error", err)
	}
	if !strings.Contains(paths[0], "api_key=k1") {
		t.Errorf("api key not sent: %s", paths[0])
	}
}

// Network failures, 429 and 5xx are retried with back-off (Retry-After honoured); the
// answer after them counts.
func TestHTTP_Retries(t *testing.T) {
	var calls atomic.Int32
	s := server(t, func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		case 2:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			w.Write(body(t, "nominatim/search_postcode.json"))
		}
	})
	r, err := geocode.NewNominatim(fastOpts(s.URL)).Geocode(context.Background(), geocode.Query{Text: "90210"})
	if err != nil || r.Precision != geocode.PrecisionPostcode || calls.Load() != 3 {
		t.Errorf("got %+v, %v after %d calls; want the postcode after 3", r, err, calls.Load())
	}
	// Always failing: EUNAVAILABLE after 1 + Retries attempts, so a chain moves on.
	calls.Store(0)
	bad := server(t, func(w http.ResponseWriter, r *http.Request) { calls.Add(1); w.WriteHeader(http.StatusBadGateway) })
	o := fastOpts(bad.URL)
	o.Retries = 2
	_, err = geocode.NewPelias(o).Geocode(context.Background(), geocode.Query{Text: "x"})
	if geo.ErrorCode(err) != geo.EUNAVAILABLE || calls.Load() != 3 {
		t.Errorf("got %v after %d calls, want EUNAVAILABLE after 3", err, calls.Load())
	}
}

func TestHTTP_Timeout(t *testing.T) {
	release := make(chan struct{})
	s := server(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	o := fastOpts(s.URL)
	o.Timeout, o.Retries = 50*time.Millisecond, -1
	start := time.Now()
	_, err := geocode.NewNominatim(o).Geocode(context.Background(), geocode.Query{Text: "x"})
	if geo.ErrorCode(err) != geo.EUNAVAILABLE || time.Since(start) > time.Second {
		t.Errorf("got %v after %v, want EUNAVAILABLE after the 50 ms time-out", err, time.Since(start))
	}
}

// The rate limit spaces requests: 5 requests at 20/s take at least 200 ms.
func TestHTTP_RateLimit(t *testing.T) {
	s := server(t, func(w http.ResponseWriter, r *http.Request) { w.Write(body(t, "nominatim/search_postcode.json")) })
	o := fastOpts(s.URL)
	o.Rate = 20
	n := geocode.NewNominatim(o)
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := n.Geocode(context.Background(), geocode.Query{Text: "90210"}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if d := time.Since(start); d < 195*time.Millisecond {
		t.Errorf("5 requests at 20/s took %v, want ≥ 200 ms", d)
	}
}

func TestHTTP_Unavailable(t *testing.T) {
	s := server(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusForbidden) })
	_, err := geocode.NewNominatim(fastOpts(s.URL)).Geocode(context.Background(), geocode.Query{Text: "x"})
	if geo.ErrorCode(err) != geo.EUNAVAILABLE || !strings.Contains(geo.ErrorMessage(err), "User-Agent") {
		t.Errorf("403: %v", err)
	}
	// A chain skips an unavailable provider.
	g := geocode.NewGazetteer("US")
	g.AddPostcode(geocode.Postcode{Code: "10001", Country: "US", Point: orb.Point{-74, 40.75}})
	c := &geocode.Chain{Geocoders: []geocode.Geocoder{geocode.NewNominatim(fastOpts(s.URL)), g}}
	if r, err := c.Geocode(context.Background(), geocode.Query{Postcode: "10001"}); err != nil || r.Source != "gazetteer" {
		t.Errorf("chain: %+v, %v", r, err)
	}
}

// FuzzProviderBodies feeds any body to both clients' search and reverse: no panic, and an
// answer is always a valid point with a known precision.
func FuzzProviderBodies(f *testing.F) {
	for _, name := range []string{"nominatim/search_house.json", "nominatim/search_2012_no_rank.json", "nominatim/reverse_road.json",
		"nominatim/error_over_limit.html", "pelias/search_locality.json", "pelias/reverse.json", "pelias/error_400.json"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`[{"lat":1,"lon":"x"}]`))
	f.Add([]byte(`{"features":[{"geometry":{"type":"Point","coordinates":[1]}}]}`))
	var mu sync.Mutex
	var cur []byte
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Write(cur)
	}))
	defer s.Close()
	o := fastOpts(s.URL)
	o.Retries = -1
	n, p := geocode.NewNominatim(o), geocode.NewPelias(o)
	f.Fuzz(func(t *testing.T, b []byte) {
		mu.Lock()
		cur = b
		mu.Unlock()
		ctx := context.Background()
		check := func(what string, r geocode.Result, err error) {
			if err == nil && (!geo.ValidLonLat(r.Point[0], r.Point[1]) || geocode.PrecisionRank(r.Precision) > 5 || r.Confidence <= 0 || r.Confidence > 1) {
				t.Errorf("%s: %+v", what, r)
			}
		}
		r, err := n.Geocode(ctx, geocode.Query{Text: "x"})
		check("nominatim search", r, err)
		r, err = n.Reverse(ctx, orb.Point{1, 1})
		check("nominatim reverse", r, err)
		r, err = p.Geocode(ctx, geocode.Query{Text: "x"})
		check("pelias search", r, err)
		r, err = p.Reverse(ctx, orb.Point{1, 1})
		check("pelias reverse", r, err)
	})
}
