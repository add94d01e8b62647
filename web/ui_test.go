package web_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/gcrm/gcrm/web"
)

// uiServer serves only what needs no database: the map UI.
func uiServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := &web.Server{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts
}

func get(t *testing.T, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "identity")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultTransport.RoundTrip(req) // no transparent gzip
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

func TestUI_Index(t *testing.T) {
	ts := uiServer(t)
	res, body := get(t, ts.URL+"/")
	if _, err := os.Stat("static/vendor/maplibre-gl.mjs"); err != nil {
		// A build without ./scripts/setup says what to do instead of a blank page.
		if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "run ./scripts/setup (npm packages missing)") {
			t.Fatalf("without vendor files: got %d %q, want 503 naming ./scripts/setup", res.StatusCode, body)
		}
		return
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /: status %d", res.StatusCode)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("GET /: Content-Type %q", ct)
	}
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "style-src 'self'", "connect-src 'self'", "worker-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP %q allows inline code", csp)
	}
	for _, want := range []string{`src="/static/app.js"`, `href="/static/style.css"`, `id="map"`, `id="user-slot"`} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("index.html lacks %s", want)
		}
	}
	// The page must run under its CSP: no inline script or style.
	for _, bad := range []string{"<script>", "style=", "<style", "onclick=", "onload=", "http://", "https://"} {
		if bytes.Contains(body, []byte(bad)) {
			t.Errorf("index.html contains %q", bad)
		}
	}
}

func TestUI_Static(t *testing.T) {
	ts := uiServer(t)
	tests := []struct {
		path, ctype string
		status      int
	}{
		{"/static/app.js", "text/javascript", http.StatusOK},
		{"/static/style.css", "text/css", http.StatusOK},
		{"/static/favicon.svg", "image/svg+xml", http.StatusOK},
		{"/static/nope.js", "", http.StatusNotFound},
		{"/static/", "", http.StatusNotFound},
		{"/static/../ui.go", "", http.StatusNotFound},
		{"/static/%2e%2e/ui.go", "", http.StatusNotFound},
	}
	if _, err := os.Stat("static/vendor/maplibre-gl.mjs"); err == nil {
		tests = append(tests,
			struct {
				path, ctype string
				status      int
			}{"/static/vendor/maplibre-gl-worker.mjs?v=6", "text/javascript", http.StatusOK})
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			res, body := get(t, ts.URL+tc.path)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.status)
			}
			if tc.status != http.StatusOK {
				return
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, tc.ctype) {
				t.Errorf("Content-Type %q, want %s", ct, tc.ctype)
			}
			if res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("Cache-Control") != "no-cache" {
				t.Errorf("headers %v", res.Header)
			}
			etag := res.Header.Get("ETag")
			if etag == "" || len(body) == 0 {
				t.Fatalf("ETag %q, %d bytes", etag, len(body))
			}
			res2, body2 := get(t, ts.URL+tc.path, "If-None-Match", etag)
			if res2.StatusCode != http.StatusNotModified || len(body2) != 0 {
				t.Errorf("revalidation: status %d with %d bytes, want 304 and none", res2.StatusCode, len(body2))
			}
		})
	}
}

func TestUI_Gzip(t *testing.T) {
	ts := uiServer(t)
	_, plain := get(t, ts.URL+"/static/app.js")
	res, body := get(t, ts.URL+"/static/app.js", "Accept-Encoding", "gzip, br")
	if res.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q, want gzip", res.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, plain) {
		t.Error("gzip body differs from the plain one")
	}
	res, _ = get(t, ts.URL+"/static/app.js", "Accept-Encoding", "gzip;q=0")
	if res.Header.Get("Content-Encoding") != "" {
		t.Error("gzip sent to a client that refused it")
	}
}
