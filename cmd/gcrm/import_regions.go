package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/olap"
)

func init() {
	registerImport("regions", "region boundaries (states, counties, any polygons) from GeoJSON or TopoJSON", importRegionsCmd)
}

// importRegionsCmd runs 'gcrm import regions FILE --level NAME [--code-prop P] [--name-prop P]
// [--object NAME]': every feature of FILE ("-" for stdin) is upserted by (level, code) in one
// transaction; repaired geometries and polygons split at the antimeridian are listed.
func importRegionsCmd(ctx context.Context, e env) int {
	fs := flag.NewFlagSet("import regions", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: gcrm import regions FILE --level NAME [flags]\n\nFILE is GeoJSON (FeatureCollection) or TopoJSON; - reads stdin.\n\nflags:")
		fs.PrintDefaults()
	}
	var dbf dbFlags
	dbf.register(fs, e.getenv)
	var opt olap.RegionReadOptions
	fs.StringVar(&opt.Level, "level", "", "region level to import into, e.g. state, county, zip (required)")
	fs.StringVar(&opt.CodeProp, "code-prop", "id", "feature property holding each region's code (falls back to the feature id)")
	fs.StringVar(&opt.NameProp, "name-prop", "name", "feature property holding each region's name")
	fs.StringVar(&opt.Object, "object", "", "TopoJSON object to read (default: the only one, or the one named like the level)")
	var iopt olap.RegionImportOptions
	fs.BoolVar(&iopt.SkipUnrepairable, "skip-invalid", false, "leave out (and list) regions whose geometry has no area even after repair, instead of refusing the file")
	file, err := parseWithFile(fs, e.args)
	if err != nil {
		return 2
	}
	if file == "" || opt.Level == "" {
		fs.Usage()
		return 2
	}
	if err := olap.ValidRegionLevel(opt.Level); err != nil {
		return fail(e, err)
	}
	data, err := readInput(file, e.stdin)
	if err != nil {
		return fail(e, err)
	}
	feats, err := olap.ReadRegionFeatures(data, opt)
	if err != nil {
		return fail(e, err)
	}
	db, closeDB, err := dbf.open(ctx, e)
	if err != nil {
		return fail(e, err)
	}
	defer closeDB()
	res, err := olap.NewRegionStore(db).ImportWith(ctx, opt.Level, feats, iopt)
	if err != nil {
		return fail(e, err)
	}
	printRegionImport(e.stdout, res)
	// Customers' stored regions of this level (the cube's region dimension) follow the new
	// boundaries.
	st, err := olap.AssignLevel(ctx, db, opt.Level)
	if err != nil {
		return fail(e, err)
	}
	if st.Customers > 0 {
		fmt.Fprintf(e.stdout, "assigned %d customers to %s regions (%d outside every one)\n", st.Assigned, opt.Level, st.Unassigned)
	}
	return 0
}

func printRegionImport(w io.Writer, res *olap.RegionImportResult) {
	fmt.Fprintf(w, "imported %d regions of level %s: %d new, %d updated\n", res.Inserted+res.Updated, res.Level, res.Inserted, res.Updated)
	for _, r := range res.Repaired {
		fmt.Fprintf(w, "  repaired %s: %s\n", r.Feature, r.Reason)
	}
	for _, r := range res.Skipped {
		fmt.Fprintf(w, "  skipped %s: %s\n", r.Feature, r.Reason)
	}
	if len(res.Antimeridian) > 0 {
		fmt.Fprintf(w, "  split at the antimeridian: %s\n", strings.Join(res.Antimeridian, ", "))
	}
}

// parseWithFile parses flags that may come before or after one positional FILE argument.
func parseWithFile(fs *flag.FlagSet, args []string) (string, error) {
	var file string
	for {
		if err := fs.Parse(args); err != nil {
			return "", err
		}
		if fs.NArg() == 0 {
			return file, nil
		}
		if file != "" {
			fmt.Fprintf(fs.Output(), "gcrm: unexpected argument %q\n", fs.Arg(0))
			return "", flag.ErrHelp
		}
		file, args = fs.Arg(0), fs.Args()[1:]
	}
}

func readInput(file string, stdin io.Reader) ([]byte, error) {
	if file == "-" {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, geo.Errorf(geo.EINVALID, "cannot read stdin: %v", err)
		}
		return b, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, geo.Errorf(geo.EINVALID, "cannot read %s: %v", file, err)
	}
	return b, nil
}
