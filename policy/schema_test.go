package policy

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	yaml "go.yaml.in/yaml/v3"
)

var yaml12Number = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)

// compileSchema compiles a schema of policy/schema.
func compileSchema(t *testing.T, file string) *jsonschema.Schema {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("schema", file))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(file, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(file)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return s
}

// yamlToJSON converts a YAML document to the JSON value an editor's YAML
// language server validates: scalars by their resolved tag (dates stay
// strings, as they are in the schema).
func yamlToJSON(t *testing.T, data []byte) any {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var conv func(n *yaml.Node) any
	conv = func(n *yaml.Node) any {
		switch n.Kind {
		case yaml.DocumentNode:
			if len(n.Content) == 0 {
				return nil
			}
			return conv(n.Content[0])
		case yaml.MappingNode:
			m := map[string]any{}
			for i := 0; i+1 < len(n.Content); i += 2 {
				m[n.Content[i].Value] = conv(n.Content[i+1])
			}
			return m
		case yaml.SequenceNode:
			s := []any{}
			for _, c := range n.Content {
				s = append(s, conv(c))
			}
			return s
		}
		switch n.ShortTag() {
		case "!!null":
			return nil
		case "!!bool":
			var b bool
			n.Decode(&b)
			return b
		case "!!int", "!!float":
			// YAML 1.2, as editors read it: 13_15 is a string, not 1315.
			if yaml12Number.MatchString(n.Value) {
				f, _ := strconv.ParseFloat(n.Value, 64)
				return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
			}
		}
		return n.Value
	}
	return conv(&doc)
}

// TestSchemaShippedPacks: every shipped policy file is valid against the
// policy schema, and every case file against the cases schema, so the
// schemas editors use describe the real format.
func TestSchemaShippedPacks(t *testing.T) {
	pol, cases := compileSchema(t, "policy.schema.json"), compileSchema(t, "cases.schema.json")
	n := 0
	err := fs.WalkDir(packs, "packs", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(packs, p)
		if err != nil {
			return err
		}
		schema, want := pol, "# yaml-language-server: $schema=../schema/policy.schema.json"
		if isCaseFile(p) {
			schema, want = cases, "# yaml-language-server: $schema=../schema/cases.schema.json"
		}
		if !bytes.HasPrefix(b, []byte(want+"\n")) {
			t.Errorf("%s does not start with %q", p, want)
		}
		if err := schema.Validate(yamlToJSON(t, b)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		n++
		return nil
	})
	if err != nil || n < 10 {
		t.Fatalf("walked %d files: %v", n, err)
	}
	// Other valid policies too.
	for _, glob := range []string{"testdata/lint/*.yaml", "testdata/failsafe/*.yaml", "testdata/status/*.yaml"} {
		files, _ := filepath.Glob(glob)
		for _, f := range files {
			b, _ := os.ReadFile(f)
			if err := pol.Validate(yamlToJSON(t, b)); err != nil {
				t.Errorf("%s: %v", f, err)
			}
		}
	}
}

// TestSchemaBroken: the broken policies the schema can see are rejected —
// unknown fields first of all, which editors then underline.
func TestSchemaBroken(t *testing.T) {
	pol := compileSchema(t, "policy.schema.json")
	for _, tt := range []struct{ file, want string }{
		{"unknown-field.yaml", "efective_until"},
		{"many.yaml", "colour"},
		{"invalid-decision.yaml", "decision"},
		{"invalid-band.yaml", "bands"},
		{"invalid-legal-status.yaml", "legal_status"},
		{"enacted-without-date.yaml", "effective_from"},
		{"invalid-jurisdiction.yaml", "code"},
		{"missing-citation.yaml", "citation"},
		{"age-in-message.yaml", "message"},
		{"id-not-slug.yaml", "id"},
		{"when-not-bool.yaml", ""}, // valid shape; only the loader can type-check CEL
	} {
		b, err := os.ReadFile(filepath.Join("testdata", "broken", tt.file))
		if err != nil {
			t.Fatal(err)
		}
		err = pol.Validate(yamlToJSON(t, b))
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.file, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: error %v, want one mentioning %q", tt.file, err, tt.want)
		}
	}
	// Dating: only a pending period may leave effective_from out; an
	// enacted rule needs one.
	for _, tt := range []struct {
		src   string
		valid bool
	}{
		{"default: {timezone: UTC, periods: [{citation: c}]}\n", false},
		{"default: {timezone: UTC, periods: [{citation: c, legal_status: in_force}]}\n", false},
		{"default: {timezone: UTC, periods: [{citation: c, legal_status: enacted}]}\n", false},
		{"default: {timezone: UTC, periods: [{citation: c, legal_status: pending}]}\n", true},
		{"default: {timezone: UTC, periods: [{citation: c, legal_status: proposed}]}\n", true},
		{"default: {timezone: UTC, periods: [{citation: c, effective_from: 2000-01-01, reviewed: 2026-12-04, legal_status: enjoined}]}\n", true},
		{"rules: [{id: r, decision: allow, when: 'true', message: m, citation: c, legal_status: enacted}]\n", false},
		{"rules: [{id: r, decision: allow, when: 'true', message: m, citation: c, legal_status: enacted, effective_from: 2027-01-01, reviewed: 2026-12-04}]\n", true},
	} {
		if err := pol.Validate(yamlToJSON(t, []byte(tt.src))); (err == nil) != tt.valid {
			t.Errorf("%s: valid %v, error %v", tt.src, tt.valid, err)
		}
	}
	cases := compileSchema(t, "cases.schema.json")
	for _, src := range []string{
		"- {name: a, as_of: 2026-01-01, input: {age: 1}, expect: {decision: allow}, expected: {}}\n",
		"- {name: a, as_of: 2026-01-01, input: {agee: 1}, expect: {decision: allow}}\n",
		"- {name: a, as_of: 2026-01-01, input: {age: 1, birth_date: 2000-01-01}, expect: {decision: allow}}\n",
		"- {name: a, as_of: 2026-01-01, input: {age: 1, evidence: [{type: parental_consent, age: 3}]}, expect: {decision: allow}}\n",
		"- {name: a, as_of: 2026-01-01, input: {age: 1}, expect: {decision: allow, rules: [], rules_include: []}}\n",
	} {
		if err := cases.Validate(yamlToJSON(t, []byte(src))); err == nil {
			t.Errorf("cases schema accepted %s", src)
		}
	}
}
