package crm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"
)

// A bulk load builds the new customers table beside the empty one and swaps it in, so its
// index builds can run at the same time on other connections: PostgreSQL 15 builds a GIST
// index on one core (no parallel GIST build) and in the loading transaction every other
// index had to wait for it. Side by side the builds of 1 M rows take 2.4–2.6 s instead of
// 3.0–3.4 s (the GIST alone 1.8 s; docs/performance.md). The steps (the loading transaction L holds customers locked in EXCLUSIVE
// mode throughout: readers go on seeing the empty table, writers wait):
//
//  1. connection A creates customers_import shaped like customers (LIKE … INCLUDING ALL,
//     without indexes; same owner, grants, storage options), copies the rows into it
//     frozen and commits. Created in that transaction it takes no WAL with
//     wal_level=minimal (the files are synced at commit), as the truncated table did;
//     frozen, the index builds that read it next need not set a hint bit on every row
//     (and so write every page again): 1 M rows, six rounds each, the builds took 2.4 s
//     against 2.6 s and the server 6.5 s of CPU against 6.85 s (medians).
//  2. two connections build every index customers has, under temporary names, one
//     index at a time each (the GIST first);
//  3. L takes ACCESS EXCLUSIVE, moves the id sequence to the new table, drops the empty
//     customers, renames customers_import to it and its indexes to theirs (constraint
//     indexes through ADD CONSTRAINT … USING INDEX), creates the triggers again and fires
//     the statement triggers an INSERT would have, and commits.
//
// A failure anywhere drops customers_import and rolls L back: customers is as it was.
// Readers never see customers_import under the name customers before L commits, and
// after it with every index. Only tables the swap can carry over whole are swapped (see
// swapUnsafe); any other goes the in-transaction way (prepareBulk).
//
// The rows' txid is A's transaction id (the column default, as in the other path). L takes
// its own id before A starts, so until L commits every snapshot's xmin is at most L's id,
// below A's: a follower of the change feed that polled before the swap (and saw nothing)
// reads every loaded row at its next poll.

// stageName is the table a swap loads; only one bulk load runs at a time (the importer's
// advisory lock), so one name does. A table of this name that a crashed import left
// behind is dropped by the next bulk load (it carries stageComment).
const (
	stageName    = "customers_import"
	stageComment = "gcrm import: a bulk load in progress (dropped if left over)"
)

