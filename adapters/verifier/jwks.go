package verifier

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/sony/gobreaker/v2"
)

// Limits on what a JWKS endpoint may send.
const (
	maxJWKSBytes = 1 << 20
	maxJWKSKeys  = 64
	minRSABits   = 2048
	// kidRefreshEvery bounds how often a token with an unknown kid may make
	// the verifier refetch the provider's keys (key rotation), so forged
	// kids cannot turn into a request flood against the provider.
	kidRefreshEvery = 30 * time.Second
)

// errUnknownKID means no key of the provider has the token's kid (or, with
// no kid, none fits the algorithm).
var errUnknownKID = errors.New("no matching key")

// pubKey is one usable public key of a provider.
type pubKey struct {
	kid string
	alg string // the JWK's "alg", or "" when it does not pin one
	key crypto.PublicKey
}

// keyring is an immutable snapshot of a provider's usable keys.
type keyring struct {
	byKID map[string][]*pubKey
	all   []*pubKey
}

// parseKeyring builds a keyring from a JWK Set document. With strict (an
// inline set in our own configuration) every unusable key — symmetric,
// private, encryption-only, weak RSA, unknown type — is an error: a private
// key in the configuration is a leak the operator must hear about. A
// fetched set (not strict) may hold keys for other purposes; those are
// skipped, and only a set with no usable key at all is an error.
func parseKeyring(doc []byte, strict bool) (*keyring, error) {
	set, err := jwk.Parse(doc)
	if err != nil {
		return nil, fmt.Errorf("not a JWK Set: %w", err)
	}
	return keyringOf(set, strict)
}

// keyringOf converts a parsed set; see parseKeyring.
func keyringOf(set jwk.Set, strict bool) (*keyring, error) {
	n := set.Len()
	if n == 0 {
		return nil, errors.New("the JWK Set holds no keys")
	}
	if n > maxJWKSKeys {
		return nil, fmt.Errorf("the JWK Set holds %d keys, more than %d", n, maxJWKSKeys)
	}
	kr := &keyring{byKID: make(map[string][]*pubKey, n)}
	for i := range n {
		k, _ := set.Key(i)
		pk, err := publicKeyOf(k)
		if err != nil {
			if strict {
				return nil, fmt.Errorf("key %d: %w", i, err)
			}
			continue
		}
		kr.all = append(kr.all, pk)
		if pk.kid != "" {
			kr.byKID[pk.kid] = append(kr.byKID[pk.kid], pk)
		}
	}
	if len(kr.all) == 0 {
		return nil, errors.New("the JWK Set holds no usable signature key")
	}
	return kr, nil
}

// publicKeyOf checks one JWK and extracts its raw public key.
func publicKeyOf(k jwk.Key) (*pubKey, error) {
	if u := k.KeyUsage(); u != "" && u != string(jwk.ForSignature) {
		return nil, fmt.Errorf("use %q: only signature keys (use \"sig\") are accepted", u)
	}
	var raw any
	if err := k.Raw(&raw); err != nil {
		return nil, fmt.Errorf("unusable key: %w", err)
	}
	var pub crypto.PublicKey
	switch r := raw.(type) {
	case ed25519.PublicKey:
		pub = r
	case *ecdsa.PublicKey:
		pub = r
	case *rsa.PublicKey:
		if r.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("RSA key of %d bits; at least %d are required", r.N.BitLen(), minRSABits)
		}
		pub = r
	case ed25519.PrivateKey, *ecdsa.PrivateKey, *rsa.PrivateKey:
		return nil, errors.New("holds a private key: publish only public keys")
	case []byte:
		return nil, errors.New("symmetric (oct) keys are never accepted")
	default:
		return nil, fmt.Errorf("unsupported key type %T", raw)
	}
	alg := ""
	if a := k.Algorithm(); a != nil {
		alg = a.String()
	}
	return &pubKey{kid: k.KeyID(), alg: alg, key: pub}, nil
}

// candidates returns the keys that may have signed a token with kid and
// alg: those with that kid, or every key when the token names none. Keys
// that do not fit alg (wrong type or curve, or a different pinned alg) are
// left out, which is what stops algorithm confusion.
func (kr *keyring) candidates(kid, alg string) ([]*pubKey, error) {
	pool := kr.all
	if kid != "" {
		pool = kr.byKID[kid]
	}
	var out []*pubKey
	for _, k := range pool {
		if (k.alg == "" || k.alg == alg) && fits(k.key, alg) {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return nil, errUnknownKID
	}
	return out, nil
}

// fits reports whether key can verify alg.
func fits(key crypto.PublicKey, alg string) bool {
	switch k := key.(type) {
	case ed25519.PublicKey:
		return alg == "EdDSA"
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return k.Curve == elliptic.P256()
		case "ES384":
			return k.Curve == elliptic.P384()
		case "ES512":
			return k.Curve == elliptic.P521()
		}
	case *rsa.PublicKey:
		switch alg {
		case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
			return true
		}
	}
	return false
}

