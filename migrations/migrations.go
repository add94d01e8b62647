// Package migrations holds gcrm's schema as numbered SQL files (0001_name.sql, …), embedded
// in the binary and applied in order by geo/postgis.Migrate.
package migrations

import "embed"

// FS holds the migration files.
//
//go:embed *.sql
var FS embed.FS
