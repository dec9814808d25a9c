package main

// mdSource is the Markdown policy statement.
const mdSource = `# Age-assurance policy statement: {{.S.PolicyID}}

| | |
|---|---|
| Policy | {{bt}}{{.S.PolicyID}}{{bt}} |
| Policy hash | {{bt}}{{.S.Hash}}{{bt}} — every decision and signed attestation names it |
| In force as of | {{.S.AsOf}} |
| Generated | {{.Generated}} by {{bt}}ageassure policy doc{{bt}} |
{{with .S.Description}}
{{.}}
{{end}}
## How decisions are made

- A check is decided by the pack of its jurisdiction: the requested code (e.g. US-UT), else its country (US), else the default pack; the first with a period in force on the day, in that pack's timezone, applies.
- Every rule in force, in date and in scope is evaluated; when several fire, the strictest wins: deny > additional verification required > parental consent required > allow. If none fires, or a rule cannot be evaluated, the answer is additional verification required — never allow.
- Obligations are attached for the user's age band, except on deny.
- Ages reported in every attestation: {{ints .S.Thresholds}}, and the pack's minimum age and digital age of consent.
- A device that declared an age under the minimum is remembered for {{duration .S.AntiHoppingWindow}} (anti-hopping); only a keyed hash of its reference is kept.
{{- with .Params}}

| Parameter | Value |
|---|---|
{{- range .}}
| {{bt}}{{index . 0}}{{bt}} | {{index . 1}} |
{{- end}}
{{- end}}

## Accepted evidence

| Method | Assurance level (IEEE 2089.1) | What it is |
|---|---|---|
{{- range .S.Methods}}
| {{bt}}{{.Method}}{{bt}} | {{dash .Level}} | {{md .Description}} |
{{- end}}

An age estimate passes an age only if the estimate minus (its stated uncertainty plus a buffer) reaches it, fails only if the estimate plus that doubt is below it, and is inconclusive between. Buffer: {{.S.EstimationBuffer}} years{{range .S.EstimationBuffers}}; at {{.Age}}: {{.Buffer}} years{{end}}. Stronger evidence decides (verified document or credential > estimate > OS age range > declaration); contradicting claims are escalated, never averaged; a verified age under the minimum denies.

## Jurisdictions

| Jurisdiction | Minimum age | Digital age of consent | Since | Legal status | Reviewed | Citation |
|---|---|---|---|---|---|---|
{{- range .S.Jurisdictions}}
| {{packName .}} | {{with .Current}}{{.MinimumAge}} | {{.ConsentAge}} | {{.From}} | {{status .LegalStatus}} | {{day .Reviewed}} | {{md .Citation}}{{else}}— | — | — | — | — | no period in force: checks go to {{fallback .}}{{end}} |
{{- end}}
{{range .S.Jurisdictions}}
### {{packName .}}

{{if .Groups}}Groups: {{join .Groups ", "}} · {{end}}Timezone: {{.Timezone}} (ages and dates use the calendar date there){{with .FallsBackTo}} · On a day without a period in force, checks go to {{if eq . "default"}}the default pack{{else}}the {{.}} pack{{end}}{{end}}

| Effective | Minimum age | Digital age of consent | Legal status | Reviewed | Citation | Confidence |
|---|---|---|---|---|---|---|
{{- $cur := .Current}}
{{- range .Periods}}
| {{dates .From .Until}}{{if isCurrent $cur .}} **(current)**{{end}} | {{.MinimumAge}} | {{.ConsentAge}} | {{statusLong .LegalStatus}} | {{day .Reviewed}} | {{md .Citation}} | {{dash .Confidence}} |
{{- end}}

Rules:

| Rule | Decision | Message | Citation | Effective |
|---|---|---|---|---|
{{- range .Rules}}
| {{bt}}{{.ID}}{{bt}}{{with .Only}} ({{join . ", "}} only){{end}} | {{status (print .Decision)}} | {{md .Message}} | {{md .Citation}} | {{dates .From .Until}} |
{{- end}}
{{if .Obligations}}
Obligations:

| Obligation | Age bands | What the platform must do | Citation | Effective | Legal status | Reviewed |
|---|---|---|---|---|---|---|
{{- range .Obligations}}
| {{bt}}{{.ID}}{{bt}}{{with .Only}} ({{join . ", "}} only){{end}} | {{md (join .Bands ", ")}} | {{md .Text}} | {{md .Citation}} | {{dates .From .Until}} | {{status .LegalStatus}} | {{day .Reviewed}} |
{{- end}}
{{else}}
Obligations: none.
{{end}}
{{- end}}
## Not in force

{{if .S.NotInForce -}}
Enjoined: kept in the policy as data, not applied (the injunction being lifted is a one-word edit):

| Kind | Subject | Legal status | Effective | What | Citation | Reviewed |
|---|---|---|---|---|---|---|
{{- range .S.NotInForce}}
| {{.Kind}} | {{bt}}{{.Subject}}{{bt}} | {{status .LegalStatus}} | {{dates .From .Until}} | {{md .Summary}} | {{md .Citation}} | {{day .Reviewed}} |
{{- end}}
{{else -}}
Nothing enjoined.
{{end}}
## Watch list

{{if .S.WatchList -}}
Bills (legal status pending): recorded, never applied:

| Kind | Subject | Effective if passed | What | Citation |
|---|---|---|---|---|
{{- range .S.WatchList}}
| {{.Kind}} | {{bt}}{{.Subject}}{{bt}} | {{billDates .From .Until}} | {{md .Summary}} | {{md .Citation}} |
{{- end}}
{{else -}}
No bills recorded.
{{end -}}
`

