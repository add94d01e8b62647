package crm

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
)

// BenchmarkImportParse measures the Go side of an import (read, validate, H3, binary COPY
// tuples, on one worker per core) without a database: go test -run '^$' -bench ImportParse ./crm
func BenchmarkImportParse(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("external_id,name,kind,lat,lon,street,city,region,postcode,country,segment,status,owner,revenue,email,phone,consent_email\n")
	const n = 100_000
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, "C%08d,Customer %d Springfield,customer,%.6f,%.6f,%d Main St,Springfield,IL,%05d,US,smb,active,rep%02d,%.2f,c%d@example.com,+1-555-%04d,true\n",
			i, i, 39.0+float64(i%1000)/1000, -89.0-float64(i%777)/1000, i%9999, i%100000, i%50, float64(i)*1.5, i, i%10000)
	}
	data := sb.String()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cr := newCSVReader(strings.NewReader(data))
		cols, _ := cr.Read()
		h, err := mapHeader(cols)
		if err != nil {
			b.Fatal(err)
		}
		im := &importer{ctx: context.Background(), h: h, cr: cr, res: &ImportResult{}, opt: ImportOptions{Source: "import"}}
		if err := im.produce(io.Discard); err != nil {
			b.Fatal(err)
		}
		if im.staged != n {
			b.Fatalf("staged %d", im.staged)
		}
	}
}
