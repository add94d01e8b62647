package tiles_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/gcrm/gcrm/geo/postgis/pgtest"
	"github.com/gcrm/gcrm/olap"
	"github.com/gcrm/gcrm/tiles"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
)

// seed inserts n customers around a few centres (dense and sparse places) in one statement.
func seed(t testing.TB, db *postgis.DB, n int) {
	t.Helper()
	if _, err := db.Pool.Exec(context.Background(), `SELECT setseed(0.42)`); err != nil {
		t.Fatal(err)
	}
	_, err := db.Pool.Exec(context.Background(), `
		INSERT INTO customers (kind, name, geom, h3, segment, status, owner)
		SELECT (ARRAY['customer','prospect','lead'])[1 + (i % 3)], 'c' || i,
			ST_SetSRID(ST_MakePoint(c.lon + (random() - 0.5) * c.r, c.lat + (random() - 0.5) * c.r), 4326), 1,
			(ARRAY['smb','ent',''])[1 + (i % 5) % 3], (ARRAY['active','won','lost'])[1 + (i % 7) % 3],
			(ARRAY['ann','bob'])[1 + (i % 2)]
		FROM generate_series(1, $1) i,
		LATERAL (SELECT * FROM (VALUES (-74.0, 40.7, 0.5), (-87.6, 41.9, 2.0), (-100.0, 40.0, 30.0))
			AS v(lon, lat, r) OFFSET (i % 3) LIMIT 1) c`, n)
	if err != nil {
		t.Fatal(err)
	}
}

// counts returns the sum of the count property of the features inside the tile (and
// those in the edge buffer separately).
func counts(t testing.TB, b []byte) (in, buffered int) {
	t.Helper()
	if len(b) == 0 {
		return 0, 0
	}
	layers, err := mvt.Unmarshal(b)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	for _, f := range layers[0].Features {
		p := f.Geometry.(orb.Point)
		n := int(f.Properties["count"].(float64))
		if p[0] < 0 || p[1] < 0 || p[0] >= 4096 || p[1] >= 4096 {
			buffered += n
			continue
		}
		in += n
	}
	return in, buffered
}

