// Package verifier verifies the age evidence platforms send with an age
// check: provider-signed results (age estimation, ID document checks,
// parental consent), SD-JWT VC digital credentials with key binding, and
// unsigned OS age-range signals.
//
// ageassure never trusts what it cannot verify. Every item yields exactly
// one policy.Evidence: accepted with derived values only (whole-year ages,
// thresholds, an estimate) — never a birth date, never a token — or not
// accepted with a stable reason code (see Reasons). Evidence that cannot be
// checked at all (keys unreachable, breaker open, replay store degraded) is
// policy.OutcomeUnverifiable with ReasonUnverifiable, and counts as absent:
// the policy decides, and never allows on its strength.
//
// Accepting a token spends its single use. A caller that then issues no
// decision gives the uses back with Release (see policy.Evidence.Spent), so
// the retry is not refused as replayed.
//
// Checks run in a fixed order — signature, time claims (with leeway),
// issuer and audience, nonce binding, the type's claims, single use — so
// the reason is deterministic, and single use comes last so that a token
// failing any other check does not burn its one use.
package verifier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/ageassure/ageassure/policy"
)

// Options are the Verifier's collaborators.
type Options struct {
	// Replay enforces single use of evidence tokens, across replicas when
	// it is the Redis store. Required. If it is a ReplayReleaser, Release
	// can give back the uses of a check that issued no decision.
	Replay ReplayGuard
	// ReplayKey keys the HMAC that turns a token into its replay-store key
	// ("ev:" + hex(HMAC-SHA256(ReplayKey, what its signatures cover,
	// decoded))). At least 32 bytes; replicas must share it (the cache
	// secret does).
	ReplayKey []byte
	// HTTPClient fetches JWK Sets; nil means a default client. Its Timeout
	// is lowered to each provider's timeout, and a redirect is followed
	// only to a URL that jwks_url itself could be, never from https to
	// anything else, at most three times (its own CheckRedirect, if any,
	// runs after that).
	HTTPClient *http.Client
	// Clock returns the current time for exp, nbf and iat checks and
	// replay TTLs; nil means time.Now. (Breakers and JWKS refreshes run on
	// real time.)
	Clock func() time.Time
	// Logger receives key-fetch problems, breaker changes and, at debug
	// level, why an item was not accepted — never tokens or claims. Nil
	// discards.
	Logger *slog.Logger
}

// Verifier verifies evidence items against the configured providers. It is
// safe for concurrent use.
type Verifier struct {
	providers map[string]*provider
	byIssuer  map[string]*provider
	replay    ReplayGuard
	releaser  ReplayReleaser // replay, if it can give uses back; else nil
	macKey    []byte
	now       func() time.Time
	log       *slog.Logger
	cancel    context.CancelFunc
}

// provider is a configured provider with its key source.
type provider struct {
	Provider
	keys keySource
}

// New builds a Verifier. Remote JWK Sets start loading in the background;
// New does not wait for them, so a provider that is down delays nothing
// but its own evidence. The background work lives until ctx ends or Close
// is called.
func New(ctx context.Context, ps *Providers, opts Options) (*Verifier, error) {
	if opts.Replay == nil {
		return nil, fmt.Errorf("verifier: %w: a replay guard is required (single use cannot be skipped)", ErrInvalidOptions)
	}
	if len(opts.ReplayKey) < minReplayKey {
		return nil, fmt.Errorf("verifier: %w: the replay key must be at least %d bytes", ErrInvalidOptions, minReplayKey)
	}
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := opts.Clock
	if now == nil {
		now = time.Now
	}
	ctx, cancel := context.WithCancel(ctx)
	v := &Verifier{
		providers: make(map[string]*provider, ps.Len()),
		byIssuer:  make(map[string]*provider),
		replay:    opts.Replay,
		macKey:    slices.Clone(opts.ReplayKey),
		now:       now,
		log:       log,
		cancel:    cancel,
	}
	v.releaser, _ = opts.Replay.(ReplayReleaser)
	for _, p := range ps.List() {
		pp := &provider{Provider: p}
		if p.JWKSURL != "" {
			rk, err := newRemoteKeys(ctx, &pp.Provider, client, log)
			if err != nil {
				v.Close()
				return nil, fmt.Errorf("verifier: %w", err)
			}
			pp.keys = rk
		} else {
			kr, err := parseKeyring(p.JWKS, true)
			if err != nil {
				v.Close()
				return nil, fmt.Errorf("verifier: provider %q: jwks: %w", p.ID, err)
			}
			pp.keys = staticKeys{kr}
		}
		v.providers[p.ID] = pp
		if slices.Contains(p.Types, policy.EvidenceDigitalCredential) {
			v.byIssuer[p.Issuer] = pp
		}
	}
	return v, nil
}

