package policy

import (
	"errors"
	"testing"
)

func TestNormalizeJurisdiction(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr error
	}{
		{"DE", "DE", nil},
		{"de", "DE", nil},
		{"gB", "GB", nil},
		{"US-UT", "US-UT", nil},
		{"us-ut", "US-UT", nil},
		{"US-DC", "US-DC", nil},
		{"US-PR", "US-PR", nil},
		{"CA-QC", "CA-QC", nil},
		{"AU-NSW", "AU-NSW", nil},
		{"GB-SCT", "GB-SCT", nil},
		{"FR-75", "FR-75", nil}, // other countries: syntax only
		{"DE-BY", "DE-BY", nil}, // other countries: syntax only
		{"ES-CN", "ES-CN", nil}, // other countries: syntax only
		{"AX", "AX", nil},       // Åland
		{"", "", ErrJurisdictionSyntax},
		{"D", "", ErrJurisdictionSyntax},
		{"DEU", "", ErrJurisdictionSyntax},
		{"D1", "", ErrJurisdictionSyntax},
		{"US-", "", ErrJurisdictionSyntax},
		{"US-UTAH", "", ErrJurisdictionSyntax},
		{"US_UT", "", ErrJurisdictionSyntax},
		{" US", "", ErrJurisdictionSyntax},
		{"US-U T", "", ErrJurisdictionSyntax},
		{"ÜS", "", ErrJurisdictionSyntax},
		{"UK", "", ErrUnknownJurisdiction},
		{"EU", "", ErrUnknownJurisdiction},
		{"ZZ", "", ErrUnknownJurisdiction},
		{"XK", "", ErrUnknownJurisdiction},
		{"AA", "", ErrUnknownJurisdiction},
		{"US-XX", "", ErrUnknownJurisdiction},
		{"US-UTT", "", ErrUnknownJurisdiction},
		{"CA-XX", "", ErrUnknownJurisdiction},
		{"AU-NS", "", ErrUnknownJurisdiction},
		{"GB-LND", "", ErrUnknownJurisdiction},
		{"UK-ENG", "", ErrUnknownJurisdiction},
	}
	for _, tt := range tests {
		got, err := NormalizeJurisdiction(tt.in)
		if got != tt.want || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
			t.Errorf("NormalizeJurisdiction(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestISO3166Table(t *testing.T) {
	if n := len(iso3166) / 2; n != 249 || len(iso3166)%2 != 0 {
		t.Fatalf("iso3166 holds %d codes, want 249", n)
	}
	for i := 2; i < len(iso3166); i += 2 {
		if iso3166[i-2:i] >= iso3166[i:i+2] {
			t.Fatalf("iso3166 not sorted at %s, %s", iso3166[i-2:i], iso3166[i:i+2])
		}
	}
	counts := map[string]int{"US": 57, "CA": 13, "AU": 8, "GB": 4}
	for cc, want := range counts {
		list, ok := subdivisionsOf(cc)
		if !ok {
			t.Fatalf("no subdivisions for %s", cc)
		}
		n := 0
		for _, c := range list {
			if c == ' ' {
				n++
			}
		}
		if n-1 != want {
			t.Errorf("%s has %d subdivisions, want %d", cc, n-1, want)
		}
	}
}
