package policy

import (
	"errors"
	"fmt"
	"time"
)

// ErrInvalidDate is wrapped by every error ParseDate returns, so callers can
// map any malformed birth date to one client error with errors.Is.
var ErrInvalidDate = errors.New("invalid date")

// Date is a civil (calendar) date with no time of day and no location.
//
// Ages are counted in calendar days in the user's jurisdiction, not in
// elapsed time, so birth dates and effective dates use this type rather than
// time.Time, whose instant-based comparisons shift across timezones.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// ParseDate parses a strict ISO 8601 calendar date, "YYYY-MM-DD", with a
// four-digit year from 0001 to 9999.
//
// It is strict because a birth date that is silently normalised
// (2023-02-29 to 2023-03-01, or " 2024-01-01" trimmed) would change an age
// decision without anyone noticing. Errors wrap ErrInvalidDate.
func ParseDate(s string) (Date, error) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return Date{}, fmt.Errorf("%w: %q is not of the form YYYY-MM-DD", ErrInvalidDate, s)
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 {
		return Date{}, fmt.Errorf("%w: %q is not of the form YYYY-MM-DD", ErrInvalidDate, s)
	}
	if year < 1 {
		return Date{}, fmt.Errorf("%w: %q: year must be 0001 to 9999", ErrInvalidDate, s)
	}
	if month < 1 || month > 12 {
		return Date{}, fmt.Errorf("%w: %q: month out of range", ErrInvalidDate, s)
	}
	if day < 1 || day > daysIn(year, time.Month(month)) {
		return Date{}, fmt.Errorf("%w: %q: day out of range for the month", ErrInvalidDate, s)
	}
	return Date{Year: year, Month: time.Month(month), Day: day}, nil
}

// digits parses an unsigned decimal made only of ASCII digits.
func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func isLeap(year int) bool {
	return year%4 == 0 && (year%100 != 0 || year%400 == 0)
}

func daysIn(year int, m time.Month) int {
	switch m {
	case time.February:
		if isLeap(year) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	default:
		return 31
	}
}

// DateOf returns the calendar date of t in t's own location. Convert t with
// In first to get the date somewhere else (see Policy.Today).
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{Year: y, Month: m, Day: d}
}

// String formats d as "YYYY-MM-DD", the form ParseDate accepts.
func (d Date) String() string {
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// IsZero reports whether d is the zero Date, which the policy model uses for
// "not set" (for example an open-ended effective_until).
func (d Date) IsZero() bool { return d == Date{} }

// Compare returns -1, 0 or +1 as d is before, equal to or after o, so dates
// can be sorted with slices.SortFunc.
func (d Date) Compare(o Date) int {
	switch {
	case d.Year != o.Year:
		return sign(d.Year - o.Year)
	case d.Month != o.Month:
		return sign(int(d.Month) - int(o.Month))
	default:
		return sign(d.Day - o.Day)
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// Before reports whether d is strictly earlier than o.
func (d Date) Before(o Date) bool { return d.Compare(o) < 0 }

// After reports whether d is strictly later than o.
func (d Date) After(o Date) bool { return d.Compare(o) > 0 }

// Time returns midnight at the start of d in loc (UTC if loc is nil), for
// example to compute when a threshold birthday begins somewhere.
func (d Date) Time(loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

// MarshalText encodes d as "YYYY-MM-DD" so dates appear in that form in JSON
// (decision logs, the canonical policy model).
func (d Date) MarshalText() ([]byte, error) {
	return []byte(d.String()), nil
}

// UnmarshalText decodes a "YYYY-MM-DD" date with ParseDate's strictness.
func (d *Date) UnmarshalText(b []byte) error {
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// AgeOn returns the number of whole years someone born on birth has completed
// on the date on. It is negative when on is before birth.
//
// Someone born on 29 February becomes a year older on 1 March in common
// years and on 29 February in leap years (the rule in, for example, UK and
// most US law): comparing (month, day) pairs gives exactly that.
func AgeOn(birth, on Date) int {
	age := on.Year - birth.Year
	if on.Month < birth.Month || (on.Month == birth.Month && on.Day < birth.Day) {
		age--
	}
	return age
}

// BirthdayFor returns the date on which someone born on birth reaches age,
// the day a cached age band must be re-assessed. A 29 February birth date
// maps to 1 March in common years, consistent with AgeOn.
func BirthdayFor(birth Date, age int) Date {
	d := Date{Year: birth.Year + age, Month: birth.Month, Day: birth.Day}
	if d.Month == time.February && d.Day == 29 && !isLeap(d.Year) {
		d.Month, d.Day = time.March, 1
	}
	return d
}
