package geocode

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// fold lower-cases s, strips accents (é → e, ß → ss, ø → o), turns punctuation into spaces
// and collapses runs of spaces: the common ground of every normaliser below. Apostrophes are
// dropped without a space so "O'Fallon" and "OFallon" meet.
func fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := true // at start: drop leading spaces
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case 'a' <= c && c <= 'z' || '0' <= c && c <= '9':
				b.WriteByte(c)
				space = false
			case 'A' <= c && c <= 'Z':
				b.WriteByte(c + 'a' - 'A')
				space = false
			case c == '\'' || c == '`':
				// O'Fallon → ofallon
			default:
				if !space {
					b.WriteByte(' ')
					space = true
				}
			}
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		if r == '’' || r == 'ʻ' || r == 'ʼ' {
			continue
		}
		if f, ok := foldTable[r]; ok {
			b.WriteString(f)
			space = false
			continue
		}
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToLower(r))
			space = false
		case unicode.IsMark(r):
			// combining accent (decomposed input): drop it
		default:
			if !space {
				b.WriteByte(' ')
				space = true
			}
		}
	}
	out := b.String()
	if space && len(out) > 0 {
		out = out[:len(out)-1]
	}
	return out
}

// foldTable maps accented Latin letters to their base letters (lower case).
var foldTable = func() map[rune]string {
	m := map[rune]string{}
	add := func(base string, runes string) {
		for _, r := range runes {
			m[r] = base
		}
	}
	add("a", "àáâãäåāăąǎǻÀÁÂÃÄÅĀĂĄǍǺ")
	add("ae", "æǽÆǼ")
	add("c", "çćĉċčÇĆĈĊČ")
	add("d", "ďđðĎĐÐ")
	add("e", "èéêëēĕėęěÈÉÊËĒĔĖĘĚ")
	add("g", "ĝğġģĜĞĠĢ")
	add("h", "ĥħĤĦ")
	add("i", "ìíîïĩīĭįıǐÌÍÎÏĨĪĬĮİǏ")
	add("j", "ĵĴ")
	add("k", "ķĶ")
	add("l", "ĺļľŀłĹĻĽĿŁ")
	add("n", "ñńņňŉÑŃŅŇ")
	add("o", "òóôõöøōŏőǒǿÒÓÔÕÖØŌŎŐǑǾ")
	add("oe", "œŒ")
	add("r", "ŕŗřŔŖŘ")
	add("s", "śŝşšșŚŜŞŠȘ")
	add("ss", "ß")
	add("t", "ţťŧțŢŤŦȚ")
	add("th", "þÞ")
	add("u", "ùúûüũūŭůűųǔǖǘǚǜÙÚÛÜŨŪŬŮŰŲǓǕǗǙǛ")
	add("w", "ŵŴ")
	add("y", "ýÿŷÝŸŶ")
	add("z", "źżžŹŻŽ")
	return m
}()

// mapTokens rewrites each space-separated token of a folded string through m ("" drops it),
// the first token through first. It allocates only when a token changes.
func mapTokens(s string, m map[string]string, first map[string]string) string {
	if s == "" {
		return s
	}
	var b []byte // nil until a token changes
	start, i := 0, 0
	for tok := 0; start <= len(s); tok++ {
		end := strings.IndexByte(s[start:], ' ')
		if end < 0 {
			end = len(s)
		} else {
			end += start
		}
		t := s[start:end]
		tm := m
		if tok == 0 {
			tm = first
		}
		r, ok := tm[t]
		if ok && b == nil {
			b = make([]byte, 0, len(s)+8)
			b = append(b, s[:start]...)
		}
		if b != nil {
			if !ok {
				r = t
			}
			if r != "" {
				if len(b) > 0 && b[len(b)-1] != ' ' {
					b = append(b, ' ')
				}
				b = append(b, r...)
			}
		}
		start = end + 1
		i++
	}
	if b == nil {
		return s
	}
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return string(b)
}

