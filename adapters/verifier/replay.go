package verifier

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// ReplayGuard remembers one-time values across requests (and replicas).
// adapters/localcache.Replay and adapters/rediscache.Store implement it.
//
// FirstUse reports whether key is used for the first time within ttl. An
// error means the answer is not certain (for rediscache, one wrapping
// ErrDegraded while Redis cannot be asked): the verifier then treats the
// token as unverifiable, never as fresh.
type ReplayGuard interface {
	FirstUse(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// replayNamespace labels evidence tokens in the replay stores, which accept
// "<namespace>:<hex HMAC>" keys.
const replayNamespace = "ev:"

// minReplayKey is the shortest accepted Options.ReplayKey: the HMAC key is
// what keeps stored replay keys from being linked to tokens.
const minReplayKey = 32

// replayKey is the store key of a token: a keyed HMAC, so the store (and
// whoever reads Redis) learns nothing of the token, and nobody without the
// key can tell which token a stored key belongs to.
//
// The HMAC is over the token's signed content (see signedContent), not the
// token as sent: ECDSA signatures are malleable — (r, n−s) verifies as well
// as (r, s) — so anyone holding a used ES256 token could otherwise mint a
// "new" one that verifies and slips past the replay check.
func (v *Verifier) replayKey(token string) string {
	mac := hmac.New(sha256.New, v.macKey)
	mac.Write([]byte(signedContent(token)))
	var sum [sha256.Size]byte
	buf := make([]byte, len(replayNamespace), len(replayNamespace)+2*sha256.Size)
	copy(buf, replayNamespace)
	return string(hex.AppendEncode(buf, mac.Sum(sum[:0])))
}

// signedContent strips the signatures a holder of the token could vary:
// for a compact JWS, the signature after the last '.'; for an SD-JWT
// presentation, the key-binding JWT's signature (the issuer's signature is
// covered by the KB-JWT's sd_hash, and the KB-JWT's payload is unique to
// the presentation: nonce, iat, sd_hash).
func signedContent(token string) string {
	if i := strings.LastIndexByte(token, '.'); i >= 0 {
		return token[:i]
	}
	return token
}

// firstUse spends the token's single use. It runs last, after every other
// check, so a token that fails verification does not burn its use. The
// replay store remembers the token until it could no longer be accepted
// anyway: until (its end of validity) plus leeway, at least a second.
func (v *Verifier) firstUse(ctx context.Context, token string, until time.Time, leeway time.Duration) *failure {
	ttl := until.Add(leeway).Sub(v.now())
	if ttl < time.Second {
		ttl = time.Second
	}
	first, err := v.replay.FirstUse(ctx, v.replayKey(token), ttl)
	if err != nil {
		return failWrap(ReasonUnverifiable, err, "replay store cannot tell whether the token is fresh")
	}
	if !first {
		return fail(ReasonReplayed, "token already used")
	}
	return nil
}
