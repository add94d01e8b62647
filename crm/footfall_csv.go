package crm

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gcrm/gcrm/geo"
)

// Footfall file formats.
const (
	FootfallLong = "long" // one row per sensor and hour: sensor_id, [lat, lon], timestamp or date+hour, count
	FootfallWide = "wide" // one row per hour: timestamp or date+hour, then one column per sensor
)

// FootfallFormat says how to read a footfall CSV file.
type FootfallFormat struct {
	// Format is FootfallLong, FootfallWide or "" to detect it from the header (a sensor
	// column and a count column make it long).
	Format string
	// Location is the time zone of dates and hours without an offset (default UTC).
	Location *time.Location
	// DateLayout is a Go layout for the date (or timestamp) column; "" accepts ISO dates
	// (2006-01-02) and day-first dates (02/01/2006, as in Melbourne's data).
	DateLayout string
	// Columns maps a wide file's column headers to sensor ids (keys). A column missing from
	// it is matched by Names; failing that the header itself is the sensor's key.
	Columns map[string]string
	// Names maps a normalised sensor name (NormalizeSensorName) to its key, from the sensor
	// locations file.
	Names map[string]string
}

// FootfallObs is one hourly count of one sensor. Count nil means missing (the file said
// -1, left it blank or wrote "undefined"/"NA"): it is kept missing, never read as 0.
type FootfallObs struct {
	Row      int64
	Sensor   string // the sensor's key (its id in the file)
	Name     string
	Location *[2]float64 // lon, lat, when the row carries them
	Hour     time.Time   // start of the hour
	Count    *int32
}

// FootfallReject is one row (or one cell of a wide row) that was not imported.
type FootfallReject struct {
	Row    int64
	Reason string
}

// FootfallReader reads a footfall CSV file one row at a time, in constant memory.
type FootfallReader struct {
	csv    *csvReader
	f      FootfallFormat
	header []string
	// column indexes, -1 when absent
	sensor, name, lat, lon, ts, date, hour, count int
	sensors                                       []string // wide: key of each column (""= not a sensor column)
	obs                                           []FootfallObs
}

var footfallAliases = map[string][]string{
	"sensor": {"sensor_id", "sensor", "sensor_key", "sensorid", "id"},
	"name":   {"sensor_description", "sensor_name", "name", "description"},
	"lat":    {"lat", "latitude"},
	"lon":    {"lon", "lng", "long", "longitude"},
	"ts":     {"timestamp", "ts", "datetime", "date_time"},
	"date":   {"date", "day"},
	"hour":   {"hour", "time"},
	"count":  {"count", "counts", "hourly_counts", "value", "pedestrians", "footfall"},
}

// NewFootfallReader reads the header of r and checks it against f. Returns EINVALID naming
// what is missing (a time column, a count column, …).
func NewFootfallReader(r io.Reader, f FootfallFormat) (*FootfallReader, error) {
	if f.Location == nil {
		f.Location = time.UTC
	}
	fr := &FootfallReader{csv: newCSVReader(r), f: f}
	var header []string
	for {
		h, err := fr.csv.Read()
		var re *csvRowError
		if errors.As(err, &re) {
			return nil, geo.Errorf(geo.EINVALID, "row %d: the header is not valid CSV: %s", re.Row, re.Reason)
		}
		if err == io.EOF {
			return nil, geo.Errorf(geo.EINVALID, "the file is empty: it needs a header row")
		}
		if err != nil {
			return nil, err
		}
		header = make([]string, len(h))
		for i, s := range h {
			header[i] = strings.TrimSpace(s)
		}
		break
	}
	fr.header = header
	find := func(what string) int {
		for _, a := range footfallAliases[what] {
			for i, h := range header {
				if strings.EqualFold(h, a) {
					return i
				}
			}
		}
		return -1
	}
	fr.sensor, fr.name, fr.lat, fr.lon = find("sensor"), find("name"), find("lat"), find("lon")
	fr.ts, fr.date, fr.hour, fr.count = find("ts"), find("date"), find("hour"), find("count")
	if fr.f.Format == "" {
		fr.f.Format = FootfallWide
		if fr.sensor >= 0 && fr.count >= 0 {
			fr.f.Format = FootfallLong
		}
	}
	if fr.ts < 0 && fr.date < 0 {
		return nil, geo.Errorf(geo.EINVALID, "the header has no time column: name one 'timestamp' (date and time) or 'date' with an 'hour' column")
	}
	if fr.ts < 0 && fr.hour < 0 {
		// A date column holding full timestamps is fine.
		fr.ts, fr.date = fr.date, -1
	}
	switch fr.f.Format {
	case FootfallLong:
		switch {
		case fr.sensor < 0:
			return nil, geo.Errorf(geo.EINVALID, "the header has no sensor column: name it 'sensor_id' (or use --format wide for one column per sensor)")
		case fr.count < 0:
			return nil, geo.Errorf(geo.EINVALID, "the header has no count column: name it 'count'")
		case (fr.lat < 0) != (fr.lon < 0):
			return nil, geo.Errorf(geo.EINVALID, "the header has only one of latitude and longitude: give both or neither")
		}
	case FootfallWide:
		fr.sensors = make([]string, len(header))
		n := 0
		for i, h := range header {
			if i == fr.ts || i == fr.date || i == fr.hour || h == "" {
				continue
			}
			key := f.Columns[h]
			if key == "" {
				key = f.Names[NormalizeSensorName(h)]
			}
			if key == "" {
				key = h
			}
			fr.sensors[i] = key
			n++
		}
		if n == 0 {
			return nil, geo.Errorf(geo.EINVALID, "the wide file has no sensor columns after its time columns")
		}
	default:
		return nil, geo.Errorf(geo.EINVALID, "format %q is not long or wide", fr.f.Format)
	}
	return fr, nil
}

