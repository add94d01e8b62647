package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/olap"
	"github.com/paulmach/orb"
)

// encodingJSON is the answer as writeJSON writes it (encoding/json): writeCubeJSON must
// write the same bytes.
func encodingJSON(t testing.TB, res *olap.CubeResult, version uint64) []byte {
	var want bytes.Buffer
	if err := json.NewEncoder(&want).Encode(map[string]any{"columns": res.Columns, "rows": res.Rows(), "source": res.Source, "version": version}); err != nil {
		t.Fatal(err)
	}
	return want.Bytes()
}

func TestWriteCubeJSON(t *testing.T) {
	values := []any{nil, "", "86264c0cfffffff", "2024-03", "SMB", `a"b\c`, "<b>&", "é", "tab\t", "\u2028", "\x7f",
		int64(0), int64(-7), int64(math.MaxInt64), olap.FormatCents(0), olap.FormatCents(-5), olap.FormatCents(123456789),
		json.Number("1e3"), json.Number("-0.50"), 0.0, math.Copysign(0, -1), 0.5, 1.0 / 3, 2e-7, 1e-6, 123456.789, 1e20, 1e21, 3.5e300, -1e-9, 4800.0}
	var rows [][]any
	for i := range values {
		rows = append(rows, []any{values[i], values[(i*7+3)%len(values)], values[(i*5+1)%len(values)]})
	}
	for _, res := range []*olap.CubeResult{
		olap.NewCubeResult([]string{"h3:6", "a<b", "revenue"}, rows, "h3:7,segment"),
		olap.NewCubeResult([]string{"records"}, [][]any{}, "none"),
		olap.NewCubeResult(nil, [][]any{}, `"x"`),
		olap.NewCubeResult([]string{"x"}, [][]any{{}}, "points"),
	} {
		rec := httptest.NewRecorder()
		writeCubeJSON(rec, res, 1234)
		if want := encodingJSON(t, res, 1234); !bytes.Equal(rec.Body.Bytes(), want) {
			t.Fatalf("writeCubeJSON wrote\n%s\nencoding/json\n%s", rec.Body.Bytes(), want)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("content type %q", ct)
		}
	}
}

// TestWriteCubeJSON_Typed writes answers of a real cube, read typed from its groups (cells,
// months, codes, counts, cents, ratios, no value), and compares them with encoding/json of
// the same answers' rows; the CSV export's cells with the rows' values too.
func TestWriteCubeJSON_Typed(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var ps []crm.Point
	for i := range 3000 {
		lon, lat := -100+r.Float64()*10, 30+r.Float64()*10
		ps = append(ps, crm.Point{ID: int64(i + 1), Located: true, Lon: lon, Lat: lat, Cell: geo.CellOf(orb.Point{lon, lat}, geo.CellResolution),
			Kind: crm.Kinds[r.IntN(3)], Status: []string{"won", "lost", "new", ""}[r.IntN(4)], Segment: []string{"SMB", `a"b<c>`, "=sum()", "é"}[r.IntN(4)],
			Owner: "rep" + strconv.Itoa(r.IntN(5)), Revenue: float64(r.IntN(2_000_000)-500_000) / 100, Rev: int64(i + 1), Month: int32(2020*12 + r.IntN(60))})
	}
	e, cube := olap.New(), olap.NewCube()
	e.Observer = cube
	e.LoadPoints(ps)
	measures := []string{"records", "customers", "revenue", "customer_revenue", "won", "lost", "conversion_rate", "revenue_per_customer"}
	for _, by := range [][]olap.CubeDim{{{Name: "h3", Res: 5}}, {{Name: "h3", Res: 11}}, {{Name: "month"}, {Name: "segment"}}, {{Name: "kind"}, {Name: "status"}, {Name: "owner"}}} {
		res, err := cube.Query(&olap.CubeQuery{Measures: measures, By: by}, e.Snapshot())
		if err != nil {
			t.Fatal(err)
		}
		if res.Len() < 2 {
			t.Fatalf("by %v: %d rows", by, res.Len())
		}
		rec := httptest.NewRecorder()
		writeCubeJSON(rec, res, 7)
		var csvRows [][]string
		for i := range res.Len() {
			var rec []string
			for _, v := range res.AppendRow(nil, i) {
				rec = append(rec, csvValue(v))
			}
			csvRows = append(csvRows, rec)
		}
		want := encodingJSON(t, res, 7) // res.Rows(): made now, from the same groups
		if !bytes.Equal(rec.Body.Bytes(), want) {
			t.Fatalf("by %v: writeCubeJSON wrote\n%.600s\nencoding/json\n%.600s", by, rec.Body.Bytes(), want)
		}
		for i, row := range res.Rows() {
			for j, v := range row {
				want := fmt.Sprint(v)
				if v == nil {
					want = ""
				} else if s, ok := v.(string); ok && s != "" && strings.ContainsRune("=+-@", rune(s[0])) {
					want = "'" + s
				}
				if csvRows[i][j] != want {
					t.Fatalf("by %v row %d column %d: CSV %q, value %v", by, i, j, csvRows[i][j], v)
				}
			}
		}
		res.Release()
	}
}

// FuzzWriteCubeJSON checks random strings, counts and ratios against encoding/json.
func FuzzWriteCubeJSON(f *testing.F) {
	f.Add("86264c0cfffffff", int64(12), int64(1045025), 0.25)
	f.Add("a\"<>&\\\x00é", int64(-1), int64(-99), 1e-7)
	f.Fuzz(func(t *testing.T, s string, n, cents int64, x float64) {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return // not a value of the cube (encoding/json refuses it)
		}
		res := olap.NewCubeResult([]string{s, "records"}, [][]any{{s, n, olap.FormatCents(cents), x, nil}}, s)
		rec := httptest.NewRecorder()
		writeCubeJSON(rec, res, uint64(n))
		if want := encodingJSON(t, res, uint64(n)); !bytes.Equal(rec.Body.Bytes(), want) {
			t.Fatalf("writeCubeJSON wrote\n%s\nencoding/json\n%s", rec.Body.Bytes(), want)
		}
	})
}

// BenchmarkWriteCubeJSON writes a 300,000-row answer (h3 cell, count, revenue, ratio):
// writeCubeJSON against encoding/json.
func BenchmarkWriteCubeJSON(b *testing.B) {
	var rows [][]any
	for i := range 300_000 {
		rows = append(rows, []any{"872a1072cffffff", int64(i % 97), olap.FormatCents(int64(i) * 1234), float64(i%7) / 7})
	}
	res := olap.NewCubeResult([]string{"h3:7", "records", "revenue", "conversion_rate"}, rows, "h3:7,segment")
	w := discardWriter{http.Header{}}
	b.Run("writeCubeJSON", func(b *testing.B) {
		for b.Loop() {
			writeCubeJSON(w, res, 1)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			writeJSON(w, 200, map[string]any{"columns": res.Columns, "rows": res.Rows(), "source": res.Source, "version": uint64(1)})
		}
	})
}

// discardWriter is a ResponseWriter that drops the body (the cost of writing it alone).
type discardWriter struct{ h http.Header }

func (d discardWriter) Header() http.Header         { return d.h }
func (d discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d discardWriter) WriteHeader(int)             {}
