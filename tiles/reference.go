package tiles

import (
	"context"

	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/gcrm/gcrm/olap"
)

// Reference renders customer tiles in PostGIS with ST_AsMVT, the way PostGIS tile servers
// (pg_tileserv) do: the reference path the engine is measured against and checked with.
type Reference struct {
	DB    *postgis.DB
	Layer *Customers // extent, buffer and grid to match
}

// pointsSQL is pg_tileserv's query shape: a GIST-indexed ST_Intersects with the tile
// envelope widened by the buffer (exact, unlike a bare && on float4 boxes), ST_AsMVTGeom clipping to extent and buffer.
const pointsSQL = `
SELECT coalesce(ST_AsMVT(t, 'customers', $4::int, 'geom', 'fid'), ''::bytea) FROM (
	SELECT id AS fid, id, kind, status, segment, 1 AS count,
		ST_AsMVTGeom(ST_Transform(geom, 3857), ST_TileEnvelope($1, $2, $3), $4::int, $5::int, true) AS geom
	FROM customers
	WHERE ST_Intersects(geom, ST_Transform(ST_TileEnvelope($1, $2, $3, margin => $5::float8 / $4::float8), 4326))
) t`

// clusterSQL does the engine's clustering in SQL (equal work): the points of the tile,
// grouped on the same grid, one feature per cell with its count at the centroid, the point
// itself where a cell holds one.
const clusterSQL = `
WITH env AS (
	SELECT ST_TileEnvelope($1, $2, $3) AS e
), p AS (
	SELECT id, kind, status, segment, ST_Transform(geom, 3857) AS g
	FROM customers
	WHERE ST_Intersects(geom, ST_Transform(ST_TileEnvelope($1, $2, $3), 4326))
), c AS (
	SELECT count(*) AS n, min(id) AS id, min(kind) AS kind, min(status) AS status, min(segment) AS segment,
		avg(ST_X(g)) AS x, avg(ST_Y(g)) AS y
	FROM p, env
	GROUP BY floor((ST_X(g) - ST_XMin(e)) / (ST_XMax(e) - ST_XMin(e)) * $6::int),
		floor((ST_YMax(e) - ST_Y(g)) / (ST_YMax(e) - ST_YMin(e)) * $6::int)
)
SELECT coalesce(ST_AsMVT(t, 'customers', $4::int, 'geom'), ''::bytea) FROM (
	SELECT CASE WHEN n = 1 THEN id END AS id, CASE WHEN n = 1 THEN kind END AS kind,
		CASE WHEN n = 1 THEN status END AS status, CASE WHEN n = 1 THEN segment END AS segment,
		n AS count, CASE WHEN n > 1 THEN true END AS cluster,
		ST_AsMVTGeom(ST_SetSRID(ST_MakePoint(x, y), 3857), e, $4::int, $5::int, true) AS geom
	FROM c, env
) t`

// Tile renders tile t in PostGIS: every point, as pg_tileserv would serve it, at point
// zooms; at clustered zooms the same clusters as the engine (see clusterSQL). Returns
// EUNAVAILABLE when the database cannot answer.
func (r *Reference) Tile(ctx context.Context, t olap.Tile) ([]byte, error) {
	var b []byte
	var err error
	if r.Layer.Clustered(t.Z) {
		err = r.DB.Pool.QueryRow(ctx, clusterSQL, t.Z, int64(t.X), int64(t.Y), r.Layer.Extent, r.Layer.Buffer, 1<<r.Layer.GridLevels).Scan(&b)
	} else {
		b, err = r.Points(ctx, t)
	}
	return b, postgis.Wrap(err)
}

// Points renders every point of tile t in PostGIS (pg_tileserv's tile, no clustering).
func (r *Reference) Points(ctx context.Context, t olap.Tile) ([]byte, error) {
	var b []byte
	err := r.DB.Pool.QueryRow(ctx, pointsSQL, t.Z, int64(t.X), int64(t.Y), r.Layer.Extent, r.Layer.Buffer).Scan(&b)
	return b, postgis.Wrap(err)
}
