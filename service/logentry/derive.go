package logentry

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"time"
)

// QuantizeScore buckets a 0..1 score to steps of 0.01 (round half away from
// zero), the precision the log keeps: enough to replay thresholds written
// with two decimals, too coarse to fingerprint a classifier's output.
func QuantizeScore(v float64) float64 {
	return math.Round(v*100) / 100
}

// FormatTime renders t as the entry's time: UTC, second precision.
func FormatTime(t time.Time) string {
	return t.UTC().Truncate(time.Second).Format(time.RFC3339)
}

// AttestationDigest is the hex SHA-256 of an attestation (the compact JWS
// exactly as sent), for [Entry.AttestationSHA256]. A platform holding the
// token can find its entry; the log alone cannot reconstruct the token.
func AttestationDigest(token []byte) string {
	sum := sha256.Sum256(token)
	return hex.EncodeToString(sum[:])
}