func sqlCount(t testing.TB, db *postgis.DB, tile olap.Tile, where string) int {
	t.Helper()
	var n int
	err := db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM customers
		WHERE ST_Intersects(ST_Transform(geom, 3857), ST_TileEnvelope($1, $2, $3)) `+where, tile.Z, int64(tile.X), int64(tile.Y)).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// tilesOf returns the tiles at zoom z holding a few random customers, and the world tile.
func tilesOf(t testing.TB, db *postgis.DB, zooms ...int) []olap.Tile {
	rows, err := db.Pool.Query(context.Background(), `SELECT ST_X(geom), ST_Y(geom) FROM customers ORDER BY id LIMIT 6`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []olap.Tile
	for rows.Next() {
		var lon, lat float64
		if err := rows.Scan(&lon, &lat); err != nil {
			t.Fatal(err)
		}
		x, y := olap.Project(lon, lat)
		for _, z := range zooms {
			s := uint(32 - z)
			out = append(out, olap.Tile{Z: z, X: x >> s, Y: y >> s})
		}
	}
	return append(out, olap.Tile{})
}

func TestCountsMatchSQL(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	seed(t, db, 20000)
	e := olap.New()
	if err := e.Load(ctx, crm.NewStore(db)); err != nil {
		t.Fatal(err)
	}
	layer := tiles.NewCustomers()
	ref := &tiles.Reference{DB: db, Layer: layer}
	snap := e.Snapshot()
	for _, tile := range tilesOf(t, db, 3, 6, 9, 12, 13, 15) {
		t.Run(tiles.String(tile), func(t *testing.T) {
			want := sqlCount(t, db, tile, "")
			body, st := layer.Render(snap, tile, snap.Compile(olap.Filter{}))
			in, buffered := counts(t, body)
			if in != want || st.Points != want {
				t.Fatalf("counts add up to %d (stats %d), SQL counts %d in the tile", in, st.Points, want)
			}
			if layer.Clustered(tile.Z) && buffered != 0 {
				t.Fatalf("clustered tile has %d buffered points", buffered)
			}
			rb, err := ref.Tile(ctx, tile)
			if err != nil {
				t.Fatal(err)
			}
			rin, rbuf := counts(t, rb)
			if rin+rbuf != in+buffered {
				t.Fatalf("ST_AsMVT reference has %d+%d points, engine %d+%d", rin, rbuf, in, buffered)
			}
			// Same filter as SQL.
			f := olap.Filter{Kinds: []string{"lead"}, Scope: crm.Scope{Restricted: true, Owners: []string{"ann"}}}
			body, _ = layer.Render(snap, tile, snap.Compile(f))
			in, _ = counts(t, body)
			if want := sqlCount(t, db, tile, "AND kind = 'lead' AND owner = 'ann'"); in != want {
				t.Fatalf("filtered counts add up to %d, SQL %d", in, want)
			}
		})
	}
}

func TestRenderProperties(t *testing.T) {
	e := olap.New()
	c := &crm.Customer{ID: 42, Rev: 1, Kind: "prospect", Status: "won", Segment: "ent", Owner: "ann"}
	c.Location = &orb.Point{-74.0060, 40.7128}
	e.Put(c)
	c2 := &crm.Customer{ID: 43, Rev: 2, Kind: "lead", Owner: "bob"}
	c2.Location = &orb.Point{-74.0061, 40.7127}
	e.Put(c2)
	layer := tiles.NewCustomers()
	snap := e.Snapshot()
	x, y := olap.Project(-74.0060, 40.7128)
	// Point zoom: two features with their properties.
	tile := olap.Tile{Z: 16, X: x >> 16, Y: y >> 16}
	body, _ := layer.Render(snap, tile, snap.Compile(olap.Filter{}))
	layers, err := mvt.Unmarshal(body)
	if err != nil {
		t.Fatal(err)
	}
	fs := layers[0].Features
	if len(fs) != 2 {
		t.Fatalf("%d features, want 2", len(fs))
	}
	p := fs[0].Properties
	if fmt.Sprint(fs[0].ID) != "42" || p["id"] != float64(42) || p["kind"] != "prospect" || p["status"] != "won" || p["segment"] != "ent" || p["count"] != float64(1) {
		t.Fatalf("feature 0: id %v properties %v", fs[0].ID, p)
	}
	// Clustered zoom: the two points share a grid cell.
	tile = olap.Tile{Z: 4, X: x >> 28, Y: y >> 28}
	body, _ = layer.Render(snap, tile, snap.Compile(olap.Filter{}))
	layers, err = mvt.Unmarshal(body)
	if err != nil {
		t.Fatal(err)
	}
	fs = layers[0].Features
	if len(fs) != 1 || fs[0].Properties["cluster"] != true || fs[0].Properties["count"] != float64(2) {
		t.Fatalf("clustered: %d features, first %v", len(fs), fs[0].Properties)
	}
	id := uint64(fs[0].ID.(float64))
	cell, ok := tiles.ClusterCell(id)
	if !ok || cell.Z != 10 || !cell.Contains(x, y) {
		t.Fatalf("cluster id %d → cell %v %v; want a zoom-10 cell holding the points", id, cell, ok)
	}
	if _, ok := tiles.ClusterCell(42); ok {
		t.Fatal("record id taken for a cluster id")
	}
}

// FuzzRender checks that any set of points encodes to a tile orb decodes, with the counts.
func FuzzRender(f *testing.F) {
	f.Add(uint64(1), uint8(10), uint8(5))
	f.Add(uint64(7), uint8(200), uint8(14))
	f.Fuzz(func(t *testing.T, seed uint64, n uint8, z uint8) {
		r := rand.New(rand.NewPCG(seed, 1))
		zoom := int(z % 23)
		e := olap.New()
		cx, cy := r.Float64()*300-150, r.Float64()*120-60
		spread := 360 / float64(uint64(1)<<zoom)
		for i := 0; i < int(n); i++ {
			c := &crm.Customer{ID: int64(i + 1), Rev: 1, Kind: crm.Kinds[i%3], Status: string(rune('a' + i%5))}
			c.Location = &orb.Point{cx + (r.Float64()-0.5)*spread, cy + (r.Float64()-0.5)*spread}
			e.Put(c)
		}
		x, y := olap.Project(cx, cy)
		s := uint(32 - zoom)
		tile := olap.Tile{Z: zoom}
		if zoom > 0 {
			tile.X, tile.Y = x>>s, y>>s
		}
		snap := e.Snapshot()
		m := snap.Compile(olap.Filter{})
		body, st := tiles.NewCustomers().Render(snap, tile, m)
		in, buffered := counts(t, body)
		if in != snap.Count(tile, m) || in != st.Points || buffered != st.Buffered {
			t.Fatalf("counts %d+%d, stats %+v, engine %d", in, buffered, st, snap.Count(tile, m))
		}
	})
}
