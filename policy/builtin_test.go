package policy

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func builtin(t testing.TB) *Policy {
	t.Helper()
	p, err := Builtin()
	if err != nil {
		t.Fatalf("Builtin: %v", err)
	}
	return p
}

// day returns midday UTC on a date, far from any timezone's date line.
func day(t testing.TB, s string) time.Time {
	return mustDate(t, s).Time(time.UTC).Add(12 * time.Hour)
}

// ruleIDs returns the reason ids of a result.
func ruleIDs(r Result) []string {
	var ids []string
	for _, x := range r.Reasons {
		ids = append(ids, x.Rule)
	}
	return ids
}

// agesTable is ages.md's GDPR table (consent ages as of late 2026) plus the
// other national packs: code → minimum age, consent age.
var agesTable = []struct {
	code             string
	minimum, consent int
}{
	{"AT", 13, 14}, {"BE", 13, 13}, {"BG", 13, 14}, {"HR", 13, 16}, {"CY", 13, 14},
	{"CZ", 13, 15}, {"DK", 13, 15}, {"EE", 13, 13}, {"FI", 13, 13}, {"FR", 13, 15},
	{"DE", 13, 16}, {"GR", 13, 15}, {"HU", 13, 16}, {"IE", 13, 16}, {"IT", 13, 14},
	{"LV", 13, 13}, {"LT", 13, 14}, {"LU", 13, 16}, {"MT", 13, 13}, {"NL", 13, 16},
	{"PL", 13, 16}, {"PT", 13, 13}, {"RO", 13, 16}, {"SK", 13, 16}, {"SI", 13, 15},
	{"ES", 13, 14}, {"SE", 13, 13}, {"NO", 13, 13}, {"IS", 13, 13}, {"LI", 13, 16},
	{"GB", 13, 13}, {"US", 13, 13}, {"AU", 16, 16},
	{"CN", 13, 14}, {"ID", 16, 18}, {"KR", 13, 14}, {"VN", 13, 16},
	{"CA-QC", 13, 14}, {"PE", 13, 14},
	{"KE", 13, 18}, {"NG", 13, 18}, {"ZA", 13, 18},
	{"US-FL", 14, 16},
}

// agesOther are the packs whose answer on 2026-11-26 is not a plain row of
// agesTable: not yet in force (IN, CL), a step-up beyond the ages (MY, BR,
// US-TN, US-MS), enjoined (the US pack decides), pending (NZ, TR).
var agesOther = []string{"IN", "MY", "BR", "CL", "US-TN", "US-MS", "US-AR", "US-GA", "US-LA", "US-NE", "US-OH", "NZ", "TR"}

func TestBuiltinJurisdictions(t *testing.T) {
	p := builtin(t)
	var want []string
	for _, row := range agesTable {
		want = append(want, row.code)
	}
	want = append(want, agesOther...)
	slices.Sort(want)
	if diff := cmp.Diff(want, p.Jurisdictions()); diff != "" {
		t.Errorf("Jurisdictions() mismatch (-want +got):\n%s", diff)
	}
	if p.ID() != "ageassure-builtin" || !strings.HasPrefix(p.Hash(), "sha256:") || len(p.Hash()) != len("sha256:")+64 {
		t.Errorf("ID, Hash = %q, %q", p.ID(), p.Hash())
	}
	if p.AntiHoppingWindow() != 24*time.Hour {
		t.Errorf("AntiHoppingWindow = %v", p.AntiHoppingWindow())
	}
}

