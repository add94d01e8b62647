package olap

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/jackc/pgx/v5"
)

// SQL returns the GROUP BY over PostGIS that answers q: the reference the cube is tested
// and benchmarked against, and a fallback. The bbox is ST_Intersects (exact; a bare &&
// compares float4 boxes and takes points up to a metre outside). Regions come from customer_regions. H3 parents
// are computed with the same bit operations as the cube (there is no H3 extension here).
// Identifiers come only from q's checked dimensions; values are parameters.
func (q *CubeQuery) SQL() (string, []any) {
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	joins := map[string]string{} // level → alias of regions
	var joinSQL strings.Builder
	region := func(level string) string {
		if a, ok := joins[level]; ok {
			return a
		}
		a := fmt.Sprintf("g%d", len(joins))
		joins[level] = a
		fmt.Fprintf(&joinSQL, "\n LEFT JOIN customer_regions r%s ON r%s.customer_id = c.id AND r%s.level = %s LEFT JOIN regions %s ON %s.id = r%s.region_id",
			a, a, a, arg(level), a, a, a)
		return a
	}
	parent := func(res int) string {
		return fmt.Sprintf("((c.h3 & ~(15::bigint << 52)) | (%d::bigint << 52) | ((1::bigint << %d) - 1))", res, (15-res)*3)
	}
	const month = `to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM')`
	dimExpr := func(d CubeDim) string {
		switch d.Name {
		case "h3":
			return "to_hex(" + parent(d.Res) + ")"
		case "kind", "status", "segment", "owner":
			return "c." + d.Name
		case "month":
			return month
		case "region":
			return "coalesce(" + region(d.Level) + ".code, '')"
		}
		return "''" // not reached: Check refuses unknown dimensions
	}
	var sel, where []string
	for _, d := range q.By {
		sel = append(sel, dimExpr(d))
	}
	where = append(where, "c.geom IS NOT NULL")
	for _, f := range q.Filters {
		if f.Dim.Name == "h3" {
			var or []string
			for _, v := range f.Values {
				cell, err := parseCell(v)
				if err != nil {
					continue
				}
				or = append(or, parent(h3Res(cell))+" = "+arg(int64(cell)))
			}
			if len(or) == 0 {
				or = []string{"false"}
			}
			where = append(where, "("+strings.Join(or, " OR ")+")")
			continue
		}
		where = append(where, dimExpr(f.Dim)+" = ANY("+arg(f.Values)+"::text[])")
	}
	if q.Scope.Restricted {
		owners := q.Scope.Owners
		if owners == nil {
			owners = []string{}
		}
		where = append(where, "c.owner = ANY("+arg(owners)+"::text[])")
	}
	if b := q.Bound; b != nil {
		where = append(where, fmt.Sprintf("ST_Intersects(c.geom, ST_MakeEnvelope(%s, %s, %s, %s, 4326))", arg(b.Min[0]), arg(b.Min[1]), arg(b.Max[0]), arg(b.Max[1])))
	}
	measures := `count(*) FILTER (WHERE c.kind = 'customer'), count(*) FILTER (WHERE c.kind = 'prospect'),
	count(*) FILTER (WHERE c.kind = 'lead'),
	coalesce(sum(round(c.revenue * 100)) FILTER (WHERE c.kind = 'customer'), 0)::bigint,
	coalesce(sum(round(c.revenue * 100)) FILTER (WHERE c.kind = 'prospect'), 0)::bigint,
	coalesce(sum(round(c.revenue * 100)) FILTER (WHERE c.kind = 'lead'), 0)::bigint,
	count(*) FILTER (WHERE c.status = 'won'), count(*) FILTER (WHERE c.status = 'lost')`
	if slices.Contains(q.Measures, "activities") { // from the activities table, not the records' count
		measures += ",\n\tcoalesce(sum(act.n), 0)::bigint"
		joinSQL.WriteString("\n LEFT JOIN LATERAL (SELECT count(*) AS n FROM activities a WHERE a.customer_id = c.id) act ON true")
	}
	var b strings.Builder
	b.WriteString("SELECT ")
	for _, s := range sel {
		b.WriteString(s + ", ")
	}
	b.WriteString(measures + "\nFROM customers c")
	b.WriteString(joinSQL.String())
	b.WriteString("\nWHERE " + strings.Join(where, " AND "))
	if len(sel) > 0 {
		b.WriteString("\nGROUP BY ")
		for i := range sel {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%d", i+1)
		}
	}
	return b.String(), args
}

// QueryCubeSQL answers q with SQL (CubeQuery.SQL) in the same shape as Cube.Query, with
// pops the regions' populations by level and code (for penetration; nil for none).
// Returns EINVALID for a query that fails Check against levels, EUNAVAILABLE when the
// database cannot be read.
func QueryCubeSQL(ctx context.Context, db *postgis.DB, q *CubeQuery, levels []string, pops map[string]map[string]float64) (*CubeResult, error) {
	if err := q.Check(levels); err != nil {
		return nil, err
	}
	sql, args := q.SQL()
	rows, err := db.Pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, postgis.Wrap(err)
	}
	defer rows.Close()
	var keys [][]string
	var accs []cubeAcc
	n := len(q.By)
	dst := make([]any, n+8, n+9)
	acts := map[string]int64{} // activities by row key
	var nacts int64
	if slices.Contains(q.Measures, "activities") {
		dst = append(dst, &nacts)
	}
	for rows.Next() {
		key := make([]string, n)
		var a cubeAcc
		for i := range key {
			dst[i] = &key[i]
		}
		var counts [5]int64
		var cents [3]int64
		dst[n], dst[n+1], dst[n+2] = &counts[0], &counts[1], &counts[2]
		dst[n+3], dst[n+4], dst[n+5] = &cents[0], &cents[1], &cents[2]
		dst[n+6], dst[n+7] = &counts[3], &counts[4]
		if err := rows.Scan(dst...); err != nil {
			return nil, postgis.Wrap(err)
		}
		a.n = [3]int32{int32(counts[0]), int32(counts[1]), int32(counts[2])}
		a.won, a.lost = int32(counts[3]), int32(counts[4])
		a.cents, a.custCents = cents[0]+cents[1]+cents[2], cents[0]
		keys, accs = append(keys, key), append(accs, a)
		acts[strings.Join(key, "\x00")] = nacts
	}
	if err := rows.Err(); err != nil {
		return nil, postgis.Wrap(err)
	}
	r := q.result(keys, accs, pops)
	r.Source, r.Read = "sql", len(keys)
	if j := slices.Index(q.Measures, "activities"); j >= 0 {
		for _, row := range r.rows {
			key := make([]string, n)
			for i := range key {
				key[i] = row[i].(string)
			}
			row[n+j] = acts[strings.Join(key, "\x00")]
		}
	}
	return r, nil
}

// LoadRegionPopulation reads the residents of each region of level from the numeric
// "population" attribute of regions.attributes (regions without one are left out), for
// Cube.SetPopulation. Returns EUNAVAILABLE when the database cannot be read.
func LoadRegionPopulation(ctx context.Context, db *postgis.DB, level string) (map[string]float64, error) {
	rows, err := db.Pool.Query(ctx, `SELECT code, (attributes->>'population')::float8 FROM regions
		WHERE level = $1 AND attributes->>'population' ~ '^[0-9]+(\.[0-9]+)?$'`, level)
	if err != nil {
		return nil, postgis.Wrap(err)
	}
	out := map[string]float64{}
	var code string
	var pop float64
	_, err = pgx.ForEachRow(rows, []any{&code, &pop}, func() error { out[code] = pop; return nil })
	return out, postgis.Wrap(err)
}
