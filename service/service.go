package service

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ageassure/ageassure/policy"
)

// Signer signs attestation payloads and publishes the keys that verify
// them. adapters/signer implements it.
type Signer interface {
	// Sign returns a compact JWS over payload.
	Sign(payload []byte) ([]byte, error)
	// JWKS returns the public JWK Set, as JSON, that verifies every token
	// Sign may have issued recently.
	JWKS() []byte
}

// DeviceMemory remembers, per keyed device reference, the lowest age
// declared within a window, so a refused child who retries with an older age
// from the same device is caught. adapters/localcache implements it.
type DeviceMemory interface {
	LowestDeclaredAge(ctx context.Context, key string) (age int, ok bool, err error)
	RecordDeclaredAge(ctx context.Context, key string, age int, window time.Duration) error
}

// RateLimiter enforces per-tenant request rates (GCRA over Redis, or
// in-process): rate requests per period, bursts up to burst. A tenant
// without a limit is never passed to it. Plain arguments keep the adapters
// free of this package's types.
type RateLimiter interface {
	AllowRate(ctx context.Context, tenant string, rate, burst int, period time.Duration) (allowed bool, retryAfter time.Duration, err error)
}

// ReadyGate reports a dependency the service cannot decide without (the
// decision log): state is shown under "checks" in /readyz, and ready false
// makes /readyz answer 503 "unready", so a load balancer stops routing
// checks that could only be withheld.
type ReadyGate func() (state string, ready bool)

// ReadyCheck reports the state of one dependency for /readyz, e.g. a
// circuit breaker's "closed" / "open". It is informational: a degraded
// dependency does not make the service unready, because it keeps answering.
type ReadyCheck func() string

// Defaults for Options.
const (
	DefaultIssuer         = "ageassure"
	DefaultAttestationTTL = 15 * time.Minute
)

// Options configure a Service. Policy, Signer, Devices, Tenants and Cache
// are required; everything else has a default. When Devices and Cache are
// one store that implements Batcher, each check reads them in one round
// trip (two with device history or re-usable assurance) and writes them in
// one more.
type Options struct {
	Policy  *policy.Policy
	Signer  Signer
	Devices DeviceMemory
	Tenants *Tenants
	// Cache holds cached decisions and subject records.
	Cache Cache

	// Evidence verifies evidence tokens; nil makes all evidence
	// unverifiable (counted as absent).
	Evidence EvidenceVerifier
	// RateLimiter enforces the tenants' rate limits; nil disables them.
	RateLimiter RateLimiter
	// DecisionCacheTTL bounds how long a cached decision is served
	// (default DefaultDecisionCacheTTL).
	DecisionCacheTTL time.Duration
	// ReuseMaxAge bounds how long a subject's assurance is re-used when no
	// age threshold comes sooner (default DefaultReuseMaxAge).
	ReuseMaxAge time.Duration
	// DecisionLog receives a PII-free entry for every decision; nil logs
	// nothing (tests, tools). With a log, a decision is answered only after
	// its entry was accepted.
	DecisionLog DecisionLog
	// LogHandler, when set, serves the decision log read-only under /log/.
	LogHandler http.Handler
	// ShadowPolicy, when set, is evaluated beside the active policy on every
	// request; callers get the active decision, disagreements are counted
	// and marked in the decision log.
	ShadowPolicy *policy.Policy
	// ReadyChecks are reported under "checks" in /readyz.
	ReadyChecks map[string]ReadyCheck
	// ReadyGates are reported under "checks" too; any not ready makes the
	// service unready.
	ReadyGates map[string]ReadyGate
	// MetricsElsewhere leaves /metrics off the API's handler: the caller
	// serves MetricsHandler on an address of its own, since the metrics
	// name tenants.
	MetricsElsewhere bool

	// Issuer is the iss of every attestation (default DefaultIssuer).
	Issuer string
	// AttestationTTL is how long an attestation stays valid (default
	// DefaultAttestationTTL). Short, because the age band it states can
	// change on a birthday.
	AttestationTTL time.Duration
	// RefKey keys the HMACs of device and subject references. Replicas that
	// must recognise each other's devices share it; nil means a random key
	// for this process only.
	RefKey []byte
	// Logger receives operational logs; never request data (default
	// slog.Default()).
	Logger *slog.Logger
	// Registerer receives the Prometheus metrics (default a new registry,
	// served at /metrics).
	Registry *prometheus.Registry
	// Clock is the time source (default time.Now); tests pin it.
	Clock func() time.Time
	// MaxInFlight bounds the checks decided at once (default
	// DefaultMaxInFlight); QueueTimeout is how long a check waits for one
	// of those slots before a 503 overloaded (default DefaultQueueTimeout).
	MaxInFlight  int
	QueueTimeout time.Duration
	// EvidenceBudget bounds the time a check spends verifying its evidence,
	// all items together (default DefaultEvidenceBudget); what is not
	// verified by then counts as absent. MaxEvidenceInFlight bounds the
	// evidence items being verified at once across all checks (default
	// DefaultMaxEvidenceInFlight). Verification waits on providers, so it
	// holds none of the MaxInFlight slots.
	EvidenceBudget      time.Duration
	MaxEvidenceInFlight int
	// AccessLog logs one line per request (route, status, latency, tenant;
	// never bodies, IPs or references).
	AccessLog bool
}

