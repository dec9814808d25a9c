package main

import (
	"context"
	"fmt"
	htmltemplate "html/template"
	"io"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/ageassure/ageassure/policy"
)

// policyDoc writes the policy statement: what is enforced, where, since
// when, and on what authority.
func policyDoc(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := policyFlags("doc", "Usage: ageassure policy doc <path|builtin> [--format md|html] [--as-of YYYY-MM-DD]\n\n"+
		"Writes the policy statement an auditor or a regulator reads: the policy id and hash (which every\n"+
		"decision and attestation carries), then per jurisdiction (and the default) the minimum age and the\n"+
		"digital age of consent with their effective dates, legal status and citations, the rules that\n"+
		"apply with their messages and citations, the obligations per age band; the accepted evidence\n"+
		"methods with their assurance levels and the estimation buffers; and what is kept as data but not\n"+
		"in force (enjoined, pending). HTML is one self-contained file (inline CSS, no scripts).", stderr)
	format := fs.String("format", "md", "output `format`: md (Markdown) or html")
	asOf := fs.String("as-of", "", "the `day` \"current\" refers to (YYYY-MM-DD; default today)")
	pos, code, ok := parsePolicyFlags(fs, args, stderr, "<path|builtin>")
	if !ok {
		return code
	}
	day, err := parseDay(*asOf)
	if err != nil {
		fmt.Fprintf(stderr, "ageassure policy doc: --as-of: %v\n", err)
		return 2
	}
	var write func(io.Writer, docView) error
	switch *format {
	case "md", "markdown":
		write = func(w io.Writer, v docView) error { return mdTemplate.Execute(w, v) }
	case "html":
		write = func(w io.Writer, v docView) error { return htmlTemplate.Execute(w, v) }
	default:
		fmt.Fprintf(stderr, "ageassure policy doc: --format %q: want md or html\n", *format)
		return 2
	}
	p, err := loadPolicyArg(pos[0])
	if err != nil {
		printLoadError(stderr, "doc", pos[0], err)
		return 1
	}
	v := docView{S: p.Statement(day), Generated: time.Now().UTC().Format(time.RFC3339)}
	if err := write(stdout, v); err != nil {
		fmt.Fprintf(stderr, "ageassure policy doc: %v\n", err)
		return 1
	}
	return 0
}

// docView is what the statement templates render.
type docView struct {
	S         *policy.Statement
	Generated string
}

// Params lists the params sorted by name.
func (v docView) Params() [][2]string {
	var out [][2]string
	for k, x := range v.S.Params {
		out = append(out, [2]string{k, strconv.FormatFloat(x, 'g', -1, 64)})
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j][0] < out[j-1][0]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

var docFuncs = map[string]any{
	"dates": func(from, until policy.Date) string {
		switch {
		case from.IsZero() && until.IsZero():
			return "always"
		case until.IsZero():
			return "from " + from.String()
		case from.IsZero():
			return "until " + until.String() + " (exclusive)"
		}
		return from.String() + " to " + until.String() + " (exclusive)"
	},
	"join": strings.Join,
	// duration prints 24h rather than 24h0m0s.
	"duration": func(d time.Duration) string {
		s := d.String()
		if strings.HasSuffix(s, "m0s") {
			s = strings.TrimSuffix(s, "0s")
		}
		if strings.HasSuffix(s, "h0m") {
			s = strings.TrimSuffix(s, "0m")
		}
		return s
	},
	"ints": func(xs []int) string {
		s := make([]string, len(xs))
		for i, x := range xs {
			s[i] = strconv.Itoa(x)
		}
		return strings.Join(s, ", ")
	},
	"packName": func(j policy.StatementPack) string {
		if j.Code == "default" {
			return "Default (every other jurisdiction)"
		}
		if j.Name == "" {
			return j.Code
		}
		return j.Code + " — " + j.Name
	},
	"isCurrent": func(cur *policy.PeriodInfo, per policy.PeriodInfo) bool {
		return cur != nil && cur.From == per.From && cur.Until == per.Until
	},
	"status": func(s string) string { return strings.ReplaceAll(s, "_", " ") },
	// md escapes text for a Markdown table cell.
	"md": func(s string) string {
		return strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;", "*", `\*`, "_", `\_`).Replace(s)
	},
	// bt is a backtick, which the templates, held in Go raw strings,
	// cannot write.
	"bt": func() string { return "`" },
	"dash": func(s string) string {
		if s == "" {
			return "—"
		}
		return s
	},
}

var (
	mdTemplate   = template.Must(template.New("md").Funcs(docFuncs).Parse(mdSource))
	htmlTemplate = htmltemplate.Must(htmltemplate.New("html").Funcs(docFuncs).Parse(htmlSource))
)