// swapUnsafe names why customers cannot be swapped, or is NULL: it must be a plain table
// the importing role owns, and everything that depends on it must be something the swap
// rebuilds (its indexes, primary key, unique and check constraints, statement triggers
// without transition tables, column defaults, sequences owned by its columns, its row and
// TOAST types). Views, rules,
// policies, foreign keys, row triggers, inheritance, publications, extended statistics,
// functions taking its row type, column privileges, statistics targets or n_distinct, …
// keep the in-transaction bulk load. (Other column options are not PostgreSQL's: the
// server here marks every column with a pg_attver option of its own.)
const swapUnsafe = `SELECT CASE
	WHEN NOT pg_has_role(c.relowner, 'USAGE') THEN 'not the owner'
	WHEN c.relkind <> 'r' OR c.relpersistence <> 'p' OR c.relispartition OR c.relrowsecurity
		OR c.reltablespace <> 0 OR c.relreplident <> 'd'
		OR c.relam <> (SELECT oid FROM pg_am WHERE amname = 'heap') THEN 'not a plain table'
	WHEN EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = c.oid OR inhparent = c.oid) THEN 'inheritance'
	WHEN EXISTS (SELECT 1 FROM pg_constraint k WHERE k.confrelid = c.oid
		OR k.conrelid = c.oid AND (k.contype NOT IN ('p', 'u', 'c') OR k.condeferrable OR NOT k.convalidated)) THEN 'constraints'
	WHEN EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = c.oid
		AND (tgisinternal OR tgtype & 1 = 1 OR tgenabled <> 'O' OR tgnewtable IS NOT NULL OR tgoldtable IS NOT NULL)) THEN 'row triggers'
	WHEN EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid
		AND (NOT i.indisvalid OR NOT i.indisready OR i.indisclustered OR i.indisreplident
			OR EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = i.indexrelid AND a.attstattarget <> -1))) THEN 'index state'
	WHEN EXISTS (SELECT 1 FROM pg_description WHERE objoid IN (SELECT indexrelid FROM pg_index WHERE indrelid = c.oid
		UNION ALL SELECT oid FROM pg_constraint WHERE conrelid = c.oid AND contype IN ('p', 'u')
		UNION ALL SELECT oid FROM pg_trigger WHERE tgrelid = c.oid)) THEN 'comments on indexes, keys or triggers'
	WHEN EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = c.oid AND attnum > 0 AND NOT attisdropped
		AND (attacl IS NOT NULL OR attfdwoptions IS NOT NULL OR attstattarget <> -1
			OR EXISTS (SELECT 1 FROM unnest(attoptions) o WHERE o LIKE 'n\_distinct%'))) THEN 'column settings'
	WHEN EXISTS (SELECT 1 FROM pg_class t WHERE t.oid = c.reltoastrelid AND t.reloptions IS NOT NULL) THEN 'toast options'
	WHEN EXISTS (SELECT 1 FROM pg_seclabel WHERE objoid = c.oid AND classoid = 'pg_class'::regclass) THEN 'security labels'
	WHEN EXISTS (SELECT 1 FROM pg_depend d WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = c.oid
		AND NOT (d.classid IN ('pg_constraint'::regclass, 'pg_trigger'::regclass, 'pg_attrdef'::regclass, 'pg_type'::regclass)
			OR d.classid = 'pg_class'::regclass AND EXISTS (SELECT 1 FROM pg_class x WHERE x.oid = d.objid
				AND (x.relkind IN ('i', 't') OR x.relkind = 'S' AND d.deptype = 'a')))) THEN 'dependent objects'
	WHEN EXISTS (SELECT 1 FROM pg_depend d WHERE d.refclassid = 'pg_type'::regclass AND d.refobjid = c.reltype
		AND NOT (d.classid = 'pg_class'::regclass AND d.objid = c.oid) AND d.classid <> 'pg_type'::regclass) THEN 'row type in use'
	END
	FROM pg_class c WHERE c.oid = 'customers'::regclass`

// bulkSwap is what a swap needs to know of customers, read under L's lock (which keeps
// every other DDL on customers out until the swap).
type bulkSwap struct {
	table, stage string // schema-qualified, quoted
	schema       string // quoted
	reloptions   string // "WITH (…)" or ""
	owner        string // quoted role name
	comment      *string
	triggers     []string // CREATE TRIGGER statements
	sequences    []string // ALTER SEQUENCE … OWNED BY customers_import: those owned by a column of customers
	indexes      []swapIndex
}

type swapIndex struct {
	name     string  // quoted
	con      *string // the constraint it backs (quoted), if any
	primary  bool
	unique   bool
	usingDef string // the definition from USING on
	temp     string // quoted name while on customers_import
}

