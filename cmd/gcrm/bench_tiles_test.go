package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo/postgis/pgtest"
	"github.com/gcrm/gcrm/olap"
	"github.com/gcrm/gcrm/tiles"
	"github.com/paulmach/orb/encoding/mvt"
)

// TestServeTiles runs 'gcrm serve' through run() and reads customer tiles over HTTP: the
// engine is loaded at start, and a write by another process (plain SQL) reaches the
// tiles through the change feed.
func TestServeTiles(t *testing.T) {
	db := pgtest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	insert := func(lon, lat float64) {
		t.Helper()
		if _, err := db.Pool.Exec(ctx, `INSERT INTO customers (kind, name, geom, h3) VALUES ('lead', 'x', ST_SetSRID(ST_MakePoint($1::float8, $2::float8), 4326), 1)`, lon, lat); err != nil {
			t.Fatal(err)
		}
	}
	insert(-97.74, 30.27)
	insert(-97.7401, 30.2701)
	users := crm.NewUsers(db)
	u := &crm.User{Email: "admin@test.gcrm", Role: crm.RoleAdmin}
	if err := users.Create(ctx, u, ""); err != nil {
		t.Fatal(err)
	}
	token, _, err := users.CreateToken(ctx, u, "", "test", 0)
	if err != nil {
		t.Fatal(err)
	}

	out := &tilesTestBuffer{}
	done := make(chan int, 1)
	getenv := func(k string) string {
		if k == "DATABASE_URL" {
			return db.URL
		}
		return ""
	}
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, getenv, strings.NewReader(""), out, io.Discard)
	}()
	var base string
	for deadline := time.Now().Add(30 * time.Second); base == ""; time.Sleep(20 * time.Millisecond) {
		if m := regexp.MustCompile(`serving on (http://\S+)/`).FindStringSubmatch(out.String()); m != nil {
			base = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("server did not start: %s", out.String())
		}
	}
	x, y := olap.Project(-97.74, 30.27)
	tile := tiles.String(olap.Tile{Z: 9, X: x >> 23, Y: y >> 23})
	get := func(etag string) (*http.Response, int) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/tiles/customers/"+tile+".mvt", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		n := 0
		if resp.StatusCode == 200 && len(b) > 0 {
			layers, err := mvt.Unmarshal(b)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range layers[0].Features {
				n += int(f.Properties["count"].(float64))
			}
		}
		return resp, n
	}
	resp, n := get("")
	if resp.StatusCode != 200 || n != 2 {
		t.Fatalf("tile %s: %d, count %d", tile, resp.StatusCode, n)
	}
	etag := resp.Header.Get("ETag")
	if resp, _ := get(etag); resp.StatusCode != http.StatusNotModified {
		t.Fatalf("revalidation: %d", resp.StatusCode)
	}
	insert(-97.7402, 30.2702) // as 'gcrm import' in another process would
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, n := get(etag)
		if resp.StatusCode == 200 && n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the change feed did not reach the tile: %d, count %d", resp.StatusCode, n)
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exited %d: %s", code, out.String())
	}
}

// TestBenchTiles runs a small 'gcrm bench tiles' and checks its table and headline.
func TestBenchTiles(t *testing.T) {
	db := pgtest.New(t)
	var stdout, stderr tilesTestBuffer
	code := run(context.Background(), []string{"bench", "tiles", "--db", db.URL, "--customers", "3000", "--tiles", "5", "--rounds", "1", "--zooms", "4,13"},
		func(string) string { return "" }, strings.NewReader(""), &stdout, &stderr)
	out := stdout.String()
	if code != 0 || !strings.Contains(out, "count the same points in every tile: true") || !strings.Contains(out, "headline: the engine renders tiles") {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr.String())
	}
}

// tilesTestBuffer is an output sink safe for the server's goroutines.
type tilesTestBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *tilesTestBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *tilesTestBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
