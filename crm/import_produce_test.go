package crm

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// produceOnce runs the Go side of an import of file with the given number of workers and
// returns the COPY stream, the rejects CSV and the importer.
func produceOnce(t *testing.T, file string, workers int, direct bool) ([]byte, string, *importer) {
	t.Helper()
	cr := newCSVReader(strings.NewReader(file))
	cols, err := cr.Read()
	if err != nil {
		t.Fatal(err)
	}
	h, err := mapHeader(cols)
	if err != nil {
		t.Fatal(err)
	}
	var rejects strings.Builder
	var progress []int64
	im := &importer{ctx: context.Background(), h: h, cr: cr, res: &ImportResult{}, workers: workers,
		direct: direct, baseID: 1000, baseRev: 5000,
		opt: ImportOptions{Source: "import", KeepRejects: 1000, Rejects: &rejects,
			Progress: func(_, rows int64) { progress = append(progress, rows) }}}
	var out bytes.Buffer
	if err := im.produce(&out); err != nil {
		t.Fatal(err)
	}
	if err := im.flushRejects(); err != nil {
		t.Fatal(err)
	}
	if len(progress) == 0 || progress[len(progress)-1] != im.res.Rows {
		t.Fatalf("progress %v does not end at %d rows", progress, im.res.Rows)
	}
	return out.Bytes(), rejects.String(), im
}

// TestProduce_ParallelSameAsSerial: validating on several goroutines writes the same COPY
// stream, in row order, and the same rejects (rows, reasons, order) as one goroutine, across
// many batches with good rows, bad rows, broken quoting and repeated ids mixed.
func TestProduce_ParallelSameAsSerial(t *testing.T) {
	var b strings.Builder
	b.WriteString("external_id,name,kind,lat,lon,revenue,email,consent_email,tier\n")
	for i := range 20_000 {
		switch {
		case i%97 == 5:
			fmt.Fprintf(&b, "X%d,Bad lat %d,customer,95,10,1,,yes,\n", i, i)
		case i%389 == 7:
			fmt.Fprintf(&b, "X%d,\"Broken \"quote,customer,1,2,3,,no,\n", i)
		case i%1013 == 9:
			fmt.Fprintf(&b, "X%d,Repeat,lead,1,2,3,,no,\n", i-1) // repeats the row before's id
		case i%211 == 3:
			fmt.Fprintf(&b, "X%d,\"Multi\nline %d\",prospect,%d.25,-%d.5,12.005,m%d@example.com,1,gold\n", i, i, i%80, i%170, i)
		default:
			fmt.Fprintf(&b, "X%d,Name %d,customer,%.6f,%.6f,%.2f,c%d@example.com,true,\n", i, i, float64(i%170)/2-40, float64(i%350)-175, float64(i)*1.25, i)
		}
	}
	file := b.String()
	for _, direct := range []bool{false, true} {
		out1, rej1, im1 := produceOnce(t, file, 1, direct)
		for _, workers := range []int{2, 5} {
			out, rej, im := produceOnce(t, file, workers, direct)
			if !bytes.Equal(out, out1) {
				t.Fatalf("direct=%v workers=%d: the COPY stream differs from one worker's (%d vs %d bytes)", direct, workers, len(out), len(out1))
			}
			if rej != rej1 {
				t.Fatalf("direct=%v workers=%d: rejects differ:\n%.500s\nvs\n%.500s", direct, workers, rej, rej1)
			}
			if im.staged != im1.staged || im.lastRow != im1.lastRow || im.maybeDup != im1.maybeDup ||
				!reflect.DeepEqual(im.res, im1.res) {
				t.Fatalf("direct=%v workers=%d: staged %d last %d dup %v %+v; one worker: staged %d last %d dup %v %+v",
					direct, workers, im.staged, im.lastRow, im.maybeDup, im.res, im1.staged, im1.lastRow, im1.maybeDup, im1.res)
			}
		}
		if im1.res.Rows != 20_000 || im1.res.Rejected == 0 || im1.staged+im1.res.Rejected != 20_000 || !im1.maybeDup {
			t.Fatalf("direct=%v: rows %d staged %d rejected %d dup %v", direct, im1.res.Rows, im1.staged, im1.res.Rejected, im1.maybeDup)
		}
		if !bytes.HasPrefix(out1, copyBinaryHeader) || !bytes.HasSuffix(out1, copyBinaryTrailer) {
			t.Fatalf("direct=%v: the stream lacks the binary COPY header or trailer", direct)
		}
	}
}