// TestBuiltinRows checks every row at M-1, M, C-1 and C as of 2026-11-26.
func TestBuiltinRows(t *testing.T) {
	p := builtin(t)
	now := day(t, "2026-11-26")
	for _, row := range agesTable {
		lc := strings.ToLower(row.code)
		ages := []int{row.minimum - 1, row.minimum, row.consent - 1, row.consent}
		slices.Sort(ages)
		ages = slices.Compact(ages)
		for _, age := range ages {
			var want Decision
			var ids []string
			switch {
			case age < row.minimum:
				want, ids = Deny, []string{lc + ".minimum-age"}
			case age < row.consent:
				want, ids = ParentalConsentRequired, []string{lc + ".digital-consent-age"}
			default:
				want, ids = Allow, []string{lc + ".of-age"}
			}
			t.Run(fmt.Sprintf("%s/%d", row.code, age), func(t *testing.T) {
				r := p.Evaluate(Input{Jurisdiction: row.code, Stage: "signup", Age: age, Now: now})
				if r.Decision != want || r.Pack != row.code {
					t.Errorf("Decision, Pack = %s, %s; want %s, %s", r.Decision, r.Pack, want, row.code)
				}
				if diff := cmp.Diff(ids, ruleIDs(r)); diff != "" {
					t.Errorf("reasons (-want +got):\n%s", diff)
				}
				if r.MinimumAge != row.minimum || r.ConsentAge != row.consent {
					t.Errorf("MinimumAge, ConsentAge = %d, %d; want %d, %d", r.MinimumAge, r.ConsentAge, row.minimum, row.consent)
				}
				for _, reason := range r.Reasons {
					if reason.Citation == "" || strings.Contains(reason.Citation, "{") || strings.Contains(reason.Message, "{") {
						t.Errorf("unexpanded or empty reason: %+v", reason)
					}
				}
				if len(r.EvalErrors) > 0 {
					t.Errorf("EvalErrors: %v", r.EvalErrors)
				}
				if r.AsOf.String() != "2026-11-26" {
					t.Errorf("AsOf = %s", r.AsOf)
				}
			})
		}
	}
}

