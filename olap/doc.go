// Package olap is gcrm's in-memory engine: every located customer as compact columns
// (web-mercator x/y, id, H3 cell, kind, dictionary-coded status/segment/owner, revenue,
// rev), sorted by a space-filling key so that any map tile is one contiguous range.
//
// The engine is a cache with a contract: Load reads PostGIS once, then writes arrive through
// Put/Remove (the web layer's Changes hook, after each commit) and through Sync/Follow (the
// change feed, so other processes and replicas show up). Readers take an immutable
// Snapshot and never wait on writers; writes go to a small sorted delta plus tombstones,
// merged into the base columns when they grow.
//
// Tiles (package tiles) read points by tile; the cube (H3 aggregates) and territories are
// meant to read the same columns through Snapshot.Each.
package olap
