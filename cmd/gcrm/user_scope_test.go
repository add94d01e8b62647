package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo/postgis/pgtest"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/maptile"
)

// TestScopeEverywhere checks through the real server (as gcrm serve builds it) that a rep
// gets only their own records from every door: list, get, vector tiles (decoded, every
// feature id checked; clustered tiles' counts), the cube, and the CSV export.
func TestScopeEverywhere(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	store := crm.NewStore(db)
	// 30 records each for rep1 and rep2 and 5 unowned, interleaved inside one z13 tile.
	center := orb.Point{-97.74, 30.27}
	tile := maptile.At(center, 13)
	b := tile.Bound()
	own := map[string]map[int64]bool{"rep1@demo.gcrm": {}, "rep2@demo.gcrm": {}, "": {}}
	for i := 0; i < 65; i++ {
		owner := []string{"rep1@demo.gcrm", "rep2@demo.gcrm"}[i%2]
		if i >= 60 {
			owner = ""
		}
		c := &crm.Customer{Name: fmt.Sprint("R", i), Owner: owner, Kind: crm.Kinds[i%3], Email: fmt.Sprintf("p%d@x.org", i)}
		fx, fy := 0.1+0.8*float64(i%8)/8, 0.1+0.8*float64(i/8)/9
		if err := c.SetLocation(b.Min[0]+fx*(b.Max[0]-b.Min[0]), b.Min[1]+fy*(b.Max[1]-b.Min[1])); err != nil {
			t.Fatal(err)
		}
		if err := store.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
		own[owner][c.ID] = true
	}
	srv, err := buildServer(ctx, db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	token := func(email, role string) string {
		u := &crm.User{Email: email, Role: role}
		if err := srv.Users.Create(ctx, u, ""); err != nil {
			t.Fatal(err)
		}
		s, _, err := srv.Users.CreateToken(ctx, u, "", "", 0)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	rep1, admin := token("rep1@demo.gcrm", crm.RoleRep), token("admin@demo.gcrm", crm.RoleAdmin)
	get := func(tok, path string, header ...string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", ts.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}
	mine := own["rep1@demo.gcrm"]

	t.Run("List", func(t *testing.T) {
		_, body := get(rep1, "/api/v1/customers?limit=1000")
		var fc struct{ Features []struct{ ID int64 } }
		json.Unmarshal(body, &fc)
		if len(fc.Features) != len(mine) {
			t.Fatalf("rep1 lists %d records, owns %d", len(fc.Features), len(mine))
		}
		for _, f := range fc.Features {
			if !mine[f.ID] {
				t.Fatalf("rep1 lists record %d of someone else", f.ID)
			}
		}
	})
	t.Run("GetOthersIs404", func(t *testing.T) {
		for id := range own["rep2@demo.gcrm"] {
			if resp, _ := get(rep1, fmt.Sprint("/api/v1/customers/", id)); resp.StatusCode != 404 {
				t.Fatalf("rep1 GET rep2's %d: %d", id, resp.StatusCode)
			}
		}
	})
	tileIDs := func(tok string, z, x, y uint32) (ids []int64, count int, etag string) {
		t.Helper()
		resp, body := get(tok, fmt.Sprintf("/tiles/customers/%d/%d/%d.mvt", z, x, y))
		if resp.StatusCode != 200 {
			t.Fatalf("tile %d/%d/%d: %d %s", z, x, y, resp.StatusCode, body)
		}
		layers, err := mvt.Unmarshal(body)
		if err != nil {
			t.Fatalf("decode tile: %v", err)
		}
		for _, l := range layers {
			for _, f := range l.Features {
				n := 1
				if c, ok := f.Properties["count"].(float64); ok {
					n = int(c)
				}
				count += n
				if cl, _ := f.Properties["cluster"].(bool); cl {
					continue
				}
				id, ok := f.ID.(float64)
				if !ok {
					if u, ok2 := f.ID.(uint64); ok2 {
						id = float64(u)
					} else {
						t.Fatalf("point feature without a numeric id: %#v", f.ID)
					}
				}
				ids = append(ids, int64(id))
			}
		}
		return ids, count, resp.Header.Get("ETag")
	}
	t.Run("PointTile", func(t *testing.T) {
		ids, _, repTag := tileIDs(rep1, uint32(tile.Z), tile.X, tile.Y)
		if len(ids) != len(mine) {
			t.Fatalf("rep1's z13 tile has %d points, rep1 owns %d", len(ids), len(mine))
		}
		for _, id := range ids {
			if !mine[id] {
				t.Fatalf("rep1's tile holds record %d of someone else", id)
			}
		}
		all, _, adminTag := tileIDs(admin, uint32(tile.Z), tile.X, tile.Y)
		if len(all) != 65 || adminTag == repTag {
			t.Fatalf("admin's tile: %d points, ETag %s vs rep's %s", len(all), adminTag, repTag)
		}
		// The admin's ETag must not let the rep's browser keep the admin's tile.
		if resp, _ := get(rep1, fmt.Sprintf("/tiles/customers/%d/%d/%d.mvt", tile.Z, tile.X, tile.Y), "If-None-Match", adminTag); resp.StatusCode != 200 {
			t.Fatalf("rep1 with the admin's ETag: %d, want 200 with their own tile", resp.StatusCode)
		}
	})
	t.Run("ClusteredTile", func(t *testing.T) {
		for _, z := range []maptile.Zoom{4, 9} {
			p := maptile.At(center, z)
			ids, count, _ := tileIDs(rep1, uint32(z), p.X, p.Y)
			if count != len(mine) {
				t.Fatalf("z%d: rep1's tile counts %d records, rep1 owns %d", z, count, len(mine))
			}
			for _, id := range ids {
				if !mine[id] {
					t.Fatalf("z%d: rep1's tile holds record %d of someone else", z, id)
				}
			}
		}
	})
	t.Run("HexagonTile", func(t *testing.T) {
		p := maptile.At(center, 6)
		count := func(tok string) int {
			resp, body := get(tok, fmt.Sprintf("/tiles/hexagons/%d/%d/%d.mvt", p.Z, p.X, p.Y))
			if resp.StatusCode != 200 {
				t.Fatalf("hexagon tile: %d %s", resp.StatusCode, body)
			}
			layers, err := mvt.Unmarshal(body)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, l := range layers {
				for _, f := range l.Features {
					c, _ := f.Properties["count"].(float64)
					n += int(c)
				}
			}
			return n
		}
		if got, all := count(rep1), count(admin); got != len(mine) || all != 65 {
			t.Fatalf("hexagon counts: rep1 %d (owns %d), admin %d (of 65)", got, len(mine), all)
		}
	})
	t.Run("Export", func(t *testing.T) {
		resp, body := get(rep1, "/api/v1/customers/export.csv")
		rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
		if resp.StatusCode != 200 || err != nil || len(rows) != len(mine)+1 {
			t.Fatalf("%d %v: %d rows", resp.StatusCode, err, len(rows))
		}
		for _, r := range rows[1:] {
			var id int64
			fmt.Sscan(r[0], &id)
			if !mine[id] {
				t.Fatalf("export holds record %d of someone else", id)
			}
		}
	})
	t.Run("Cube", func(t *testing.T) {
		resp, body := get(rep1, "/api/v1/cube?by=owner&measures=records")
		if resp.StatusCode == 404 {
			t.Fatalf("the cube is not mounted by buildServer")
		}
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		var res struct {
			Columns []string
			Rows    [][]any
		}
		json.Unmarshal(body, &res)
		if len(res.Rows) != 1 || res.Rows[0][0] != "rep1@demo.gcrm" {
			t.Fatalf("rep1's cube by owner: %s", body)
		}
		if fmt.Sprint(res.Rows[0][1]) != fmt.Sprint(len(mine)) {
			t.Fatalf("rep1's cube counts %v, owns %d: %s", res.Rows[0][1], len(mine), body)
		}
	})
}
