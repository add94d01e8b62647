package olap

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/postgis"
)

// Region attributes: numeric values per region (population, households, income, …) read
// from a CSV file keyed by region code and merged into regions.attributes, where the cube
// finds them as region-level measures.

// RegionAttributesOptions say how to read a region attributes file.
type RegionAttributesOptions struct {
	// Code names the column holding the region code, or builds the code from several
	// columns joined with '+', each optionally zero-padded to a width: "STATE:2+COUNTY:3"
	// turns STATE=1, COUNTY=1 into "01001" (Census files that split the county FIPS code).
	// A single column may have a width too ("fips:5" restores leading zeros a spreadsheet
	// dropped).
	Code string
	// Columns are the numeric columns to merge, each optionally renamed as "COLUMN=KEY"
	// (popestimate2019=population stores the column under the key the cube's penetration
	// measure reads); nil takes every other column whose value in the first data row is a
	// number (or blank), under its own name, and skips the rest as text.
	Columns []string
}

// RegionAttributes is what ReadRegionAttributes found: the values by region code, in file
// order, and the columns merged and skipped.
type RegionAttributes struct {
	Codes   []string
	Values  []map[string]*float64 // nil value: missing in the file (stored as JSON null)
	Rows    []int64               // the row of each code (header = row 1)
	Columns []string              // merged columns
	Skipped []string              // text columns left out
}

// RegionAttributeReject is a row that was not used and why.
type RegionAttributeReject struct {
	Row    int64
	Reason string
}

type codePart struct {
	col   int
	name  string
	width int
}

// ReadRegionAttributes reads an attributes CSV file. Rows with an empty or repeated code, a
// wrong number of fields or a value that is not a number are rejected (reading goes on).
// Returns EINVALID for an unusable header (no such code column, no numeric column).
func ReadRegionAttributes(r io.Reader, opt RegionAttributesOptions) (*RegionAttributes, []RegionAttributeReject, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, nil, geo.Errorf(geo.EINVALID, "the attributes file is empty: it needs a header row")
	}
	if err != nil {
		return nil, nil, geo.Errorf(geo.EINVALID, "the attributes file's header is not valid CSV: %v", err)
	}
	header = append([]string(nil), header...)
	index := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		header[i] = h
		if _, dup := index[strings.ToLower(h)]; !dup {
			index[strings.ToLower(h)] = i
		}
	}
	if strings.TrimSpace(opt.Code) == "" {
		return nil, nil, geo.Errorf(geo.EINVALID, "name the region code column (--code-col), e.g. fips or STATE:2+COUNTY:3")
	}
	var parts []codePart
	isCode := map[int]bool{}
	for _, p := range strings.Split(opt.Code, "+") {
		name, width, hasWidth := strings.Cut(strings.TrimSpace(p), ":")
		cp := codePart{name: strings.TrimSpace(name)}
		if hasWidth {
			w, err := strconv.Atoi(width)
			if err != nil || w < 1 || w > 20 {
				return nil, nil, geo.Errorf(geo.EINVALID, "code part %q: the width after ':' must be a number 1..20", p)
			}
			cp.width = w
		}
		i, ok := index[strings.ToLower(cp.name)]
		if !ok {
			return nil, nil, geo.Errorf(geo.EINVALID, "the code column %q is not in the header (%s)", cp.name, strings.Join(header, ", "))
		}
		cp.col = i
		isCode[i] = true
		parts = append(parts, cp)
	}
	out := &RegionAttributes{}
	var cols []int
	keyOf := map[int]string{} // attribute key of each merged column
	explicit := opt.Columns != nil
	for _, c := range opt.Columns {
		name, key, renamed := strings.Cut(c, "=")
		name, key = strings.TrimSpace(name), strings.TrimSpace(key)
		i, ok := index[strings.ToLower(name)]
		if !ok {
			return nil, nil, geo.Errorf(geo.EINVALID, "column %q is not in the header (%s)", name, strings.Join(header, ", "))
		}
		if !renamed {
			key = header[i]
		}
		if key == "" {
			return nil, nil, geo.Errorf(geo.EINVALID, "column %q: the key after '=' is empty", name)
		}
		cols = append(cols, i)
		keyOf[i] = key
	}
	var rejects []RegionAttributeReject
	seen := map[string]int64{}
	row := int64(1)
	first := true
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		row++
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			rejects = append(rejects, RegionAttributeReject{row, fmt.Sprintf("not valid CSV: %v", pe.Err)})
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		if len(rec) != len(header) {
			rejects = append(rejects, RegionAttributeReject{row, fmt.Sprintf("the row has %d fields, the header %d", len(rec), len(header))})
			continue
		}
		if first && !explicit {
			for i := range header {
				if isCode[i] || header[i] == "" {
					continue
				}
				if _, missing, ok := parseNumber(rec[i]); ok || missing {
					cols = append(cols, i)
					keyOf[i] = header[i]
				} else {
					out.Skipped = append(out.Skipped, header[i])
				}
			}
		}
		if first {
			first = false
			if len(cols) == 0 {
				return nil, nil, geo.Errorf(geo.EINVALID, "the file has no numeric column to merge (text columns: %s)", strings.Join(out.Skipped, ", "))
			}
			for _, i := range cols {
				out.Columns = append(out.Columns, keyOf[i])
			}
		}
		var code strings.Builder
		bad := ""
		for _, p := range parts {
			v := strings.TrimSpace(rec[p.col])
			if v == "" {
				bad = fmt.Sprintf("the code column %q is empty", p.name)
				break
			}
			if p.width > 0 {
				if _, err := strconv.ParseUint(v, 10, 64); err != nil {
					bad = fmt.Sprintf("code part %q = %q is not a whole number to pad to %d digits", p.name, v, p.width)
					break
				}
				v = strings.Repeat("0", max(0, p.width-len(v))) + v
			}
			code.WriteString(v)
		}
		if bad != "" {
			rejects = append(rejects, RegionAttributeReject{row, bad})
			continue
		}
		c := code.String()
		if prev, dup := seen[c]; dup {
			rejects = append(rejects, RegionAttributeReject{row, fmt.Sprintf("region code %q was already given in row %d", c, prev)})
			continue
		}
		vals := make(map[string]*float64, len(cols))
		for _, i := range cols {
			f, missing, ok := parseNumber(rec[i])
			if !ok && !missing {
				bad = fmt.Sprintf("column %q: %q is not a number", header[i], strings.TrimSpace(rec[i]))
				break
			}
			if missing {
				vals[keyOf[i]] = nil
			} else {
				vals[keyOf[i]] = &f
			}
		}
		if bad != "" {
			rejects = append(rejects, RegionAttributeReject{row, bad})
			continue
		}
		seen[c] = row
		out.Codes = append(out.Codes, c)
		out.Values = append(out.Values, vals)
		out.Rows = append(out.Rows, row)
	}
	if first {
		return nil, rejects, geo.Errorf(geo.EINVALID, "the attributes file has a header but no rows")
	}
	return out, rejects, nil
}

