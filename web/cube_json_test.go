package web

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gcrm/gcrm/olap"
)

// encodingJSON is the answer as writeJSON writes it (encoding/json): writeCubeJSON must
// write the same bytes.
func encodingJSON(t testing.TB, res *olap.CubeResult, version uint64) []byte {
	var want bytes.Buffer
	if err := json.NewEncoder(&want).Encode(map[string]any{"columns": res.Columns, "rows": res.Rows, "source": res.Source, "version": version}); err != nil {
		t.Fatal(err)
	}
	return want.Bytes()
}

func TestWriteCubeJSON(t *testing.T) {
	values := []any{nil, "", "86264c0cfffffff", "2024-03", "SMB", `a"b\c`, "<b>&", "é", "tab\t", "\u2028", "\x7f",
		int64(0), int64(-7), int64(math.MaxInt64), olap.FormatCents(0), olap.FormatCents(-5), olap.FormatCents(123456789),
		json.Number("1e3"), json.Number("-0.50"), 0.0, math.Copysign(0, -1), 0.5, 1.0 / 3, 2e-7, 1e-6, 123456.789, 1e20, 1e21, 3.5e300, -1e-9, 4800.0, float32(1.5), true}
	var rows [][]any
	for i := range values {
		rows = append(rows, []any{values[i], values[(i*7+3)%len(values)], values[(i*5+1)%len(values)]})
	}
	for _, res := range []*olap.CubeResult{
		{Columns: []string{"h3:6", "a<b", "revenue"}, Rows: rows, Source: "h3:7,segment"},
		{Columns: []string{"records"}, Rows: [][]any{}, Source: "none"},
		{Columns: nil, Rows: nil, Source: `"x"`},
		{Columns: []string{"x"}, Rows: [][]any{nil, {}}, Source: "points"},
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

// FuzzWriteCubeJSON checks random strings, counts and ratios against encoding/json.
func FuzzWriteCubeJSON(f *testing.F) {
	f.Add("86264c0cfffffff", int64(12), int64(1045025), 0.25)
	f.Add("a\"<>&\\\x00é", int64(-1), int64(-99), 1e-7)
	f.Fuzz(func(t *testing.T, s string, n, cents int64, x float64) {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return // not a value of the cube (encoding/json refuses it)
		}
		res := &olap.CubeResult{Columns: []string{s, "records"}, Rows: [][]any{{s, n, olap.FormatCents(cents), x, nil}}, Source: s}
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
	res := &olap.CubeResult{Columns: []string{"h3:7", "records", "revenue", "conversion_rate"}, Source: "h3:7,segment"}
	for i := range 300_000 {
		res.Rows = append(res.Rows, []any{"872a1072cffffff", int64(i % 97), olap.FormatCents(int64(i) * 1234), float64(i%7) / 7})
	}
	w := discardWriter{http.Header{}}
	b.Run("writeCubeJSON", func(b *testing.B) {
		for b.Loop() {
			writeCubeJSON(w, res, 1)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			writeJSON(w, 200, map[string]any{"columns": res.Columns, "rows": res.Rows, "source": res.Source, "version": uint64(1)})
		}
	})
}

// discardWriter is a ResponseWriter that drops the body (the cost of writing it alone).
type discardWriter struct{ h http.Header }

func (d discardWriter) Header() http.Header         { return d.h }
func (d discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d discardWriter) WriteHeader(int)             {}
