package geocode

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/gcrm/gcrm/geo"
)

// LowConfidence is the confidence below which a placed record needs review.
const LowConfidence = 0.5

// CSVStats counts what CSV did.
type CSVStats struct {
	Rows, Placed, Low int64            // rows read, rows with a point, placed rows below LowConfidence
	ByPrecision       map[string]int64 // placed rows by precision
}

// CSV copies the CSV in r to w with lat, lon, precision, confidence, source and
// geocode_error columns (lat/lon filled in place when the file has them), placing each row
// without coordinates with g. Every input row becomes one output row, whatever happens to
// it. Returns EINVALID for a file that is not CSV with a header naming address columns.
func CSV(ctx context.Context, r io.Reader, w io.Writer, g Geocoder, progress func(rows int64)) (CSVStats, error) {
	st := CSVStats{ByPrecision: map[string]int64{}}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return st, geo.Errorf(geo.EINVALID, "the file is empty: the first row must name the columns")
		}
		return st, geo.Errorf(geo.EINVALID, "cannot read the header row: %v", err)
	}
	head = append([]string(nil), head...)
	if len(head) > 0 {
		head[0] = strings.TrimPrefix(head[0], "\ufeff")
	}
	col := map[string]int{}
	for i, h := range head {
		k := strings.ToLower(strings.TrimSpace(h))
		if _, ok := col[k]; !ok {
			col[k] = i
		}
	}
	pick := func(names ...string) int {
		for _, n := range names {
			if i, ok := col[n]; ok {
				return i
			}
		}
		return -1
	}
	fCity := pick("city", "town", "locality", "place")
	fStreet := pick("street", "address1", "address_1", "address_line1", "address_line_1", "street_address")
	fFull := pick("full_address", "address_full", "location", "query")
	if fStreet < 0 && fCity >= 0 {
		fStreet = pick("address")
	} else if fFull < 0 {
		fFull = pick("address")
	}
	fNumber := pick("housenumber", "house_number", "number")
	fRegion := pick("state", "region", "province", "state_code")
	fPostcode := pick("zip", "zipcode", "zip_code", "postcode", "postal_code", "postalcode")
	fCountry := pick("country", "country_code")
	fLat, fLon := pick("lat", "latitude"), pick("lon", "lng", "long", "longitude")
	if fCity < 0 && fStreet < 0 && fFull < 0 && fRegion < 0 && fPostcode < 0 {
		return st, geo.Errorf(geo.EINVALID, "the header names no address column: give street, city, state, zip or full_address")
	}
	outHead := append([]string(nil), head...)
	hasLatLon := fLat >= 0 && fLon >= 0
	if !hasLatLon {
		fLat, fLon = len(outHead), len(outHead)+1
		outHead = append(outHead, "lat", "lon")
	}
	extra := len(outHead)
	outHead = append(outHead, "precision", "confidence", "source", "geocode_error")
	cw := csv.NewWriter(w)
	if err := cw.Write(outHead); err != nil {
		return st, geo.Errorf(geo.EUNAVAILABLE, "cannot write the output: %v", err)
	}
	out := make([]string, len(outHead))
	for {
		if err := ctx.Err(); err != nil {
			return st, geo.Errorf(geo.EUNAVAILABLE, "geocoding was cancelled after %d rows", st.Rows)
		}
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var perr *csv.ParseError
		if err != nil && !errors.As(err, &perr) {
			return st, geo.Errorf(geo.EINVALID, "cannot read row %d: %v", st.Rows+2, err)
		}
		st.Rows++
		for i := range out {
			out[i] = ""
		}
		copy(out, rec)
		get := func(i int) string {
			if i < 0 || i >= len(rec) {
				return ""
			}
			return strings.TrimSpace(rec[i])
		}
		if err != nil {
			out[extra+3] = fmt.Sprintf("row %d is not valid CSV: %v", st.Rows+1, perr.Err)
		} else if lat, lon := get(fLat), get(fLon); hasLatLon && lat != "" && lon != "" && validCoords(lat, lon) {
			out[extra], out[extra+1], out[extra+2] = PrecisionGiven, "1", "input"
			st.Placed++
			st.ByPrecision[PrecisionGiven]++
		} else {
			q := Query{Text: get(fFull), HouseNumber: get(fNumber), Street: get(fStreet), City: get(fCity),
				Region: get(fRegion), Postcode: get(fPostcode), Country: get(fCountry)}
			if q.Street != "" || q.City != "" || q.Postcode != "" || q.Region != "" {
				q.Text = "" // structured columns win; a free-form column only fills in
				if get(fFull) != "" && q.City == "" && q.Postcode == "" {
					q.Text = get(fFull)
				}
			}
			res, gerr := g.Geocode(ctx, q)
			if gerr != nil {
				out[extra+3] = geo.ErrorMessage(gerr)
				if geo.ErrorCode(gerr) == geo.EUNAVAILABLE && ctx.Err() != nil {
					return st, gerr
				}
			} else {
				out[fLat] = strconv.FormatFloat(res.Point[1], 'f', 6, 64)
				out[fLon] = strconv.FormatFloat(res.Point[0], 'f', 6, 64)
				out[extra] = res.Precision
				out[extra+1] = strconv.FormatFloat(res.Confidence, 'f', 2, 64)
				out[extra+2] = res.Source
				if res.Ambiguous {
					taken := "the most populous was taken"
					if res.Source != "gazetteer" {
						taken = res.Source + "'s first answer was taken"
					}
					out[extra+3] = fmt.Sprintf("ambiguous: %d places match; %s", res.Candidates, taken)
				}
				st.Placed++
				st.ByPrecision[res.Precision]++
				if res.Confidence < LowConfidence {
					st.Low++
				}
			}
		}
		if err := cw.Write(out); err != nil {
			return st, geo.Errorf(geo.EUNAVAILABLE, "cannot write the output: %v", err)
		}
		if progress != nil && st.Rows%1024 == 0 {
			progress(st.Rows)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return st, geo.Errorf(geo.EUNAVAILABLE, "cannot write the output: %v", err)
	}
	return st, nil
}

func validCoords(lat, lon string) bool {
	y, err1 := strconv.ParseFloat(lat, 64)
	x, err2 := strconv.ParseFloat(lon, 64)
	return err1 == nil && err2 == nil && geo.ValidLonLat(x, y)
}