// Format returns the format being read (detected when it was not given).
func (fr *FootfallReader) Format() string { return fr.f.Format }

// Sensors returns, for a wide file, the sensor key of each column header that holds counts.
func (fr *FootfallReader) Sensors() map[string]string {
	out := map[string]string{}
	for i, k := range fr.sensors {
		if k != "" {
			out[fr.header[i]] = k
		}
	}
	return out
}

// Next returns the observations of the next row (valid until the next call) and the rows
// or cells rejected in it; io.EOF at the end. A reject never stops the reading.
func (fr *FootfallReader) Next() ([]FootfallObs, []FootfallReject, error) {
	rec, err := fr.csv.Read()
	var re *csvRowError
	if errors.As(err, &re) {
		return nil, []FootfallReject{{Row: re.Row, Reason: re.Reason}}, nil
	}
	if err != nil {
		return nil, nil, err
	}
	row := fr.csv.row
	reject := func(format string, args ...any) ([]FootfallObs, []FootfallReject, error) {
		return nil, []FootfallReject{{Row: row, Reason: fmt.Sprintf(format, args...)}}, nil
	}
	if len(rec) != len(fr.header) {
		return reject("the row has %d fields, the header %d", len(rec), len(fr.header))
	}
	hour, err := fr.hourOf(rec)
	if err != nil {
		return reject("%s", err)
	}
	fr.obs = fr.obs[:0]
	if fr.f.Format == FootfallLong {
		key := strings.TrimSpace(rec[fr.sensor])
		if key == "" {
			return reject("the sensor id is empty")
		}
		o := FootfallObs{Row: row, Sensor: key, Hour: hour}
		if fr.name >= 0 {
			o.Name = strings.TrimSpace(rec[fr.name])
		}
		if fr.lat >= 0 {
			ls, lo := strings.TrimSpace(rec[fr.lat]), strings.TrimSpace(rec[fr.lon])
			if ls != "" || lo != "" {
				lat, err1 := strconv.ParseFloat(ls, 64)
				lon, err2 := strconv.ParseFloat(lo, 64)
				if err1 != nil || err2 != nil || !geo.ValidLonLat(lon, lat) {
					return reject("location %q,%q is not a latitude,longitude pair within -90..90, -180..180", ls, lo)
				}
				o.Location = &[2]float64{lon, lat}
			}
		}
		c, err := parseCount(rec[fr.count])
		if err != nil {
			return reject("%s", err)
		}
		o.Count = c
		fr.obs = append(fr.obs, o)
		return fr.obs, nil, nil
	}
	var rejects []FootfallReject
	for i, key := range fr.sensors {
		if key == "" {
			continue
		}
		c, err := parseCount(rec[i])
		if err != nil {
			rejects = append(rejects, FootfallReject{Row: row, Reason: fmt.Sprintf("column %q: %s", fr.header[i], err)})
			continue
		}
		fr.obs = append(fr.obs, FootfallObs{Row: row, Sensor: key, Hour: hour, Count: c})
	}
	return fr.obs, rejects, nil
}

