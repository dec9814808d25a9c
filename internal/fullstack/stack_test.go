package fullstack

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ageassure/ageassure/internal/redistest"
	"github.com/ageassure/ageassure/internal/syncbuf"
)

// Tenants of the tenants file.
const (
	tenantMain    = "fullstack"
	tenantLimited = "limited" // rate_limit: 3 a minute, burst 3
	limitedBurst  = 3
)

// stack is one deployment: a private redis-server (or none), the files
// every replica shares (signing keys, tenants, cache secret, providers,
// policy), the providers' JWKS endpoint, and the replicas, each with its
// own decision log.
type stack struct {
	dir       string
	redis     *redistest.Process
	iss       *issuers
	keysDir   string
	tenants   string
	secret    string
	providers string
	policyDir string // "" is the built-in policy
	keys      map[string]string
	replicas  []*replica
	canaries  *canarySet
	client    *http.Client
}

// newStack prepares the shared files and, with withRedis, starts a
// private redis-server the test can kill and restart. Replicas are started
// with (*stack).start.
func newStack(t *testing.T, withRedis bool) *stack {
	t.Helper()
	s := &stack{
		dir:      t.TempDir(),
		keys:     map[string]string{},
		canaries: newCanarySet(),
		client:   &http.Client{Timeout: 20 * time.Second},
	}
	t.Cleanup(s.client.CloseIdleConnections)
	if withRedis {
		s.redis = redistest.Start(t)
	}
	s.iss = newIssuers(t)
	s.iss.canary = s.canaries.add
	s.keysDir = s.writeSigningKey(t)
	s.tenants = s.writeTenants(t)
	s.secret = s.writeFile(t, "cache-secret", base64.StdEncoding.EncodeToString(randomBytes(48))+"\n")
	s.providers = s.iss.writeProvidersFile(t, s.dir)
	return s
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func (s *stack) writeFile(t testing.TB, name, body string) string {
	t.Helper()
	path := filepath.Join(s.dir, name)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeSigningKey writes the attestation signing key all replicas share:
// an Ed25519 key as PKCS#8 PEM, as `openssl genpkey` makes it.
func (s *stack) writeSigningKey(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(s.dir, "keys")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err := os.WriteFile(filepath.Join(dir, "attest-ed25519.pem"), pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// writeTenants makes an API key per tenant and writes the tenants file
// with their digests only.
func (s *stack) writeTenants(t testing.TB) string {
	t.Helper()
	var b strings.Builder
	for _, id := range []string{tenantMain, tenantLimited} {
		key := "aa_" + base64.RawURLEncoding.EncodeToString(randomBytes(32))
		s.keys[id] = key
		sum := sha256.Sum256([]byte(key))
		fmt.Fprintf(&b, "- id: %s\n  key_sha256: %s\n", id, hex.EncodeToString(sum[:]))
		if id == tenantLimited {
			fmt.Fprintf(&b, "  rate_limit: {rate: %d, burst: %d, period: 1m}\n", limitedBurst, limitedBurst)
		}
	}
	return s.writeFile(t, "tenants.yaml", b.String())
}

// replica is one `ageassure serve` process.
type replica struct {
	name   string
	redis  bool
	logDir string
	args   []string
	base   string // http://127.0.0.1:port
	// metricsBase serves /metrics, apart from the API (set before base).
	metricsBase string
	cmd         *exec.Cmd
	out         *syncbuf.Buffer // everything it wrote to stderr and stdout
	exited      chan struct{}
	exitErr     error
	vkey        string // the log's verifier key as served at /log/key

	mu       sync.Mutex
	answered []answer
}

// answer is a 200 the replica gave, to be found in its log afterwards.
type answer struct {
	tenant      string
	id          string
	decision    string
	band        string
	policyHash  string
	attestation string
}

// start starts a replica named name (also its log's origin suffix), with
// the stack's Redis when redis is set, and waits until it listens.
func (s *stack) start(t *testing.T, name string, redis bool, extra ...string) *replica {
	t.Helper()
	if redis && s.redis == nil {
		t.Fatal("start: the stack has no Redis")
	}
	r := &replica{name: name, redis: redis, logDir: filepath.Join(s.dir, "log-"+name), out: &syncbuf.Buffer{}, exited: make(chan struct{})}
	r.args = []string{"serve",
		"--addr", "127.0.0.1:0",
		"--keys", s.keysDir,
		"--tenants", s.tenants,
		"--issuer", issuer,
		"--cache-secret-file", s.secret,
		"--providers", s.providers,
		"--log-dir", r.logDir,
		"--log-origin", "fullstack.test/log/" + name,
		"--metrics-addr", "127.0.0.1:0", // apart from the API, as in production
		// The most a replica ever writes: every canary must stay out of it.
		"--log-level", "debug",
		"--access-log",
	}
	if s.policyDir != "" {
		r.args = append(r.args, "--policy", s.policyDir, "--policy-watch", "100ms")
	}
	if redis {
		r.args = append(r.args, "--redis", s.redis.URL(), "--redis-breaker-open", "1s")
	}
	r.args = append(r.args, extra...)
	r.cmd = exec.Command(binary, r.args...)
	r.cmd.Env = cleanEnv()
	r.cmd.Stdout = r.out
	stderr, err := r.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		found := false
		for sc.Scan() {
			line := sc.Bytes()
			_, _ = r.out.Write(append(line, '\n'))
			if found {
				continue
			}
			var rec struct {
				Msg         string `json:"msg"`
				Addr        string `json:"addr"`
				MetricsAddr string `json:"metrics_addr"`
			}
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "listening" {
				found = true
				r.metricsBase = "http://" + rec.MetricsAddr
				listening <- rec.Addr
			}
		}
		_, _ = io.Copy(r.out, stderr)
		r.exitErr = r.cmd.Wait()
		close(r.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-r.exited:
		default:
			_ = r.cmd.Process.Kill()
			<-r.exited
		}
	})
	select {
	case addr := <-listening:
		r.base = "http://" + addr
	case <-r.exited:
		t.Fatalf("replica %s exited before listening (%v):\n%s", name, r.exitErr, r.out.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("replica %s did not listen within 30s:\n%s", name, r.out.String())
	}
	s.replicas = append(s.replicas, r)
	r.vkey = s.logKey(t, r)
	return r
}

// cleanEnv is the test's environment without AGEASSURE_* settings, so a
// developer's shell cannot change what the replicas run with.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AGEASSURE_") {
			env = append(env, kv)
		}
	}
	return env
}

