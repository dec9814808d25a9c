package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ageassure/ageassure/policy"
)

// listFlag is a repeatable flag (--signal a=1 --signal b=2).
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// policyExplain evaluates one input and prints the whole trace.
func policyExplain(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := policyFlags("explain", "Usage: ageassure policy explain <path|builtin> --jurisdiction DE (--age 14 | --birth-date 2012-05-01)\n"+
		"         [--as-of 2026-11-26 | --time 2026-11-26T23:30:00+01:00] [--stage signup|reassessment]\n"+
		"         [--signal underage_likelihood=0.9 --signal user_reports=3] [--device-min-age 10]\n"+
		"         [--evidence age_estimation:estimate=19.2,uncertainty=2.1 ...] [--format text|json]\n\n"+
		"Evaluates one check and prints the pack chosen (and the fallback chain tried), the period in force\n"+
		"with its citation, what the evidence established, every rule with whether it was in force, in\n"+
		"date, in scope, what it evaluated to and the decision it asks for, every obligation, and the final\n"+
		"decision, band, thresholds and obligations.\n\n"+
		"--evidence is type[:key=value,...], as accepted evidence (the token checks are the service's job):\n"+
		"  age_estimation:estimate=19.2,uncertainty=2.1[,liveness=true]\n"+
		"  id_document:age=12   id_document:over_18=true   digital_credential:over_18=true\n"+
		"  parental_consent     platform_age_range:lower=13,upper=15,source=self_declared\n"+
		"  any of them with outcome=rejected or outcome=unverifiable (counts as absent).", stderr)
	jurisdiction := fs.String("jurisdiction", "", "the ISO 3166 `code` checked, e.g. DE or US-UT (empty: the default pack)")
	ageFlag := fs.String("age", "", "the declared `age` in whole years")
	birth := fs.String("birth-date", "", "the declared birth `date` (YYYY-MM-DD), turned into an age on the pack's date")
	asOf := fs.String("as-of", "", "the `day` to evaluate (YYYY-MM-DD), that day in the pack's own time zone (default: now)")
	at := fs.String("time", "", "the exact `instant` to evaluate (RFC 3339), instead of --as-of")
	stage := fs.String("stage", "signup", "`stage`: signup or reassessment")
	var signals, evidence listFlag
	fs.Var(&signals, "signal", "a risk signal `type=value` (repeatable): underage_likelihood=0..1, user_reports=count")
	deviceMin := fs.String("device-min-age", "", "the lowest `age` the device declared within the anti-hopping window")
	subjectMin := fs.String("subject-min-age", "", "the lowest `age` the account (subject_ref) declared within the anti-hopping window")
	fs.Var(&evidence, "evidence", "accepted evidence `type[:k=v,...]` (repeatable; see above)")
	format := fs.String("format", "text", "output `format`: text or json")
	pos, code, ok := parsePolicyFlags(fs, args, stderr, "<path|builtin>")
	if !ok {
		return code
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "ageassure policy explain: "+format+"\n", a...)
		return 2
	}
	if *format != "text" && *format != "json" {
		return usage("--format %q: want text or json", *format)
	}
	if *stage != "signup" && *stage != "reassessment" {
		return usage("--stage %q: want signup or reassessment", *stage)
	}
	p, err := loadPolicyArg(pos[0])
	if err != nil {
		printLoadError(stderr, "explain", pos[0], err)
		return 1
	}
	in := policy.Input{Stage: *stage}
	if *jurisdiction != "" {
		if in.Jurisdiction, err = policy.NormalizeJurisdiction(*jurisdiction); err != nil {
			return usage("--jurisdiction: %v", err)
		}
	}
	switch {
	case *at != "" && *asOf != "":
		return usage("give --as-of or --time, not both")
	case *at != "":
		if in.Now, err = time.Parse(time.RFC3339, *at); err != nil {
			return usage("--time: %v", err)
		}
	case *asOf != "":
		// The day in the applying pack's own calendar: noon UTC is already
		// the next day at UTC+12 to +14.
		day, err := policy.ParseDate(*asOf)
		if err != nil {
			return usage("--as-of: %v", err)
		}
		in.Now = p.NoonOn(in.Jurisdiction, day)
	default:
		in.Now = time.Now() // today, in the pack's own calendar
	}
	switch {
	case (*ageFlag == "") == (*birth == ""):
		return usage("give exactly one of --age and --birth-date")
	case *ageFlag != "":
		if in.Age, err = strconv.Atoi(*ageFlag); err != nil || in.Age < 0 || in.Age > 150 {
			return usage("--age %q: want whole years, 0 to 150", *ageFlag)
		}
	default:
		b, err := policy.ParseDate(*birth)
		if err != nil {
			return usage("--birth-date: %v", err)
		}
		if in.Age = policy.AgeOn(b, p.Today(in.Jurisdiction, in.Now)); in.Age < 0 {
			return usage("--birth-date %s is after the evaluation date", b)
		}
	}
	for _, s := range signals {
		name, value, found := strings.Cut(s, "=")
		f, err := strconv.ParseFloat(value, 64)
		if !found || err != nil || !slices.Contains(policy.KnownSignals(), name) {
			return usage("--signal %q: want type=number with type one of %s", s, strings.Join(policy.KnownSignals(), ", "))
		}
		if in.Signals == nil {
			in.Signals = map[string]float64{}
		}
		in.Signals[name] = f
	}
	if *deviceMin != "" {
		if in.DeviceMinAge, err = strconv.Atoi(*deviceMin); err != nil || in.DeviceMinAge < 0 {
			return usage("--device-min-age %q: want whole years", *deviceMin)
		}
		in.DeviceHistory = true
	}
	if *subjectMin != "" {
		if in.SubjectMinAge, err = strconv.Atoi(*subjectMin); err != nil || in.SubjectMinAge < 0 {
			return usage("--subject-min-age %q: want whole years", *subjectMin)
		}
		in.SubjectHistory = true
	}
	for _, spec := range evidence {
		e, err := parseEvidenceSpec(spec)
		if err != nil {
			return usage("--evidence %q: %v", spec, err)
		}
		in.Evidence = append(in.Evidence, e)
	}

	res, tr := p.Explain(in)
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(map[string]any{
			"policy": map[string]string{"id": p.ID(), "hash": p.Hash()},
			"input":  explainInputJSON(in),
			"result": resultJSON(res),
			"trace":  tr,
		})
	} else {
		err = writeExplain(stdout, p, in, res, tr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ageassure policy explain: %v\n", err)
		return 1
	}
	return 0
}