// keySource yields a provider's keys.
type keySource interface {
	// current returns the keys, fetching them if none are held yet. The
	// error wraps ErrKeysUnavailable.
	current(ctx context.Context) (*keyring, error)
	// refreshed returns keys fetched anew after a kid was not found, or
	// the current keys with errUnknownKID when a refetch is not due.
	refreshed(ctx context.Context) (*keyring, error)
	close()
}

// staticKeys is an inline JWK Set: nothing to fetch, nothing to fail.
type staticKeys struct{ kr *keyring }

func (s staticKeys) current(context.Context) (*keyring, error)   { return s.kr, nil }
func (s staticKeys) refreshed(context.Context) (*keyring, error) { return s.kr, errUnknownKID }
func (s staticKeys) close()                                      {}

// remoteKeys fetches a JWKS URL with jwx's jwk.Cache, through a circuit
// breaker, and serves the last good keys from an atomic snapshot.
//
// Why the layering: jwk.Cache holds a lock while it fetches and its HTTP
// client interface takes no context, so a hanging endpoint would stall every
// reader for the client timeout. Readers therefore never call the cache
// directly: they read the snapshot (set by the cache's PostFetcher), and the
// rare synchronous refresh runs in a goroutine, single-flighted, that the
// caller waits for only as long as its own context allows. The breaker sits
// in the HTTP client, so the cache's background refreshes are guarded too,
// and an open breaker is checked before the cache is even asked.
//
// Each provider has its own jwk.Cache: the cache's small fetch worker pool
// is shared by its URLs, so one hanging provider could otherwise delay the
// others' fetches.
type remoteKeys struct {
	id      string
	url     string
	timeout time.Duration
	// kidRefresh is kidRefreshEvery; a field so tests can shorten it.
	kidRefresh time.Duration
	cache      *jwk.Cache
	cb         *gobreaker.CircuitBreaker[*http.Response]
	log        *slog.Logger
	ctx        context.Context // the Verifier's lifetime
	snap       atomic.Pointer[keyring]

	mu          sync.Mutex
	inflight    *refreshCall
	lastAttempt time.Time
	// failedAt and failErr remember the last failed fetch. For timeout
	// after it, refreshes fail at once with the same error: otherwise a
	// request with several items from a dead provider would wait the
	// timeout once per item, before the breaker has seen enough failures
	// to open.
	failedAt time.Time
	failErr  error
}

// refreshCall is one synchronous refresh that concurrent callers share.
type refreshCall struct {
	done chan struct{}
	err  error
}

// newRemoteKeys registers p's JWKS URL with a fresh jwk.Cache and starts
// fetching in the background, so that the first request usually finds the
// keys already there. It does not wait: a provider that is down must not
// stop the service from starting.
func newRemoteKeys(ctx context.Context, p *Provider, base *http.Client, log *slog.Logger) (*remoteKeys, error) {
	r := &remoteKeys{id: p.ID, url: p.JWKSURL, timeout: p.Timeout, kidRefresh: kidRefreshEvery, log: log, ctx: ctx}
	r.cb = gobreaker.NewCircuitBreaker[*http.Response](gobreaker.Settings{
		Name:        p.ID,
		MaxRequests: 1,
		Timeout:     p.Breaker.Open,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= p.Breaker.Failures
		},
		OnStateChange: func(name string, from, to gobreaker.State) {
			lvl := slog.LevelWarn
			if to == gobreaker.StateClosed {
				lvl = slog.LevelInfo
			}
			log.LogAttrs(ctx, lvl, "provider key breaker changed state",
				slog.String("provider", name), slog.String("from", from.String()), slog.String("to", to.String()))
		},
	})
	client := &breakerClient{r: r, client: fetchClient(base, p.Timeout)}
	window := p.Refresh / 2
	if window < time.Second {
		window = time.Second
	}
	r.cache = jwk.NewCache(ctx, jwk.WithRefreshWindow(window))
	err := r.cache.Register(p.JWKSURL,
		jwk.WithMinRefreshInterval(p.Refresh),
		jwk.WithHTTPClient(client),
		jwk.WithPostFetcher(jwk.PostFetchFunc(func(_ string, set jwk.Set) (jwk.Set, error) {
			kr, err := keyringOf(set, false)
			if err != nil {
				return nil, err
			}
			r.snap.Store(kr)
			return set, nil
		})),
	)
	if err != nil {
		return nil, fmt.Errorf("provider %q: registering JWKS URL: %w", p.ID, err)
	}
	r.start()
	return r, nil
}

