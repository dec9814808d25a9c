package policy

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
)

// Severity ranks a lint finding.
type Severity int

// Severities, least serious first. Only errors make a policy unloadable
// (or, for the extra checks, certainly wrong); warnings are very likely
// mistakes; infos are worth knowing.
const (
	SeverityInfo Severity = iota
	SeverityWarning
	SeverityError
)

// String returns "info", "warning" or "error".
func (s Severity) String() string {
	switch s {
	case SeverityError:
		return "error"
	case SeverityWarning:
		return "warning"
	}
	return "info"
}

// Diagnostic is one lint finding at a position in a policy file.
type Diagnostic struct {
	Pos      Pos
	Severity Severity
	// Check names the check that found it (for example "never-fires"), so
	// a team can disable a check it has decided to live with.
	Check string
	Msg   string
}

// String formats d as "file:line:col: severity: message [check]", the
// form editors and CI annotations understand.
func (d Diagnostic) String() string {
	return fmt.Sprintf("%s: %s: %s [%s]", d.Pos, d.Severity, d.Msg, d.Check)
}

// Lint checks. "load" covers everything Load reports (syntax, schema, CEL
// type errors, unknown fields, duplicate ids, overlapping in-force periods,
// missing citations); the others look for mistakes a valid policy can
// still contain.
const (
	CheckLoad                = "load"
	CheckCases               = "cases"                 // a test-case file beside the policy that does not load
	CheckNeverFires          = "never-fires"           // a rule that can never fire
	CheckExpired             = "expired"               // effective_until is in the past
	CheckNotInForce          = "not-in-force"          // enjoined or pending: kept as data
	CheckDeprecated          = "deprecated"            // an old spelling the loader still accepts (legal_status proposed)
	CheckMissingParam        = "missing-param"         // params.x where x is not defined
	CheckUnknownSignal       = "unknown-signal"        // signals.x where x is not a known signal
	CheckImpossibleValue     = "impossible-value"      // band == "teen" and the like
	CheckScopeWithoutPack    = "scope-without-pack"    // a scope code with no pack of its own or of its country
	CheckNeverAttached       = "never-attached"        // an obligation that can never be attached
	CheckBandsBelowMinimum   = "bands-below-minimum"   // an obligation only for bands the minimum age denies
	CheckConsentBelowMinimum = "consent-below-minimum" // consent_age < minimum_age
	CheckPeriodGap           = "period-gap"            // a pack has no in-force period between two that have
	CheckNoConfidence        = "no-confidence"         // a period without citation confidence
	CheckReviewDue           = "review-due"            // no reviewed date, or one older than ReviewDays (or in the future)
	CheckEnactedPast         = "enacted-past"          // legal_status enacted, but effective_from has come: it applies; say in_force
)

// DefaultReviewDays is how old a reviewed date may be before lint asks for
// a new review: law on minors' accounts changes monthly somewhere.
const DefaultReviewDays = 180

// LintOptions configure Lint.
type LintOptions struct {
	// Now is "today" for the checks that depend on the date (expiry,
	// review-due, enacted-past); zero means time.Now().
	Now time.Time
	// ReviewDays is how many days a reviewed date stays fresh; zero means
	// DefaultReviewDays.
	ReviewDays int
}

// Lint loads the policy at name and checks it: every problem Load reports
// (as errors), then the checks only a loaded policy allows (rules that can
// never fire, params that do not exist, obligations never attached, …),
// and the test-case files beside it (see LoadCases), which must load too.
// Findings are sorted by position.
func Lint(name string, opts LintOptions) []Diagnostic {
	p, err := Load(name)
	_, cerr := LoadCases(name)
	return lintResult(p, err, cerr, name, opts)
}

// LintFS is Lint for a file or folder inside fsys.
func LintFS(fsys fs.FS, root string, opts LintOptions) []Diagnostic {
	p, err := LoadFS(fsys, root)
	_, cerr := LoadCasesFS(fsys, root)
	return lintResult(p, err, cerr, root, opts)
}

func lintResult(p *Policy, err, casesErr error, name string, opts LintOptions) []Diagnostic {
	var list ErrorList
	if err != nil && !errors.As(err, &list) {
		casesErr = nil // the path itself is the problem: say it once
	}
	ds := lintErrors(nil, err, name, CheckLoad)
	ds = lintErrors(ds, casesErr, name, CheckCases)
	if err != nil {
		sortDiagnostics(ds)
		return ds
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	reviewDays := opts.ReviewDays
	if reviewDays <= 0 {
		reviewDays = DefaultReviewDays
	}
	l := &linter{p: p, m: p.m, today: DateOf(now.UTC()), reviewDays: reviewDays, ds: ds}
	l.run()
	sortDiagnostics(l.ds)
	return l.ds
}

func sortDiagnostics(ds []Diagnostic) {
	slices.SortStableFunc(ds, func(a, b Diagnostic) int {
		return cmp.Or(cmp.Compare(a.Pos.File, b.Pos.File), cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Col, b.Pos.Col), cmp.Compare(b.Severity, a.Severity))
	})
}

