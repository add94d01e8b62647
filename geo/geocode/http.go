package geocode

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gcrm/gcrm/geo"
)

// HTTPOptions configure a provider client (Nominatim, Pelias).
type HTTPOptions struct {
	BaseURL   string        // e.g. https://nominatim.example.org (no trailing path for Nominatim; …/v1 for Pelias)
	UserAgent string        // sent on every request; public Nominatim requires one naming the application
	APIKey    string        // Pelias api_key, when the service needs one
	Rate      float64       // requests per second at most (default 1, the public Nominatim policy)
	Retries   int           // retries after a network error, 429 or 5xx (0: default 3; -1: none)
	Backoff   time.Duration // first retry delay, doubled each time (default 500 ms); Retry-After wins when given
	Timeout   time.Duration // per request (default 10 s)
	Client    *http.Client  // default: a client with Timeout
}

// httpClient is the part the provider clients share: rate limit, retries with back-off,
// time-outs, status mapping.
type httpClient struct {
	opt  HTTPOptions
	mu   sync.Mutex
	next time.Time // earliest start of the next request
}

func newHTTPClient(opt HTTPOptions) *httpClient {
	if opt.Rate <= 0 {
		opt.Rate = 1
	}
	if opt.Retries < 0 {
		opt.Retries = 0
	} else if opt.Retries == 0 {
		opt.Retries = 3
	}
	if opt.Backoff <= 0 {
		opt.Backoff = 500 * time.Millisecond
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 10 * time.Second
	}
	if opt.Client == nil {
		opt.Client = &http.Client{Timeout: opt.Timeout}
	}
	if opt.UserAgent == "" {
		opt.UserAgent = "gcrm-geocoder"
	}
	return &httpClient{opt: opt}
}

// wait blocks until the rate limit lets the next request start.
func (c *httpClient) wait(ctx context.Context) error {
	c.mu.Lock()
	now := time.Now()
	start := c.next
	if start.Before(now) {
		start = now
	}
	c.next = start.Add(time.Duration(float64(time.Second) / c.opt.Rate))
	c.mu.Unlock()
	if d := time.Until(start); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// get fetches url and returns the body of a 200 answer. It retries network errors, 429 and
// 5xx with back-off; every failure it gives up on is EUNAVAILABLE naming the provider.
func (c *httpClient) get(ctx context.Context, name, url string) ([]byte, error) {
	delay := c.opt.Backoff
	var last string
	for attempt := 0; ; attempt++ {
		if err := c.wait(ctx); err != nil {
			return nil, geo.Errorf(geo.EUNAVAILABLE, "%s: the request was cancelled", name)
		}
		body, status, retryAfter, err := c.once(ctx, url)
		switch {
		case err == nil && status == http.StatusOK:
			return body, nil
		case err != nil:
			last = err.Error()
		case status == http.StatusTooManyRequests || status >= 500:
			last = fmt.Sprintf("HTTP %d %s", status, snippet(body))
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			return nil, geo.Errorf(geo.EUNAVAILABLE, "%s refused the request (HTTP %d): check the API key and User-Agent; %s", name, status, snippet(body))
		default:
			return body, &statusError{status: status, body: body}
		}
		if ctx.Err() != nil {
			return nil, geo.Errorf(geo.EUNAVAILABLE, "%s: the request was cancelled or timed out", name)
		}
		if attempt >= c.opt.Retries {
			return nil, geo.Errorf(geo.EUNAVAILABLE, "%s is unavailable after %d attempts: %s", name, attempt+1, last)
		}
		d := delay
		if retryAfter >= 0 {
			d = retryAfter
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, geo.Errorf(geo.EUNAVAILABLE, "%s: the request was cancelled", name)
		case <-t.C:
		}
		delay *= 2
	}
}

// statusError is a 4xx answer other than 401/403/429, for the provider to interpret.
type statusError struct {
	status int
	body   []byte
}

func (e *statusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.status, snippet(e.body)) }

func (c *httpClient) once(ctx context.Context, url string) (body []byte, status int, retryAfter time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.opt.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, -1, err
	}
	req.Header.Set("User-Agent", c.opt.UserAgent)
	req.Header.Set("Accept", "application/json")
	resp, err := c.opt.Client.Do(req)
	if err != nil {
		return nil, 0, -1, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	retryAfter = -1
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, perr := strconv.Atoi(s); perr == nil && n >= 0 && n < 600 {
			retryAfter = time.Duration(n) * time.Second
		}
	}
	return body, resp.StatusCode, retryAfter, err
}

func snippet(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}
