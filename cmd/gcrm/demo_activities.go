package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/jackc/pgx/v5"
)

// addDemoActivities logs visits, calls, e-mails and meetings on the demo's records, once
// (when there are none): one to three on one record in ten (six in ten around Melbourne),
// by the record's owner, within half a year after it was created; each record's activity
// count is set with a new rev, as crm.Store.LogActivity does. Deterministic for a seed.
func addDemoActivities(ctx context.Context, w io.Writer, db *postgis.DB, seed uint64) error {
	var have int64
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM activities`).Scan(&have); err != nil {
		return postgis.Wrap(err)
	}
	if have > 0 {
		fmt.Fprintf(w, "demo: %d activities already logged\n", have)
		return nil
	}
	start := time.Now()
	var n, records int64
	err := db.WithTx(ctx, func(tx pgx.Tx) error {
		exec := func(sql string, args ...any) (int64, error) {
			tag, err := tx.Exec(ctx, sql, args...)
			return tag.RowsAffected(), err
		}
		var err error
		n, err = exec(`INSERT INTO activities (customer_id, kind, occurred_at, owner, note)
			SELECT c.id, (ARRAY['visit', 'call', 'email', 'meeting'])[1 + abs(hashtext(c.id || ':' || g || ':' || $1)) % 4],
				least(now(), c.created_at + (abs(hashtext(c.id || ':t' || g || ':' || $1)) % (180 * 24)) * interval '1 hour'),
				c.owner, (ARRAY['', 'Asked for a quote', 'Follow up next month', 'Met the owner', ''])[1 + abs(hashtext(c.id || ':n' || g)) % 5]
			FROM customers c, generate_series(1, 1 + abs(hashtext(c.id || ':k' || $1)) % 3) AS g
			WHERE c.geom IS NOT NULL AND abs(hashtext(c.id || ':p' || $1)) % 100 < CASE WHEN c.external_id LIKE 'melbourne-%' THEN 60 ELSE 10 END`,
			fmt.Sprint(seed))
		if err != nil {
			return err
		}
		records, err = exec(`UPDATE customers c SET activity_count = a.n, rev = nextval('customer_rev'), txid = txid_current()
			FROM (SELECT customer_id, count(*) AS n FROM activities GROUP BY 1) a WHERE c.id = a.customer_id`)
		return err
	})
	if err != nil {
		return postgis.Wrap(err)
	}
	if n > 0 {
		fmt.Fprintf(w, "demo: logged %d activities on %d records in %s\n", n, records, since(start))
	}
	return nil
}
