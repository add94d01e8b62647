package web

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"

	"github.com/gcrm/gcrm/olap"
)

// writeCubeJSON writes a cube answer as writeJSON writes
// {"columns", "rows", "source", "version"} (the same bytes), but the rows without
// reflection: a 300,000-row answer took encoding/json about 20× longer than the cube took
// to answer. The values are read typed (olap.CubeResult.AppendRow); a string that needs
// escaping, a float that encoding/json writes in exponent form and a value of another type
// go through encoding/json.
func writeCubeJSON(w http.ResponseWriter, res *olap.CubeResult, version uint64) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	// appendCubeJSON's buffer is the write buffer: it goes out in pieces of ≥ 32 KB.
	_, _ = w.Write(appendCubeJSON(make([]byte, 0, 40<<10), res, version, func(b []byte) []byte {
		if len(b) >= 32<<10 {
			_, _ = w.Write(b)
			return b[:0]
		}
		return b
	}))
}

// appendCubeJSON appends the answer to b, calling flush after each row (it returns what is
// left of b to append to).
func appendCubeJSON(b []byte, res *olap.CubeResult, version uint64, flush func([]byte) []byte) []byte {
	b = append(b, `{"columns":`...)
	b = appendJSON(b, res.Columns)
	b = append(b, `,"rows":[`...)
	var row []olap.CubeValue
	for i := range res.Len() {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		row = res.AppendRow(row[:0], i)
		for j, v := range row {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendCubeValue(b, v)
		}
		b = append(b, ']')
		b = flush(b)
	}
	b = append(b, ']')
	b = append(b, `,"source":`...)
	b = appendJSON(b, res.Source)
	b = append(b, `,"version":`...)
	b = strconv.AppendUint(b, version, 10)
	return append(b, "}\n"...)
}

func appendCubeValue(b []byte, v olap.CubeValue) []byte {
	switch v.Kind {
	case olap.CubeNull:
		return append(b, "null"...)
	case olap.CubeText:
		if plainJSON(v.Text) {
			b = append(b, '"')
			b = append(b, v.Text...)
			return append(b, '"')
		}
		return appendJSON(b, v.Text)
	case olap.CubeCell, olap.CubeMonth: // hexadecimal digits; 2006-01
		b = append(b, '"')
		b = v.AppendText(b)
		return append(b, '"')
	case olap.CubeInt, olap.CubeCents: // -?digits(.dd)
		return v.AppendText(b)
	case olap.CubeNumber:
		if plainNumber(v.Text) {
			return append(b, v.Text...)
		}
	case olap.CubeFloat:
		if a := math.Abs(v.Float()); a == 0 || a >= 1e-6 && a < 1e21 { // encoding/json's 'f' range
			return strconv.AppendFloat(b, v.Float(), 'f', -1, 64)
		}
	}
	return appendJSON(b, v.Value())
}

// plainJSON says whether s is written as it is between quotes by encoding/json (printable
// ASCII other than the characters it escapes).
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// plainNumber says whether n is a revenue as olap writes it (-?digits.dd), which
// encoding/json writes as it is.
func plainNumber(s string) bool {
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	if len(s) < 4 || s[len(s)-3] != '.' || (s[0] == '0' && s[1] != '.') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && i != len(s)-3 {
			return false
		}
	}
	return true
}

func appendJSON(b []byte, v any) []byte {
	out, err := json.Marshal(v)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, out...)
}