// htmlSource is the HTML policy statement: one self-contained file
// (inline CSS, no scripts, no external resources), printable.
const htmlSource = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Age-assurance policy statement: {{.S.PolicyID}}</title>
<style>
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1b1f24;max-width:72rem;margin:2rem auto;padding:0 1.5rem}
h1{font-size:1.6rem;margin-bottom:.5rem}h2{margin-top:2.5rem;border-bottom:2px solid #d0d7de;padding-bottom:.25rem}
h3{margin-top:2rem}table{border-collapse:collapse;width:100%;margin:.75rem 0 1.25rem;font-size:.92rem}
th,td{border:1px solid #d0d7de;padding:.35rem .55rem;text-align:left;vertical-align:top}th{background:#f6f8fa}
code{font:.88em ui-monospace,SFMono-Regular,Menlo,monospace;background:#f6f8fa;padding:.05rem .25rem;border-radius:3px;word-break:break-all}
.meta td:first-child{width:12rem;font-weight:600}.current{font-weight:600;color:#0a5d2c}.muted{color:#57606a}
.deny{color:#a40e26}.allow{color:#0a5d2c}.avr{color:#9a6700}.pcr{color:#0550ae}
@media print{body{margin:0;max-width:none}h2,h3{break-after:avoid}tr{break-inside:avoid}}
</style>
</head>
<body>
<h1>Age-assurance policy statement: {{.S.PolicyID}}</h1>
<table class="meta">
<tr><td>Policy</td><td><code>{{.S.PolicyID}}</code></td></tr>
<tr><td>Policy hash</td><td><code>{{.S.Hash}}</code> — every decision and signed attestation names it</td></tr>
<tr><td>In force as of</td><td>{{.S.AsOf}}</td></tr>
<tr><td>Generated</td><td>{{.Generated}} by <code>ageassure policy doc</code></td></tr>
</table>
{{with .S.Description}}<p>{{.}}</p>{{end}}

<h2>How decisions are made</h2>
<ul>
<li>A check is decided by the pack of its jurisdiction: the requested code (e.g. US-UT), else its country (US), else the default pack; the first with a period in force on the day, in that pack's timezone, applies.</li>
<li>Every rule in force, in date and in scope is evaluated; when several fire, the strictest wins: deny &gt; additional verification required &gt; parental consent required &gt; allow. If none fires, or a rule cannot be evaluated, the answer is additional verification required — never allow.</li>
<li>Obligations are attached for the user's age band, except on deny.</li>
<li>Ages reported in every attestation: {{ints .S.Thresholds}}, and the pack's minimum age and digital age of consent.</li>
<li>A device that declared an age under the minimum is remembered for {{duration .S.AntiHoppingWindow}} (anti-hopping); only a keyed hash of its reference is kept.</li>
</ul>
{{with .Params}}<table><tr><th>Parameter</th><th>Value</th></tr>
{{range .}}<tr><td><code>{{index . 0}}</code></td><td>{{index . 1}}</td></tr>
{{end}}</table>{{end}}

<h2>Accepted evidence</h2>
<table><tr><th>Method</th><th>Assurance level (IEEE 2089.1)</th><th>What it is</th></tr>
{{range .S.Methods}}<tr><td><code>{{.Method}}</code></td><td>{{dash .Level}}</td><td>{{.Description}}</td></tr>
{{end}}</table>
<p>An age estimate passes an age only if the estimate minus (its stated uncertainty plus a buffer) reaches it, fails only if the estimate plus that doubt is below it, and is inconclusive between. Buffer: {{.S.EstimationBuffer}} years{{range .S.EstimationBuffers}}; at {{.Age}}: {{.Buffer}} years{{end}}. Stronger evidence decides (verified document or credential &gt; estimate &gt; OS age range &gt; declaration); contradicting claims are escalated, never averaged; a verified age under the minimum denies.</p>

<h2>Jurisdictions</h2>
<table><tr><th>Jurisdiction</th><th>Minimum age</th><th>Digital age of consent</th><th>Since</th><th>Legal status</th><th>Reviewed</th><th>Citation</th></tr>
{{range .S.Jurisdictions}}<tr><td><a href="#j-{{.Code}}">{{packName .}}</a></td>{{with .Current}}<td>{{.MinimumAge}}</td><td>{{.ConsentAge}}</td><td>{{.From}}</td><td>{{status .LegalStatus}}</td><td>{{day .Reviewed}}</td><td>{{.Citation}}</td>{{else}}<td colspan="6" class="muted">no period in force: checks go to {{fallback .}}</td>{{end}}</tr>
{{end}}</table>

{{range .S.Jurisdictions}}
<h3 id="j-{{.Code}}">{{packName .}}</h3>
<p class="muted">{{if .Groups}}Groups: {{join .Groups ", "}} · {{end}}Timezone: {{.Timezone}} (ages and dates use the calendar date there){{with .FallsBackTo}} · On a day without a period in force, checks go to {{if eq . "default"}}the default pack{{else}}the {{.}} pack{{end}}{{end}}</p>
<table><tr><th>Effective</th><th>Minimum age</th><th>Digital age of consent</th><th>Legal status</th><th>Reviewed</th><th>Citation</th><th>Confidence</th></tr>
{{$cur := .Current}}{{range .Periods}}<tr{{if isCurrent $cur .}} class="current"{{else if not .Applies}} class="muted"{{end}}><td>{{dates .From .Until}}{{if isCurrent $cur .}} (current){{end}}</td><td>{{.MinimumAge}}</td><td>{{.ConsentAge}}</td><td>{{statusLong .LegalStatus}}</td><td>{{day .Reviewed}}</td><td>{{.Citation}}</td><td>{{dash .Confidence}}</td></tr>
{{end}}</table>
<table><tr><th>Rule</th><th>Decision</th><th>Message</th><th>Citation</th><th>Effective</th></tr>
{{range .Rules}}<tr><td><code>{{.ID}}</code>{{with .Only}} ({{join . ", "}} only){{end}}</td><td class="{{if eq (print .Decision) "deny"}}deny{{else if eq (print .Decision) "allow"}}allow{{else if eq (print .Decision) "parental_consent_required"}}pcr{{else}}avr{{end}}">{{status (print .Decision)}}</td><td>{{.Message}}</td><td>{{.Citation}}</td><td>{{dates .From .Until}}</td></tr>
{{end}}</table>
{{if .Obligations}}<table><tr><th>Obligation</th><th>Age bands</th><th>What the platform must do</th><th>Citation</th><th>Effective</th><th>Legal status</th><th>Reviewed</th></tr>
{{range .Obligations}}<tr><td><code>{{.ID}}</code>{{with .Only}} ({{join . ", "}} only){{end}}</td><td>{{join .Bands ", "}}</td><td>{{.Text}}</td><td>{{.Citation}}</td><td>{{dates .From .Until}}</td><td>{{status .LegalStatus}}</td><td>{{day .Reviewed}}</td></tr>
{{end}}</table>{{else}}<p class="muted">Obligations: none.</p>{{end}}
{{end}}

<h2>Not in force</h2>
{{if .S.NotInForce}}<p>Enjoined: kept in the policy as data, not applied (the injunction being lifted is a one-word edit):</p>
<table><tr><th>Kind</th><th>Subject</th><th>Legal status</th><th>Effective</th><th>What</th><th>Citation</th><th>Reviewed</th></tr>
{{range .S.NotInForce}}<tr><td>{{.Kind}}</td><td><code>{{.Subject}}</code></td><td>{{status .LegalStatus}}</td><td>{{dates .From .Until}}</td><td>{{.Summary}}</td><td>{{.Citation}}</td><td>{{day .Reviewed}}</td></tr>
{{end}}</table>{{else}}<p>Nothing enjoined.</p>{{end}}

<h2>Watch list</h2>
{{if .S.WatchList}}<p>Bills (legal status pending): recorded, never applied:</p>
<table><tr><th>Kind</th><th>Subject</th><th>Effective if passed</th><th>What</th><th>Citation</th></tr>
{{range .S.WatchList}}<tr><td>{{.Kind}}</td><td><code>{{.Subject}}</code></td><td>{{billDates .From .Until}}</td><td>{{.Summary}}</td><td>{{.Citation}}</td></tr>
{{end}}</table>{{else}}<p>No bills recorded.</p>{{end}}
</body>
</html>
`

// jurisdictionsMDSource is the jurisdictions page (`policy doc
// --jurisdictions`): every pack's periods and every obligation with legal
// status, review date and citation, and the watch list. Nothing in it
// depends on the day it is generated, so a committed copy changes only
// when the policy does.
const jurisdictionsMDSource = `<!-- Generated by ` + "`" + `ageassure policy doc {{.Path}} --jurisdictions` + "`" + ` from the policy; do not edit by hand. -->
# Jurisdictions: {{.S.PolicyID}}

The age rules policy {{bt}}{{.S.PolicyID}}{{bt}} applies in each jurisdiction, with the law each rests on, its legal status and the day it was last checked against the law. Policy hash {{bt}}{{.S.Hash}}{{bt}}: every decision and signed attestation names the hash of the policy that made it.

{{.Count}} jurisdictions have rules of their own{{with .Subdivisions}}, {{.}} of them subdivisions of a country (a state, a province){{end}}; every other code gets the default.

- **Minimum age**: under it, no account (deny). **Digital age of consent**: under it, a parent's or guardian's consent is needed.
- **Legal status**: *in force*; *enacted*: passed, applied from its effective date; *enjoined*: blocked by a court, recorded but not applied. Bills (*pending*) are on the [watch list](#watch-list) and never applied.
- **Effective**: from the first day it applies, to the first day it no longer does (exclusive), in the jurisdiction's own calendar.
- **Reviewed**: the day the entry was last checked against the law.
- A check for a subdivision (e.g. US-FL) uses its own rules, else its country's (US), else the default: the first with a period in force on the day. So where a subdivision's own rules are enjoined, or have not started, its country's rules decide.

## Ages

| Jurisdiction | Effective | Minimum age | Digital age of consent | Legal status | Reviewed | Citation |
|---|---|---|---|---|---|---|
{{- range .S.Jurisdictions}}{{$j := .}}
{{- range .Periods}}
| {{packLabel $j}} | {{dates .From .Until}} | {{.MinimumAge}} | {{.ConsentAge}} | {{statusLong .LegalStatus}} | {{day .Reviewed}} | {{md .Citation}} |
{{- end}}
{{- end}}

## Obligations

What the platform must do for users in these age bands, beyond the decision.

| Obligation | Applies in | Age bands | What the platform must do | Effective | Legal status | Reviewed | Citation |
|---|---|---|---|---|---|---|---|
{{- range .S.Obligations}}
| {{bt}}{{.ID}}{{bt}} | {{md .Scope}} | {{md (join .Bands ", ")}} | {{md .Text}} | {{dates .From .Until}} | {{statusLong .LegalStatus}} | {{day .Reviewed}} | {{md .Citation}} |
{{- end}}

## Watch list

{{if .S.WatchList -}}
Bills (legal status pending): recorded so they are not forgotten, never applied.

| Kind | Subject | Effective if passed | What | Citation |
|---|---|---|---|---|
{{- range .S.WatchList}}
| {{.Kind}} | {{watchSubject .}} | {{billDates .From .Until}} | {{md .Summary}} | {{md .Citation}} |
{{- end}}
{{else -}}
No bills recorded.
{{end -}}
`

// jurisdictionsHTMLSource is the jurisdictions page as one self-contained
// HTML file.
const jurisdictionsHTMLSource = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Jurisdictions: {{.S.PolicyID}}</title>
<style>
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1b1f24;max-width:80rem;margin:2rem auto;padding:0 1.5rem}
h1{font-size:1.6rem;margin-bottom:.5rem}h2{margin-top:2.5rem;border-bottom:2px solid #d0d7de;padding-bottom:.25rem}
table{border-collapse:collapse;width:100%;margin:.75rem 0 1.25rem;font-size:.92rem}
th,td{border:1px solid #d0d7de;padding:.35rem .55rem;text-align:left;vertical-align:top}th{background:#f6f8fa}
code{font:.88em ui-monospace,SFMono-Regular,Menlo,monospace;background:#f6f8fa;padding:.05rem .25rem;border-radius:3px;word-break:break-all}
.muted{color:#57606a}
@media print{body{margin:0;max-width:none}h2{break-after:avoid}tr{break-inside:avoid}}
</style>
</head>
<body>
<h1>Jurisdictions: {{.S.PolicyID}}</h1>
<p class="muted">Generated by <code>ageassure policy doc {{.Path}} --jurisdictions --format html</code> from the policy.</p>
<p>The age rules policy <code>{{.S.PolicyID}}</code> applies in each jurisdiction, with the law each rests on, its legal status and the day it was last checked against the law. Policy hash <code>{{.S.Hash}}</code>: every decision and signed attestation names the hash of the policy that made it.</p>
<p>{{.Count}} jurisdictions have rules of their own{{with .Subdivisions}}, {{.}} of them subdivisions of a country (a state, a province){{end}}; every other code gets the default.</p>
<ul>
<li><b>Minimum age</b>: under it, no account (deny). <b>Digital age of consent</b>: under it, a parent's or guardian's consent is needed.</li>
<li><b>Legal status</b>: <i>in force</i>; <i>enacted</i>: passed, applied from its effective date; <i>enjoined</i>: blocked by a court, recorded but not applied. Bills (<i>pending</i>) are on the <a href="#watch-list">watch list</a> and never applied.</li>
<li><b>Effective</b>: from the first day it applies, to the first day it no longer does (exclusive), in the jurisdiction's own calendar.</li>
<li><b>Reviewed</b>: the day the entry was last checked against the law.</li>
<li>A check for a subdivision (e.g. US-FL) uses its own rules, else its country's (US), else the default: the first with a period in force on the day. So where a subdivision's own rules are enjoined, or have not started, its country's rules decide.</li>
</ul>

<h2>Ages</h2>
<table><tr><th>Jurisdiction</th><th>Effective</th><th>Minimum age</th><th>Digital age of consent</th><th>Legal status</th><th>Reviewed</th><th>Citation</th></tr>
{{range .S.Jurisdictions}}{{$j := .}}{{range .Periods}}<tr{{if not .Applies}} class="muted"{{end}}><td>{{packLabel $j}}</td><td>{{dates .From .Until}}</td><td>{{.MinimumAge}}</td><td>{{.ConsentAge}}</td><td>{{statusLong .LegalStatus}}</td><td>{{day .Reviewed}}</td><td>{{.Citation}}</td></tr>
{{end}}{{end}}</table>

<h2>Obligations</h2>
<p>What the platform must do for users in these age bands, beyond the decision.</p>
<table><tr><th>Obligation</th><th>Applies in</th><th>Age bands</th><th>What the platform must do</th><th>Effective</th><th>Legal status</th><th>Reviewed</th><th>Citation</th></tr>
{{range .S.Obligations}}<tr{{if not .Applies}} class="muted"{{end}}><td><code>{{.ID}}</code></td><td>{{.Scope}}</td><td>{{join .Bands ", "}}</td><td>{{.Text}}</td><td>{{dates .From .Until}}</td><td>{{statusLong .LegalStatus}}</td><td>{{day .Reviewed}}</td><td>{{.Citation}}</td></tr>
{{end}}</table>

<h2 id="watch-list">Watch list</h2>
{{if .S.WatchList}}<p>Bills (legal status pending): recorded so they are not forgotten, never applied.</p>
<table><tr><th>Kind</th><th>Subject</th><th>Effective if passed</th><th>What</th><th>Citation</th></tr>
{{range .S.WatchList}}<tr><td>{{.Kind}}</td><td>{{watchSubject .}}</td><td>{{billDates .From .Until}}</td><td>{{.Summary}}</td><td>{{.Citation}}</td></tr>
{{end}}</table>{{else}}<p>No bills recorded.</p>{{end}}
</body>
</html>
`
