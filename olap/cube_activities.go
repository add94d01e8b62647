package olap

import (
	"slices"

	"github.com/gcrm/gcrm/crm"
)

// The activities measure: the number of activities (visits, calls, e-mails, meetings)
// logged on the records of a row. A record's count comes with its point
// (crm.Point.Activities, customers.activity_count, kept by crm.Store.LogActivity in the
// same transaction as the activity, with a new rev): the engine's writes and change feed
// bring it here like any other change. The cube keeps the records that have activities
// beside its cells (cubeState.acts) and, after grouping, adds each one's count to the row
// of its group, through the same filters, scope, bbox and H3 cell as the records: exact,
// and cheap while activities sit on a minority of the records.

// actRec is what the cube keeps of a record with activities.
type actRec struct {
	n    int32
	x, y uint32 // web-mercator position, as the engine's (bbox)
	cell uint64 // resolution-15 cell (rows finer than CubeRes)
}

// putActs records p's activity count (a record without a location or activities leaves).
func (st *cubeState) putActs(p *crm.Point) {
	if !p.Located || p.Activities <= 0 {
		delete(st.acts, p.ID)
		return
	}
	if st.acts == nil {
		st.acts = map[int64]actRec{}
	}
	x, y := Project(p.Lon, p.Lat)
	st.acts[p.ID] = actRec{n: p.Activities, x: x, y: y, cell: uint64(p.Cell)}
}

// fillActivities sets the activities of t's groups.
func (c *Cube) fillActivities(st *cubeState, q *CubeQuery, m *match, g *grouper, res int, t *resultGroups) {
	if !slices.Contains(t.ids, mActivities) {
		return
	}
	sums := make([]int64, len(g.keys))
	if !m.none {
		var x0, y0, x1, y1 uint32
		if b := q.Bound; b != nil {
			x0, y0 = Project(b.Min[0], b.Max[1])
			x1, y1 = Project(b.Max[0], b.Min[1])
		}
		for id, a := range st.acts {
			slot, ok := st.recs.find(id)
			if !ok {
				continue
			}
			if q.Bound != nil && (a.x < x0 || a.x > x1 || a.y < y0 || a.y > y1) {
				continue
			}
			k := st.recs.key(int(slot), CubeRes)
			if res > CubeRes {
				k.cell = a.cell // as the records' scan: the record's own cell
			}
			if !m.ok(&k) {
				continue
			}
			if i, ok := g.lookup(g.key(&k)); ok {
				sums[i] += int64(a.n)
			}
		}
	}
	t.acts = sums
}
