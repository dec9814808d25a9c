package rediscache

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
)

// opKind names a Redis operation in metrics and errors.
type opKind uint8

const (
	opDeviceGet opKind = iota
	opDeviceRecord
	opGet
	opSet
	opFirstUse
	opAllow
	opPing
	opBatchRead  // ReadBatch: a device read and several Gets in one pipeline
	opBatchWrite // WriteBatch: a device record and several Sets in one pipeline
	numOps
)

var opNames = [numOps]string{"device_get", "device_record", "get", "set", "first_use", "allow", "ping", "batch_read", "batch_write"}

func (o opKind) String() string { return opNames[o] }

// result is the outcome label of ageassure_redis_operations_total.
type result uint8

const (
	resultOK       result = iota // Redis answered
	resultMiss                   // Redis answered: no such key
	resultError                  // the call failed; answered from process memory
	resultFallback               // the breaker refused the call; answered from process memory
	numResults
)

var resultNames = [numResults]string{"ok", "miss", "error", "fallback"}

// metrics are a Store's Prometheus collectors. The counters for every label
// pair are resolved once, so counting costs an atomic add per call.
type metrics struct {
	state prometheus.Collector
	ops   *prometheus.CounterVec
	cache *prometheus.CounterVec

	opCounters [numOps][numResults]prometheus.Counter
	localHit   prometheus.Counter
	localMiss  prometheus.Counter
	redisHit   prometheus.Counter
	redisMiss  prometheus.Counter
}

func newMetrics(state func() gobreaker.State) *metrics {
	m := &metrics{
		state: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ageassure_redis_breaker_state",
			Help: "State of the circuit breaker in front of Redis: 0 closed (Redis in use), 1 half-open (probing), 2 open (served from process memory).",
		}, func() float64 {
			switch state() {
			case gobreaker.StateHalfOpen:
				return 1
			case gobreaker.StateOpen:
				return 2
			default:
				return 0
			}
		}),
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ageassure_redis_operations_total",
			Help: "Redis operations (each one round trip) by op and result: ok and miss (Redis answered), error (the call failed) and fallback (the breaker refused it); both of the latter were answered from process memory. A batch_read or batch_write is one pipeline of several operations.",
		}, []string{"op", "result"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ageassure_cache_requests_total",
			Help: "Cache lookups (Get, and each key of a batch_read) by tier (local, redis) and result (hit, miss). A local miss goes on to Redis unless the breaker is open.",
		}, []string{"tier", "result"}),
	}
	for o := range numOps {
		for r := range numResults {
			m.opCounters[o][r] = m.ops.WithLabelValues(opNames[o], resultNames[r])
		}
	}
	m.localHit = m.cache.WithLabelValues("local", "hit")
	m.localMiss = m.cache.WithLabelValues("local", "miss")
	m.redisHit = m.cache.WithLabelValues("redis", "hit")
	m.redisMiss = m.cache.WithLabelValues("redis", "miss")
	return m
}

func (m *metrics) op(o opKind, r result) { m.opCounters[o][r].Inc() }

// Collectors returns the Store's Prometheus collectors:
// ageassure_redis_breaker_state, ageassure_redis_operations_total{op,result}
// and ageassure_cache_requests_total{tier,result}. They are the Store's own
// (not registered anywhere), so tests and several Stores do not collide.
func (s *Store) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.metrics.state, s.metrics.ops, s.metrics.cache}
}

// Register registers the Store's collectors with reg.
func (s *Store) Register(reg prometheus.Registerer) error {
	for _, c := range s.Collectors() {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
