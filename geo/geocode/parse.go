package geocode

import (
	"strings"
)

// ParseAddress splits a free-form, one-line address into the fields of a Query. It knows
// the US order ("12 Main St, Springfield, IL 62701, USA") and the European one ("Carrer
// Major 5, AD500 Andorra la Vella, Andorra"), and never fails: what it cannot place goes to
// Street (a line starting with a number) or City (anything else).
func ParseAddress(s string) Query {
	var q Query
	var buf [6]string
	parts := appendParts(buf[:0], s)
	if len(parts) == 0 {
		return q
	}
	// Country: a last part spelled as a country name ("USA", "Andorra"), never a two-letter
	// code, which could be a state.
	if n := len(parts); n > 1 {
		if len(parts[n-1]) > 2 {
			f := fold(parts[n-1])
			if c, ok := countries[f]; ok && (len(f) > 2 || strings.Contains(f, " ")) {
				q.Country, parts = c, parts[:n-1]
			}
		}
	}
	// Postcode and state: look in the last two parts, last tokens first.
	for i := len(parts) - 1; i >= 0 && i >= len(parts)-2 && (q.Postcode == "" || q.Region == ""); i-- {
		if i == 0 && len(parts) > 1 {
			break // the first part is the street
		}
		toks := strings.Fields(parts[i])
		changed := false
		if q.Postcode == "" {
			for j := len(toks) - 1; j >= 0; j-- {
				// the opening token is a house number — unless it is all there is ("62701")
				opening := i == 0 && j == 0 && (len(parts) > 1 || len(toks) > 1)
				if looksLikePostcode(toks[j], opening) {
					q.Postcode = toks[j]
					toks = append(toks[:j:j], toks[j+1:]...)
					changed = true
					break
				}
			}
		}
		if q.Region == "" && len(toks) > 0 {
			// a state at the end ("IL", "New York"), never the part's only word when it is
			// the city ("Washington")
			for k := min(3, len(toks)); k >= 1; k-- {
				cand := toks[len(toks)-1]
				if k > 1 {
					cand = strings.Join(toks[len(toks)-k:], " ")
				}
				if USState(cand) == "" {
					continue
				}
				if k == len(toks) && len(parts) == 1 {
					break // "Washington" alone is a city
				}
				q.Region = cand
				toks = toks[:len(toks)-k]
				changed = true
				break
			}
		}
		if changed {
			parts[i] = strings.Join(toks, " ")
		}
	}
	var rest []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			rest = append(rest, p)
		}
	}
	// a house number written as its own part: "5, Carrer Major, …"
	if len(rest) > 1 && isHouseNumber(rest[0]) {
		rest = append([]string{rest[0] + " " + rest[1]}, rest[2:]...)
	}
	switch len(rest) {
	case 0:
	case 1:
		if hn, st := splitHouseNumber(rest[0]); hn != "" {
			q.HouseNumber, q.Street = hn, st
		} else {
			q.City = rest[0]
		}
	default:
		q.HouseNumber, q.Street = splitHouseNumber(rest[0])
		q.City = rest[len(rest)-1]
	}
	return q
}

// appendParts appends the non-empty, single-spaced parts of s between separators (, ; | and
// line breaks) to out.
func appendParts(out []string, s string) []string {
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) {
			switch s[i] {
			case ',', ';', '|', '\n', '\r':
			default:
				continue
			}
		}
		if p := singleSpaced(s[start:i]); p != "" {
			out = append(out, p)
		}
		start = i + 1
	}
	return out
}

// singleSpaced trims p and collapses its runs of white space to one space, allocating only
// when there is something to collapse.
func singleSpaced(p string) string {
	p = strings.TrimSpace(p)
	for i := 0; i < len(p); i++ {
		if c := p[i]; c == '\t' || c == '\v' || c == '\f' || c >= 0x80 || c == ' ' && i > 0 && p[i-1] == ' ' {
			return strings.Join(strings.Fields(p), " ")
		}
	}
	return p
}

// looksLikePostcode reports whether a token is a postcode: a US ZIP (+4) or a short
// alphanumeric code holding digits (AD500, 75008, 1010) — but not a house number when the
// token opens the address.
func looksLikePostcode(t string, opening bool) bool {
	if opening {
		return false
	}
	if len(t) == 10 && t[5] == '-' && allDigits(t[:5]) && allDigits(t[6:]) {
		return true
	}
	if allDigits(t) {
		return len(t) == 4 || len(t) == 5
	}
	digits, letters := 0, 0
	for i := 0; i < len(t); i++ {
		switch c := t[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c >= 'A' && c <= 'Z':
			letters++
		default:
			return false // lower case or punctuation: a word, not a code
		}
	}
	return digits >= 2 && letters >= 1 && len(t) >= 4 && len(t) <= 8
}

// isHouseNumber reports whether t is a house number: digits, optionally with a letter or a
// range ("12", "12B", "12-14", "12/1").
func isHouseNumber(t string) bool {
	if t == "" || len(t) > 12 || t[0] < '0' || t[0] > '9' {
		return false
	}
	letters := 0
	for i := 0; i < len(t); i++ {
		switch c := t[i]; {
		case c >= '0' && c <= '9', c == '-', c == '/':
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			letters++
		default:
			return false
		}
	}
	return letters <= 2
}

// splitHouseNumber splits "12 Main St" or "Carrer Major 5" into number and street.
func splitHouseNumber(s string) (number, street string) {
	s = singleSpaced(s)
	if s == "" {
		return "", ""
	}
	if i := strings.IndexByte(s, ' '); i > 0 && isHouseNumber(s[:i]) {
		return s[:i], s[i+1:]
	}
	if i := strings.LastIndexByte(s, ' '); i > 0 && isHouseNumber(s[i+1:]) {
		rest := s[:i]
		// "Carrer Major no. 5", "Hauptstraße Nr 5"
		if j := strings.LastIndexByte(rest, ' '); j > 0 {
			switch strings.ToLower(strings.TrimSuffix(rest[j+1:], ".")) {
			case "no", "nr", "num", "n":
				rest = rest[:j]
			}
		}
		return s[i+1:], rest
	}
	return "", s
}
