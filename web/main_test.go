package web_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo/postgis/pgtest"
	"github.com/gcrm/gcrm/web"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// testServer is a running gcrm HTTP server on a fresh database.
type testServer struct {
	*httptest.Server
	srv  *web.Server
	auth string // bearer token sent by do: an admin's unless a test changes it (auth_test.go)
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	db := pgtest.New(t)
	srv := &web.Server{DB: db, Customers: crm.NewStore(db), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &testServer{Server: ts, srv: srv, auth: userToken(t, srv, "admin@test.gcrm", crm.RoleAdmin)}
}

// do sends a request with an optional JSON body and returns the response and its body.
func (ts *testServer) do(t *testing.T, method, path, body string, header ...string) (*http.Response, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, ts.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if ts.auth != "" {
		req.Header.Set("Authorization", "Bearer "+ts.auth) // a header pair "Authorization", "" sends none
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}
