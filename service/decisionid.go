package service

import (
	"crypto/rand"
	"encoding/binary"
	"time"

	"github.com/google/uuid"
)

// newDecisionID is a UUIDv7 (RFC 9562) that reveals no more than the log
// entry's time does: its 48-bit timestamp is at the second (the
// milliseconds are zero) and every other bit but the version and variant is
// random. A library UUIDv7 carries milliseconds and a sub-millisecond
// counter, which the public log would otherwise publish beside a time
// coarsened to seconds on purpose. Ids stay sortable by second.
func newDecisionID(at time.Time) (string, error) {
	var u uuid.UUID
	if _, err := rand.Read(u[6:]); err != nil {
		return "", err
	}
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(at.Unix())*1000)
	copy(u[:6], ms[2:])
	u[6] = 0x70 | u[6]&0x0f // version 7
	u[8] = 0x80 | u[8]&0x3f // RFC 9562 variant
	return u.String(), nil
}
