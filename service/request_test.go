package service

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/go-json-experiment/json"
)

// TestStructuralErrorsAllReported: every unknown and every mistyped member
// of a request is reported at once, each by its pointer, together with the
// field errors of the members that could be read; a mistyped member does
// not also count as missing.
func TestStructuralErrorsAllReported(t *testing.T) {
	e := newTestEnv(t)
	type fe struct{ pointer, code string }
	unknowns := make([]string, 3*maxFieldErrors)
	for i := range unknowns {
		unknowns[i] = fmt.Sprintf(`"x%d":1`, i)
	}
	tests := []struct {
		name string
		body string
		code string
		want []fe // in this order; nil: only check the count below
		n    int  // with want nil: the number of errors
	}{
		{"unknown members at every level",
			`{"jurisdiction":"DE","declared":{"age":20,"x":1},"foo":1,"signals":[{"type":"user_reports","count":1,"weight":2}],` +
				`"evidence":[{"type":"id_document","provider":"p","token":"t","photo":"x"}],"context":{"nonce":"n","ip":"192.0.2.1"}}`,
			CodeValidationFailed, []fe{
				{"/declared/x", FieldUnknown}, {"/foo", FieldUnknown}, {"/signals/0/weight", FieldUnknown},
				{"/evidence/0/photo", FieldUnknown}, {"/context/ip", FieldUnknown}}, 0},
		{"mistyped members at every level, none also missing",
			`{"jurisdiction":5,"declared":{"age":"20"},"signals":{},"evidence":[{"type":"platform_age_range","lower":"13","source":"verified"}],"context":{"stage":1,"nonce":[]}}`,
			CodeValidationFailed, []fe{
				{"/jurisdiction", FieldInvalidType}, {"/declared/age", FieldInvalidType}, {"/signals", FieldInvalidType},
				{"/evidence/0/lower", FieldInvalidType}, {"/context/stage", FieldInvalidType}, {"/context/nonce", FieldInvalidType}}, 0},
		{"structural and field errors together",
			`{"Jurisdiction":"DE","declared":{"age":200},"extra":true}`,
			CodeValidationFailed, []fe{
				{"/Jurisdiction", FieldUnknown}, {"/extra", FieldUnknown},
				{"/jurisdiction", FieldRequired}, {"/declared/age", FieldAgeOutOfRange}}, 0},
		{"an unknown member hides no field error",
			`{"jurisdiction":"DE","declared":{"agee":20}}`,
			CodeValidationFailed, []fe{{"/declared/agee", FieldUnknown}, {"/declared", FieldDeclaredNeither}}, 0},
		{"mistyped items keep the indexes of the others",
			`{"jurisdiction":"DE","declared":{"age":20},"signals":[5,{"type":"user_reports","count":"3"},{"type":"vibes","score":1}]}`,
			CodeValidationFailed, []fe{
				{"/signals/0", FieldInvalidType}, {"/signals/1/count", FieldInvalidType}, {"/signals/2/type", FieldUnknownSignalType}}, 0},
		{"an array holding a mistyped item keeps its own errors",
			`{"jurisdiction":"DE","declared":{"age":20},"signals":[5` + strings.Repeat(`,{"type":"user_reports","count":1}`, MaxSignals) + `]}`,
			CodeValidationFailed, []fe{{"/signals/0", FieldInvalidType}, {"/signals", FieldTooMany}}, 0},
		{"names escaped in pointers",
			`{"a/b~c":1,"jurisdiction":"DE","declared":{"age":20}}`,
			CodeValidationFailed, []fe{{"/a~1b~0c", FieldUnknown}}, 0},
		{"a body of the wrong type is one error",
			`[{"jurisdiction":"DE"}]`,
			CodeValidationFailed, []fe{{"", FieldInvalidType}}, 0},
		{"malformed JSON after an unknown member is malformed",
			`{"foo":1,"jurisdiction":"DE",`,
			CodeMalformedJSON, []fe{{"", FieldMalformedJSON}}, 0},
		{"a duplicate after an unknown member is malformed",
			`{"foo":1,"jurisdiction":"DE","jurisdiction":"FR","declared":{"age":20}}`,
			CodeMalformedJSON, []fe{{"/jurisdiction", FieldDuplicate}}, 0},
		{"at most maxFieldErrors",
			`{"jurisdiction":"DE","declared":{"age":20},` + strings.Join(unknowns, ",") + `}`,
			CodeValidationFailed, nil, maxFieldErrors},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.post(t, tt.body)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400; body %s", resp.StatusCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q, want application/problem+json", ct)
			}
			var p problemBody
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatalf("problem %s: %v", body, err)
			}
			if p.Status != http.StatusBadRequest || p.Code != tt.code {
				t.Errorf("status, code = %d, %q; want 400, %q", p.Status, p.Code, tt.code)
			}
			var got []fe
			for _, e := range p.Errors {
				if e.Detail == "" {
					t.Errorf("error at %q has no detail", e.Pointer)
				}
				got = append(got, fe{e.Pointer, e.Code})
			}
			if tt.want == nil {
				if len(got) != tt.n {
					t.Errorf("%d errors, want %d", len(got), tt.n)
				}
				return
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("errors\n got  %v\n want %v", got, tt.want)
			}
		})
	}
}
