package network

import (
	"net/netip"
	"reflect"
	"testing"
)

func TestPlanSubnets(t *testing.T) {
	tests := []struct {
		name        string
		vpc         string
		azs         []string
		wantPrivate []string
		wantPublic  []string
		wantErr     bool
	}{
		{name: "1 AZ", vpc: "10.0.0.0/16", azs: []string{"a"},
			wantPrivate: []string{"10.0.0.0/19"}, wantPublic: []string{"10.0.224.0/22"}},
		{name: "2 AZs", vpc: "10.0.0.0/16", azs: []string{"a", "b"},
			wantPrivate: []string{"10.0.0.0/19", "10.0.32.0/19"}, wantPublic: []string{"10.0.224.0/22", "10.0.228.0/22"}},
		{name: "3 AZs", vpc: "10.0.0.0/16", azs: []string{"a", "b", "c"},
			wantPrivate: []string{"10.0.0.0/19", "10.0.32.0/19", "10.0.64.0/19"},
			wantPublic:  []string{"10.0.224.0/22", "10.0.228.0/22", "10.0.232.0/22"}},
		{name: "6 AZs", vpc: "10.0.0.0/16", azs: []string{"a", "b", "c", "d", "e", "f"},
			wantPrivate: []string{"10.0.0.0/19", "10.0.32.0/19", "10.0.64.0/19", "10.0.96.0/19", "10.0.128.0/19", "10.0.160.0/19"},
			wantPublic:  []string{"10.0.224.0/22", "10.0.228.0/22", "10.0.232.0/22", "10.0.236.0/22", "10.0.240.0/22", "10.0.244.0/22"}},
		{name: "smallest VPC /21", vpc: "172.16.8.0/21", azs: []string{"a", "b", "c"},
			wantPrivate: []string{"172.16.8.0/24", "172.16.9.0/24", "172.16.10.0/24"},
			wantPublic:  []string{"172.16.15.0/27", "172.16.15.32/27", "172.16.15.64/27"}},
		{name: "too small VPC", vpc: "10.0.0.0/23", azs: []string{"a"}, wantErr: true},
		{name: "7 AZs", vpc: "10.0.0.0/16", azs: []string{"a", "b", "c", "d", "e", "f", "g"}, wantErr: true},
		{name: "no AZ", vpc: "10.0.0.0/16", wantErr: true},
		{name: "host bits", vpc: "10.0.0.1/16", azs: []string{"a"}, wantErr: true},
		{name: "IPv6", vpc: "fd00::/56", azs: []string{"a"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, err := PlanSubnets(tt.vpc, tt.azs)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("want error, got plan %+v", plan)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cidrs(plan.Private); !reflect.DeepEqual(got, tt.wantPrivate) {
				t.Errorf("private = %v, want %v", got, tt.wantPrivate)
			}
			if got := cidrs(plan.Public); !reflect.DeepEqual(got, tt.wantPublic) {
				t.Errorf("public = %v, want %v", got, tt.wantPublic)
			}
			assertDisjointInside(t, tt.vpc, append(plan.Private, plan.Public...))
			for i, s := range plan.Private {
				if s.AZ != tt.azs[i] || plan.Public[i].AZ != tt.azs[i] {
					t.Errorf("subnet %d not in AZ %s", i, tt.azs[i])
				}
			}
		})
	}
}

// Adding an AZ must never renumber the subnets of existing AZs (that would replace them).
func TestPlanSubnetsStableWhenAddingAZs(t *testing.T) {
	three, _ := PlanSubnets("10.0.0.0/16", []string{"a", "b", "c"})
	six, _ := PlanSubnets("10.0.0.0/16", []string{"a", "b", "c", "d", "e", "f"})
	if !reflect.DeepEqual(three.Private, six.Private[:3]) || !reflect.DeepEqual(three.Public, six.Public[:3]) {
		t.Fatalf("existing subnets changed: %+v vs %+v", three, six)
	}
}

func cidrs(s []Subnet) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = x.CIDR
	}
	return out
}

func assertDisjointInside(t *testing.T, vpc string, subnets []Subnet) {
	t.Helper()
	v := netip.MustParsePrefix(vpc)
	for i, a := range subnets {
		pa := netip.MustParsePrefix(a.CIDR)
		if !v.Contains(pa.Addr()) || pa.Bits() < v.Bits() {
			t.Errorf("%s outside VPC %s", a.CIDR, vpc)
		}
		if pa.Bits() > 28 {
			t.Errorf("%s smaller than AWS's /28 minimum", a.CIDR)
		}
		for _, b := range subnets[i+1:] {
			if pa.Overlaps(netip.MustParsePrefix(b.CIDR)) {
				t.Errorf("%s overlaps %s", a.CIDR, b.CIDR)
			}
		}
	}
}
