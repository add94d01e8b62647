package main

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"strings"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/olap"
)

func init() {
	registerImport("region-attributes", "numeric region attributes (population, income, …) from a CSV keyed by region code", importAttributesCmd)
}

// importAttributesCmd runs 'gcrm import region-attributes FILE.csv --level L --code-col COL':
// the numeric columns of FILE are merged into the attributes of the regions of level L, by
// code; rows with an unknown code or a value that is not a number go to FILE.rejects.csv.
func importAttributesCmd(ctx context.Context, e env) int {
	fs := flag.NewFlagSet("import region-attributes", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, `usage: gcrm import region-attributes FILE.csv --level LEVEL --code-col COL [flags]

Merges FILE's numeric columns into regions.attributes (cube measures by region), by code.
--code-col names the code column, or builds the code from zero-padded parts:
  --code-col fips                the Census county file ../shared/data/regions/us/county_population_2010_2019.csv
  --code-col STATE:2+COUNTY:3    Census files with split FIPS (1 + 1 → "01001")

flags:`)
		fs.PrintDefaults()
	}
	var dbf dbFlags
	dbf.register(fs, e.getenv)
	level := fs.String("level", "", "region level, e.g. county (required)")
	code := fs.String("code-col", "", "code column, or parts joined by + with optional :width zero-padding (required)")
	cols := fs.String("columns", "", "comma-separated numeric columns to merge, COLUMN or COLUMN=KEY (e.g. popestimate2019=population; default: every column numeric in the first row)")
	rejectsPath := fs.String("rejects", "", "where to write rejected rows (default: FILE.rejects.csv beside the input)")
	file, err := parseWithFile(fs, e.args)
	if err != nil {
		return 2
	}
	if file == "" || *level == "" || *code == "" {
		fs.Usage()
		return 2
	}
	opt := olap.RegionAttributesOptions{Code: *code}
	if *cols != "" {
		for _, c := range strings.Split(*cols, ",") {
			opt.Columns = append(opt.Columns, strings.TrimSpace(c))
		}
	}
	in, _, closeIn, err := openInput(file, e.stdin)
	if err != nil {
		return fail(e, err)
	}
	defer closeIn()
	rf, err := newRejectsFile(file, rejectsPath)
	if err != nil {
		return fail(e, err)
	}
	defer rf.Close()
	db, closeDB, err := dbf.open(ctx, e)
	if err != nil {
		return fail(e, err)
	}
	defer closeDB()
	rejects := csv.NewWriter(&headerFirst{w: rf, header: "_row,_reason\n"})
	res, err := olap.ImportRegionAttributes(ctx, db, *level, in, opt, rejects)
	rejects.Flush()
	if cerr := rf.Close(); err == nil && cerr != nil {
		err = geo.Errorf(geo.EUNAVAILABLE, "cannot write %s: %v", *rejectsPath, cerr)
	}
	if err != nil {
		return fail(e, err)
	}
	fmt.Fprintf(e.stdout, "gcrm: %s: merged %s into %d regions of level %s, %d rows rejected\n",
		file, strings.Join(res.Columns, ", "), res.Updated, res.Level, res.Rejected)
	if len(res.Skipped) > 0 {
		fmt.Fprintf(e.stdout, "gcrm: text columns left out: %s\n", strings.Join(res.Skipped, ", "))
	}
	if res.Rejected > 0 {
		fmt.Fprintf(e.stderr, "gcrm: rejected rows, with _row and _reason, are in %s\n", *rejectsPath)
		if res.Updated == 0 {
			return 1
		}
		return 2
	}
	return 0
}