// placeForms are the common short forms in place names, rewritten to the long form.
var placeForms = map[string]string{
	"st": "saint", "ste": "sainte", "ft": "fort", "mt": "mount", "mtn": "mountain", "pt": "point",
	"n": "north", "s": "south", "e": "east", "w": "west", "hts": "heights", "spgs": "springs",
	"spg": "spring", "bch": "beach", "is": "island", "isl": "island", "jct": "junction",
	"lk": "lake", "vlg": "village", "twp": "township", "ctr": "center", "centre": "center",
}

// NormalizePlace is the matching form of a place (city) name: folded, with "St."/"Saint",
// "Ft."/"Fort", "Mt."/"Mount" and similar short forms written out.
func NormalizePlace(s string) string {
	return mapTokens(fold(s), placeForms, placeForms)
}

// streetForms map street words to one short form (USPS suffixes, directions, and the
// Romance-language street types found in European OSM data); "" drops a filler word.
var streetForms = map[string]string{
	"street": "st", "str": "st", "saint": "st", "avenue": "ave", "av": "ave", "avinguda": "ave",
	"avenida": "ave", "road": "rd", "boulevard": "blvd", "blv": "blvd", "drive": "dr", "lane": "ln",
	"court": "ct", "place": "pl", "plaza": "plz", "placa": "plz", "terrace": "ter", "highway": "hwy",
	"parkway": "pkwy", "circle": "cir", "square": "sq", "trail": "trl", "way": "wy", "expressway": "expy",
	"freeway": "fwy", "turnpike": "tpke", "route": "rte", "mount": "mt", "fort": "ft", "point": "pt",
	"north": "n", "south": "s", "east": "e", "west": "w", "northeast": "ne", "northwest": "nw",
	"southeast": "se", "southwest": "sw", "carrer": "c", "calle": "c", "cl": "c", "rue": "r",
	"cami": "cm", "camino": "cm", "carretera": "ctra", "passeig": "pg", "paseo": "pg", "travessia": "tr",
	"de": "", "del": "", "dels": "", "la": "", "les": "", "el": "", "els": "", "d": "", "l": "",
	"des": "", "du": "", "the": "",
}

// NormalizeStreet is the matching form of a street name: folded, street types and
// directions in one short form ("Saint Charles Avenue" and "St. Charles Ave" meet), filler
// words ("de la") dropped.
func NormalizeStreet(s string) string {
	return mapTokens(fold(s), streetForms, streetForms)
}

// NormalizeHouseNumber folds a house number and removes its spaces ("12 B" → "12b").
func NormalizeHouseNumber(s string) string {
	return strings.ReplaceAll(fold(s), " ", "")
}

// NormalizePostcode upper-cases a postcode and removes spaces and dashes; a US ZIP+4
// ("02134-1234", "021341234") becomes its five-digit ZIP.
func NormalizePostcode(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '-'); i == 5 && allDigits(s[:5]) && allDigits(s[6:]) {
		return s[:5]
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9' || r >= 'A' && r <= 'Z':
			b.WriteRune(r)
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		}
	}
	out := b.String()
	if len(out) == 9 && allDigits(out) {
		return out[:5]
	}
	return out
}

// usZIP returns the five-digit form of a US ZIP as written by people and spreadsheets
// ("2134" lost its leading zero in Excel, "02134-1234"), or "" when s is not one.
func usZIP(s string) string {
	p := NormalizePostcode(s)
	if !allDigits(p) {
		return ""
	}
	switch len(p) {
	case 5:
		return p
	case 3, 4:
		return strings.Repeat("0", 5-len(p)) + p
	}
	return ""
}

func isASCIILetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// usStates maps US state and territory names to their USPS codes.
var usStates = map[string]string{
	"alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA",
	"colorado": "CO", "connecticut": "CT", "delaware": "DE", "district of columbia": "DC",
	"washington dc": "DC", "washington d c": "DC", "florida": "FL", "georgia": "GA", "hawaii": "HI",
	"idaho": "ID", "illinois": "IL", "indiana": "IN", "iowa": "IA", "kansas": "KS", "kentucky": "KY",
	"louisiana": "LA", "maine": "ME", "maryland": "MD", "massachusetts": "MA", "michigan": "MI",
	"minnesota": "MN", "mississippi": "MS", "missouri": "MO", "montana": "MT", "nebraska": "NE",
	"nevada": "NV", "new hampshire": "NH", "new jersey": "NJ", "new mexico": "NM", "new york": "NY",
	"north carolina": "NC", "north dakota": "ND", "ohio": "OH", "oklahoma": "OK", "oregon": "OR",
	"pennsylvania": "PA", "rhode island": "RI", "south carolina": "SC", "south dakota": "SD",
	"tennessee": "TN", "texas": "TX", "utah": "UT", "vermont": "VT", "virginia": "VA",
	"washington": "WA", "west virginia": "WV", "wisconsin": "WI", "wyoming": "WY",
	"puerto rico": "PR", "guam": "GU", "us virgin islands": "VI", "virgin islands": "VI",
	"american samoa": "AS", "northern mariana islands": "MP",
	// common abbreviations beyond the USPS codes
	"calif": "CA", "cal": "CA", "mass": "MA", "penn": "PA", "penna": "PA", "wash": "WA",
	"tex": "TX", "fla": "FL", "ariz": "AZ", "colo": "CO", "conn": "CT", "mich": "MI", "minn": "MN",
	"wis": "WI", "wisc": "WI", "ill": "IL", "ind": "IN", "tenn": "TN", "okla": "OK", "ore": "OR",
	"nev": "NV", "neb": "NE", "kans": "KS", "ala": "AL", "miss": "MS", "n y": "NY", "n j": "NJ",
}

var usStateCodeOf = func() map[string]string {
	m := map[string]string{}
	for _, c := range usStates {
		m[c] = c
	}
	return m
}()

var usStateCodes = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range usStates {
		m[c] = true
	}
	return m
}()

// USState returns the USPS code of a US state written as a code, name or common
// abbreviation ("Calif.", "new york", "NY"), or "".
func USState(s string) string {
	if len(s) == 2 && isASCIILetter(s[0]) && isASCIILetter(s[1]) {
		b := [2]byte{s[0] &^ 0x20, s[1] &^ 0x20} // upper case
		if c, ok := usStateCodeOf[string(b[:])]; ok {
			return c // the map's own string: no allocation
		}
	}
	f := fold(s)
	if len(f) == 2 {
		if c := strings.ToUpper(f); usStateCodes[c] {
			return c
		}
	}
	return usStates[f]
}

// RegionKey is the matching form of a region: the USPS code for a US state, otherwise the
// normalised name (or code) upper-cased.
func RegionKey(s string) string {
	if c := USState(s); c != "" {
		return c
	}
	return strings.ToUpper(fold(s))
}

var countries = map[string]string{
	"us": "US", "usa": "US", "u s": "US", "u s a": "US", "united states": "US",
	"united states of america": "US", "america": "US", "andorra": "AD", "monaco": "MC",
	"canada": "CA", "mexico": "MX", "united kingdom": "GB", "uk": "GB", "great britain": "GB",
	"england": "GB", "scotland": "GB", "wales": "GB", "ireland": "IE", "france": "FR",
	"germany": "DE", "deutschland": "DE", "spain": "ES", "espana": "ES", "portugal": "PT",
	"italy": "IT", "italia": "IT", "netherlands": "NL", "belgium": "BE", "switzerland": "CH",
	"austria": "AT", "australia": "AU", "new zealand": "NZ", "japan": "JP", "china": "CN",
	"india": "IN", "brazil": "BR", "brasil": "BR", "argentina": "AR", "sweden": "SE",
	"norway": "NO", "denmark": "DK", "finland": "FI", "poland": "PL", "luxembourg": "LU",
}

// CountryCode returns the ISO 3166-1 alpha-2 code of a country written as a code or a
// common name, the upper-cased folded input when it is unknown, and "" for "".
func CountryCode(s string) string {
	f := fold(s)
	if f == "" {
		return ""
	}
	if c, ok := countries[f]; ok {
		return c
	}
	return strings.ToUpper(f)
}
