package crm

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
)

// FootfallSensor is a pedestrian (or vehicle) counter at a place. Location is nil when only
// its counts are known (a wide file's column with no locations file).
type FootfallSensor struct {
	ID       int64
	Key      string // the provider's sensor id
	Name     string
	Location *orb.Point
	Cell     geo.Cell // at geo.CellResolution
	TZ       string   // IANA zone its local hours are counted in
}

// FootfallStore keeps footfall sensors and their hourly counts in PostGIS.
type FootfallStore struct {
	DB *postgis.DB
}

// FootfallImport says what a footfall import did.
type FootfallImport struct {
	Rows       int64 // data rows read
	Counts     int64 // hourly values stored (missing ones included)
	Missing    int64 // of them missing (stored as NULL)
	Rejected   int64 // rows or cells rejected (written to the rejects file)
	Duplicates int64 // of the rejected, rows repeating a sensor and hour (the later row is kept)
	Sensors    int   // sensors seen in the file
	NoLocation []string
}

// ImportSensors reads a sensor locations file (columns sensor_id, a name such as
// sensor_description, latitude, longitude — Melbourne's sensor_locations.csv has them) and
// upserts the sensors by key with the time zone tz. Bad rows are written to rejects as
// "row,reason". It returns the sensors read and a name → key map for matching wide files.
func (s *FootfallStore) ImportSensors(ctx context.Context, r io.Reader, tz string, rejects *csv.Writer) (n int, names map[string]string, err error) {
	if _, err := time.LoadLocation(tz); err != nil {
		return 0, nil, geo.Errorf(geo.EINVALID, "time zone %q is not known: use an IANA name such as Australia/Melbourne", tz)
	}
	cr := newCSVReader(r)
	header, err := cr.Read()
	if err != nil {
		if err == io.EOF {
			return 0, nil, geo.Errorf(geo.EINVALID, "the sensors file is empty")
		}
		return 0, nil, geo.Errorf(geo.EINVALID, "the sensors file's header is not valid CSV: %v", err)
	}
	col := func(what string) int {
		for _, a := range footfallAliases[what] {
			for i, h := range header {
				if strings.EqualFold(strings.TrimSpace(h), a) {
					return i
				}
			}
		}
		return -1
	}
	ki, ni, lai, loi := col("sensor"), col("name"), col("lat"), col("lon")
	if ki < 0 || lai < 0 || loi < 0 {
		return 0, nil, geo.Errorf(geo.EINVALID, "the sensors file needs columns sensor_id, latitude and longitude (and a name such as sensor_description)")
	}
	names = map[string]string{}
	var sensors []FootfallSensor
	for {
		rec, err := cr.Read()
		var re *csvRowError
		if errors.As(err, &re) {
			writeReject(rejects, re.Row, re.Reason)
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, nil, err
		}
		if len(rec) != len(header) {
			writeReject(rejects, cr.row, fmt.Sprintf("the row has %d fields, the header %d", len(rec), len(header)))
			continue
		}
		key := strings.TrimSpace(rec[ki])
		lat, err1 := strconv.ParseFloat(strings.TrimSpace(rec[lai]), 64)
		lon, err2 := strconv.ParseFloat(strings.TrimSpace(rec[loi]), 64)
		switch {
		case key == "":
			writeReject(rejects, cr.row, "the sensor id is empty")
			continue
		case err1 != nil || err2 != nil || !geo.ValidLonLat(lon, lat):
			writeReject(rejects, cr.row, fmt.Sprintf("location %q,%q is not a latitude,longitude pair", rec[lai], rec[loi]))
			continue
		}
		sn := FootfallSensor{Key: key, TZ: tz}
		if ni >= 0 {
			sn.Name = strings.TrimSpace(rec[ni])
			names[NormalizeSensorName(sn.Name)] = key
		}
		p := orb.Point{lon, lat}
		sn.Location, sn.Cell = &p, geo.CellOf(p, geo.CellResolution)
		sensors = append(sensors, sn)
	}
	for i := range sensors {
		if err := s.upsertSensor(ctx, &sensors[i]); err != nil {
			return 0, nil, err
		}
	}
	return len(sensors), names, nil
}

// upsertSensor inserts or updates the sensor with sn.Key and sets sn.ID. A known location is
// never erased by a row without one.
func (s *FootfallStore) upsertSensor(ctx context.Context, sn *FootfallSensor) error {
	const q = `INSERT INTO footfall_sensors (key, name, geom, h3, tz)
		VALUES ($1, $2, CASE WHEN $3::float8 IS NULL THEN NULL ELSE ST_SetSRID(ST_MakePoint($3, $4), 4326) END, $5, $6)
		ON CONFLICT (key) DO UPDATE SET
			name = CASE WHEN EXCLUDED.name = '' THEN footfall_sensors.name ELSE EXCLUDED.name END,
			geom = coalesce(EXCLUDED.geom, footfall_sensors.geom),
			h3 = coalesce(EXCLUDED.h3, footfall_sensors.h3),
			tz = EXCLUDED.tz
		RETURNING id`
	var lon, lat *float64
	var cell *int64
	if sn.Location != nil {
		x, y, c := sn.Location[0], sn.Location[1], int64(sn.Cell)
		lon, lat, cell = &x, &y, &c
	}
	return postgis.Wrap(s.DB.Pool.QueryRow(ctx, q, sn.Key, sn.Name, lon, lat, cell, sn.TZ).Scan(&sn.ID))
}