func TestBuiltinDates(t *testing.T) {
	p := builtin(t)
	tests := []struct {
		name        string
		in          Input
		want        Decision
		ids         []string
		obligations []string
		pack        string
		minimum     int
		consent     int
	}{
		{
			name: "DK 14 on 2023-12-31: consent age 13",
			in:   Input{Jurisdiction: "DK", Age: 14, Now: day(t, "2023-12-31")},
			want: Allow, ids: []string{"dk.of-age"}, pack: "DK", minimum: 13, consent: 13,
		},
		{
			name: "DK 14 on 2024-01-01: consent age 15",
			in:   Input{Jurisdiction: "DK", Age: 14, Now: day(t, "2024-01-01")},
			want: ParentalConsentRequired, ids: []string{"dk.digital-consent-age"}, pack: "DK", minimum: 13, consent: 15,
		},
		{
			name: "DK 14 just before local midnight on 2023-12-31",
			in:   Input{Jurisdiction: "DK", Age: 14, Now: time.Date(2023, 12, 31, 22, 59, 0, 0, time.UTC)},
			want: Allow, ids: []string{"dk.of-age"}, pack: "DK", minimum: 13, consent: 13,
		},
		{
			name: "DK 14 at local midnight on 2024-01-01 (23:00 UTC)",
			in:   Input{Jurisdiction: "DK", Age: 14, Now: time.Date(2023, 12, 31, 23, 0, 0, 0, time.UTC)},
			want: ParentalConsentRequired, ids: []string{"dk.digital-consent-age"}, pack: "DK", minimum: 13, consent: 15,
		},
		{
			name: "AU 15 before 2025-12-10",
			in:   Input{Jurisdiction: "AU", Age: 15, Now: day(t, "2025-12-09")},
			want: Allow, ids: []string{"au.of-age"}, pack: "AU", minimum: 13, consent: 13,
		},
		{
			name: "AU 15 from 2025-12-10",
			in:   Input{Jurisdiction: "AU", Age: 15, Now: day(t, "2025-12-10")},
			want: Deny, ids: []string{"au.minimum-age"}, pack: "AU", minimum: 16, consent: 16,
		},
		{
			name: "AU 16 from 2025-12-10 carries the destruction duty",
			in:   Input{Jurisdiction: "AU-WA", Age: 16, Now: day(t, "2025-12-10")},
			want: Allow, ids: []string{"au.of-age"}, pack: "AU", minimum: 16, consent: 16,
			obligations: []string{"au.age-assurance-data-destruction", "au.reasonable-steps-age-assurance"},
		},
		{
			name: "US-UT before 2027-05-06: US pack, no Utah duty",
			in:   Input{Jurisdiction: "US-UT", Age: 15, Now: day(t, "2027-05-05")},
			want: Allow, ids: []string{"us.of-age"}, pack: "US", minimum: 13, consent: 13,
		},
		{
			name: "US-UT from 2027-05-06: Utah duty",
			in:   Input{Jurisdiction: "US-UT", Age: 15, Now: day(t, "2027-05-06")},
			want: Allow, ids: []string{"us.of-age"}, pack: "US", minimum: 13, consent: 13,
			obligations: []string{"us-ut.app-store-age-signal"},
		},
		{
			name: "US-UT adult: no minors' duty",
			in:   Input{Jurisdiction: "US-UT", Age: 30, Now: day(t, "2026-11-26")},
			want: Allow, ids: []string{"us.of-age"}, pack: "US", minimum: 13, consent: 13,
		},
		{
			name: "US-TX: the duty applies since the stay of 2026-05-28",
			in:   Input{Jurisdiction: "US-TX", Age: 15, Now: day(t, "2026-11-26")},
			want: Allow, ids: []string{"us.of-age"}, pack: "US", minimum: 13, consent: 13,
			obligations: []string{"us-tx.app-store-age-signal"},
		},
		{
			name: "US 12: deny",
			in:   Input{Jurisdiction: "US", Age: 12, Now: day(t, "2026-11-26")},
			want: Deny, ids: []string{"us.minimum-age"}, pack: "US", minimum: 13, consent: 13,
		},
		{
			name: "JP uses the default pack",
			in:   Input{Jurisdiction: "JP", Age: 12, Now: day(t, "2026-11-26")},
			want: Deny, ids: []string{"default.minimum-age"}, pack: "default", minimum: 13, consent: 13,
		},
		{
			name: "JP 13 uses the default pack",
			in:   Input{Jurisdiction: "JP-13", Age: 13, Now: day(t, "2026-11-26")},
			want: Allow, ids: []string{"default.of-age"}, pack: "default", minimum: 13, consent: 13,
		},
		{
			name: "GB 16 carries the Children's Code duties",
			in:   Input{Jurisdiction: "GB-SCT", Age: 16, Now: day(t, "2026-11-26")},
			want: Allow, ids: []string{"gb.of-age"}, pack: "GB", minimum: 13, consent: 13,
			obligations: []string{"gb.aadc-high-privacy-default", "gb.aadc-geolocation-off", "gb.aadc-profiling-off", "gb.aadc-no-nudge", "gb.osa-highly-effective-age-assurance"},
		},
		{
			name: "GB 18: no children's duties, only the Online Safety Act's",
			in:   Input{Jurisdiction: "GB", Age: 18, Now: day(t, "2026-11-26")},
			want: Allow, ids: []string{"gb.of-age"}, pack: "GB", minimum: 13, consent: 13,
			obligations: []string{"gb.osa-highly-effective-age-assurance"},
		},
		{
			name: "DE 17: DSA duty",
			in:   Input{Jurisdiction: "DE", Age: 17, Now: day(t, "2026-11-26")},
			want: Allow, ids: []string{"de.of-age"}, pack: "DE", minimum: 13, consent: 16,
			obligations: []string{"eu.dsa-no-profiling-ads"},
		},
		{
			name: "DE 17 before the DSA applied",
			in:   Input{Jurisdiction: "DE", Age: 17, Now: day(t, "2024-02-16")},
			want: Allow, ids: []string{"de.of-age"}, pack: "DE", minimum: 13, consent: 16,
		},
		{
			name: "NO (EEA, not EU): no DSA duty",
			in:   Input{Jurisdiction: "NO", Age: 15, Now: day(t, "2026-11-26")},
			want: Allow, ids: []string{"no.of-age"}, pack: "NO", minimum: 13, consent: 13,
		},
		{
			name: "DE before the GDPR applied falls back to default",
			in:   Input{Jurisdiction: "DE", Age: 14, Now: day(t, "2018-05-24")},
			want: Allow, ids: []string{"default.of-age"}, pack: "default", minimum: 13, consent: 13,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := p.Evaluate(tt.in)
			if r.Decision != tt.want || r.Pack != tt.pack || r.MinimumAge != tt.minimum || r.ConsentAge != tt.consent {
				t.Errorf("got %s pack %s ages %d/%d; want %s pack %s ages %d/%d",
					r.Decision, r.Pack, r.MinimumAge, r.ConsentAge, tt.want, tt.pack, tt.minimum, tt.consent)
			}
			if diff := cmp.Diff(tt.ids, ruleIDs(r)); diff != "" {
				t.Errorf("reasons (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.obligations, r.Obligations); diff != "" {
				t.Errorf("obligations (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBuiltinTimezones(t *testing.T) {
	p := builtin(t)
	late := time.Date(2026, 11, 26, 23, 30, 0, 0, time.UTC)
	tests := []struct {
		code, loc, today string
	}{
		{"DE", "Europe/Berlin", "2026-11-27"},
		{"de-by", "Europe/Berlin", "2026-11-27"},
		{"AU", "Australia/Perth", "2026-11-27"},
		{"GB", "Europe/London", "2026-11-26"},
		{"PT", "Atlantic/Azores", "2026-11-26"},
		{"ES", "Atlantic/Canary", "2026-11-26"},
		{"US-NY", "Pacific/Honolulu", "2026-11-26"},
		{"JP", "Etc/GMT+12", "2026-11-26"},
		{"", "Etc/GMT+12", "2026-11-26"},
	}
	for _, tt := range tests {
		if got := p.Location(tt.code).String(); got != tt.loc {
			t.Errorf("Location(%q) = %s, want %s", tt.code, got, tt.loc)
		}
		if got := p.Today(tt.code, late).String(); got != tt.today {
			t.Errorf("Today(%q) = %s, want %s", tt.code, got, tt.today)
		}
	}
	// A Now of 2026-11-26T23:30Z is already 2026-11-27 in Berlin.
	r := p.Evaluate(Input{Jurisdiction: "DE", Age: 16, Now: late})
	if r.AsOf.String() != "2026-11-27" {
		t.Errorf("AsOf = %s, want 2026-11-27", r.AsOf)
	}
	// The default pack uses the earliest date on Earth: 11:00 UTC on
	// 2026-11-27 is still 2026-11-26 at UTC-12.
	r = p.Evaluate(Input{Jurisdiction: "JP", Age: 16, Now: time.Date(2026, 11, 27, 11, 0, 0, 0, time.UTC)})
	if r.AsOf.String() != "2026-11-26" {
		t.Errorf("default AsOf = %s, want 2026-11-26", r.AsOf)
	}
}

func TestBuiltinPrecedence(t *testing.T) {
	p := builtin(t)
	now := day(t, "2026-11-26")
	high := map[string]float64{SignalUnderageLikelihood: 0.95}
	tests := []struct {
		name string
		in   Input
		want Decision
		ids  []string
	}{
		{
			name: "deny beats risk escalation",
			in:   Input{Jurisdiction: "DE", Age: 12, Now: now, Signals: map[string]float64{SignalUnderageLikelihood: 0.99, SignalUserReports: 10}},
			want: Deny, ids: []string{"de.minimum-age", "de.risk-underage-likelihood", "de.risk-user-reports"},
		},
		{
			name: "risk escalates allow",
			in:   Input{Jurisdiction: "DE", Age: 30, Now: now, Signals: high},
			want: AdditionalVerificationRequired, ids: []string{"de.of-age", "de.risk-underage-likelihood"},
		},
		{
			name: "risk escalates parental consent",
			in:   Input{Jurisdiction: "DE", Age: 14, Now: now, Signals: high},
			want: AdditionalVerificationRequired, ids: []string{"de.digital-consent-age", "de.risk-underage-likelihood"},
		},
		{
			name: "risk below the threshold does nothing",
			in:   Input{Jurisdiction: "DE", Age: 30, Now: now, Signals: map[string]float64{SignalUnderageLikelihood: 0.79, SignalUserReports: 2}},
			want: Allow, ids: []string{"de.of-age"},
		},
		{
			name: "user reports at the threshold escalate",
			in:   Input{Jurisdiction: "FR", Age: 16, Now: now, Signals: map[string]float64{SignalUserReports: 3}},
			want: AdditionalVerificationRequired, ids: []string{"fr.of-age", "fr.risk-user-reports"},
		},
		{
			name: "unknown signal types are ignored",
			in:   Input{Jurisdiction: "FR", Age: 16, Now: now, Signals: map[string]float64{"shoe_size": 100}},
			want: Allow, ids: []string{"fr.of-age"},
		},
		{
			name: "anti-hopping: declared 11 then 16 on the same device",
			in:   Input{Jurisdiction: "GB", Age: 16, Now: now, DeviceHistory: true, DeviceMinAge: 11},
			want: AdditionalVerificationRequired, ids: []string{"gb.of-age", "gb.anti-hopping"},
		},
		{
			name: "anti-hopping: an earlier declaration above the minimum is fine",
			in:   Input{Jurisdiction: "GB", Age: 16, Now: now, DeviceHistory: true, DeviceMinAge: 14},
			want: Allow, ids: []string{"gb.of-age"},
		},
		{
			name: "anti-hopping: DeviceMinAge without DeviceHistory is ignored",
			in:   Input{Jurisdiction: "GB", Age: 16, Now: now, DeviceMinAge: 5},
			want: Allow, ids: []string{"gb.of-age"},
		},
		{
			name: "anti-hopping: a still-underage retry is simply denied",
			in:   Input{Jurisdiction: "GB", Age: 12, Now: now, DeviceHistory: true, DeviceMinAge: 10},
			want: Deny, ids: []string{"gb.minimum-age"},
		},
		{
			name: "every fired rule is listed",
			in:   Input{Jurisdiction: "AT", Age: 13, Now: now, DeviceHistory: true, DeviceMinAge: 12, Signals: map[string]float64{SignalUnderageLikelihood: 0.8, SignalUserReports: 3}},
			want: AdditionalVerificationRequired,
			ids:  []string{"at.digital-consent-age", "at.risk-underage-likelihood", "at.risk-user-reports", "at.anti-hopping"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := p.Evaluate(tt.in)
			if r.Decision != tt.want {
				t.Errorf("Decision = %s, want %s", r.Decision, tt.want)
			}
			if diff := cmp.Diff(tt.ids, ruleIDs(r)); diff != "" {
				t.Errorf("reasons (-want +got):\n%s", diff)
			}
			if r.Decision == Deny && len(r.Obligations) != 0 {
				t.Errorf("deny with obligations %v", r.Obligations)
			}
		})
	}
}

func TestBuiltinResultDetails(t *testing.T) {
	p := builtin(t)
	r := p.Evaluate(Input{Jurisdiction: "DE", Stage: "signup", Age: 14, Now: day(t, "2026-11-26")})
	want := Result{
		Decision: ParentalConsentRequired,
		Band:     Band13To15,
		Reasons: []Reason{{
			Rule:     "de.digital-consent-age",
			Decision: ParentalConsentRequired,
			Message:  "Parental consent is required below the digital age of consent (16) in DE.",
			Citation: "GDPR Art. 8(1); no derogation",
		}},
		Obligations: []string{"eu.dsa-no-profiling-ads"},
		Thresholds:  []Threshold{{13, true, true}, {16, false, true}, {18, false, true}},
		Pack:        "DE",
		MinimumAge:  13,
		ConsentAge:  16,
		AsOf:        Date{2026, time.November, 26},
	}
	if diff := cmp.Diff(want, r, cmpopts.IgnoreFields(Result{}, "Fusion")); diff != "" {
		t.Errorf("Evaluate mismatch (-want +got):\n%s", diff)
	}
	// AU after 2025-12-10: thresholds include the minimum age 16 once.
	r = p.Evaluate(Input{Jurisdiction: "AU", Age: 17, Now: day(t, "2026-11-26")})
	if diff := cmp.Diff([]Threshold{{13, true, true}, {16, true, true}, {18, false, true}}, r.Thresholds); diff != "" {
		t.Errorf("AU thresholds (-want +got):\n%s", diff)
	}
	// An invalid code falls back to the default pack and says so.
	r = p.Evaluate(Input{Jurisdiction: "UK", Age: 20, Now: day(t, "2026-11-26")})
	if r.Pack != "default" || r.Decision != Allow || len(r.EvalErrors) != 1 {
		t.Errorf("UK: pack %s decision %s errors %v", r.Pack, r.Decision, r.EvalErrors)
	}
}

// TestConcurrentEvaluate exercises one *Policy from many goroutines (run
// with -race).
func TestConcurrentEvaluate(t *testing.T) {
	p := builtin(t)
	now := day(t, "2026-11-26")
	done := make(chan bool)
	for g := 0; g < 8; g++ {
		go func() {
			ok := true
			for i := 0; i < 200; i++ {
				row := agesTable[(g+i)%len(agesTable)]
				r := p.Evaluate(Input{Jurisdiction: row.code, Age: row.consent, Now: now, Signals: map[string]float64{SignalUserReports: float64(i % 5)}})
				if r.Pack != row.code {
					ok = false
				}
			}
			done <- ok
		}()
	}
	for g := 0; g < 8; g++ {
		if !<-done {
			t.Error("wrong pack under concurrency")
		}
	}
}
