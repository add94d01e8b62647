package crm

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// readAll reads every record; broken ones come back as errors in place.
func readAll(t testing.TB, data []byte) (recs [][]string, errs []*csvRowError) {
	cr := newCSVReader(bytes.NewReader(data))
	want := int64(1)
	for i := 0; ; i++ {
		if i > len(data)+1 {
			t.Fatalf("reader does not terminate on %q", data)
		}
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return recs, errs
		}
		var re *csvRowError
		switch {
		case errors.As(err, &re):
			if re.Row != want || re.Reason == "" {
				t.Fatalf("broken record numbered %d (want %d), reason %q", re.Row, want, re.Reason)
			}
			errs = append(errs, re)
			recs = append(recs, nil)
		case err != nil:
			t.Fatalf("read: %v", err)
		default:
			if cr.row != want {
				t.Fatalf("record numbered %d, want %d", cr.row, want)
			}
			recs = append(recs, append([]string(nil), rec...))
		}
		want++
	}
}

func TestCSVReader_Resync(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string // records joined by |, "!" for a broken one
	}{
		{"Plain", "a,b\n1,2\n", []string{"a|b", "1|2"}},
		{"CRLF", "a,b\r\n1,2\r\n", []string{"a|b", "1|2"}},
		{"QuotedNewline", "a,b\n\"x\ny\",2\n3,4\n", []string{"a|b", "x\ny|2", "3|4"}},
		{"EscapedQuote", "a\n\"say \"\"hi\"\"\"\n", []string{"a", `say "hi"`}},
		{"BlankLines", "a\n\n1\n\n", []string{"a", "1"}},
		{"NoFinalNewline", "a,b\n1,2", []string{"a|b", "1|2"}},
		{"UnclosedQuoteResyncs", "a,b\n\"x,1\n2,3\n4,5\n", []string{"a|b", "!", "2|3", "4|5"}},
		{"StrayQuoteLater", "a,b\n\"x,1\n2,3\n4,\"5\"6\n7,8\n", []string{"a|b", "!", "2|3", "!", "7|8"}},
		{"BareQuote", "a,b\nx\"y,1\n2,3\n", []string{"a|b", "!", "2|3"}},
		{"BadUTF8", "a,b\n\xff,1\n2,3\n", []string{"a|b", "!", "2|3"}},
		// Each half of a two-byte character is invalid alone (PostgreSQL would refuse the
		// whole COPY), although the two fields run together are valid.
		{"UTF8SplitByComma", "a,b\n\xc3,\xa91\n2,3\n", []string{"a|b", "!", "2|3"}},
		{"UTF8SplitByQuote", "a,b\n\"x\xc3\",\"\xa9\"\n\"\xc3\"\"\xa9\",1\n2,3\n", []string{"a|b", "!", "!", "2|3"}},
		{"BOM", "\xef\xbb\xbfa,b\n1,2\n", []string{"a|b", "1|2"}},
		{"LongLine", "a,b\n" + strings.Repeat("x", 600<<10) + ",1\n2,3\n", []string{"a|b", strings.Repeat("x", 600<<10) + "|1", "2|3"}},
		{"TooLongLine", "a,b\n" + strings.Repeat("x", 3<<20) + ",1\n2,3\n", []string{"a|b", "!", "2|3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs, _ := readAll(t, []byte(tc.in))
			var got []string
			for _, r := range recs {
				if r == nil {
					got = append(got, "!")
				} else {
					got = append(got, strings.Join(r, "|"))
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %.200q, want %.200q", got, tc.want)
			}
		})
	}
}

