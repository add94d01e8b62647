package olap

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// CubeResult is the answer to a query: Columns are the by dimensions then the measures,
// and it has Len rows, sorted by their dimension values. A row's values are read with
// AppendRow (typed, nothing boxed or formatted: what the JSON and CSV writers and the
// hexagon tiles read) or all at once with Rows.
//
// The cube answers with its groups as they are — the grouper's keys and sums, in row
// order — and a row's values are computed when read: formatting a roll-up of 300,000 rows
// into interface values took as long as grouping it, and the writers then only formatted
// those values again.
type CubeResult struct {
	Columns []string
	Source  string // the cuboid read, "points" (point columns) or "sql"
	Read    int    // cells (or points) read
	rows    [][]any
	mem     *rowMem
	grp     *resultGroups // the groups read, until Rows makes the rows
}

// NewCubeResult returns a result holding rows as they are (values as Rows describes).
func NewCubeResult(columns []string, rows [][]any, source string) *CubeResult {
	return &CubeResult{Columns: columns, rows: rows, Source: source}
}

// resultGroups are the groups of a cube answer, read by row.
type resultGroups struct {
	g        *grouper
	order    []int32     // the group of each row
	values   [][]string  // per by dimension held as codes: the text of each code
	dimKinds []CubeKind  // per by dimension: CubeCell (h3), CubeMonth or CubeText (a code's text)
	ids      []measureID // per measure
	acts     []int64     // per group: its activities (nil unless measured)
	pops     []float64   // per group: its region's population (nil unless penetration is measured)
}

// Len returns the number of rows.
func (r *CubeResult) Len() int {
	if r.grp != nil {
		return len(r.grp.order)
	}
	return len(r.rows)
}

// CubeKind says which field of a CubeValue holds it.
type CubeKind uint8

const (
	CubeNull   CubeKind = iota // no value
	CubeText                   // Text
	CubeInt                    // Int(), a count
	CubeCents                  // Int(), an amount in cents (revenue: written with two decimals)
	CubeFloat                  // Float(), a ratio
	CubeCell                   // Int(), an H3 cell (written in hexadecimal)
	CubeMonth                  // Int(), a month (written 2006-01; FormatMonth)
	CubeNumber                 // Text, a number written as it is (json.Number)
)

// CubeValue is one value of a result row. It is small (32 bytes) and written field by
// field: a bigger one, built and then copied into the row, cost more than the rest of a
// large roll-up (stores forwarded to overlapping loads stall).
type CubeValue struct {
	Text string   // CubeText, CubeNumber
	Num  uint64   // the number of the other kinds (Int, Float)
	Kind CubeKind //
}

// Int returns the count, cents, cell or month of v.
func (v CubeValue) Int() int64 { return int64(v.Num) }

// Cell returns the H3 cell of a value of an h3 dimension: its number, or its text parsed
// when the row was made (Rows, NewCubeResult); ok false for another value.
func (v CubeValue) Cell() (cell uint64, ok bool) {
	switch v.Kind {
	case CubeCell:
		return v.Num, true
	case CubeText:
		c, err := strconv.ParseUint(v.Text, 16, 64)
		return c, err == nil
	}
	return 0, false
}

// Float returns the ratio of v.
func (v CubeValue) Float() float64 { return math.Float64frombits(v.Num) }

// AppendText appends v as text: a count or amount in decimal (amounts with two decimals),
// a ratio as strconv's shortest 'g' form, a cell in hexadecimal, a month as 2006-01,
// nothing for no value.
func (v CubeValue) AppendText(dst []byte) []byte {
	switch v.Kind {
	case CubeText, CubeNumber:
		return append(dst, v.Text...)
	case CubeInt:
		return strconv.AppendInt(dst, v.Int(), 10)
	case CubeCents:
		return appendCents(dst, v.Int())
	case CubeFloat:
		return strconv.AppendFloat(dst, v.Float(), 'g', -1, 64)
	case CubeCell:
		return appendHex(dst, v.Num)
	case CubeMonth:
		return appendMonth(dst, int32(v.Int()))
	}
	return dst
}