// parseNumber reads a finite number ("1234", "12.5", "-3", "1e6"); missing is true for a
// blank, "NA", "N/A", "null" or "-".
func parseNumber(s string) (v float64, missing, ok bool) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "", "na", "n/a", "null", "-":
		return 0, true, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false, false
	}
	return f, false, true
}

// RegionAttributesResult says what ImportRegionAttributes did.
type RegionAttributesResult struct {
	Level    string   `json:"level"`
	Updated  int      `json:"updated"`  // regions whose attributes were merged
	Rejected int      `json:"rejected"` // rows written to the rejects file
	Columns  []string `json:"columns"`  // merged columns
	Skipped  []string `json:"skipped"`  // text columns left out
}

// ImportRegionAttributes reads r and merges its numeric columns into the attributes of the
// regions of level, by code, in one transaction (a value replaces the same key's old value;
// other keys stay). Regions whose attributes would not change are left alone (no new rev,
// so followers do not reload), and Updated counts only the changed ones. Rows naming a code the level does not have, and the rows
// ReadRegionAttributes rejects, are written to rejects as "row,reason". Returns ENOTFOUND
// when the level has no regions and EINVALID for an unusable header.
func ImportRegionAttributes(ctx context.Context, db *postgis.DB, level string, r io.Reader, opt RegionAttributesOptions, rejects *csv.Writer) (*RegionAttributesResult, error) {
	attrs, rej, err := ReadRegionAttributes(r, opt)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	rows, err := db.Pool.Query(ctx, `SELECT code FROM regions WHERE level = $1`, level)
	if err != nil {
		return nil, postgis.Wrap(err)
	}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			rows.Close()
			return nil, postgis.Wrap(err)
		}
		known[c] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, postgis.Wrap(err)
	}
	if len(known) == 0 {
		return nil, geo.Errorf(geo.ENOTFOUND, "there are no regions of level %q: import them first with 'gcrm import regions'", level)
	}
	res := &RegionAttributesResult{Level: level, Columns: attrs.Columns, Skipped: attrs.Skipped}
	var codes []string
	var values []string
	for i, c := range attrs.Codes {
		if !known[c] {
			rej = append(rej, RegionAttributeReject{attrs.Rows[i], fmt.Sprintf("region code %q of level %s is not known: import its boundary first, or check the code (county codes are 5-digit FIPS such as 01001)", c, level)})
			continue
		}
		b, err := json.Marshal(attrs.Values[i])
		if err != nil {
			return nil, err
		}
		codes, values = append(codes, c), append(values, string(b))
	}
	sort.Slice(rej, func(i, j int) bool { return rej[i].Row < rej[j].Row })
	for _, x := range rej {
		if rejects != nil {
			_ = rejects.Write([]string{strconv.FormatInt(x.Row, 10), x.Reason})
		}
	}
	res.Rejected = len(rej)
	if len(codes) == 0 {
		return res, nil
	}
	const q = `UPDATE regions r SET attributes = r.attributes || v.attrs, rev = nextval('region_rev'), updated_at = now()
		FROM unnest($2::text[], $3::jsonb[]) AS v(code, attrs)
		WHERE r.level = $1 AND r.code = v.code AND r.attributes IS DISTINCT FROM r.attributes || v.attrs`
	tag, err := db.Pool.Exec(ctx, q, level, codes, values)
	if err != nil {
		return nil, postgis.Wrap(err)
	}
	res.Updated = int(tag.RowsAffected())
	return res, nil
}
