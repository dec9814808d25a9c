package policy

import (
	"errors"
	"testing"
	"time"
)

func mustDate(t testing.TB, s string) Date {
	t.Helper()
	d, err := ParseDate(s)
	if err != nil {
		t.Fatalf("ParseDate(%q): %v", s, err)
	}
	return d
}

func TestParseDate(t *testing.T) {
	good := map[string]Date{
		"2024-02-29": {2024, time.February, 29},
		"2000-02-29": {2000, time.February, 29},
		"0001-01-01": {1, time.January, 1},
		"9999-12-31": {9999, time.December, 31},
		"2023-04-30": {2023, time.April, 30},
	}
	for s, want := range good {
		got, err := ParseDate(s)
		if err != nil || got != want {
			t.Errorf("ParseDate(%q) = %v, %v; want %v, nil", s, got, err, want)
		}
		if got.String() != s {
			t.Errorf("ParseDate(%q).String() = %q", s, got.String())
		}
	}
	bad := []string{
		"", "2023-02-29", "1900-02-29", "2024-13-01", "2024-00-10", "2024-04-31", "2024-01-00",
		"0000-01-01", " 2024-01-01", "2024-01-01 ", "2024-1-1", "24-01-01", "2024/01/01",
		"2024-01-01T00:00:00Z", "2024-01-011", "+024-01-01", "2024-0a-01", "２０２４-01-01",
		"10000-01-01",
	}
	for _, s := range bad {
		if d, err := ParseDate(s); !errors.Is(err, ErrInvalidDate) {
			t.Errorf("ParseDate(%q) = %v, %v; want an error wrapping ErrInvalidDate", s, d, err)
		}
	}
}

func TestAgeOn(t *testing.T) {
	tests := []struct {
		birth, on string
		want      int
	}{
		// 29 February births: a year older on 1 March in common years.
		{"2008-02-29", "2021-02-28", 12},
		{"2008-02-29", "2021-03-01", 13},
		{"2008-02-29", "2024-02-28", 15},
		{"2008-02-29", "2024-02-29", 16},
		{"2008-02-29", "2008-02-29", 0},
		// Birthday today and the day before.
		{"2010-06-15", "2023-06-15", 13},
		{"2010-06-15", "2023-06-14", 12},
		{"2010-06-15", "2023-06-16", 13},
		// Year ends.
		{"2010-12-31", "2023-12-31", 13},
		{"2010-12-31", "2024-01-01", 13},
		{"2010-12-31", "2023-12-30", 12},
		{"2011-01-01", "2023-12-31", 12},
		{"2011-01-01", "2024-01-01", 13},
		// Before birth.
		{"2020-05-01", "2020-04-30", -1},
		{"2020-05-01", "2019-05-02", -1},
		{"2020-05-01", "2019-05-01", -1},
	}
	for _, tt := range tests {
		if got := AgeOn(mustDate(t, tt.birth), mustDate(t, tt.on)); got != tt.want {
			t.Errorf("AgeOn(%s, %s) = %d, want %d", tt.birth, tt.on, got, tt.want)
		}
	}
}

func TestBirthdayFor(t *testing.T) {
	tests := []struct {
		birth string
		age   int
		want  string
	}{
		{"2008-02-29", 13, "2021-03-01"},
		{"2008-02-29", 16, "2024-02-29"},
		{"2008-02-29", 92, "2100-03-01"}, // 2100 is not a leap year
		{"2010-12-31", 13, "2023-12-31"},
		{"2010-06-15", 18, "2028-06-15"},
	}
	for _, tt := range tests {
		birth := mustDate(t, tt.birth)
		got := BirthdayFor(birth, tt.age)
		if got.String() != tt.want {
			t.Errorf("BirthdayFor(%s, %d) = %s, want %s", tt.birth, tt.age, got, tt.want)
		}
		// Consistency with AgeOn: the birthday is the first day of that age.
		if a := AgeOn(birth, got); a != tt.age {
			t.Errorf("AgeOn(%s, BirthdayFor(...)=%s) = %d, want %d", tt.birth, got, a, tt.age)
		}
		prev := DateOf(got.Time(time.UTC).AddDate(0, 0, -1))
		if a := AgeOn(birth, prev); a != tt.age-1 {
			t.Errorf("AgeOn(%s, %s) = %d, want %d", tt.birth, prev, a, tt.age-1)
		}
	}
}

func TestDateCompareAndTime(t *testing.T) {
	a, b := mustDate(t, "2024-01-31"), mustDate(t, "2024-02-01")
	if a.Compare(b) != -1 || b.Compare(a) != 1 || a.Compare(a) != 0 {
		t.Errorf("Compare: got %d %d %d", a.Compare(b), b.Compare(a), a.Compare(a))
	}
	if !a.Before(b) || a.After(b) || !b.After(a) || a.Before(a) {
		t.Error("Before/After disagree with Compare")
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	tm := a.Time(berlin)
	if want := "2024-01-31T00:00:00+01:00"; tm.Format(time.RFC3339) != want {
		t.Errorf("Time = %s, want %s", tm.Format(time.RFC3339), want)
	}
	if DateOf(tm) != a {
		t.Errorf("DateOf(Time(d)) = %v, want %v", DateOf(tm), a)
	}
	// DateOf uses t's own location.
	late := time.Date(2026, 11, 26, 23, 30, 0, 0, time.UTC)
	if got := DateOf(late.In(berlin)).String(); got != "2026-11-27" {
		t.Errorf("DateOf in Berlin = %s, want 2026-11-27", got)
	}
	var d Date
	if err := d.UnmarshalText([]byte("2023-02-29")); !errors.Is(err, ErrInvalidDate) {
		t.Errorf("UnmarshalText(2023-02-29) = %v", err)
	}
}

func TestBandAndDecision(t *testing.T) {
	bands := map[int]Band{-1: BandUnder13, 0: BandUnder13, 12: BandUnder13, 13: Band13To15, 15: Band13To15, 16: Band16To17, 17: Band16To17, 18: Band18Plus, 99: Band18Plus}
	for age, want := range bands {
		if got := BandOf(age); got != want {
			t.Errorf("BandOf(%d) = %s, want %s", age, got, want)
		}
	}
	order := []Decision{"bogus", Allow, ParentalConsentRequired, AdditionalVerificationRequired, Deny}
	for i, d := range order {
		if d.Precedence() != i {
			t.Errorf("%s.Precedence() = %d, want %d", d, d.Precedence(), i)
		}
		if d.Valid() != (i > 0) {
			t.Errorf("%s.Valid() = %v", d, d.Valid())
		}
	}
	if Band("13-15").Valid() || !BandUnknown.Valid() {
		t.Error("Band.Valid is wrong")
	}
}
