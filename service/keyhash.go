package service

import (
	"encoding/binary"
	"encoding/hex"
	"hash"
	"math"
	"strconv"

	"github.com/ageassure/ageassure/policy"
)

// keyHasher is a keyed HMAC over the service's reference key with a
// scratch buffer. The message is built in the buffer and hashed with one
// Write, and the key is formatted in it too: writing piece by piece through
// the hash.Hash interface made every small slice escape to the heap (28
// allocations per decision key). The bytes hashed are exactly those the
// piecewise writes produced, so keys are unchanged. A keyHasher belongs to
// one goroutine between Get and Put (sync.Pool), so sharing is safe.
type keyHasher struct {
	mac hash.Hash
	buf []byte
}

// getKeyHasher returns a pooled hasher, reset, with an empty buffer.
func (s *Service) getKeyHasher() *keyHasher {
	k := s.hmacs.Get().(*keyHasher)
	k.mac.Reset()
	k.buf = k.buf[:0]
	return k
}

// putKeyHasher clears the buffer, which may have held a raw device or
// subject reference, and returns k to the pool.
func (s *Service) putKeyHasher(k *keyHasher) {
	clear(k.buf)
	k.buf = k.buf[:0]
	s.hmacs.Put(k)
}

// key hashes the message in the buffer and returns prefix followed by the
// lower-case hex MAC, with one allocation (the string).
func (k *keyHasher) key(prefix string) string {
	msg := len(k.buf)
	k.mac.Write(k.buf)
	k.buf = k.mac.Sum(k.buf)
	sum := k.buf[msg:]
	out := len(k.buf)
	k.buf = append(k.buf, prefix...)
	k.buf = append(k.buf, make([]byte, hex.EncodedLen(len(sum)))...)
	hex.Encode(k.buf[out+len(prefix):], sum)
	return string(k.buf[out:])
}

// field appends v preceded by its length (4 bytes, big-endian): the same
// bytes the piecewise writes of the length and then v hashed.
func (k *keyHasher) field(v string) {
	k.buf = binary.BigEndian.AppendUint32(k.buf, uint32(len(v)))
	k.buf = append(k.buf, v...)
}

// begin starts a field whose contents are appended next; end writes its
// length in front of them. begin/end around appends equal field on the
// concatenated string.
func (k *keyHasher) begin() int {
	k.buf = append(k.buf, 0, 0, 0, 0)
	return len(k.buf)
}

func (k *keyHasher) end(start int) {
	binary.BigEndian.PutUint32(k.buf[start-4:start], uint32(len(k.buf)-start))
}

// intField is field(strconv.Itoa(v)) without the string.
func (k *keyHasher) intField(v int) { k.prefixedInt("", v) }

// prefixedField is field(prefix + v) without the string.
func (k *keyHasher) prefixedField(prefix, v string) {
	start := k.begin()
	k.buf = append(k.buf, prefix...)
	k.buf = append(k.buf, v...)
	k.end(start)
}

// prefixedInt is field(prefix + strconv.Itoa(v)) without the string.
func (k *keyHasher) prefixedInt(prefix string, v int) {
	start := k.begin()
	k.buf = append(k.buf, prefix...)
	k.buf = strconv.AppendInt(k.buf, int64(v), 10)
	k.end(start)
}

// consentField is "consent:" + strconv.FormatBool(v), as constants.
func consentField(v bool) string {
	if v {
		return "consent:true"
	}
	return "consent:false"
}

// rangeField is field(prefix + lo + "-" + hi + ":" + tag) without the
// string.
func (k *keyHasher) rangeField(prefix string, lo, hi int, tag string) {
	start := k.begin()
	k.buf = append(k.buf, prefix...)
	k.buf = strconv.AppendInt(k.buf, int64(lo), 10)
	k.buf = append(k.buf, '-')
	k.buf = strconv.AppendInt(k.buf, int64(hi), 10)
	k.buf = append(k.buf, ':')
	k.buf = append(k.buf, tag...)
	k.end(start)
}

// num appends f's IEEE 754 bits, big-endian.
func (k *keyHasher) num(f float64) {
	k.buf = binary.BigEndian.AppendUint64(k.buf, math.Float64bits(f))
}

// dateField is field(d.String()) without the string for the dates that
// occur (years 0–9999); any other falls back to String itself.
func (k *keyHasher) dateField(d policy.Date) {
	if d.Year < 0 || d.Year > 9999 || d.Month < 0 || d.Month > 99 || d.Day < 0 || d.Day > 99 {
		k.field(d.String())
		return
	}
	start := k.begin()
	k.buf = appendPadded(k.buf, d.Year, 4)
	k.buf = append(k.buf, '-')
	k.buf = appendPadded(k.buf, int(d.Month), 2)
	k.buf = append(k.buf, '-')
	k.buf = appendPadded(k.buf, d.Day, 2)
	k.end(start)
}

// appendPadded appends a non-negative v zero-padded to width digits, as
// fmt's %0<width>d does.
func appendPadded(b []byte, v, width int) []byte {
	for n, p := 1, 10; n < width; n, p = n+1, p*10 {
		if v < p {
			b = append(b, '0')
		}
	}
	return strconv.AppendInt(b, int64(v), 10)
}