// Close stops background key refreshes. Verify keeps working with the keys
// already held.
func (v *Verifier) Close() {
	v.cancel()
	for _, p := range v.providers {
		p.keys.close()
	}
}

// Verify verifies items for one request and returns one Evidence per item,
// in order. It never fails as a whole: a bad item is an Evidence that is
// not accepted, with its reason. b is what tokens must be bound to; today is
// the date in the jurisdiction, for turning a birth date into an age.
//
// Each item waits for a provider's keys at most that provider's timeout,
// and not at all while its breaker is open.
func (v *Verifier) Verify(ctx context.Context, items []policy.EvidenceItem, b policy.Binding, today policy.Date) []policy.Evidence {
	out := make([]policy.Evidence, len(items))
	for i := range items {
		out[i] = v.verifyItem(ctx, &items[i], b, today)
	}
	return out
}

// verifyItem verifies one item; it turns any panic into an unverifiable
// result, so one bad item cannot take down the request.
func (v *Verifier) verifyItem(ctx context.Context, item *policy.EvidenceItem, b policy.Binding, today policy.Date) (ev policy.Evidence) {
	ev = policy.Evidence{Type: item.Type}
	defer func() {
		if r := recover(); r != nil {
			v.log.LogAttrs(ctx, slog.LevelError, "evidence verification panicked",
				slog.String("type", item.Type), slog.String("provider", ev.Provider), slog.String("panic", fmt.Sprint(r)))
			ev = policy.Evidence{Type: item.Type, Provider: resultProvider(item, &ev), Outcome: policy.OutcomeUnverifiable, Reason: ReasonUnverifiable}
		}
	}()
	var f *failure
	switch item.Type {
	case policy.EvidencePlatformAgeRange:
		f = rangeClaims(*item, &ev)
	case policy.EvidenceAgeEstimation, policy.EvidenceIDDocument, policy.EvidenceParentalConsent:
		f = v.verifySigned(ctx, item, b, today, &ev)
	case policy.EvidenceDigitalCredential:
		f = v.verifyCredential(ctx, item, b, &ev)
	default:
		f = fail(ReasonTypeNotAllowed, "unknown evidence type")
	}
	if f != nil {
		lvl := slog.LevelDebug
		if f.reason == ReasonUnverifiable {
			lvl = slog.LevelInfo
		}
		if v.log.Enabled(ctx, lvl) {
			attrs := []slog.Attr{
				slog.String("type", item.Type), slog.String("provider", ev.Provider),
				slog.String("reason", f.reason), slog.String("detail", f.detail),
			}
			if f.err != nil {
				attrs = append(attrs, slog.String("error", f.err.Error()))
			}
			v.log.LogAttrs(ctx, lvl, "evidence not accepted", attrs...)
		}
		out := policy.Evidence{Type: item.Type, Provider: resultProvider(item, &ev), Outcome: outcomeOf(f.reason), Reason: f.reason}
		if f.authentic && item.Type != policy.EvidenceParentalConsent {
			// Only single use could not be confirmed (the replay store is
			// down): the claims are genuine, so they may still restrict — a
			// child's document against a declared adult — though they can
			// never permit. Consent only ever permits: it is dropped.
			out.RestrictOnly = true
			out.Age, out.Estimate, out.Uncertainty, out.Liveness, out.Over = ev.Age, ev.Estimate, ev.Uncertainty, ev.Liveness, ev.Over
			return out
		}
		// Drop anything set before the failure: not accepted means no claims.
		return out
	}
	ev.Outcome = policy.OutcomeAccepted
	return ev
}

// resultProvider is the provider a result names: the configured provider
// that checked the item (for a credential without a provider, the one its
// issuer selected), else the id the request named, even one that is not
// configured, so that the platform sees which item the result answers.
// Logs name configured providers only (ev.Provider).
func resultProvider(item *policy.EvidenceItem, ev *policy.Evidence) string {
	if ev.Provider != "" {
		return ev.Provider
	}
	return item.Provider
}

