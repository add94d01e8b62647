// Package tiles turns the engine's points into Mapbox Vector Tiles: z/x/y parsing and
// validation, a hand-written point MVT encoder, exact grid clustering at low zoom, a tile
// cache with ETags, and the PostGIS ST_AsMVT reference path the benchmark compares against.
package tiles