// lintErrors turns a load error into error diagnostics.
func lintErrors(ds []Diagnostic, err error, name, check string) []Diagnostic {
	if err == nil {
		return ds
	}
	var list ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			ds = append(ds, Diagnostic{Pos: e.Pos, Severity: SeverityError, Check: check, Msg: e.Msg})
		}
		return ds
	}
	return append(ds, Diagnostic{Pos: Pos{File: filepath.Clean(name)}, Severity: SeverityError, Check: check, Msg: err.Error()})
}

type linter struct {
	p          *Policy
	m          *model
	today      Date
	reviewDays int
	ds         []Diagnostic
}

func (l *linter) add(pos Pos, sev Severity, check, format string, args ...any) {
	l.ds = append(l.ds, Diagnostic{Pos: pos, Severity: sev, Check: check, Msg: fmt.Sprintf(format, args...)})
}

func (l *linter) run() {
	for _, n := range l.m.notes {
		l.add(n.pos, SeverityInfo, CheckDeprecated, "%s", n.msg)
	}
	for _, pk := range append([]*pack{l.m.defaultPack}, l.m.packs...) {
		l.pack(pk)
	}
	env, err := newEnv()
	if err != nil {
		l.add(Pos{}, SeverityError, CheckLoad, "cannot create the CEL environment: %v", err)
		return
	}
	for _, r := range l.m.rules {
		l.rule(env, r)
	}
	for _, o := range l.m.obligations {
		l.obligation(o)
	}
}

func (l *linter) pack(pk *pack) {
	var inForce []*period
	for _, per := range pk.periods {
		what := pk.label() + ": period " + per.span.String()
		if per.status != statusPending {
			// A bill is watched, not reviewed: the law it would make is
			// not there yet.
			l.review(what, per.pos, per.span, per.reviewed, true)
		}
		l.enacted(what, per.pos, per.span, per.status)
		switch per.status {
		case statusPending:
			l.add(per.pos, SeverityInfo, CheckNotInForce, "%s is pending (a bill, on the watch list): recorded, never applied", what)
			continue
		case statusEnjoined:
			l.add(per.pos, SeverityInfo, CheckNotInForce, "%s is enjoined: kept as data, never applied", what)
			continue
		}
		inForce = append(inForce, per)
		if per.consentAge < per.minimumAge {
			l.add(per.pos, SeverityWarning, CheckConsentBelowMinimum,
				"%s: period %s: consent_age %d is below minimum_age %d, so consent rules can never fire (set consent_age to %d if the minimum age is the binding threshold)",
				pk.label(), per.span, per.consentAge, per.minimumAge, per.minimumAge)
		}
		if per.confidence == "" {
			l.add(per.pos, SeverityInfo, CheckNoConfidence, "%s: period %s has no citation confidence (high, medium or low)", pk.label(), per.span)
		}
		if !per.until.IsZero() && !l.today.Before(per.until) && per == lastInForce(pk) {
			l.add(per.pos, SeverityWarning, CheckExpired, "%s: its last in-force period ended on %s; it falls back to %s since",
				pk.label(), per.until, fallbackOf(pk))
		}
	}
	// Periods are sorted by effective_from: a gap between two in-force
	// periods silently hands the pack's checks to the fallback.
	for i := 1; i < len(inForce); i++ {
		prev, per := inForce[i-1], inForce[i]
		if !prev.until.IsZero() && prev.until.Before(per.from) {
			l.add(per.pos, SeverityWarning, CheckPeriodGap, "%s: no in-force period from %s to %s; checks fall back to %s then",
				pk.label(), prev.until, per.from, fallbackOf(pk))
		}
	}
}

// review checks an entry's reviewed date: it must not be in the future,
// nor older than the review interval; a period (required) must have one.
// Entries that ended before today are history and are not re-reviewed.
func (l *linter) review(what string, pos Pos, sp span, reviewed Date, required bool) {
	if !sp.until.IsZero() && !l.today.Before(sp.until) {
		return
	}
	switch {
	case reviewed.IsZero():
		if required {
			l.add(pos, SeverityWarning, CheckReviewDue, "%s has no reviewed date: check it against the law and add reviewed: YYYY-MM-DD", what)
		}
	case reviewed.After(l.today):
		l.add(pos, SeverityWarning, CheckReviewDue, "%s: reviewed %s is after today (%s)", what, reviewed, l.today)
	default:
		if age := daysBetween(reviewed, l.today); age > l.reviewDays {
			l.add(pos, SeverityWarning, CheckReviewDue, "%s was last reviewed on %s, %d days before %s (more than %d): check it against the law and update reviewed",
				what, reviewed, age, l.today, l.reviewDays)
		}
	}
}

