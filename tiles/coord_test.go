package tiles_test

import (
	"strings"
	"testing"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/olap"
	"github.com/gcrm/gcrm/tiles"
)

func TestParseTile(t *testing.T) {
	for _, tc := range []struct {
		name, z, x, y string
		want          olap.Tile
		err           string
	}{
		{name: "OK", z: "7", x: "127", y: "5", want: olap.Tile{Z: 7, X: 127, Y: 5}},
		{name: "OKRoot", z: "0", x: "0", y: "0", want: olap.Tile{}},
		{name: "OKDeepest", z: "22", x: "4194303", y: "0", want: olap.Tile{Z: 22, X: 4194303}},
		{name: "ErrX", z: "7", x: "200", y: "5", err: "tile 7/200/5: x must be within 0..127 at zoom 7"},
		{name: "ErrY", z: "1", x: "0", y: "2", err: "tile 1/0/2: y must be within 0..1 at zoom 1"},
		{name: "ErrZoom", z: "23", x: "0", y: "0", err: "tile 23/0/0: zoom must be within 0..22"},
		{name: "ErrNegative", z: "3", x: "-1", y: "0", err: `tile 3/-1/0: x "-1" is not a whole number`},
		{name: "ErrText", z: "a", x: "0", y: "0", err: `tile a/0/0: zoom "a" is not a whole number`},
		{name: "ErrPlus", z: "+3", x: "0", y: "0", err: `zoom "+3" is not a whole number`},
		{name: "ErrHuge", z: "3", x: "99999999999999999999999", y: "0", err: "x must be within 0..7 at zoom 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tiles.ParseTile(tc.z, tc.x, tc.y)
			if tc.err != "" {
				if geo.ErrorCode(err) != geo.EINVALID || !strings.Contains(geo.ErrorMessage(err), tc.err) {
					t.Fatalf("err = %v, want EINVALID %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func FuzzParseTile(f *testing.F) {
	f.Add("7", "200", "5")
	f.Add("0", "0", "0")
	f.Add("22", "4194303", "4194303")
	f.Add("-1", "x", "")
	f.Fuzz(func(t *testing.T, z, x, y string) {
		tile, err := tiles.ParseTile(z, x, y)
		if err != nil {
			if geo.ErrorCode(err) != geo.EINVALID {
				t.Fatalf("error code %q, want EINVALID", geo.ErrorCode(err))
			}
			return
		}
		if tile.Z < 0 || tile.Z > olap.MaxZoom || uint64(tile.X) >= 1<<tile.Z || uint64(tile.Y) >= 1<<tile.Z {
			t.Fatalf("accepted out-of-range tile %v", tile)
		}
		if tiles.String(tile) != strings.TrimLeft(z, "0")+"/"+strings.TrimLeft(x, "0")+"/"+strings.TrimLeft(y, "0") &&
			!strings.Contains(z+x+y, "0") {
			t.Fatalf("%s/%s/%s parsed as %s", z, x, y, tiles.String(tile))
		}
	})
}