// Service is the age-check API. It is safe for concurrent use; the active
// policy can be swapped while it serves.
type Service struct {
	policy  atomic.Pointer[activePolicy]
	shadow  atomic.Pointer[policy.Policy]
	signer  Signer
	devices DeviceMemory
	tenants *Tenants
	cache   Cache
	batch   Batcher // devices and cache, when they are one store that batches; else nil
	limiter RateLimiter
	checks  map[string]ReadyCheck
	gates   map[string]ReadyGate

	metricsElsewhere bool

	decisionLog DecisionLog
	logHandler  http.Handler
	verifier    EvidenceVerifier

	decisionTTL time.Duration
	reuseMaxAge time.Duration

	issuer   string
	ttl      time.Duration
	refKey   []byte
	log      *slog.Logger
	registry *prometheus.Registry
	metrics  *metrics
	now      func() time.Time
	access   bool
	draining atomic.Bool

	admission *admission
	evidence  *evidencePool

	// hmacs pools *keyHasher over refKey: every request computes two or
	// three HMACs, and hmac.New allocates two SHA-256 states each time.
	hmacs sync.Pool
}

// ErrMissingOption reports a required option left unset.
var ErrMissingOption = errors.New("missing required option")

// New validates the options and builds a Service.
func New(opts Options) (*Service, error) {
	switch {
	case opts.Policy == nil:
		return nil, fmt.Errorf("%w: Policy", ErrMissingOption)
	case opts.Signer == nil:
		return nil, fmt.Errorf("%w: Signer", ErrMissingOption)
	case opts.Devices == nil:
		return nil, fmt.Errorf("%w: Devices", ErrMissingOption)
	case opts.Tenants == nil:
		return nil, fmt.Errorf("%w: Tenants", ErrMissingOption)
	case opts.Cache == nil:
		return nil, fmt.Errorf("%w: Cache", ErrMissingOption)
	case opts.AttestationTTL < 0:
		return nil, fmt.Errorf("attestation TTL %s is negative", opts.AttestationTTL)
	case opts.MaxInFlight < 0:
		return nil, fmt.Errorf("max in flight %d is negative", opts.MaxInFlight)
	case opts.QueueTimeout < 0:
		return nil, fmt.Errorf("queue timeout %s is negative", opts.QueueTimeout)
	case opts.EvidenceBudget < 0:
		return nil, fmt.Errorf("evidence budget %s is negative", opts.EvidenceBudget)
	case opts.MaxEvidenceInFlight < 0:
		return nil, fmt.Errorf("max evidence in flight %d is negative", opts.MaxEvidenceInFlight)
	}
	s := &Service{
		signer:  opts.Signer,
		devices: opts.Devices,
		tenants: opts.Tenants,
		cache:   opts.Cache,
		batch:   batcherOf(opts.Devices, opts.Cache),
		limiter: opts.RateLimiter,
		checks:  opts.ReadyChecks,
		gates:   opts.ReadyGates,

		metricsElsewhere: opts.MetricsElsewhere,

		decisionLog: opts.DecisionLog,
		logHandler:  opts.LogHandler,
		verifier:    opts.Evidence,

		decisionTTL: opts.DecisionCacheTTL,
		reuseMaxAge: opts.ReuseMaxAge,
		issuer:      opts.Issuer,
		ttl:         opts.AttestationTTL,
		refKey:      opts.RefKey,
		log:         opts.Logger,
		registry:    opts.Registry,
		now:         opts.Clock,
		access:      opts.AccessLog,
		admission:   newAdmission(opts.MaxInFlight, opts.QueueTimeout),
		evidence:    newEvidencePool(opts.EvidenceBudget, opts.MaxEvidenceInFlight),
	}
	if s.issuer == "" {
		s.issuer = DefaultIssuer
	}
	if s.ttl == 0 {
		s.ttl = DefaultAttestationTTL
	}
	if s.decisionTTL <= 0 {
		s.decisionTTL = DefaultDecisionCacheTTL
	}
	if s.reuseMaxAge <= 0 {
		s.reuseMaxAge = DefaultReuseMaxAge
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.registry == nil {
		s.registry = prometheus.NewRegistry()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if len(s.refKey) == 0 {
		s.refKey = make([]byte, 32)
		if _, err := rand.Read(s.refKey); err != nil {
			return nil, fmt.Errorf("generating the reference key: %w", err)
		}
	}
	s.hmacs.New = func() any { return &keyHasher{mac: hmac.New(sha256.New, s.refKey)} }
	s.metrics = newMetrics(s.registry)
	s.SetPolicy(opts.Policy)
	s.SetShadowPolicy(opts.ShadowPolicy)
	return s, nil
}

// activePolicy is the policy in force and when it was loaded.
type activePolicy struct {
	*policy.Policy
	loadedAt time.Time
}

// SetPolicy makes p the active policy for every request that starts after
// the call; requests in flight finish on the policy they started with. The
// swap is one atomic pointer store, so no request ever sees a half-loaded
// policy and none fails during a reload.
func (s *Service) SetPolicy(p *policy.Policy) {
	if old := s.policy.Swap(&activePolicy{Policy: p, loadedAt: s.now()}); old != nil {
		s.metrics.policyInfo.DeleteLabelValues(old.ID(), old.Hash())
	}
	s.metrics.policyInfo.WithLabelValues(p.ID(), p.Hash()).Set(1)
}

// SetShadowPolicy sets (or, with nil, removes) the candidate policy
// evaluated beside the active one.
func (s *Service) SetShadowPolicy(p *policy.Policy) { s.shadow.Store(p) }

// Policy returns the active policy.
func (s *Service) Policy() *policy.Policy { return s.policy.Load().Policy }

// Drain marks the service as shutting down: /readyz answers 503 so load
// balancers stop sending new traffic, while requests keep being served.
func (s *Service) Drain() { s.draining.Store(true) }
