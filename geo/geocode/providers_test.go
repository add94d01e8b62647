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

func TestNominatim_OK(t *testing.T) {
	var got http.Header
	var query string
	s := server(t, func(w http.ResponseWriter, r *http.Request) {
		got, query = r.Header, r.URL.RawQuery
		switch {
		case r.URL.Path != "/search":
			http.NotFound(w, r)
		case r.URL.Query().Get("street") != "":
			w.Write(body(t, "nominatim/search_house.json"))
		case r.URL.Query().Get("q") == "London":
			w.Write(body(t, "nominatim/search_city.json"))
		default:
			w.Write(body(t, "nominatim/search_empty.json"))
		}
	})
	n := geocode.NewNominatim(fastOpts(s.URL))
	ctx := context.Background()
	r, err := n.Geocode(ctx, geocode.Query{HouseNumber: "30", Street: "West 26th Street", City: "New York", Region: "NY"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Point != (orb.Point{-73.99034165, 40.74424305}) || r.Precision != geocode.PrecisionRooftop || r.Source != "nominatim" {
		t.Errorf("house: %+v", r)
	}
	if got.Get("User-Agent") != "gcrm-test/1.0 (test@example.org)" || !strings.Contains(query, "format=jsonv2") || !strings.Contains(query, "street=30+West+26th+Street") {
		t.Errorf("request: UA %q query %q", got.Get("User-Agent"), query)
	}
	r, err = n.Geocode(ctx, geocode.Query{Text: "London"})
	if err != nil || r.Precision != geocode.PrecisionCity || r.Point != (orb.Point{-0.1276474, 51.5073219}) {
		t.Errorf("city: %+v, %v", r, err)
	}
	if _, err := n.Geocode(ctx, geocode.Query{Text: "xyzzy"}); geo.ErrorCode(err) != geo.ENOTFOUND {
		t.Errorf("empty answer: %v, want ENOTFOUND", err)
	}
}

func TestPelias_OK(t *testing.T) {
	var paths []string
	var mu sync.Mutex
	s := server(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path+"?"+r.URL.RawQuery)
		mu.Unlock()
		switch {
		case r.URL.Path == "/v1/search/structured" && r.URL.Query().Get("address") == "30 West 26th Street":
			w.Write(body(t, "pelias/search_address.json"))
		case r.URL.Path == "/v1/search" && r.URL.Query().Get("text") == "Innsbruck":
			w.Write(body(t, "pelias/search_locality.json"))
		case r.URL.Query().Get("locality") == "x":
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
	r, err := p.Geocode(ctx, geocode.Query{HouseNumber: "30", Street: "West 26th Street", City: "New York", Region: "NY"})
	if err != nil || r.Precision != geocode.PrecisionRooftop || r.Point != (orb.Point{-73.990342, 40.744243}) || r.Confidence < 0.96 || r.Label != "30 West 26th Street, Manhattan, NY" {
		t.Errorf("address: %+v, %v", r, err)
	}
	r, err = p.Geocode(ctx, geocode.Query{Text: "Innsbruck"})
	if err != nil || r.Precision != geocode.PrecisionCity || r.Point != (orb.Point{11.407851, 47.272308}) {
		t.Errorf("locality: %+v, %v", r, err)
	}
	if _, err := p.Geocode(ctx, geocode.Query{Text: "xyzzy nowhere"}); geo.ErrorCode(err) != geo.ENOTFOUND {
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
			w.Write(body(t, "nominatim/search_city.json"))
		}
	})
	r, err := geocode.NewNominatim(fastOpts(s.URL)).Geocode(context.Background(), geocode.Query{Text: "London"})
	if err != nil || r.Precision != geocode.PrecisionCity || calls.Load() != 3 {
		t.Errorf("got %+v, %v after %d calls; want the city after 3", r, err, calls.Load())
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
	s := server(t, func(w http.ResponseWriter, r *http.Request) { w.Write(body(t, "nominatim/search_city.json")) })
	o := fastOpts(s.URL)
	o.Rate = 20
	n := geocode.NewNominatim(o)
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := n.Geocode(context.Background(), geocode.Query{Text: "London"}); err != nil {
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