// FuzzImportCSV feeds arbitrary bytes to the import's CSV reader and row validation: no
// panic, every record either comes out or is reported broken with the next row number,
// every data row is either staged or rejected with a reason starting "row N: ", and where
// encoding/csv reads the same input without error, the records agree.
func FuzzImportCSV(f *testing.F) {
	for _, s := range []string{
		"external_id,name,lat,lon\n1,Acme,30.2,-97.7\n",
		"name,lat,lon,kind,revenue,email,consent_email,extra\nA,1,2,lead,12.5,a@b.c,yes,x\n",
		"name,lat,lon\n\"multi\nline\",1,2\n\"broken,1,2\nok,3,4\n",
		"name,lat,lon\nx\"y,1,2\n\"a\"b,1,2\nCaf\xe9,1,2\n",
		"name,lat,lon\n,,\nx,,\nx,95,0\nx,0,200\nx,NaN,Inf\n",
		"\xef\xbb\xbfname\r\nA\r\n",
		"name,lat,lon,created_at\nA,1,2,2024-03-15\nB,1,2,2024-03-15T10:20:00+02:00\nC,1,2,\nD,1,2,15/03/2024\nE,1,2,9999-12-31\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, _ := readAll(t, data)
		for _, r := range recs {
			for _, v := range r {
				if !utf8.ValidString(v) { // PostgreSQL would fail the whole COPY
					t.Fatalf("field %q of %q is not valid UTF-8", v, r)
				}
			}
		}
		if len(recs) == 0 || recs[0] == nil {
			return
		}
		h, err := mapHeader(recs[0])
		if err != nil {
			h, _ = mapHeader([]string{"name", "lat", "lon", "kind", "revenue", "email", "consent_email", "extra"})
		}
		im := &importer{ctx: context.Background(), h: h, res: &ImportResult{}, opt: ImportOptions{Source: "import"}, now: time.Now()}
		stageTuple := len(im.stageCopyColumns())
		for i, rec := range recs[1:] {
			row := int64(i + 2)
			if rec == nil {
				continue // rejected by the reader with its row number (checked in readAll)
			}
			im.direct, im.tupleFields = false, stageTuple
			line, _, _, reason := im.stageRow(nil, nil, row, rec)
			im.direct = true
			im.tupleFields = len(im.directColumns())
			direct, _, _, reason2 := im.stageRow(nil, nil, row, rec)
			if reason != reason2 || (reason == "" && copyTupleFields(direct) != im.tupleFields) {
				t.Fatalf("bulk tuple %q (reason %q) does not match staging tuple %q (reason %q)", direct, reason2, line, reason)
			}
			switch {
			case reason != "":
				if !strings.HasPrefix(reason, fmt.Sprintf("row %d: ", row)) || !utf8.ValidString(reason) {
					t.Fatalf("reason %q lacks its row number %d", reason, row)
				}
			case copyTupleFields(line) != stageTuple:
				t.Fatalf("staging tuple %q is not one binary COPY tuple of %d fields", line, stageTuple)
			}
		}
		// Differential check against encoding/csv where it applies.
		if bytes.ContainsAny(data, "\r\x00") || !utf8.Valid(data) || bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
			return
		}
		std := csv.NewReader(bytes.NewReader(data))
		std.FieldsPerRecord = -1
		want, err := std.ReadAll()
		if err != nil {
			return
		}
		got := make([][]string, 0, len(recs))
		for _, r := range recs {
			if r == nil {
				t.Fatalf("record broken where encoding/csv reads %q fine", data)
			}
			got = append(got, r)
		}
		if len(want) == 0 {
			want = [][]string{}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("records %q, encoding/csv %q", got, want)
		}
	})
}

// copyTupleFields returns the field count of b if b is exactly one binary COPY tuple whose
// field lengths add up, else -1.
func copyTupleFields(b []byte) int {
	if len(b) < 2 {
		return -1
	}
	n := int(int16(binary.BigEndian.Uint16(b)))
	b = b[2:]
	for range n {
		if len(b) < 4 {
			return -1
		}
		l := int32(binary.BigEndian.Uint32(b))
		b = b[4:]
		if l == -1 {
			continue
		}
		if l < 0 || int(l) > len(b) {
			return -1
		}
		b = b[l:]
	}
	if len(b) != 0 {
		return -1
	}
	return n
}

// FuzzCSVSplitPlain: the quote-free fast path reads a line exactly as parse does, and
// leaves to parse every quote-free line parse calls broken.
func FuzzCSVSplitPlain(f *testing.F) {
	for _, s := range []string{"a,b,c\n", "a,,\r\n", "x\r\r\n", "\xc3,\xa9\n", "a\x00b\n", "a\rb,c", ",", "\"q\",1\n", "caf\xc3\xa9,1\r"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line = line[:i+1] // one physical line, as readLine gives
		}
		c := newCSVReader(strings.NewReader(""))
		ok := c.splitPlain(line)
		fast := append([]string(nil), c.record...)
		c.raw = append(c.raw[:0], line...)
		reason := c.parse()
		switch {
		case ok && (reason != "" || !reflect.DeepEqual(fast, c.record)):
			t.Fatalf("%q: fast path %q, parse %q (reason %q)", line, fast, c.record, reason)
		case !ok && reason == "" && !bytes.Contains(line, []byte(`"`)):
			t.Fatalf("%q: fast path refused a quote-free line parse reads as %q", line, c.record)
		}
	})
}
