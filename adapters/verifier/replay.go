package verifier

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ageassure/ageassure/policy"
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

// ReplayReleaser is a ReplayGuard that can give a use back.
// adapters/localcache.Replay and adapters/rediscache.Store implement it.
//
// Release forgets key, which FirstUse reported fresh (true, no error), so
// that its next use, on any replica, is a first use again. An error means
// the use may still be remembered somewhere: the token's next use may be
// refused as replayed, never accepted twice.
//
// A guard that is not a ReplayReleaser keeps every use: a check that
// verified evidence and then issued no decision leaves its tokens spent.
type ReplayReleaser interface {
	ReplayGuard
	Release(ctx context.Context, key string) error
}

// replayNamespace labels evidence tokens in the replay stores, which accept
// "<namespace>:<hex HMAC>" keys.
const replayNamespace = "ev:"

// minReplayKey is the shortest accepted Options.ReplayKey: the HMAC key is
// what keeps stored replay keys from being linked to tokens.
const minReplayKey = 32

// Kinds of replayed content, so that the key of one kind of token can never
// be the key of another.
const (
	replayKindJWS        = "jws"
	replayKindCredential = "sd-jwt"
)

// replayKey is the store key of a token: a keyed HMAC, so the store (and
// whoever reads Redis) learns nothing of the token, and nobody without the
// key can tell which token a stored key belongs to.
//
// The HMAC is over the content the signatures were verified on — decoded
// bytes, each part length-prefixed after the kind — never over the token's
// spelling. A JWS library verifies the decoded header and payload, so any
// spelling that decodes alike verifies alike: were the key a hash of the
// text, each spelling (a line break the base64 decoder skips, padding) would
// get a use of its own. The alphabet check in the parsers refuses such
// spellings too; the key does not rely on it.
//
// Signatures are left out: ECDSA signatures are malleable — (r, n−s)
// verifies as well as (r, s) — so anyone holding a used ES256 token could
// otherwise mint a "new" one that verifies and slips past the replay check.
func (v *Verifier) replayKey(kind string, parts ...[]byte) string {
	mac := hmac.New(sha256.New, v.macKey)
	var n [8]byte
	write := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		mac.Write(n[:])
		mac.Write(b)
	}
	write([]byte(kind))
	for _, p := range parts {
		write(p)
	}
	var sum [sha256.Size]byte
	buf := make([]byte, len(replayNamespace), len(replayNamespace)+2*sha256.Size)
	copy(buf, replayNamespace)
	return string(hex.AppendEncode(buf, mac.Sum(sum[:0])))
}

// jwsReplayKey is the replay key of a provider-signed JWS: its decoded
// protected header and payload, what the signature covers.
func (v *Verifier) jwsReplayKey(tok *compactJWS) string {
	return v.replayKey(replayKindJWS, tok.rawHeader, tok.payload)
}

// credentialReplayKey is the replay key of an SD-JWT presentation: the
// issuer-signed JWT's decoded header and payload, every decoded disclosure
// in the order sent, and the key-binding JWT's decoded header and payload.
// The KB-JWT's payload is unique to the presentation (nonce, iat, sd_hash);
// the issuer's signature is covered by its sd_hash.
func (v *Verifier) credentialReplayKey(issuer *compactJWS, disclosures [][]byte, kb *compactJWS) string {
	parts := make([][]byte, 0, len(disclosures)+4)
	parts = append(parts, issuer.rawHeader, issuer.payload)
	parts = append(parts, disclosures...)
	parts = append(parts, kb.rawHeader, kb.payload)
	return v.replayKey(replayKindCredential, parts...)
}

// firstUse spends the single use of the token whose replay key is key. It
// runs last, after every other check, so a token that fails verification
// does not burn its use. The replay store remembers the token until it
// could no longer be accepted anyway: until (its end of validity) plus
// leeway, at least a second. When the store can give the use back, the key
// is kept in ev.Spent for Release.
func (v *Verifier) firstUse(ctx context.Context, key string, until time.Time, leeway time.Duration, ev *policy.Evidence) *failure {
	ttl := until.Add(leeway).Sub(v.now())
	if ttl < time.Second {
		ttl = time.Second
	}
	first, err := v.replay.FirstUse(ctx, key, ttl)
	if err != nil {
		f := failWrap(ReasonUnverifiable, err, "replay store cannot tell whether the token is fresh")
		f.authentic = true // every other check passed before this one
		return f
	}
	if !first {
		return fail(ReasonReplayed, "token already used")
	}
	if v.releaser != nil {
		ev.Spent = key
	}
	return nil
}

// Release gives back the single use of each item of evs that Verify
// accepted and spent (Evidence.Spent), and clears Spent, so that the same
// token may be presented again. It is for a check that verified evidence
// and then issued no decision on it (the decision log unavailable, no
// decision slot, a cancelled request): the retry that check invites must
// not find its evidence replayed. Never call it once a decision based on
// evs was issued, and call it once: a use given back can be spent again by
// the next request, and a second Release would give back that one too
// (clearing Spent guards the same slice against this).
//
// A release that fails leaves the use spent: the retry may then be refused
// as replayed, never accepted twice. The errors are joined.
func (v *Verifier) Release(ctx context.Context, evs []policy.Evidence) error {
	var errs []error
	for i := range evs {
		key := evs[i].Spent
		if key == "" {
			continue
		}
		evs[i].Spent = ""
		switch {
		case v.releaser == nil:
			errs = append(errs, errors.New("verifier: the replay store cannot give uses back"))
		case !strings.HasPrefix(key, replayNamespace):
			// Only evidence keys: a foreign key could be anyone's use.
			errs = append(errs, errors.New("verifier: not an evidence replay key"))
		default:
			if err := v.releaser.Release(ctx, key); err != nil {
				errs = append(errs, fmt.Errorf("verifier: giving back a %s use: %w", evs[i].Type, err))
			}
		}
	}
	return errors.Join(errs...)
}