// fetchClient copies base for one provider's JWKS fetches: its Timeout at
// most d, so no fetch outlives the provider's timeout even where no context
// reaches it, and every redirect checked by checkJWKSRedirect before it is
// followed (then by base's own CheckRedirect, if it has one).
func fetchClient(base *http.Client, d time.Duration) *http.Client {
	c := *base
	if c.Timeout == 0 || c.Timeout > d {
		c.Timeout = d
	}
	next := base.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := checkJWKSRedirect(req, via); err != nil {
			return err
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
	return &c
}

// maxJWKSRedirects is how many redirects one JWKS fetch follows. Endpoints
// commonly redirect once or twice (a well-known path to a CDN, a renamed
// host); a longer chain is refused.
const maxJWKSRedirects = 3

// checkJWKSRedirect decides whether a JWKS fetch may follow a redirect to
// req, having made the requests in via. Every hop must pass the rule the
// configured jwks_url passed (checkJWKSURL: https, or http on a loopback
// address only, no credentials), and once a hop was https, no later hop may
// be anything else: a redirect must never take the fetch of the keys that
// decide what ageassure trusts off TLS. net/http calls it before following,
// so a refused hop is never dialled; the fetch fails, counting against the
// provider's breaker like any failed fetch.
func checkJWKSRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > maxJWKSRedirects {
		return fmt.Errorf("JWKS fetch redirected more than %d times", maxJWKSRedirects)
	}
	to := req.URL.Redacted()
	if req.URL.Scheme != "https" && slices.ContainsFunc(via, func(r *http.Request) bool { return r.URL.Scheme == "https" }) {
		return fmt.Errorf("JWKS redirect to %q refused: it leaves https", to)
	}
	if err := checkJWKSURL(req.URL.String()); err != nil {
		return fmt.Errorf("JWKS redirect refused: %w", err)
	}
	return nil
}

func (r *remoteKeys) current(ctx context.Context) (*keyring, error) {
	if kr := r.snap.Load(); kr != nil {
		return kr, nil
	}
	return r.refresh(ctx)
}

func (r *remoteKeys) refreshed(ctx context.Context) (*keyring, error) {
	r.mu.Lock()
	due := r.inflight != nil || time.Since(r.lastAttempt) >= r.kidRefresh
	r.mu.Unlock()
	if !due {
		return r.snap.Load(), errUnknownKID
	}
	return r.refresh(ctx)
}

// refresh fetches the keys, joining a fetch already under way, and waits
// for it at most as long as ctx allows. With the breaker open it fails at
// once, without touching the cache.
func (r *remoteKeys) refresh(ctx context.Context) (*keyring, error) {
	if r.cb.State() == gobreaker.StateOpen {
		return nil, fmt.Errorf("%w: provider %q: %w", ErrKeysUnavailable, r.id, gobreaker.ErrOpenState)
	}
	r.mu.Lock()
	if r.inflight == nil && r.failErr != nil && time.Since(r.failedAt) < r.timeout {
		err := r.failErr
		r.mu.Unlock()
		return nil, err
	}
	r.mu.Unlock()
	c := r.start()
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	select {
	case <-c.done:
		if c.err != nil {
			return nil, c.err
		}
		if kr := r.snap.Load(); kr != nil {
			return kr, nil
		}
		return nil, fmt.Errorf("%w: provider %q: no keys", ErrKeysUnavailable, r.id)
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: provider %q: %w", ErrKeysUnavailable, r.id, context.Cause(ctx))
	}
}

// start begins a refresh unless one is under way, and returns it.
func (r *remoteKeys) start() *refreshCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.inflight; c != nil {
		return c
	}
	c := &refreshCall{done: make(chan struct{})}
	r.inflight = c
	r.lastAttempt = time.Now()
	go func() {
		ctx, cancel := context.WithTimeout(r.ctx, r.timeout)
		_, err := r.cache.Refresh(ctx, r.url)
		cancel()
		if err != nil {
			c.err = fmt.Errorf("%w: provider %q: %w", ErrKeysUnavailable, r.id, err)
			r.log.LogAttrs(r.ctx, slog.LevelWarn, "fetching provider keys failed",
				slog.String("provider", r.id), slog.String("error", err.Error()))
		}
		r.mu.Lock()
		r.inflight = nil
		r.failedAt, r.failErr = time.Now(), c.err
		r.mu.Unlock()
		close(c.done)
	}()
	return c
}

func (r *remoteKeys) close() { _ = r.cache.Unregister(r.url) }

// breakerClient is the jwk.Cache's HTTP client: every fetch, synchronous or
// background, goes through the provider's breaker, and counts as a failure
// unless it yields a usable JWK Set.
type breakerClient struct {
	r      *remoteKeys
	client *http.Client
}

func (b *breakerClient) Get(u string) (*http.Response, error) {
	return b.r.cb.Execute(func() (*http.Response, error) {
		ctx, cancel := context.WithTimeout(b.r.ctx, b.r.timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/jwk-set+json, application/json")
		res, err := b.client.Do(req)
		if err != nil {
			return nil, err
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 4096))
			return nil, fmt.Errorf("JWKS endpoint answered %s", res.Status)
		}
		body, err := io.ReadAll(io.LimitReader(res.Body, maxJWKSBytes+1))
		if err != nil {
			return nil, fmt.Errorf("reading JWKS: %w", err)
		}
		if len(body) > maxJWKSBytes {
			return nil, fmt.Errorf("JWKS larger than %d bytes", maxJWKSBytes)
		}
		if _, err := parseKeyring(body, false); err != nil {
			return nil, fmt.Errorf("JWKS: %w", err)
		}
		// The cache reads the body after we return; hand it a copy.
		out := *res
		out.Body = io.NopCloser(bytes.NewReader(body))
		return &out, nil
	})
}
