// Package iampolicy is the one IAM policy document type of the stack:
// identity policies, trust policies, bucket and queue policies alike.
package iampolicy

import (
	"encoding/json"
	"sort"
)

// Version is the policy language version every document uses.
const Version = "2012-10-17"

// Document is an IAM policy document.
type Document struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one policy statement. Action and Resource take a string or
// a list of strings; Principal a string ("*") or a map; a condition value a
// string or a list.
type Statement struct {
	Sid       string                    `json:"Sid,omitempty"`
	Effect    string                    `json:"Effect"`
	Principal any                       `json:"Principal,omitempty"`
	Action    any                       `json:"Action,omitempty"`
	NotAction any                       `json:"NotAction,omitempty"`
	Resource  any                       `json:"Resource,omitempty"`
	Condition map[string]map[string]any `json:"Condition,omitempty"`
}

// New is a document of the current version.
func New(statements ...Statement) Document { return Document{Version: Version, Statement: statements} }

// AssumedBy is the trust policy of a role an AWS service assumes
// (ec2.amazonaws.com for an instance profile's).
func AssumedBy(service string) Document {
	return New(Statement{Effect: "Allow", Principal: map[string]string{"Service": service}, Action: []string{"sts:AssumeRole"}})
}

// JSON renders the document compactly.
func (d Document) JSON() string {
	b, _ := json.Marshal(d) //nolint:errchkjson // strings, lists and maps of strings always marshal
	return string(b)
}

// SortedJSON renders the document with its keys sorted ("Statement" before
// "Version"): the form the bucket and queue policies were first written
// in, kept so that their inputs, and the stacks that hold them, see no diff.
func (d Document) SortedJSON() string {
	b, _ := json.Marshal(map[string]any{"Version": d.Version, "Statement": d.Statement}) //nolint:errchkjson // as JSON
	return string(b)
}

// IndentedJSON renders the document for people to read (stack outputs).
func (d Document) IndentedJSON() string {
	b, _ := json.MarshalIndent(d, "", "  ") //nolint:errchkjson // as JSON
	return string(b)
}

// Actions lists the statement's actions, whether Action holds one string
// or a list (as built, or as decoded from JSON).
func (s Statement) Actions() []string {
	switch a := s.Action.(type) {
	case string:
		return []string{a}
	case []string:
		return a
	case []any:
		out := make([]string, 0, len(a))
		for _, v := range a {
			if str, ok := v.(string); ok {
				out = append(out, str)
			}
		}
		return out
	}
	return nil
}

// Actions lists a document's actions, sorted, for tests and docs.
func (d Document) Actions() []string {
	var out []string
	for _, s := range d.Statement {
		out = append(out, s.Actions()...)
	}
	sort.Strings(out)
	return out
}
