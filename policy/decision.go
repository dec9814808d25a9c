package policy

// Decision is the outcome of an age check. Its values are part of the wire
// format (responses, attestations, decision logs), so they never change.
type Decision string

// The decisions a rule can produce, from least to most restrictive.
const (
	// Allow: the user may proceed without further steps.
	Allow Decision = "allow"
	// ParentalConsentRequired: the user may proceed once a parent consents
	// (below the digital age of consent).
	ParentalConsentRequired Decision = "parental_consent_required"
	// AdditionalVerificationRequired: the evidence is not enough to decide;
	// the platform must step up age assurance. Also the fail-safe outcome.
	AdditionalVerificationRequired Decision = "additional_verification_required"
	// Deny: the user may not hold an account.
	Deny Decision = "deny"
)

// Precedence orders decisions so that when several rules fire the most
// restrictive wins: deny (4) > additional_verification_required (3) >
// parental_consent_required (2) > allow (1). Unknown decisions rank 0, below
// allow, so they can never win over a real decision.
func (d Decision) Precedence() int {
	switch d {
	case Deny:
		return 4
	case AdditionalVerificationRequired:
		return 3
	case ParentalConsentRequired:
		return 2
	case Allow:
		return 1
	}
	return 0
}

// Valid reports whether d is one of the four defined decisions; the loader
// uses it to reject typos in policy files.
func (d Decision) Valid() bool { return d.Precedence() > 0 }

// Band is an age range reported instead of an age, so attestations and logs
// never carry a birth date or exact age. The bands match the defaults of the
// OS age signals (Google Play Age Signals, Apple Declared Age Range).
type Band string

// The age bands.
const (
	BandUnder13 Band = "under_13"
	Band13To15  Band = "13_15"
	Band16To17  Band = "16_17"
	Band18Plus  Band = "18_plus"
	// BandUnknown is for callers that have no age at all; BandOf never
	// returns it.
	BandUnknown Band = "unknown"
)

// BandOf returns the band containing age: under 13, 13–15, 16–17, 18 and over.
func BandOf(age int) Band {
	switch {
	case age < 13:
		return BandUnder13
	case age < 16:
		return Band13To15
	case age < 18:
		return Band16To17
	}
	return Band18Plus
}

// Valid reports whether b is one of the defined bands; the loader uses it to
// reject typos in obligation band lists.
func (b Band) Valid() bool {
	switch b {
	case BandUnder13, Band13To15, Band16To17, Band18Plus, BandUnknown:
		return true
	}
	return false
}
