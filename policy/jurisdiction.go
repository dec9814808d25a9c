package policy

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Errors returned (wrapped) by NormalizeJurisdiction. They are distinct so an
// API can tell a client "malformed code" apart from "no such country".
var (
	// ErrJurisdictionSyntax: the code is not of the form AA or AA-XXX
	// (ISO 3166-1 alpha-2, optionally with a 1–3 character ISO 3166-2
	// subdivision).
	ErrJurisdictionSyntax = errors.New("jurisdiction code is not of the form AA or AA-XXX")
	// ErrUnknownJurisdiction: the country is not an officially assigned
	// ISO 3166-1 alpha-2 code, or the subdivision is not one we know for a
	// country whose subdivisions we list.
	ErrUnknownJurisdiction = errors.New("unknown jurisdiction")
)

// iso3166 holds the 249 officially assigned ISO 3166-1 alpha-2 codes,
// concatenated. User-assigned (XK, ZZ), exceptionally reserved (UK, EU) and
// transitionally reserved codes are deliberately absent: a policy keyed on
// them would silently never match.
const iso3166 = "" +
	"ADAEAFAGAIALAMAOAQARASATAUAWAXAZ" +
	"BABBBDBEBFBGBHBIBJBLBMBNBOBQBRBSBTBVBWBYBZ" +
	"CACCCDCFCGCHCICKCLCMCNCOCRCUCVCWCXCYCZ" +
	"DEDJDKDMDODZ" +
	"ECEEEGEHERESET" +
	"FIFJFKFMFOFR" +
	"GAGBGDGEGFGGGHGIGLGMGNGPGQGRGSGTGUGWGY" +
	"HKHMHNHRHTHU" +
	"IDIEILIMINIOIQIRISIT" +
	"JEJMJOJP" +
	"KEKGKHKIKMKNKPKRKWKYKZ" +
	"LALBLCLILKLRLSLTLULVLY" +
	"MAMCMDMEMFMGMHMKMLMMMNMOMPMQMRMSMTMUMVMWMXMYMZ" +
	"NANCNENFNGNINLNONPNRNUNZ" +
	"OM" +
	"PAPEPFPGPHPKPLPMPNPRPSPTPWPY" +
	"QA" +
	"RERORSRURW" +
	"SASBSCSDSESGSHSISJSKSLSMSNSOSRSSSTSVSXSYSZ" +
	"TCTDTFTGTHTJTKTLTMTNTOTRTTTVTWTZ" +
	"UAUGUMUSUYUZ" +
	"VAVCVEVGVIVNVU" +
	"WFWS" +
	"YEYT" +
	"ZAZMZW"

// subdivisionsOf lists, space-delimited, the ISO 3166-2 subdivision codes of
// the countries where the law differs by subdivision and where we therefore
// must not accept a typo ("US-UTT") that would silently fall back to the
// national pack. ok is false for countries whose subdivisions we do not list.
func subdivisionsOf(country string) (list string, ok bool) {
	switch country {
	case "US": // 50 states, DC, and the outlying areas that also have alpha-2 codes.
		return " AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY" +
			" NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC AS GU MP PR UM VI ", true
	case "CA":
		return " AB BC MB NB NL NS NT NU ON PE QC SK YT ", true
	case "AU":
		return " ACT NSW NT QLD SA TAS VIC WA ", true
	case "GB":
		return " ENG SCT WLS NIR ", true
	}
	return "", false
}

// NormalizeJurisdiction validates a jurisdiction code and returns its
// canonical upper-case form ("us-ut" → "US-UT").
//
// Codes are ISO 3166-1 alpha-2, optionally followed by "-" and an ISO 3166-2
// subdivision of 1–3 letters or digits. Syntax errors wrap
// ErrJurisdictionSyntax; unassigned countries and, for US, CA, AU and GB,
// unknown subdivisions wrap ErrUnknownJurisdiction. Subdivisions of other
// countries are accepted on syntax alone. It does not allocate when s is
// already canonical, so it is cheap enough for every request.
func NormalizeJurisdiction(s string) (string, error) {
	if !validJurisdictionSyntax(s) {
		return "", fmt.Errorf("%w: %q", ErrJurisdictionSyntax, s)
	}
	code := strings.ToUpper(s)
	if !isAssignedCountry(code[:2]) {
		return "", fmt.Errorf("%w: %q is not an assigned ISO 3166-1 alpha-2 country code", ErrUnknownJurisdiction, s)
	}
	if len(code) > 2 {
		if list, ok := subdivisionsOf(code[:2]); ok && !strings.Contains(list, " "+code[3:]+" ") {
			return "", fmt.Errorf("%w: %q is not an ISO 3166-2 subdivision of %s", ErrUnknownJurisdiction, s, code[:2])
		}
	}
	return code, nil
}

func validJurisdictionSyntax(s string) bool {
	if len(s) != 2 && (len(s) < 4 || len(s) > 6 || s[2] != '-') {
		return false
	}
	if !isLetter(s[0]) || !isLetter(s[1]) {
		return false
	}
	for i := 3; i < len(s); i++ {
		if !isLetter(s[i]) && (s[i] < '0' || s[i] > '9') {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool {
	return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

// isAssignedCountry reports whether cc (two upper-case letters) is assigned,
// by binary search over the sorted iso3166 table.
func isAssignedCountry(cc string) bool {
	n := len(iso3166) / 2
	i := sort.Search(n, func(i int) bool { return iso3166[2*i:2*i+2] >= cc })
	return i < n && iso3166[2*i:2*i+2] == cc
}

// countryOf returns the ISO 3166-1 part of a canonical code.
func countryOf(code string) string {
	if len(code) > 2 {
		return code[:2]
	}
	return code
}
