package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gcrm/gcrm/geo/postgis/pgtest"
)

// TestImportCustomersCommand runs 'gcrm import customers' through run(): exit code 0 when
// every row lands, 2 when some are rejected (with the rejects file beside the input), 1 when
// nothing could be imported.
func TestImportCustomersCommand(t *testing.T) {
	url := pgtest.URL(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	gcrm := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	tests := []struct {
		name     string
		file     string
		code     int
		rejects  int    // rows in the rejects file (0: no file)
		contains string // in stdout+stderr
	}{
		{"AllLanded", "external_id,name,lat,lon\na,Alpha,1,2\nb,Beta,3,4\n", 0, 0, "2 new"},
		{"SomeRejected", "external_id,name,lat,lon\nc,Gamma,1,2\nd,Delta,95,4\ne,\"Eps,5,6\n", 2, 2, "row 3: lat 95 is outside -90..90"},
		{"AllRejected", "external_id,name,lat,lon\nf,Phi,,\n", 1, 1, "nothing was imported"},
		{"NoRows", "external_id,name,lat,lon\n", 1, 0, "no data rows"},
		{"BadHeader", "lat,lon\n1,2\n", 1, 0, "no name column"},
		{"Reimport", "external_id,name,lat,lon\na,Alpha,1,2\nb,Beta 2,3,4\n", 0, 0, "1 updated, 1 unchanged"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := write(tc.name+".csv", tc.file)
			code, stdout, stderr := gcrm("import", "customers", in, "--db", url)
			if code != tc.code || !strings.Contains(stdout+stderr, tc.contains) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant %q", code, tc.code, stdout, stderr, tc.contains)
			}
			rej := filepath.Join(dir, tc.name+".rejects.csv")
			f, err := os.Open(rej)
			if tc.rejects == 0 {
				if err == nil {
					f.Close()
					t.Fatalf("%s exists without rejects", rej)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			recs, err := csv.NewReader(f).ReadAll()
			if err != nil || len(recs) != tc.rejects+1 {
				t.Fatalf("rejects file: %v, %v", recs, err)
			}
		})
	}
	t.Run("RejectsFlagAndUsage", func(t *testing.T) {
		in := write("x.csv", "name,lat,lon\nx,,\n")
		out := filepath.Join(dir, "elsewhere.csv")
		if code, _, _ := gcrm("import", "customers", "--rejects", out, in, "--db", url); code != 1 {
			t.Fatalf("exit %d", code)
		}
		if _, err := os.Stat(out); err != nil {
			t.Fatal(err)
		}
		if code, _, _ := gcrm("import", "customers"); code != 2 {
			t.Fatalf("no file: exit %d, want 2", code)
		}
		if code, _, _ := gcrm("import", "customers", filepath.Join(dir, "missing.csv"), "--db", url); code != 1 {
			t.Fatalf("missing file: exit %d, want 1", code)
		}
	})
}