// planSwap reads what the swap carries over, or returns nil when customers cannot be
// swapped (swapUnsafe).
func (im *importer) planSwap(tx pgx.Tx) (*bulkSwap, error) {
	ctx := im.ctx
	var unsafe *string
	if err := tx.QueryRow(ctx, swapUnsafe).Scan(&unsafe); err != nil || unsafe != nil {
		return nil, err
	}
	sw := &bulkSwap{}
	var opts []string
	if err := tx.QueryRow(ctx, `SELECT quote_ident(n.nspname), quote_ident(n.nspname) || '.' || quote_ident(c.relname),
			quote_ident(n.nspname) || '.' || quote_ident($1), coalesce(c.reloptions, '{}'), quote_ident(pg_get_userbyid(c.relowner)),
			obj_description(c.oid, 'pg_class')
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = 'customers'::regclass`, stageName).Scan(
		&sw.schema, &sw.table, &sw.stage, &opts, &sw.owner, &sw.comment); err != nil {
		return nil, err
	}
	if len(opts) > 0 {
		sw.reloptions = " WITH (" + strings.Join(opts, ", ") + ")"
	}
	rows, err := tx.Query(ctx, `SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = 'customers'::regclass ORDER BY tgname`)
	if err != nil {
		return nil, err
	}
	if sw.triggers, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return nil, err
	}
	rows, err = tx.Query(ctx, `SELECT format('ALTER SEQUENCE %s OWNED BY %s.%I', d.objid::regclass, $1::text, a.attname)
		FROM pg_depend d JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
		WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
		  AND d.refobjid = 'customers'::regclass AND d.deptype = 'a'
		  AND EXISTS (SELECT 1 FROM pg_class s WHERE s.oid = d.objid AND s.relkind = 'S')`, sw.stage)
	if err != nil {
		return nil, err
	}
	if sw.sequences, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return nil, err
	}
	// pg_get_indexdef says "CREATE [UNIQUE] INDEX name ON schema.table USING …"; only the
	// part from USING on is kept, for the same index on customers_import. An index whose
	// definition does not start as expected keeps the in-transaction load.
	rows, err = tx.Query(ctx, `SELECT quote_ident(ic.relname), quote_ident(con.conname), i.indisprimary, i.indisunique,
			CASE WHEN starts_with(d.def, d.prefix) THEN substr(d.def, length(d.prefix) + 1) END
		FROM pg_index i
		JOIN pg_class ic ON ic.oid = i.indexrelid
		JOIN pg_am am ON am.oid = ic.relam
		LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid,
		LATERAL (SELECT pg_get_indexdef(i.indexrelid) AS def,
			format('CREATE %sINDEX %s ON %s USING ', CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END,
				quote_ident(ic.relname), $1::text) AS prefix) d
		WHERE i.indrelid = 'customers'::regclass
		ORDER BY am.amname <> 'gist', am.amname = 'brin', ic.relname`, sw.table)
	if err != nil {
		return nil, err
	}
	sw.indexes, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (swapIndex, error) {
		var x swapIndex
		var def *string
		err := r.Scan(&x.name, &x.con, &x.primary, &x.unique, &def)
		if def != nil {
			x.usingDef = *def
		}
		return x, err
	})
	if err != nil {
		return nil, err
	}
	for i := range sw.indexes {
		x := &sw.indexes[i]
		if x.usingDef == "" {
			return nil, nil
		}
		x.temp = pgx.Identifier{stageName + "_" + strings.Trim(x.name, `"`)}.Sanitize()
	}
	return sw, nil
}

// errSwapRefused: customers_import could not be made like customers (default privileges
// granted more, say); the in-transaction load is used instead.
var errSwapRefused = errors.New("crm: customers_import differs from customers")