// enacted warns about an enacted entry whose effective_from has come: it
// applies (enacted is effective from its date), so its status should now
// say in_force, after a look at whether it really took effect.
func (l *linter) enacted(what string, pos Pos, sp span, st legalStatus) {
	if st == statusEnacted && !sp.from.IsZero() && !l.today.Before(sp.from) {
		l.add(pos, SeverityWarning, CheckEnactedPast,
			"%s is enacted with effective_from %s, which has come: it applies as in force; check that it took effect, then set legal_status: in_force and update reviewed",
			what, sp.from)
	}
}

// daysBetween is the number of days from a to b.
func daysBetween(a, b Date) int {
	return int(b.Time(nil).Sub(a.Time(nil)).Hours() / 24)
}

func lastInForce(pk *pack) *period {
	var last *period
	for _, per := range pk.periods {
		if per.status.applies() {
			last = per
		}
	}
	return last
}

func fallbackOf(pk *pack) string {
	if len(pk.code) > 2 {
		return "the " + pk.code[:2] + " pack (or the default pack)"
	}
	return "the default pack"
}

// reachablePacks are the packs whose checks a scope can select: for a
// listed code, every pack the fallback chain may apply to it (its own, its
// country's, the default); for a listed group, the packs in it. An empty
// scope reaches every pack.
func (l *linter) reachablePacks(sc *scope) []*pack {
	all := append([]*pack{l.m.defaultPack}, l.m.packs...)
	if len(sc.jurisdictions) == 0 && len(sc.groups) == 0 {
		return all
	}
	var out []*pack
	for _, pk := range all {
		reach := false
		for _, j := range sc.jurisdictions {
			if pk.code == j || pk.code == countryOf(j) || pk.code == defaultPackCode {
				reach = true
			}
		}
		for _, g := range sc.groups {
			if slices.Contains(pk.groups, g) {
				reach = true
			}
		}
		if reach {
			out = append(out, pk)
		}
	}
	return out
}

// spanReachable reports whether sp overlaps an in-force period of a pack.
func spanReachable(sp span, packs []*pack) bool {
	for _, pk := range packs {
		for _, per := range pk.periods {
			if per.status.applies() && per.span.overlaps(sp) {
				return true
			}
		}
	}
	return false
}

// dating runs the checks rules and obligations share; it reports whether
// the item can apply at all.
func (l *linter) dating(what string, pos Pos, sp span, st legalStatus, reviewed Date, sc *scope, never string) bool {
	if st != statusPending {
		l.review(what, pos, sp, reviewed, false)
	}
	l.enacted(what, pos, sp, st)
	if st == statusPending {
		l.add(pos, SeverityInfo, CheckNotInForce, "%s is pending (a bill, on the watch list): recorded, never applied", what)
		return false
	}
	if !st.applies() {
		l.add(pos, SeverityInfo, CheckNotInForce, "%s is %s: kept as data, never applied", what, st)
		return false
	}
	for _, j := range sc.jurisdictions {
		if l.p.byCode[j] == nil && l.p.byCode[countryOf(j)] == nil {
			l.add(pos, SeverityWarning, CheckScopeWithoutPack,
				"%s: scope names %s, which has no pack of its own or of its country: it applies there only through the default pack", what, j)
		}
	}
	if !spanReachable(sp, l.reachablePacks(sc)) {
		l.add(pos, SeverityError, never, "%s can never apply: its dates %s lie outside every in-force period of the packs it applies to", what, sp)
		return false
	}
	if !sp.until.IsZero() && !l.today.Before(sp.until) {
		l.add(pos, SeverityWarning, CheckExpired, "%s expired: effective_until %s is in the past", what, sp.until)
		return false
	}
	return true
}

func (l *linter) rule(env *cel.Env, r *rule) {
	what := "rule " + r.id
	l.dating(what, r.pos, r.span, r.status, r.reviewed, &r.scope, CheckNeverFires)

	checked, iss := env.Compile(r.when)
	if iss.Err() != nil {
		return // Load reported it
	}
	l.walkWhen(what, r.whenPos, checked.NativeRep())
	folder, err := cel.NewConstantFoldingOptimizer()
	if err != nil {
		return
	}
	opt, err := cel.NewStaticOptimizer(folder)
	if err != nil {
		return
	}
	folded, iss := opt.Optimize(env, checked)
	if iss.Err() != nil {
		return
	}
	if e := folded.NativeRep().Expr(); e.Kind() == celast.LiteralKind && e.AsLiteral() == types.False {
		l.add(r.whenPos, SeverityError, CheckNeverFires, "%s can never fire: when is always false", what)
	}
}

