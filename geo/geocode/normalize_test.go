package geocode_test

import (
	"testing"
	"unicode/utf8"

	"github.com/gcrm/gcrm/geo/geocode"
)

func TestNormalizePlace(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"St. Louis", "saint louis"},
		{"Saint Louis", "saint louis"},
		{"ST LOUIS", "saint louis"},
		{"Ft. Lauderdale", "fort lauderdale"},
		{"Fort  Lauderdale", "fort lauderdale"},
		{"Mt. Pleasant", "mount pleasant"},
		{"Port St. Lucie", "port saint lucie"},
		{"Coeur d'Alene", "coeur dalene"},
		{"Coeur d’Alene", "coeur dalene"},
		{"O'Fallon", "ofallon"},
		{"Española", "espanola"},
		{"Andorra la Vella", "andorra la vella"},
		{"Sant Julià de Lòria", "sant julia de loria"},
		{"Winston-Salem", "winston salem"},
		{"  N. Las Vegas ", "north las vegas"},
		{"", ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := geocode.NormalizePlace(tc.in); got != tc.want {
				t.Errorf("NormalizePlace(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestNormalizeStreet(t *testing.T) {
	for _, tc := range [][2]string{
		{"St. Charles Avenue", "Saint Charles Ave"},
		{"Main Street", "main st."},
		{"North Main St", "N MAIN STREET"},
		{"Carrer de la Unió", "C/ Unio"},
		{"Avinguda Meritxell", "Av. Meritxell"},
		{"Rue de la Lujerneta", "rue Lujerneta"},
	} {
		if a, b := geocode.NormalizeStreet(tc[0]), geocode.NormalizeStreet(tc[1]); a != b {
			t.Errorf("NormalizeStreet(%q) = %q but NormalizeStreet(%q) = %q", tc[0], a, tc[1], b)
		}
	}
}

func TestNormalizePostcode(t *testing.T) {
	for _, tc := range [][2]string{
		{"02134", "02134"}, {"02134-1234", "02134"}, {"021341234", "02134"}, {" ad500 ", "AD500"},
		{"SW1A 1AA", "SW1A1AA"},
	} {
		if got := geocode.NormalizePostcode(tc[0]); got != tc[1] {
			t.Errorf("NormalizePostcode(%q) = %q, want %q", tc[0], got, tc[1])
		}
	}
}

func TestUSState(t *testing.T) {
	for _, tc := range [][2]string{
		{"IL", "IL"}, {"il", "IL"}, {"Illinois", "IL"}, {"new york", "NY"}, {"Calif.", "CA"},
		{"District of Columbia", "DC"}, {"Narnia", ""}, {"XX", ""},
	} {
		if got := geocode.USState(tc[0]); got != tc[1] {
			t.Errorf("USState(%q) = %q, want %q", tc[0], got, tc[1])
		}
	}
}

func TestParseAddress(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want geocode.Query
	}{
		{"123 Main St, Springfield, IL 62701", geocode.Query{HouseNumber: "123", Street: "Main St", City: "Springfield", Region: "IL", Postcode: "62701"}},
		{"123 Main St, Springfield, IL 62701, USA", geocode.Query{HouseNumber: "123", Street: "Main St", City: "Springfield", Region: "IL", Postcode: "62701", Country: "US"}},
		{"Springfield, Illinois", geocode.Query{City: "Springfield", Region: "Illinois"}},
		{"Springfield IL", geocode.Query{City: "Springfield", Region: "IL"}},
		{"New York, NY", geocode.Query{City: "New York", Region: "NY"}},
		{"Washington", geocode.Query{City: "Washington"}},
		{"Seattle, Washington 98101", geocode.Query{City: "Seattle", Region: "Washington", Postcode: "98101"}},
		{"62701", geocode.Query{Postcode: "62701"}}, // a ZIP alone, as typed in a search box
		{"02139-1234", geocode.Query{Postcode: "02139-1234"}},
		{"62701 Springfield", geocode.Query{HouseNumber: "62701", Street: "Springfield"}},
		{"Carrer Major 5, AD500 Andorra la Vella, Andorra", geocode.Query{HouseNumber: "5", Street: "Carrer Major", City: "Andorra la Vella", Postcode: "AD500", Country: "AD"}},
		{"5, Avinguda Meritxell, Andorra la Vella", geocode.Query{HouseNumber: "5", Street: "Avinguda Meritxell", City: "Andorra la Vella"}},
		{"", geocode.Query{}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := geocode.ParseAddress(tc.in); got != tc.want {
				t.Errorf("ParseAddress(%q)\n got %+v\nwant %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestQueryKey(t *testing.T) {
	a := geocode.Query{Text: "123 Main Street, St. Louis, Missouri 63101-1234"}
	b := geocode.Query{HouseNumber: "123", Street: "main st", City: "Saint Louis", Region: "MO", Postcode: "63101"}
	if a.Key() != b.Key() {
		t.Errorf("keys differ:\n%q\n%q", a.Key(), b.Key())
	}
}

// FuzzParseAddress checks that any input parses without panicking, that normalised forms
// are valid UTF-8 without doubled or edge spaces, and that normalising is idempotent.
func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"123 Main St, Springfield, IL 62701", "Carrer Major 5, AD500 Andorra la Vella, Andorra",
		"St. Louis, MO", ",,,", "12-14 Rue d'Italie; 98000 Monaco", "\xff\xfe", "Ñandú 3, São Paulo"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := geocode.ParseAddress(s)
		for _, n := range []string{geocode.NormalizePlace(s), geocode.NormalizeStreet(s), geocode.NormalizePlace(q.City), geocode.NormalizeStreet(q.Street)} {
			if !utf8.ValidString(n) {
				t.Fatalf("normalised %q is not UTF-8", n)
			}
			if len(n) > 0 && (n[0] == ' ' || n[len(n)-1] == ' ') {
				t.Fatalf("normalised %q has edge spaces", n)
			}
			for i := 1; i < len(n); i++ {
				if n[i] == ' ' && n[i-1] == ' ' {
					t.Fatalf("normalised %q has doubled spaces", n)
				}
			}
		}
		if p := geocode.NormalizePlace(s); geocode.NormalizePlace(p) != p {
			t.Fatalf("NormalizePlace not idempotent on %q: %q → %q", s, p, geocode.NormalizePlace(p))
		}
		if p := geocode.NormalizePostcode(s); geocode.NormalizePostcode(p) != p {
			t.Fatalf("NormalizePostcode not idempotent on %q", s)
		}
		_ = geocode.Query{Text: s}.Key()
	})
}
