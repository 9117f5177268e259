package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Source returns the raw value of a project config key and whether it is set.
// Pulumi hands arrays and objects over as JSON text.
type Source func(key string) (string, bool)

// MapSource serves raw values from a map, as tests and tools hold them.
func MapSource(m map[string]string) Source {
	return func(key string) (string, bool) {
		v, ok := m[key]
		return v, ok
	}
}

// Parse reads every schema key from src, applies defaults and validates the
// result. It returns all problems at once; warnings never fail.
func Parse(src Source) (*Config, Warnings, error) {
	var errs ErrorList
	p := parser{src: src, errs: &errs}
	cfg := &Config{
		ClusterName:             p.str("clusterName"),
		Region:                  p.str("region"),
		AZCount:                 p.integer("azCount"),
		ReadinessTimeoutMinutes: p.integer("readinessTimeoutMinutes"),
		VPCCIDR:                 p.str("vpcCidr"),
		PodCIDR:                 p.str("podCidr"),
		ServiceCIDR:             p.str("serviceCidr"),
		NATStrategy:             p.str("natStrategy"),
		TalosVersion:            p.str("talosVersion"),
		KubernetesVersion:       p.str("kubernetesVersion"),
		AMIAMD64:                p.str("amiIdAmd64"),
		AMIARM64:                p.str("amiIdArm64"),
		ControlPlane:            DefaultControlPlane(),
		Addons:                  DefaultAddons(),
		Tags:                    StringMap{},
	}
	cfg.AvailabilityZones = p.strings("availabilityZones")
	cfg.AdminCIDRs = p.strings("adminCidrs")
	cfg.IngressCIDRs = p.strings("ingressCidrs")
	p.object("controlPlane", &cfg.ControlPlane)
	p.object("addons", &cfg.Addons)
	p.object("tags", &cfg.Tags)
	cfg.WorkerPools = p.pools("workerPools")

	if len(errs) > 0 {
		// Types are wrong: semantic checks on half-read values would only add noise.
		return nil, nil, errs.Err()
	}
	warnings := Validate(cfg, &errs)
	if err := errs.Err(); err != nil {
		return nil, warnings, err
	}
	return cfg, warnings, nil
}

type parser struct {
	src  Source
	errs *ErrorList
}

// schemaDefault is the one place defaults come from, so Pulumi.yaml, the
// README and the program cannot disagree.
func schemaDefault(key string) any {
	for _, k := range Schema() {
		if k.Name == key {
			return k.Default
		}
	}
	return nil
}

func (p parser) str(key string) string {
	v, ok := p.src(key)
	if !ok {
		def, _ := schemaDefault(key).(string)
		return def
	}
	return strings.TrimSpace(v)
}

func (p parser) integer(key string) int {
	def, _ := schemaDefault(key).(int)
	v, ok := p.src(key)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		p.errs.Invalid(key, v, "must be an integer")
		return def
	}
	return n
}

func (p parser) strings(key string) []string {
	def, _ := schemaDefault(key).([]string) // nil default: required key
	v, ok := p.src(key)
	if !ok {
		return def
	}
	var out []string
	if err := json.Unmarshal([]byte(v), &out); err != nil {
		p.errs.Invalid(key, v, fmt.Sprintf("must be a list of strings, e.g. `pulumi config set --path '%s[0]' <value>`", key))
		return def
	}
	return out
}

// decodeStrict decodes JSON onto dst, keeping dst's values for absent fields
// (so defaults survive a partial object) and rejecting unknown fields, which
// are almost always typos that would otherwise be silently ignored.
func decodeStrict(data []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after JSON value")
	}
	return nil
}

func (p parser) object(key string, dst any) {
	v, ok := p.src(key)
	if !ok {
		return
	}
	if err := decodeStrict([]byte(v), dst); err != nil {
		p.errs.Invalid(key, nil, "cannot read: "+strings.TrimPrefix(err.Error(), "json: "))
	}
}

func (p parser) pools(key string) []WorkerPool {
	v, ok := p.src(key)
	if !ok {
		return DefaultWorkerPools()
	}
	var raws []json.RawMessage
	if err := json.Unmarshal([]byte(v), &raws); err != nil {
		p.errs.Invalid(key, nil, "must be a list of worker pool objects")
		return nil
	}
	pools := make([]WorkerPool, len(raws))
	for i, raw := range raws {
		pools[i] = DefaultWorkerPool()
		if err := decodeStrict(raw, &pools[i]); err != nil {
			p.errs.Invalid(fmt.Sprintf("%s[%d]", key, i), nil, "cannot read: "+strings.TrimPrefix(err.Error(), "json: "))
		}
	}
	return pools
}