// enumValues are the values some string variables can take, so a
// comparison with anything else is a typo that makes a rule dead (or, with
// !=, always true).
var enumValues = map[string][]string{
	varBand:      {string(BandUnder13), string(Band13To15), string(Band16To17), string(Band18Plus), string(BandUnknown)},
	varStage:     {"signup", "reassessment"},
	varAssurance: {LevelAsserted, LevelStandard, LevelEnhanced, LevelStrict},
}

// walkWhen looks for params and signals keys that do not exist (a run-time
// error on every evaluation, so the rule always fails safe) and for
// comparisons of enumerated variables with values they never take.
func (l *linter) walkWhen(what string, pos Pos, a *celast.AST) {
	info := a.SourceInfo()
	col := func(id int64) int { return info.GetStartLocation(id).Column() + 1 }
	key := func(e celast.Expr) (variable, name string, ok bool) {
		switch e.Kind() {
		case celast.SelectKind:
			s := e.AsSelect()
			if s.IsTestOnly() || s.Operand().Kind() != celast.IdentKind {
				return "", "", false
			}
			return s.Operand().AsIdent(), s.FieldName(), true
		case celast.CallKind:
			c := e.AsCall()
			if c.FunctionName() != "_[_]" || len(c.Args()) != 2 || c.Args()[0].Kind() != celast.IdentKind || c.Args()[1].Kind() != celast.LiteralKind {
				return "", "", false
			}
			s, isStr := c.Args()[1].AsLiteral().(types.String)
			return c.Args()[0].AsIdent(), string(s), isStr
		}
		return "", "", false
	}
	celast.PostOrderVisit(a.Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		if v, name, ok := key(e); ok {
			switch {
			case v == varParams:
				if _, defined := l.m.params[name]; !defined {
					l.add(pos, SeverityError, CheckMissingParam,
						"%s: when reads params.%s (column %d), which the policy does not define: every evaluation fails and asks for verification", what, name, col(e.ID()))
				}
			case v == varSignals && !slices.Contains(signalNames[:], name):
				l.add(pos, SeverityError, CheckUnknownSignal,
					"%s: when reads signals.%s (column %d), which is not a known signal (%s)", what, name, col(e.ID()), strings.Join(signalNames[:], ", "))
			}
		}
		if e.Kind() != celast.CallKind {
			return
		}
		c := e.AsCall()
		if (c.FunctionName() != "_==_" && c.FunctionName() != "_!=_") || len(c.Args()) != 2 {
			return
		}
		x, y := c.Args()[0], c.Args()[1]
		if x.Kind() == celast.LiteralKind {
			x, y = y, x
		}
		if x.Kind() != celast.IdentKind || y.Kind() != celast.LiteralKind {
			return
		}
		s, isStr := y.AsLiteral().(types.String)
		values, enum := enumValues[x.AsIdent()]
		if !isStr || !enum || slices.Contains(values, string(s)) {
			return
		}
		outcome := "never true"
		if c.FunctionName() == "_!=_" {
			outcome = "always true"
		}
		l.add(pos, SeverityWarning, CheckImpossibleValue, "%s: %s is never %q (column %d), so the comparison is %s (values: %s)",
			what, x.AsIdent(), string(s), col(e.ID()), outcome, strings.Join(values, ", "))
	}))
}

// bandMax is the highest age in a band (-1 for unknown, which spans all).
func bandMax(b Band) int {
	switch b {
	case BandUnder13:
		return 12
	case Band13To15:
		return 15
	case Band16To17:
		return 17
	}
	return -1
}

func (l *linter) obligation(o *obligation) {
	what := "obligation " + o.id
	if !l.dating(what, o.pos, o.span, o.status, o.reviewed, &o.scope, CheckNeverAttached) {
		return
	}
	// Deny attaches no obligations: bands wholly under the minimum age of
	// every period the obligation can meet are (normally) never attached.
	lowest := maxAge + 1
	for _, pk := range l.reachablePacks(&o.scope) {
		for _, per := range pk.periods {
			if per.status.applies() && per.span.overlaps(o.span) {
				lowest = min(lowest, per.minimumAge)
			}
		}
	}
	for _, b := range o.bands {
		if m := bandMax(b); m < 0 || m >= lowest {
			return
		}
	}
	l.add(o.pos, SeverityWarning, CheckBandsBelowMinimum,
		"%s: every band it lists is under the minimum age (at least %d) wherever and whenever it applies; users there are denied, and a deny attaches no obligations",
		what, lowest)
}

// LintBuiltin lints the shipped policy; positions name the embedded files
// (packs/…), which are policy/packs/… in the source tree.
func LintBuiltin(opts LintOptions) []Diagnostic {
	return LintFS(packs, "packs", opts)
}