// lookup finds the provider an item names and checks it may vouch for the
// item's type. It sets Evidence.Provider only for a configured provider;
// an unknown id is echoed in the result alone (resultProvider), never
// logged.
func (v *Verifier) lookup(item *policy.EvidenceItem, ev *policy.Evidence) (*provider, *failure) {
	p, ok := v.providers[item.Provider]
	if !ok {
		return nil, fail(ReasonUnknownProvider, "no such provider")
	}
	ev.Provider = p.ID
	if !slices.Contains(p.Types, item.Type) {
		return nil, fail(ReasonTypeNotAllowed, "provider is not configured for this type")
	}
	return p, nil
}

// verifySigned verifies a provider-signed JWS result.
func (v *Verifier) verifySigned(ctx context.Context, item *policy.EvidenceItem, b policy.Binding, today policy.Date, ev *policy.Evidence) *failure {
	p, f := v.lookup(item, ev)
	if f != nil {
		return f
	}
	tok, err := parseJWS(item.Token)
	if err != nil {
		return failWrap(ReasonMalformedToken, err, "not a compact JWS")
	}
	c, f := v.checkJWS(ctx, p, tok)
	if f != nil {
		return f
	}
	now := v.now()
	valid, f := c.checkTimes(now, p.Leeway, p.MaxTokenAge, true)
	if f != nil {
		return f
	}
	if !c.hasAudience(p.Audience) {
		return fail(ReasonAudienceMismatch, "aud does not name the provider's audience")
	}
	required := p.RequireNonce || item.Type == policy.EvidenceParentalConsent
	if f := c.checkNonce(p.Claims.Nonce, b.Nonce, required); f != nil {
		return f
	}
	switch item.Type {
	case policy.EvidenceAgeEstimation:
		f = estimationClaims(c, p.Claims, ev)
	case policy.EvidenceIDDocument:
		f = documentClaims(c, p.Claims, today, ev)
	case policy.EvidenceParentalConsent:
		f = consentClaims(c, p.Claims, ev)
	}
	if f != nil {
		return f
	}
	if f := v.firstUse(ctx, v.jwsReplayKey(tok), valid.until, p.Leeway, ev); f != nil {
		return f
	}
	ev.Expires = valid.until
	return nil
}

// checkJWS verifies a provider-signed JWS — algorithm, signature, issuer —
// and returns its claims.
func (v *Verifier) checkJWS(ctx context.Context, p *provider, tok *compactJWS) (claims, *failure) {
	if !algAllowed(tok.header.Alg, p.Algorithms) {
		return nil, fail(ReasonAlgorithmNotAllowed, "alg is not allowed for the provider")
	}
	if f := v.checkSignature(ctx, p, tok); f != nil {
		return nil, f
	}
	c, err := parseClaims(tok.payload)
	if err != nil {
		return nil, failWrap(ReasonMalformedToken, err, "payload")
	}
	if iss, _, _ := c.str("iss"); iss != p.Issuer {
		return nil, fail(ReasonIssuerMismatch, "iss is not the provider's issuer")
	}
	return c, nil
}

// checkSignature verifies tok with p's keys, refetching them once if the
// kid is unknown (the provider may have rotated its keys).
func (v *Verifier) checkSignature(ctx context.Context, p *provider, tok *compactJWS) *failure {
	kr, err := p.keys.current(ctx)
	if err != nil {
		return failWrap(ReasonUnverifiable, err, "provider keys unavailable")
	}
	err = tok.verify(kr)
	if errors.Is(err, errUnknownKID) {
		kr, err = p.keys.refreshed(ctx)
		switch {
		case errors.Is(err, errUnknownKID):
			return fail(ReasonSignatureInvalid, "no key of the provider matches kid and alg")
		case err != nil:
			return failWrap(ReasonUnverifiable, err, "refreshing provider keys for an unknown kid")
		}
		err = tok.verify(kr)
	}
	switch {
	case errors.Is(err, errUnknownKID):
		return fail(ReasonSignatureInvalid, "no key of the provider matches kid and alg")
	case err != nil:
		return fail(ReasonSignatureInvalid, "signature does not verify")
	}
	return nil
}
