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
// to answer. Values are the types olap.CubeResult holds (strings, int64 counts,
// json.Number revenues, float64 ratios, nil); anything else, a string that needs escaping
// and a float that encoding/json writes in exponent form go through encoding/json.
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
	b = append(b, `,"rows":`...)
	if res.Rows == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, row := range res.Rows {
			if i > 0 {
				b = append(b, ',')
			}
			if row == nil {
				b = append(b, "null"...)
				continue
			}
			b = append(b, '[')
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
	}
	b = append(b, `,"source":`...)
	b = appendJSON(b, res.Source)
	b = append(b, `,"version":`...)
	b = strconv.AppendUint(b, version, 10)
	return append(b, "}\n"...)
}

func appendCubeValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		if plainJSON(v) {
			b = append(b, '"')
			b = append(b, v...)
			return append(b, '"')
		}
	case int64:
		return strconv.AppendInt(b, v, 10)
	case json.Number:
		if plainNumber(v) {
			return append(b, v...)
		}
	case float64:
		if a := math.Abs(v); a == 0 || a >= 1e-6 && a < 1e21 { // encoding/json's 'f' range
			return strconv.AppendFloat(b, v, 'f', -1, 64)
		}
	}
	return appendJSON(b, v)
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
func plainNumber(n json.Number) bool {
	s := string(n)
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