// parseEvidenceSpec parses type[:key=value,...] into accepted evidence.
func parseEvidenceSpec(spec string) (policy.Evidence, error) {
	typ, rest, _ := strings.Cut(spec, ":")
	e := policy.Evidence{Type: typ, Outcome: policy.OutcomeAccepted}
	allowed := map[string][]string{
		policy.EvidenceAgeEstimation:     {"estimate", "uncertainty", "liveness"},
		policy.EvidenceIDDocument:        {"age", "over_"},
		policy.EvidenceDigitalCredential: {"age", "over_"},
		policy.EvidenceParentalConsent:   {},
		policy.EvidencePlatformAgeRange:  {"lower", "upper", "source"},
	}[typ]
	if allowed == nil {
		return e, fmt.Errorf("unknown type %q (want age_estimation, id_document, digital_credential, parental_consent or platform_age_range)", typ)
	}
	num := func(k, v string) (float64, error) {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, fmt.Errorf("%s=%q is not a number", k, v)
		}
		return f, nil
	}
	whole := func(k, v string) (int, error) {
		i, err := strconv.Atoi(v)
		if err != nil || i < 0 || i > 150 {
			return 0, fmt.Errorf("%s=%q is not an age", k, v)
		}
		return i, nil
	}
	if rest != "" {
		for kv := range strings.SplitSeq(rest, ",") {
			k, v, found := strings.Cut(kv, "=")
			if !found {
				return e, fmt.Errorf("%q is not key=value", kv)
			}
			known := k == "outcome" || slices.Contains(allowed, k) || (strings.HasPrefix(k, "over_") && slices.Contains(allowed, "over_"))
			if !known {
				return e, fmt.Errorf("%s takes no %q", typ, k)
			}
			var err error
			switch {
			case k == "outcome":
				e.Outcome = v
				if v != policy.OutcomeAccepted && v != policy.OutcomeRejected && v != policy.OutcomeUnverifiable {
					err = fmt.Errorf("outcome=%q: want accepted, rejected or unverifiable", v)
				}
			case k == "estimate":
				var f float64
				f, err = num(k, v)
				e.Estimate = &f
			case k == "uncertainty":
				e.Uncertainty, err = num(k, v)
			case k == "liveness":
				e.Liveness, err = strconv.ParseBool(v)
			case k == "age":
				var a int
				a, err = whole(k, v)
				e.Age = &a
			case strings.HasPrefix(k, "over_"):
				var t int
				if t, err = whole(k, k[len("over_"):]); err == nil {
					var b bool
					b, err = strconv.ParseBool(v)
					if e.Over == nil {
						e.Over = map[int]bool{}
					}
					e.Over[t] = b
				}
			case k == "lower":
				e.Lower, err = whole(k, v)
			case k == "upper":
				e.Upper, err = whole(k, v)
			case k == "source":
				e.Source = v
				if v != policy.RangeSelfDeclared && v != policy.RangeGuardianDeclared && v != policy.RangeVerified {
					err = fmt.Errorf("source=%q: want self_declared, guardian_declared or verified", v)
				}
			}
			if err != nil {
				return e, err
			}
		}
	}
	switch typ {
	case policy.EvidenceAgeEstimation:
		if e.Estimate == nil {
			return e, fmt.Errorf("estimate=… is required")
		}
	case policy.EvidenceIDDocument, policy.EvidenceDigitalCredential:
		if (e.Age == nil) == (e.Over == nil) {
			return e, fmt.Errorf("give age=… or over_NN=true|false")
		}
	case policy.EvidenceParentalConsent:
		e.Consent = true
	case policy.EvidencePlatformAgeRange:
		if e.Source == "" {
			e.Source = policy.RangeSelfDeclared
		}
	}
	return e, nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func dateOrOpen(d policy.Date) string {
	if d.IsZero() {
		return "open"
	}
	return d.String()
}

