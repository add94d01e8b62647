package tiles_test

import (
	"os"
	"testing"

	"github.com/gcrm/gcrm/geo/postgis/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