// createStage creates customers_import in stx (connection A) and checks that it matches
// customers in everything but its rows and indexes.
func (sw *bulkSwap) createStage(ctx context.Context, stx pgx.Tx) error {
	var leftover bool
	if err := stx.QueryRow(ctx, `SELECT coalesce(obj_description(to_regclass($1), 'pg_class') = $2, false)`, sw.stage, stageComment).Scan(&leftover); err != nil {
		return err
	}
	if leftover {
		if _, err := stx.Exec(ctx, `DROP TABLE `+sw.stage); err != nil {
			return err
		}
	}
	// The owner and the grants of customers, then the check that nothing else differs:
	// the columns (name, type, collation, NOT NULL, default, storage, compression), the
	// check constraints, the grants and the storage options.
	if _, err := stx.Exec(ctx, `CREATE TABLE `+sw.stage+` (LIKE `+sw.table+` INCLUDING ALL EXCLUDING INDEXES EXCLUDING STATISTICS)`+sw.reloptions+`;
		COMMENT ON TABLE `+sw.stage+` IS `+quoteLiteral(stageComment)+`;
		ALTER TABLE `+sw.stage+` OWNER TO `+sw.owner); err != nil {
		return err
	}
	var grants string
	if err := stx.QueryRow(ctx, `SELECT coalesce(string_agg(format('GRANT %s ON %s TO %s%s', a.privilege_type, $1::text,
			CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
			CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END), '; '), '')
		FROM pg_class c, aclexplode(c.relacl) a WHERE c.oid = 'customers'::regclass AND a.grantee <> c.relowner`, sw.stage).Scan(&grants); err != nil {
		return err
	}
	if grants != "" {
		if _, err := stx.Exec(ctx, grants); err != nil {
			return err
		}
	}
	var same bool
	if err := stx.QueryRow(ctx, `WITH t (oid) AS (VALUES ('customers'::regclass), ($1::text::regclass)),
		cols AS (SELECT t.oid, string_agg(concat_ws(' ', quote_ident(a.attname), format_type(a.atttypid, a.atttypmod),
				a.attcollation, a.attnotnull, a.attstorage, a.attcompression, a.attidentity, a.attgenerated,
				pg_get_expr(ad.adbin, ad.adrelid)), ', ' ORDER BY a.attnum) AS d
			FROM t JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
			LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum GROUP BY t.oid),
		checks AS (SELECT t.oid, string_agg(pg_get_constraintdef(k.oid), ', ' ORDER BY pg_get_constraintdef(k.oid)) AS d
			FROM t LEFT JOIN pg_constraint k ON k.conrelid = t.oid AND k.contype = 'c' GROUP BY t.oid),
		rel AS (SELECT t.oid, concat_ws(' ', c.relowner, c.reloptions,
				(SELECT array_agg(x::text ORDER BY x::text) FROM unnest(c.relacl) x)) AS d
			FROM t JOIN pg_class c ON c.oid = t.oid)
		SELECT count(DISTINCT (cols.d, checks.d, rel.d)) = 1
		FROM cols JOIN checks USING (oid) JOIN rel USING (oid)`, sw.stage).Scan(&same); err != nil {
		return err
	}
	if !same {
		return errSwapRefused
	}
	return nil
}

