// Package geo is gcrm's shared kernel: points and bounds (orb types), H3 cells, distances and
// the one error type every package returns. It imports only the standard library, orb and h3-go.
package geo
