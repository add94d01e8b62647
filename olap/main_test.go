package olap_test

import (
	"os"
	"testing"

	"github.com/gcrm/gcrm/geo/postgis/pgtest"
)

// TestMain gives every test of package olap a real PostGIS (one TestMain per package: add
// tests beside it, not another TestMain).
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