// buildIndexes builds every index of customers on customers_import, two at a time on
// connections of their own, each in its own transaction (the rows are committed). The
// btree builds get no parallel workers: the GIST build has one core to itself, the btrees
// one after another the other, rather than workers of theirs taking turns with the GIST on
// two cores (1 M rows, six rounds each: the builds 2.5 s against 2.75 s with two workers,
// medians).
func (sw *bulkSwap) buildIndexes(ctx context.Context, im *importer) error {
	g, gctx := errgroup.WithContext(ctx)
	next := make(chan swapIndex)
	for range 2 {
		g.Go(func() error {
			conn, err := im.connect(gctx)
			if err != nil {
				return err
			}
			defer conn.Close(context.WithoutCancel(gctx))
			if _, err := conn.Exec(gctx, `SET maintenance_work_mem = '512MB'; SET max_parallel_maintenance_workers = 0`); err != nil {
				return err
			}
			for x := range next {
				// One implicit transaction: committed when the build ends.
				if _, err := conn.Exec(gctx, `CREATE `+x.uniqueWord()+`INDEX `+x.temp+` ON `+sw.stage+` USING `+x.usingDef); err != nil {
					return err
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(next)
		for _, x := range sw.indexes {
			select {
			case next <- x:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	return g.Wait()
}

// swapIn makes customers_import the customers table, in L.
func (sw *bulkSwap) swapIn(ctx context.Context, tx pgx.Tx) error {
	sqls := []string{`LOCK TABLE ` + sw.table + ` IN ACCESS EXCLUSIVE MODE`}
	sqls = append(sqls, sw.sequences...)
	sqls = append(sqls, `DROP TABLE `+sw.table, `ALTER TABLE `+sw.stage+` RENAME TO `+strings.TrimPrefix(sw.table, sw.schema+"."))
	var cons []string
	for _, x := range sw.indexes {
		switch {
		case x.con == nil:
			sqls = append(sqls, `ALTER INDEX `+sw.schema+`.`+x.temp+` RENAME TO `+x.name)
		case x.primary:
			cons = append(cons, `ADD CONSTRAINT `+*x.con+` PRIMARY KEY USING INDEX `+x.temp)
		default:
			cons = append(cons, `ADD CONSTRAINT `+*x.con+` UNIQUE USING INDEX `+x.temp)
		}
	}
	if len(cons) > 0 {
		sqls = append(sqls, `ALTER TABLE `+sw.table+` `+strings.Join(cons, ", "))
	}
	comment := "NULL"
	if sw.comment != nil {
		comment = quoteLiteral(*sw.comment)
	}
	sqls = append(sqls, `COMMENT ON TABLE `+sw.table+` IS `+comment)
	sqls = append(sqls, sw.triggers...)
	// COPY into customers fired its statement triggers (customers_notify: followers of the
	// feed hear of the load when L commits); an INSERT of no rows fires them the same.
	sqls = append(sqls, `INSERT INTO `+sw.table+` SELECT * FROM `+sw.table+` WHERE false`)
	for _, s := range sqls {
		if _, err := tx.Exec(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// dropStage removes customers_import after a failed swap, on a connection of its own
// (L may be aborted, ctx cancelled).
func (sw *bulkSwap) dropStage(im *importer) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(im.ctx), 30*time.Second)
	defer cancel()
	conn, err := im.connect(ctx)
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	_, _ = conn.Exec(ctx, `DROP TABLE IF EXISTS `+sw.stage)
}

// connect opens a connection outside the pool for a swap's other transactions: taken
// from the pool they could wait for ever behind requests that hold the pool's other
// connections while they wait for L's lock on customers.
func (im *importer) connect(ctx context.Context) (*pgx.Conn, error) {
	return pgx.ConnectConfig(ctx, im.db.Pool.Config().ConnConfig.Copy())
}

func (x swapIndex) uniqueWord() string {
	if x.unique {
		return "UNIQUE "
	}
	return ""
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// runSwap is the bulk load by swap (see above), after prepareBulk: it returns
// errSwapRefused, before anything is read from the file, when customers_import turns out
// different from customers.
func (im *importer) runSwap(tx pgx.Tx) (err error) {
	ctx, sw := im.ctx, im.swap
	conn, err := im.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	stx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer stx.Rollback(context.WithoutCancel(ctx)) // a no-op once committed
	// Nothing is read from the file until customers_import stands: any error until then
	// (customers_import differs, or the role cannot give it the owner of customers, say)
	// leaves the load to the other way, with L as it was.
	undo := ""
	err = sw.createStage(ctx, stx)
	if err == nil {
		undo, err = im.setGeocodeDefaults(stx, sw.stage)
	}
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return fmt.Errorf("%w: %v", errSwapRefused, err)
	}
	// backend_flush_after: see prepareInPlace (the commit syncs the table's files).
	if _, err := stx.Exec(ctx, `SET LOCAL backend_flush_after = '1MB'`); err != nil {
		return err
	}
	cols := im.directColumns()
	im.tupleFields = len(cols)
	t := time.Now()
	// FREEZE: see the top of this file. The table was created in this transaction, as
	// COPY FREEZE requires.
	if err := im.copyRows(stx, `COPY `+sw.stage+` (`+strings.Join(cols, ", ")+`) FROM STDIN (FORMAT binary, FREEZE)`); err != nil {
		return err
	}
	t = im.res.phase("read+copy", t)
	if t, err = im.endLoad(stx, tx, t); err != nil {
		return err
	}
	// The column defaults back; statistics of the feed's columns (refreshFeed says why).
	if _, err := stx.Exec(ctx, undo+`; SET LOCAL default_statistics_target = 10; ANALYZE `+sw.stage+` (rev, txid)`); err != nil {
		return err
	}
	if err := stx.Commit(ctx); err != nil {
		return err
	}
	t = im.res.phase("commit", t)
	defer func() {
		if err != nil {
			sw.dropStage(im)
		}
	}()
	if err := sw.buildIndexes(ctx, im); err != nil {
		return err
	}
	t = im.res.phase("indexes", t)
	if err := sw.swapIn(ctx, tx); err != nil {
		return err
	}
	im.res.phase("swap", t)
	return nil
}