// parseCount reads a count: a non-negative whole number, or missing (nil) for blank, -1,
// "undefined", "NA", "null", "NaN" or "-".
func parseCount(s string) (*int32, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "", "-1", "undefined", "na", "n/a", "null", "nan", "-":
		return nil, nil
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != math.Trunc(f) || f > math.MaxInt32 || f < math.MinInt32 {
			return nil, fmt.Errorf("count %q is not a whole number (write -1 or leave it blank when missing)", s)
		}
		n = int64(f)
	}
	if n < 0 {
		return nil, fmt.Errorf("count %d is negative (only -1 means missing)", n)
	}
	v := int32(n)
	return &v, nil
}

var (
	dateLayouts = []string{"2006-01-02", "02/01/2006", "2/1/2006", "2006/01/02", "January 02, 2006", "Jan 2, 2006"}
	tsLayouts   = []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04",
		"2006-01-02 15:04:05Z07:00", "02/01/2006 15:04:05", "02/01/2006 15:04", "2/1/2006 15:04", "2006/01/02 15:04:05",
		"January 02, 2006 03:04:05 PM", "01/02/2006 03:04:05 PM"}
)

// hourOf returns the start of the row's hour in fr's time zone.
func (fr *FootfallReader) hourOf(rec []string) (time.Time, error) {
	loc := fr.f.Location
	if fr.ts >= 0 {
		s := strings.TrimSpace(rec[fr.ts])
		layouts := tsLayouts
		if fr.f.DateLayout != "" {
			layouts = []string{fr.f.DateLayout}
		}
		for _, l := range layouts {
			if t, err := time.ParseInLocation(l, s, loc); err == nil {
				if t.Minute() != 0 || t.Second() != 0 || t.Nanosecond() != 0 {
					return time.Time{}, fmt.Errorf("timestamp %q is not the start of an hour", s)
				}
				return t, nil
			}
		}
		return time.Time{}, fmt.Errorf("timestamp %q is not a date and time like 2019-01-31 13:00", s)
	}
	s := strings.TrimSpace(rec[fr.date])
	var day time.Time
	ok := false
	layouts := dateLayouts
	if fr.f.DateLayout != "" {
		layouts = []string{fr.f.DateLayout}
	}
	for _, l := range layouts {
		if t, err := time.Parse(l, s); err == nil {
			day, ok = t, true
			break
		}
	}
	if !ok {
		return time.Time{}, fmt.Errorf("date %q is not a date like 2019-01-31 or 31/01/2019", s)
	}
	hs := strings.TrimSpace(rec[fr.hour])
	hs = strings.TrimSuffix(hs, ":00")
	hs = strings.TrimSuffix(hs, ":00") // 13:00:00
	h, err := strconv.Atoi(hs)
	if err != nil || h < 0 || h > 23 {
		return time.Time{}, fmt.Errorf("hour %q is not a whole hour 0..23", strings.TrimSpace(rec[fr.hour]))
	}
	return time.Date(day.Year(), day.Month(), day.Day(), h, 0, 0, 0, loc), nil
}

// NormalizeSensorName folds a sensor name for matching a wide file's column headers
// against a locations file: lower case, letters and digits only.
func NormalizeSensorName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// ReadFootfallColumns reads a wide file's column mapping: a CSV file with a header and two
// columns, the wide file's column header and the sensor id it holds. Returns EINVALID for
// a malformed file.
func ReadFootfallColumns(r io.Reader) (map[string]string, error) {
	cr := newCSVReader(r)
	out := map[string]string{}
	first := true
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		var re *csvRowError
		if errors.As(err, &re) {
			return nil, geo.Errorf(geo.EINVALID, "column mapping, row %d: %s", re.Row, re.Reason)
		}
		if err != nil {
			return nil, err
		}
		if first {
			first = false
			continue
		}
		if len(rec) != 2 || strings.TrimSpace(rec[0]) == "" || strings.TrimSpace(rec[1]) == "" {
			return nil, geo.Errorf(geo.EINVALID, "column mapping, row %d: want two non-empty fields: the column header and its sensor id", cr.row)
		}
		out[strings.TrimSpace(rec[0])] = strings.TrimSpace(rec[1])
	}
	return out, nil
}