// logKey fetches the verifier key the replica publishes at /log/key: what a
// regulator pins once, out of band.
func (s *stack) logKey(t testing.TB, r *replica) string {
	t.Helper()
	resp, err := s.client.Get(r.base + "/log/key")
	if err != nil {
		t.Fatalf("%s: GET /log/key: %v", r.name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: GET /log/key: %d %s", r.name, resp.StatusCode, b)
	}
	return strings.TrimSpace(string(b))
}

// stop sends SIGTERM and waits for the graceful exit, which must be 0: the
// log's pending entries are integrated and a final checkpoint published.
func (r *replica) stop(t testing.TB) {
	t.Helper()
	select {
	case <-r.exited:
		t.Errorf("%s had already exited (%v):\n%s", r.name, r.exitErr, tail(r.out.String(), 40))
		return
	default:
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(40 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.exited
		t.Errorf("%s did not stop within 40s of SIGTERM", r.name)
		return
	}
	if r.exitErr != nil {
		t.Errorf("%s exited with %v after SIGTERM, want status 0:\n%s", r.name, r.exitErr, tail(r.out.String(), 40))
	}
}

func (r *replica) running() bool {
	select {
	case <-r.exited:
		return false
	default:
		return true
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ---- requests ----

// checkRequest is the body of POST /v1/age-checks, as a platform sends it.
type checkRequest struct {
	Jurisdiction string        `json:"jurisdiction"`
	Declared     declared      `json:"declared"`
	Signals      []signal      `json:"signals,omitempty"`
	Evidence     []evidence    `json:"evidence,omitempty"`
	Context      *checkContext `json:"context,omitempty"`
}

type declared struct {
	BirthDate string `json:"birth_date,omitempty"`
	Age       *int   `json:"age,omitempty"`
}

type signal struct {
	Type  string   `json:"type"`
	Score *float64 `json:"score,omitempty"`
	Count *int64   `json:"count,omitempty"`
}

type evidence struct {
	Type     string `json:"type"`
	Provider string `json:"provider,omitempty"`
	Token    string `json:"token,omitempty"`
	Lower    *int   `json:"lower,omitempty"`
	Upper    *int   `json:"upper,omitempty"`
	Source   string `json:"source,omitempty"`
}

type checkContext struct {
	Stage      string `json:"stage,omitempty"`
	DeviceRef  string `json:"device_ref,omitempty"`
	SubjectRef string `json:"subject_ref,omitempty"`
	Nonce      string `json:"nonce,omitempty"`
}

func ageOf(n int) declared { return declared{Age: &n} }

func intp(n int) *int { return &n }

func highRisk() []signal {
	score := 0.9
	return []signal{{Type: "underage_likelihood", Score: &score}}
}

// fresh returns a new opaque reference, e.g. a device or subject id, nonce.
func fresh(kind string) string { return kind + "-" + randomHex(10) }

var birthSeq struct {
	sync.Mutex
	n int
}

// birthDateFor returns a birth date, different at every call, of someone
// who is age today in every time zone: the last birthday was 3 to 362
// days ago.
func birthDateFor(age int) string {
	birthSeq.Lock()
	birthSeq.n++
	d := 3 + birthSeq.n%360
	birthSeq.Unlock()
	today := time.Now().UTC()
	b := time.Date(today.Year()-age, today.Month(), today.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -d)
	if b.Month() == time.February && b.Day() == 29 {
		b = b.AddDate(0, 0, -1)
	}
	return b.Format(time.DateOnly)
}

// ---- responses ----

// checkResponse is a 200 or a problem+json body.
type checkResponse struct {
	DecisionID     string          `json:"decision_id"`
	Decision       string          `json:"decision"`
	AgeBand        string          `json:"age_band"`
	AgeEqualOrOver map[string]bool `json:"age_equal_or_over"`
	Assurance      struct {
		Level   string             `json:"level"`
		Methods []string           `json:"methods"`
		Buffer  map[string]float64 `json:"buffer"`
	} `json:"assurance"`
	Reasons []struct {
		Rule     string `json:"rule"`
		Decision string `json:"decision"`
		Message  string `json:"message"`
	} `json:"reasons"`
	Obligations []string `json:"obligations"`
	Evidence    []struct {
		Type     string `json:"type"`
		Provider string `json:"provider"`
		Outcome  string `json:"outcome"`
		Reason   string `json:"reason"`
	} `json:"evidence"`
	Jurisdiction string `json:"jurisdiction"`
	Policy       struct {
		ID   string `json:"id"`
		Hash string `json:"hash"`
	} `json:"policy"`
	Attestation string  `json:"attestation"`
	LogIndex    *uint64 `json:"log_index"`

	// problem+json
	Code   string `json:"code"`
	Errors []struct {
		Pointer string `json:"pointer"`
		Code    string `json:"code"`
	} `json:"errors"`
}

// reply is one answer to a check.
type reply struct {
	replica *replica
	status  int
	header  http.Header
	raw     []byte
	checkResponse
}

// rules returns the reasons' rule ids in order.
func (r *reply) rules() []string {
	out := make([]string, len(r.Reasons))
	for i, x := range r.Reasons {
		out[i] = x.Rule
	}
	return out
}

func (r *reply) hasRule(id string) bool {
	for _, x := range r.Reasons {
		if x.Rule == id {
			return true
		}
	}
	return false
}

// String is a short description for failure messages.
func (r *reply) String() string {
	if r.status != http.StatusOK {
		return fmt.Sprintf("%s: %d %s", r.replica.name, r.status, bytes.TrimSpace(r.raw))
	}
	var ev []string
	for _, e := range r.Evidence {
		s := e.Type + ":" + e.Outcome
		if e.Reason != "" {
			s += "(" + e.Reason + ")"
		}
		ev = append(ev, s)
	}
	return fmt.Sprintf("%s: %s band=%s assurance=%s%v rules=%v evidence=%v",
		r.replica.name, r.Decision, r.AgeBand, r.Assurance.Level, r.Assurance.Methods, r.rules(), ev)
}

// do sends one check as tenant and records a 200 for the log audit. It
// registers every identifying value of the request as a canary first.
func (s *stack) do(r *replica, tenant string, req *checkRequest) (*reply, error) {
	s.canaries.request(req)
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	hreq, err := http.NewRequest(http.MethodPost, r.base+"/v1/age-checks", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hreq.Header.Set("Authorization", "Bearer "+s.keys[tenant])
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(hreq)
	if err != nil {
		if !r.running() {
			return nil, fmt.Errorf("%s: %w; the replica exited (%v):\n%s", r.name, err, r.exitErr, tail(r.out.String(), 30))
		}
		return nil, fmt.Errorf("%s: %w", r.name, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: reading the answer: %w", r.name, err)
	}
	rep := &reply{replica: r, status: resp.StatusCode, header: resp.Header, raw: raw}
	if err := json.Unmarshal(raw, &rep.checkResponse); err != nil {
		return nil, fmt.Errorf("%s: %d answer is not JSON: %v: %s", r.name, resp.StatusCode, err, raw)
	}
	if resp.StatusCode == http.StatusOK {
		if rep.DecisionID == "" || rep.Attestation == "" {
			return nil, fmt.Errorf("%s: 200 without a decision id or attestation: %s", r.name, raw)
		}
		r.mu.Lock()
		r.answered = append(r.answered, answer{tenant: tenant, id: rep.DecisionID, decision: rep.Decision, band: rep.AgeBand,
			policyHash: rep.Policy.Hash, attestation: rep.Attestation})
		r.mu.Unlock()
	}
	return rep, nil
}

// check sends one check as the main tenant; a transport failure ends t.
func (s *stack) check(t testing.TB, r *replica, req *checkRequest) *reply {
	t.Helper()
	rep, err := s.do(r, tenantMain, req)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// ok sends one check that must be answered 200.
func (s *stack) ok(t testing.TB, r *replica, req *checkRequest) *reply {
	t.Helper()
	rep := s.check(t, r, req)
	if rep.status != http.StatusOK {
		t.Fatalf("want 200, got %s", rep)
	}
	return rep
}

// get fetches a JSON document from the replica.
func (s *stack) get(t testing.TB, r *replica, path string, auth bool, v any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, r.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth {
		req.Header.Set("Authorization", "Bearer "+s.keys[tenantMain])
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s: GET %s: %v", r.name, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: GET %s: %d %v: %s", r.name, path, resp.StatusCode, err, b)
		}
	}
	return resp.StatusCode
}

// policyHash is the hash GET /v1/policy reports.
func (s *stack) policyHash(t testing.TB, r *replica) string {
	t.Helper()
	var p struct {
		Hash string `json:"hash"`
	}
	if code := s.get(t, r, "/v1/policy", true, &p); code != http.StatusOK || p.Hash == "" {
		t.Fatalf("%s: GET /v1/policy: %d %+v", r.name, code, p)
	}
	return p.Hash
}

// redisState is the circuit breaker state /readyz reports ("closed",
// "open", "half-open").
func (s *stack) redisState(t testing.TB, r *replica) string {
	t.Helper()
	var ready struct {
		Checks map[string]string `json:"checks"`
	}
	if code := s.get(t, r, "/readyz", false, &ready); code != http.StatusOK {
		t.Fatalf("%s: /readyz %d", r.name, code)
	}
	return ready.Checks["redis"]
}

// metric returns the value of one Prometheus series (name with labels, as
// exposed), 0 when absent.
func (s *stack) metric(t testing.TB, r *replica, series string) float64 {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, r.metricsBase+"/metrics", nil)
	req.Header.Set("Accept", "text/plain")
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s: GET /metrics: %v", r.name, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("%s: metric %s: %v", r.name, series, err)
			}
			return f
		}
	}
	return 0
}

// ---- canaries ----

// canarySet holds every identifying value the tests sent: birth dates,
// device and subject references, nonces, evidence tokens and the parts a
// token is made of. None may be kept anywhere.
type canarySet struct {
	mu  sync.Mutex
	set map[string]string // value → what it is
	// idx finds every form of every canary by its first canaryKeyLen
	// bytes, so a search costs one map look-up per byte searched; nil
	// after an add.
	idx map[[canaryKeyLen]byte][]canaryHit
}

// canaryKeyLen is the shortest canary, and the length of the index key.
const canaryKeyLen = 8

type canaryHit struct{ value, form, label string }

func newCanarySet() *canarySet { return &canarySet{set: map[string]string{}} }

func (c *canarySet) add(kind, v string) {
	if len(v) < canaryKeyLen { // too short to be told from chance
		return
	}
	c.mu.Lock()
	c.set[v] = kind
	c.idx = nil
	c.mu.Unlock()
}

// request registers what a check request carries.
func (c *canarySet) request(req *checkRequest) {
	c.add("birth_date", req.Declared.BirthDate)
	if ctx := req.Context; ctx != nil {
		c.add("device_ref", ctx.DeviceRef)
		c.add("subject_ref", ctx.SubjectRef)
		c.add("nonce", ctx.Nonce)
	}
	for _, e := range req.Evidence {
		c.token(e.Type, e.Token)
	}
}

// token registers a token, and each JWS of an SD-JWT presentation, and
// each JWS's payload and signature.
func (c *canarySet) token(kind, tok string) {
	if tok == "" {
		return
	}
	c.add(kind+" token", tok)
	for _, part := range strings.Split(tok, "~") {
		if part == "" {
			continue
		}
		c.add(kind+" token part", part)
		if segs := strings.Split(part, "."); len(segs) == 3 {
			c.add(kind+" token payload", segs[1])
			c.add(kind+" token signature", segs[2])
		}
	}
}

func (c *canarySet) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.set)
}