func writeReject(w *csv.Writer, row int64, reason string) {
	if w != nil {
		_ = w.Write([]string{strconv.FormatInt(row, 10), reason})
	}
}

// ImportCounts streams a footfall CSV file into footfall_counts: sensors met for the first
// time are created (with the row's location in a long file), every hourly value is stored —
// missing ones as NULL — and a value already stored for the same sensor and hour is
// replaced, so importing a file again changes nothing. Rejected rows and cells go to rejects
// as "row,reason" (rows count records, the header being row 1). New sensors get the zone
// of f.Location.
// Returns EINVALID for an unusable header.
func (s *FootfallStore) ImportCounts(ctx context.Context, r io.Reader, f FootfallFormat, rejects *csv.Writer) (FootfallImport, error) {
	var st FootfallImport
	if f.Location == nil {
		f.Location = time.UTC
	}
	fr, err := NewFootfallReader(r, f)
	if err != nil {
		return st, err
	}
	ids := map[string]int64{}
	located := map[string]bool{}
	// Known sensors.
	rows, err := s.DB.Pool.Query(ctx, `SELECT key, id, geom IS NOT NULL FROM footfall_sensors`)
	if err != nil {
		return st, postgis.Wrap(err)
	}
	for rows.Next() {
		var k string
		var id int64
		var loc bool
		if err := rows.Scan(&k, &id, &loc); err != nil {
			return st, postgis.Wrap(err)
		}
		ids[k], located[k] = id, loc
	}
	if err := rows.Err(); err != nil {
		return st, postgis.Wrap(err)
	}
	seen := map[string]bool{}
	src := &footfallSource{fr: fr, rejects: rejects, st: &st}
	src.sensor = func(o *FootfallObs) (int64, error) {
		seen[o.Sensor] = true
		id, ok := ids[o.Sensor]
		if ok && (located[o.Sensor] || o.Location == nil) {
			return id, nil
		}
		sn := FootfallSensor{Key: o.Sensor, Name: o.Name, TZ: f.Location.String()}
		if o.Location != nil {
			p := orb.Point{o.Location[0], o.Location[1]}
			sn.Location, sn.Cell = &p, geo.CellOf(p, geo.CellResolution)
		}
		if err := s.upsertSensor(ctx, &sn); err != nil {
			return 0, err
		}
		ids[o.Sensor], located[o.Sensor] = sn.ID, sn.Location != nil
		return sn.ID, nil
	}
	err = s.DB.WithTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE footfall_staging (row bigint, sensor_id bigint, ts timestamptz, count integer) ON COMMIT DROP`); err != nil {
			return postgis.Wrap(err)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"footfall_staging"}, []string{"row", "sensor_id", "ts", "count"}, src); err != nil {
			return postgis.Wrap(err)
		}
		// Rows repeating a sensor and hour: the later one wins; the earlier are rejected.
		dups, err := tx.Query(ctx, `SELECT row, keep FROM (
				SELECT row, max(row) OVER (PARTITION BY sensor_id, ts) AS keep FROM footfall_staging) d
			WHERE row <> keep ORDER BY row`)
		if err != nil {
			return postgis.Wrap(err)
		}
		for dups.Next() {
			var row, keep int64
			if err := dups.Scan(&row, &keep); err != nil {
				return postgis.Wrap(err)
			}
			st.Duplicates++
			st.Rejected++
			writeReject(rejects, row, fmt.Sprintf("the same sensor and hour appear again in row %d, which is kept", keep))
		}
		if err := dups.Err(); err != nil {
			return postgis.Wrap(err)
		}
		_, err = tx.Exec(ctx, `INSERT INTO footfall_counts (sensor_id, ts, count)
			SELECT DISTINCT ON (sensor_id, ts) sensor_id, ts, count FROM footfall_staging ORDER BY sensor_id, ts, row DESC
			ON CONFLICT (sensor_id, ts) DO UPDATE SET count = EXCLUDED.count`)
		return postgis.Wrap(err)
	})
	if err != nil {
		return st, err
	}
	st.Counts -= st.Duplicates
	st.Sensors = len(seen)
	for k := range seen {
		if !located[k] {
			st.NoLocation = append(st.NoLocation, k)
		}
	}
	return st, nil
}

// footfallSource feeds a FootfallReader's observations to COPY.
type footfallSource struct {
	fr      *FootfallReader
	rejects *csv.Writer
	st      *FootfallImport
	sensor  func(*FootfallObs) (int64, error)
	buf     []FootfallObs
	i       int
	row     [4]any
	err     error
}

func (s *footfallSource) Next() bool {
	for s.i >= len(s.buf) {
		obs, rej, err := s.fr.Next()
		if err == io.EOF {
			return false
		}
		if err != nil {
			s.err = err
			return false
		}
		s.st.Rows++
		for _, r := range rej {
			s.st.Rejected++
			writeReject(s.rejects, r.Row, r.Reason)
		}
		s.buf, s.i = obs, 0
	}
	o := &s.buf[s.i]
	s.i++
	id, err := s.sensor(o)
	if err != nil {
		s.err = err
		return false
	}
	s.st.Counts++
	var count any
	if o.Count == nil {
		s.st.Missing++
	} else {
		count = *o.Count
	}
	s.row = [4]any{o.Row, id, o.Hour, count}
	return true
}

func (s *footfallSource) Values() ([]any, error) { return s.row[:], nil }
func (s *footfallSource) Err() error             { return s.err }
