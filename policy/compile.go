package policy

import (
	"fmt"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/ext"
)

// Names of the CEL variables rules can use; the README ("Policy files") documents them.
const (
	varAge                = "age"
	varBand               = "band"
	varStage              = "stage"
	varJurisdiction       = "jurisdiction"
	varCountry            = "country"
	varMinimumAge         = "minimum_age"
	varConsentAge         = "consent_age"
	varSignals            = "signals"
	varParams             = "params"
	varDeviceHistory      = "device_history"
	varDeviceMinAge       = "device_min_age"
	varSubjectHistory     = "subject_history"
	varSubjectMinAge      = "subject_min_age"
	varHistoryUnavailable = "history_unavailable"
	varNow                = "now"

	varAgeMin        = "age_min"
	varAgeMax        = "age_max"
	varDeclaredAge   = "declared_age"
	varConsent       = "parental_consent"
	varContradiction = "evidence_contradiction"
	varAssurance     = "assurance"
	varMethods       = "methods"
	varVerified      = "verified"
)

// newEnv declares the rule environment. Cross-type numeric comparisons let
// rules compare int signals and ages with double params naturally
// (signals.user_reports >= params.user_reports_threshold, age >= 13.0).
func newEnv() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable(varAge, cel.IntType),
		cel.Variable(varBand, cel.StringType),
		cel.Variable(varStage, cel.StringType),
		cel.Variable(varJurisdiction, cel.StringType),
		cel.Variable(varCountry, cel.StringType),
		cel.Variable(varMinimumAge, cel.IntType),
		cel.Variable(varConsentAge, cel.IntType),
		cel.Variable(varSignals, cel.MapType(cel.StringType, cel.DoubleType)),
		cel.Variable(varParams, cel.MapType(cel.StringType, cel.DoubleType)),
		cel.Variable(varDeviceHistory, cel.BoolType),
		cel.Variable(varDeviceMinAge, cel.IntType),
		cel.Variable(varSubjectHistory, cel.BoolType),
		cel.Variable(varSubjectMinAge, cel.IntType),
		cel.Variable(varHistoryUnavailable, cel.BoolType),
		cel.Variable(varNow, cel.TimestampType),
		cel.Variable(varAgeMin, cel.IntType),
		cel.Variable(varAgeMax, cel.IntType),
		cel.Variable(varDeclaredAge, cel.IntType),
		cel.Variable(varConsent, cel.BoolType),
		cel.Variable(varContradiction, cel.BoolType),
		cel.Variable(varAssurance, cel.StringType),
		cel.Variable(varMethods, cel.ListType(cel.StringType)),
		cel.Variable(varVerified, cel.BoolType),
		cel.CrossTypeNumericComparisons(true),
		ext.Strings(),
	)
}

// compileRules parses, type-checks and plans every rule once, at load, so
// that evaluation only runs prepared programs. Problems are reported at the
// position of the rule's when: value.
func (b *builder) compileRules(rules []*rule) {
	env, err := newEnv()
	if err != nil {
		b.errorAt(b.root, err, "cannot create the CEL environment: %v", err)
		return
	}
	for _, r := range rules {
		if r.whenPos.Line == 0 {
			continue // already reported as missing
		}
		ast, iss := env.Compile(r.when)
		if iss.Err() != nil {
			for _, e := range iss.Errors() {
				b.errorAt(r.whenPos, iss.Err(), "rule %s: when: CEL error at column %d: %s",
					r.id, e.Location.Column()+1, e.Message)
			}
			continue
		}
		if !ast.OutputType().IsExactType(cel.BoolType) {
			b.errorAt(r.whenPos, nil, "rule %s: when must be a bool expression, not %s", r.id, ast.OutputType())
			continue
		}
		prog, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
		if err != nil {
			b.errorAt(r.whenPos, err, "rule %s: when: %v", r.id, fmt.Errorf("planning CEL program: %w", err))
			continue
		}
		r.prog = prog
	}
}