// find reports every canary found in data, in clear, hex or base64, as
// "<what> <value> (<form>) in <where>", once per canary.
func (c *canarySet) find(where string, data []byte) []string {
	c.mu.Lock()
	if c.idx == nil {
		c.idx = map[[canaryKeyLen]byte][]canaryHit{}
		for v, kind := range c.set {
			for _, f := range canaryForms(v) {
				k := [canaryKeyLen]byte([]byte(f.text[:canaryKeyLen]))
				c.idx[k] = append(c.idx[k], canaryHit{value: v, form: f.text, label: fmt.Sprintf("%s %q (%s)", kind, short(v), f.name)})
			}
		}
	}
	idx := c.idx
	c.mu.Unlock()
	seen := map[string]bool{}
	var found []string
	for i := 0; i+canaryKeyLen <= len(data); i++ {
		hits, ok := idx[[canaryKeyLen]byte(data[i:i+canaryKeyLen])]
		if !ok {
			continue
		}
		for _, h := range hits {
			if !seen[h.value] && bytes.HasPrefix(data[i:], []byte(h.form)) {
				seen[h.value] = true
				found = append(found, h.label+" in "+where)
			}
		}
	}
	return found
}

type canaryForm struct{ name, text string }

func canaryForms(v string) []canaryForm {
	return []canaryForm{
		{"clear", v},
		{"hex", hex.EncodeToString([]byte(v))},
		{"HEX", strings.ToUpper(hex.EncodeToString([]byte(v)))},
		{"base64", base64.StdEncoding.EncodeToString([]byte(v))},
		{"base64url", base64.RawURLEncoding.EncodeToString([]byte(v))},
	}
}