// Value returns v as Rows holds it: a string for a dimension (cells and months as text),
// an int64 count, a json.Number revenue (exact, two decimals), a float64 ratio or nil.
func (v CubeValue) Value() any {
	switch v.Kind {
	case CubeText:
		return v.Text
	case CubeInt:
		return v.Int()
	case CubeCents:
		return FormatCents(v.Int())
	case CubeFloat:
		return v.Float()
	case CubeCell, CubeMonth:
		return string(v.AppendText(nil))
	case CubeNumber:
		return json.Number(v.Text)
	}
	return nil
}

// valueOf is the CubeValue of a value as Rows holds it (another type: its fmt text).
func valueOf(x any) CubeValue {
	switch x := x.(type) {
	case nil:
		return CubeValue{}
	case string:
		return CubeValue{Kind: CubeText, Text: x}
	case int64:
		return CubeValue{Kind: CubeInt, Num: uint64(x)}
	case float64:
		return CubeValue{Kind: CubeFloat, Num: math.Float64bits(x)}
	case json.Number:
		return CubeValue{Kind: CubeNumber, Text: string(x)}
	}
	return CubeValue{Kind: CubeText, Text: fmt.Sprint(x)}
}

// AppendRow appends the values of row i (dimensions, then measures) to dst.
func (r *CubeResult) AppendRow(dst []CubeValue, i int) []CubeValue {
	t := r.grp
	if t == nil {
		for _, x := range r.rows[i] {
			dst = append(dst, valueOf(x))
		}
		return dst
	}
	n := len(dst)
	dst = slices.Grow(dst, len(t.dimKinds)+len(t.ids))[:n+len(t.dimKinds)+len(t.ids)]
	row := dst[n:]
	gi := t.order[i]
	gk, a := &t.g.keys[gi], &t.g.accs[gi]
	for j, kind := range t.dimKinds {
		v := &row[j]
		switch v.Kind = kind; kind {
		case CubeCell:
			v.Num, v.Text = gk.cell, ""
		case CubeMonth:
			v.Num, v.Text = uint64(int64(int32(gk.codes[j]))), ""
		default:
			v.Num, v.Text = 0, t.values[j][gk.codes[j]]
		}
	}
	for j, id := range t.ids {
		v := &row[len(t.dimKinds)+j]
		if id < mPenetration { // straight from the sums: a call less per value, a fifth of a row's read
			v.Kind, v.Num = measureOfAcc(id, a, 0)
		} else {
			v.Kind, v.Num = t.apart(id, gi, a)
		}
		v.Text = ""
	}
	return dst
}

// apart returns the kind and number of a measure of group gi that its sums a alone do not
// give: activities (counted apart) and penetration (with its region's population).
func (t *resultGroups) apart(id measureID, gi int32, a *cubeAcc) (CubeKind, uint64) {
	switch {
	case id == mActivities && t.acts != nil:
		return CubeInt, uint64(t.acts[gi])
	case id == mPenetration && t.pops != nil:
		return measureOfAcc(id, a, t.pops[gi])
	}
	return CubeNull, 0
}

// Rows returns the rows: strings for dimensions and, for measures, int64 counts,
// json.Number revenues (exact, two decimals), float64 ratios or nil (no value). They are
// made on the first call (CubeValue.Value of each value, in memory Release gives back).
func (r *CubeResult) Rows() [][]any {
	if r.grp == nil {
		return r.rows
	}
	t := r.grp
	rb := newRowBuilder(len(t.dimKinds), t.ids, len(t.order))
	rows := rb.rows
	var vals []CubeValue
	for i := range t.order {
		vals = r.AppendRow(vals[:0], i)
		row := rb.next()
		for j, v := range vals {
			row[j] = rb.value(v)
		}
		rows = append(rows, row)
	}
	r.rows, r.mem = rows, rb.rowMem
	t.g.release()
	r.grp = nil
	return r.rows
}

// Release gives the memory of r's groups or rows back for later queries: call it when
// done with r (optional; nothing of r, not even a text taken from a row, may be used
// after it).
func (r *CubeResult) Release() {
	if r.grp != nil {
		r.grp.g.release()
		r.grp = nil
	}
	if r.mem != nil {
		r.mem.rows = r.rows[:0]
		rowPool.Put(r.mem)
		r.mem, r.rows = nil, nil
	}
}
