package iampolicy

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// Grant is one action and who calls it: the upstream file, function and
// tag (`kubernetes-sigs/aws-ebs-csi-driver pkg/cloud/cloud.go AttachDisk
// @v1.53.0`), or the AWS managed policy it mirrors. A reviewer checks one
// line against one file.
type Grant struct {
	Action string
	Caller string
}

// Scope is where a set of grants applies: the resources and the condition
// of the one statement they render to. Its Sid reads as a sentence
// (OnlyThisClustersGroups); within one policy a Sid names one scope.
type Scope struct {
	Sid       string
	Resource  any
	Condition map[string]map[string]any
}

// Unconditional is the scope of actions IAM authorizes on "*" only: those
// with no resource type in the Service Authorization Reference (Describe
// and List calls, mostly). Nothing else may be put here; the scope tests
// check every such action against NoResourceLevel and the evaluator test
// against the reference itself.
func Unconditional(sid string) Scope { return Scope{Sid: sid, Resource: "*"} }

// Tagged is the scope of existing resources that carry every tag of tags
// (aws:ResourceTag/<key> = value), and every key of present (any value):
// kops' cluster-tagged bucket.
func Tagged(sid string, resource any, tags map[string]string, present ...string) Scope {
	return Scope{Sid: sid, Resource: resource, Condition: tagCondition("aws:ResourceTag/", tags, present)}
}

// CreatedWithTags is the scope of create calls whose request carries every
// tag of tags and every key of present (aws:RequestTag): kops'
// created-with-tag bucket. The new resource then falls under Tagged.
func CreatedWithTags(sid string, resource any, tags map[string]string, present ...string) Scope {
	return Scope{Sid: sid, Resource: resource, Condition: tagCondition("aws:RequestTag/", tags, present)}
}

func tagCondition(prefix string, tags map[string]string, present []string) map[string]map[string]any {
	c := map[string]map[string]any{}
	if len(tags) > 0 {
		eq := map[string]any{}
		for k, v := range tags {
			eq[prefix+k] = v
		}
		c["StringEquals"] = eq
	}
	if len(present) > 0 {
		null := map[string]any{}
		for _, k := range present {
			null[prefix+k] = "false"
		}
		c["Null"] = null
	}
	return c
}

// Policy builds one identity policy from grants sorted into scopes, as
// kops' iam_builder does: an action's scope is the scope it is added to,
// and every action carries its caller. Components add to one Policy
// through their adders (compute.AddCCMPermissions, ...); grants of two
// components in the same scope share its statement.
type Policy struct {
	scopes []*scoped
}

type scoped struct {
	Scope
	effect  string
	order   []string
	callers map[string][]string
}

// Allow grants actions in a scope.
func (p *Policy) Allow(s Scope, grants ...Grant) { p.add("Allow", s, grants) }

// Deny refuses actions in a scope, whatever any grant says.
func (p *Policy) Deny(s Scope, grants ...Grant) { p.add("Deny", s, grants) }

func (p *Policy) add(effect string, s Scope, grants []Grant) {
	var sc *scoped
	for _, o := range p.scopes {
		if o.Sid != s.Sid {
			continue
		}
		// One Sid, one scope: a second meaning would make the rendered
		// statement grant one component's actions on the other's terms.
		if o.effect != effect || !reflect.DeepEqual(o.Scope, s) {
			panic(fmt.Sprintf("iampolicy: scope %s added twice with different terms", s.Sid))
		}
		sc = o
	}
	if sc == nil {
		sc = &scoped{Scope: s, effect: effect, callers: map[string][]string{}}
		p.scopes = append(p.scopes, sc)
	}
	for _, g := range grants {
		if g.Action == "" || strings.TrimSpace(g.Caller) == "" {
			panic(fmt.Sprintf("iampolicy: %s: grant %q without a caller", s.Sid, g.Action))
		}
		if sc.callers[g.Action] == nil {
			sc.order = append(sc.order, g.Action)
		}
		sc.callers[g.Action] = append(sc.callers[g.Action], g.Caller)
	}
}

// Document renders the policy: one statement per scope, scopes and their
// actions in the order first added (so an adder decides the order a
// policy's bytes have, and can keep the order existing stacks hold).
func (p *Policy) Document() Document {
	d := New()
	for _, s := range p.scopes {
		actions := append([]string(nil), s.order...)
		d.Statement = append(d.Statement, Statement{Sid: s.Sid, Effect: s.effect, Action: actions, Resource: s.Resource, Condition: s.Condition})
	}
	return d
}

// Grants lists every grant with its scope, for docs and tests: by Sid,
// then action.
func (p *Policy) Grants() []ScopedGrant {
	var out []ScopedGrant
	for _, s := range p.scopes {
		for a, cs := range s.callers {
			for _, c := range cs {
				out = append(out, ScopedGrant{Sid: s.Sid, Effect: s.effect, Grant: Grant{Action: a, Caller: c}})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Sid != out[j].Sid {
			return out[i].Sid < out[j].Sid
		}
		if out[i].Action != out[j].Action {
			return out[i].Action < out[j].Action
		}
		return out[i].Caller < out[j].Caller
	})
	return out
}

// ScopedGrant is a grant and the statement it is in.
type ScopedGrant struct {
	Sid, Effect string
	Grant
}

// Partition is the ARN partition of a region.
func Partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// ARNs of every resource of one type of a service in a partition:
// arn:<partition>:<service>:*:*:<resourceType>/*.
func ARNs(partition, service, resourceType string) string {
	return "arn:" + partition + ":" + service + ":*:*:" + resourceType + "/*"
}