func short(v string) string {
	if len(v) > 40 {
		return v[:40] + "…"
	}
	return v
}

// every calls fn, then again every gap, until ctx ends.
func every(ctx context.Context, gap time.Duration, fn func()) {
	for {
		fn()
		select {
		case <-ctx.Done():
			return
		case <-time.After(gap):
		}
	}
}

// TestCanarySearch checks the search the suite relies on: every form is
// found, anywhere in the data, and nothing else is.
func TestCanarySearch(t *testing.T) {
	c := newCanarySet()
	c.add("nonce", "nonce-0123456789")
	c.add("birth_date", "2011-03-17")
	c.add("short", "abc") // ignored: too short
	for _, f := range canaryForms("nonce-0123456789") {
		data := []byte("xx" + f.text + "yy")
		if got := c.find("data", data); len(got) != 1 || !strings.Contains(got[0], "("+f.name+")") {
			t.Errorf("%s form: found %v", f.name, got)
		}
	}
	if got := c.find("data", []byte(`{"born":"2011-03-17"}`+"2011-03-17")); len(got) != 1 {
		t.Errorf("a repeated canary: found %v, want it once", got)
	}
	if got := c.find("data", []byte("nonce-012345678 2011-03-18 abc nonce-")); len(got) != 0 {
		t.Errorf("found %v in data holding no canary", got)
	}
	if got := c.find("tail", []byte("2011-03-1")); len(got) != 0 {
		t.Errorf("found %v in a truncated canary", got)
	}
}