func span(from, until policy.Date) string {
	return "[" + dateOrOpen(from) + ", " + dateOrOpen(until) + ")"
}

// writeExplain prints the trace for people.
func writeExplain(w io.Writer, p *policy.Policy, in policy.Input, res policy.Result, tr policy.Trace) error {
	bw := &errWriter{w: w}
	code := tr.Jurisdiction
	if code == "" {
		code = "(none)"
	}
	bw.printf("policy        %s  %s\n", p.ID(), p.Hash())
	bw.printf("input         jurisdiction %s, age %d (declared), stage %s", code, in.Age, in.Stage)
	if len(in.Signals) > 0 {
		var s []string
		for _, k := range policy.KnownSignals() {
			if v, ok := in.Signals[k]; ok {
				s = append(s, k+"="+strconv.FormatFloat(v, 'g', -1, 64))
			}
		}
		bw.printf(", signals %s", strings.Join(s, " "))
	}
	if in.DeviceHistory {
		bw.printf(", device declared %d recently", in.DeviceMinAge)
	}
	if in.SubjectHistory {
		bw.printf(", account declared %d recently", in.SubjectMinAge)
	}
	for _, e := range in.Evidence {
		bw.printf(", evidence %s (%s)", e.Type, e.Outcome)
	}
	bw.printf("\nevaluated at  %s (%s in the pack's timezone)\n", tr.Now.UTC().Format(time.RFC3339), tr.AsOf)
	var chain []string
	for _, st := range tr.Chain {
		s := st.Code
		switch {
		case st.Applied && st.InForce:
			s += " ✓"
		case st.Applied:
			s += " ✓ (no period in force: fail-safe)"
		case !st.HasPack:
			s += " (no pack)"
		default:
			s += " (no period in force on " + st.AsOf.String() + ")"
		}
		chain = append(chain, s)
	}
	bw.printf("pack          %s    tried: %s\n", tr.Pack, strings.Join(chain, " → "))
	if per := tr.Period; per != nil {
		bw.printf("period        %s  minimum age %d, consent age %d, %s", span(per.From, per.Until), per.MinimumAge, per.ConsentAge, per.LegalStatus)
		if per.Confidence != "" {
			bw.printf(", confidence %s", per.Confidence)
		}
		if !per.Reviewed.IsZero() {
			bw.printf(", reviewed %s", per.Reviewed)
		}
		bw.printf("\n              citation: %s\n", per.Citation)
	} else {
		bw.printf("period        none in force\n")
	}
	fu := res.Fusion
	bw.printf("evidence      age %d..%d", fu.AgeMin, fu.AgeMax)
	if fu.Exact {
		bw.printf(" (exact %d)", fu.Age)
	}
	bw.printf(", assurance %s (%s)", fu.Assurance.Level, strings.Join(fu.Assurance.Methods, ", "))
	if len(fu.Assurance.Buffers) > 0 {
		var bs []string
		for _, t := range p.KnownAges() {
			if b, ok := fu.Assurance.Buffers[t]; ok {
				bs = append(bs, fmt.Sprintf("%d:±%g", t, b))
			}
		}
		bw.printf(", estimate doubt %s", strings.Join(bs, " "))
	}
	if fu.Consent {
		bw.printf(", parental consent")
	}
	if fu.Verified {
		bw.printf(", verified")
	}
	if fu.Contradiction {
		bw.printf(", CONTRADICTION %s", fu.Conflict)
	}
	bw.printf("\n\nrules (policy order)\n")
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  #\tRULE\tIN FORCE\tIN DATE\tIN SCOPE\tRESULT\tDECISION")
	for i, r := range tr.Rules {
		result := "-"
		switch {
		case r.Err != "":
			result = "error: " + r.Err
		case r.Evaluated && r.Fired:
			result = "true  ← fired"
		case r.Evaluated:
			result = "false"
		}
		inForce := yesNo(r.InForce)
		if !r.InForce {
			inForce = r.LegalStatus
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\t%s\n", i+1, r.ReasonID, inForce, yesNo(r.InDate), yesNo(r.InScope), result, r.Decision)
	}
	tw.Flush()
	if len(tr.Obligations) > 0 {
		bw.printf("\nobligations\n")
		tw = tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  OBLIGATION\tIN FORCE\tIN DATE\tIN SCOPE\tBAND\tATTACHED")
		for _, o := range tr.Obligations {
			inForce := yesNo(o.InForce)
			if !o.InForce {
				inForce = o.LegalStatus
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", o.ID, inForce, yesNo(o.InDate), yesNo(o.InScope), yesNo(o.BandMatch), yesNo(o.Attached))
		}
		tw.Flush()
	}
	bw.printf("\ndecision      %s\n", res.Decision)
	bw.printf("band          %s\n", res.Band)
	for i, r := range res.Reasons {
		label := "reasons"
		if i > 0 {
			label = ""
		}
		bw.printf("%-13s %s (%s): %s [%s]\n", label, r.Rule, r.Decision, r.Message, r.Citation)
	}
	var ts []string
	for _, t := range res.Thresholds {
		mark := "✗"
		switch {
		case !t.Known:
			mark = "?"
		case t.Met:
			mark = "✓"
		}
		ts = append(ts, fmt.Sprintf("%d%s", t.Age, mark))
	}
	bw.printf("thresholds    %s\n", strings.Join(ts, " "))
	obl := "none"
	if len(res.Obligations) > 0 {
		obl = strings.Join(res.Obligations, ", ")
	}
	bw.printf("obligations   %s\n", obl)
	for _, e := range res.EvalErrors {
		bw.printf("error         %v\n", e)
	}
	return bw.err
}

// errWriter remembers the first write error, so printing code stays flat.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(b []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(b)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, a ...any) { fmt.Fprintf(e, format, a...) }

func explainInputJSON(in policy.Input) map[string]any {
	ev := []map[string]any{}
	for _, e := range in.Evidence {
		m := map[string]any{"type": e.Type, "outcome": e.Outcome}
		if e.Estimate != nil {
			m["estimate"], m["uncertainty"], m["liveness"] = *e.Estimate, e.Uncertainty, e.Liveness
		}
		if e.Age != nil {
			m["age"] = *e.Age
		}
		if e.Over != nil {
			m["over"] = e.Over
		}
		if e.Type == policy.EvidencePlatformAgeRange {
			m["lower"], m["upper"], m["source"] = e.Lower, e.Upper, e.Source
		}
		ev = append(ev, m)
	}
	out := map[string]any{"jurisdiction": in.Jurisdiction, "age": in.Age, "stage": in.Stage, "now": in.Now,
		"signals": in.Signals, "evidence": ev}
	if in.DeviceHistory {
		out["device_min_age"] = in.DeviceMinAge
	}
	if in.SubjectHistory {
		out["subject_min_age"] = in.SubjectMinAge
	}
	return out
}

// resultJSON is a Result with the wire names the API uses.
func resultJSON(r policy.Result) map[string]any {
	reasons := []map[string]string{}
	for _, x := range r.Reasons {
		reasons = append(reasons, map[string]string{"rule": x.Rule, "decision": string(x.Decision), "message": x.Message, "citation": x.Citation})
	}
	thresholds := map[string]any{}
	for _, t := range r.Thresholds {
		if t.Known {
			thresholds[strconv.Itoa(t.Age)] = t.Met
		}
	}
	errs := []string{}
	for _, e := range r.EvalErrors {
		errs = append(errs, e.Error())
	}
	obligations := r.Obligations
	if obligations == nil {
		obligations = []string{}
	}
	fu := r.Fusion
	return map[string]any{
		"decision": r.Decision, "band": r.Band, "reasons": reasons, "obligations": obligations,
		"age_equal_or_over": thresholds, "pack": r.Pack, "minimum_age": r.MinimumAge, "consent_age": r.ConsentAge,
		"as_of": r.AsOf, "eval_errors": errs,
		"fusion": map[string]any{
			"age": fu.Age, "age_min": fu.AgeMin, "age_max": fu.AgeMax, "exact": fu.Exact,
			"assurance": map[string]any{"level": fu.Assurance.Level, "methods": fu.Assurance.Methods, "buffers": fu.Assurance.Buffers},
			"consent":   fu.Consent, "verified": fu.Verified, "contradiction": fu.Contradiction, "conflict": fu.Conflict,
		},
	}
}
