package config

import (
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
// result. It returns all problems at once, type errors and value errors
// alike: a key that cannot be read is left out of the value checks, every
// other key is still checked. Warnings never fail. On error the returned
// Config holds what could be read (see Unreadable), so later checks (Talos
// patches, AWS lookups) can still run on the sound parts.
func Parse(src Source) (*Config, Warnings, error) { return ParseDeployed(src, Deployed{}) }

// ParseDeployed is Parse for a stack whose last `up` recorded d: unset
// versions keep what its nodes run, and version changes are checked as
// upgrades of the running cluster.
func ParseDeployed(src Source, d Deployed) (*Config, Warnings, error) {
	var errs ErrorList
	p := parser{src: src, errs: &errs, failed: map[string]bool{}}
	cfg := &Config{
		ClusterName:             p.str("clusterName"),
		Region:                  p.str("region"),
		AZCount:                 p.integer("azCount"),
		ReadinessTimeoutMinutes: p.integer("readinessTimeoutMinutes"),
		EtcdGuardPaused:         p.boolean("etcdGuardPaused"),
		AlarmTopicARN:           p.str("alarmTopicArn"),
		WorkloadIdentity:        p.boolean("workloadIdentity"),
		VPCCIDR:                 p.str("vpcCidr"),
		PodCIDR:                 p.str("podCidr"),
		ServiceCIDR:             p.str("serviceCidr"),
		NATStrategy:             p.str("natStrategy"),
		APIAccess:               p.str("apiAccess"),
		IngressAccess:           p.str("ingressAccess"),
		JumpHost:                p.boolean("jumpHost"),
		TalosVersion:            p.str("talosVersion"),
		KubernetesVersion:       p.str("kubernetesVersion"),
		AMIAMD64:                p.str("amiIdAmd64"),
		AMIARM64:                p.str("amiIdArm64"),
		ControlPlane:            DefaultControlPlane(),
		Addons:                  DefaultAddons(),
		Tags:                    StringMap{},
		Backups:                 DefaultBackups(),
		Network:                 DefaultNetwork(),
	}
	cfg.AvailabilityZones = p.strings("availabilityZones")
	cfg.AdminCIDRs = p.strings("adminCidrs")
	cfg.EtcdGuardSecretReaders = p.strings("etcdGuardSecretReaders")
	cfg.IngressCIDRs = p.strings("ingressCidrs")
	p.object("image", &cfg.Image)
	p.object("controlPlane", &cfg.ControlPlane)
	p.object("addons", &cfg.Addons)
	p.object("tags", &cfg.Tags)
	p.object("backups", &cfg.Backups)
	p.object("endpoint", &cfg.Endpoint)
	p.object("network", &cfg.Network)
	cfg.WorkerPools = p.pools("workerPools")
	cfg.ServiceAccountRoles = p.serviceAccountRoles("serviceAccountRoles")

	cfg.unreadable = p.failed
	cfg.deployed = d
	var versionWarnings Warnings
	// Pulumi fills a key the stack does not set with Pulumi.yaml's declared
	// default (pkg/workspace/config.go, the project config merge), so
	// "unset" is the empty default, not an absent key.
	cfg.TalosVersion = resolveVersion("talosVersion", cfg.TalosVersion, d, d.TalosVersion, LegacyTalosVersion, DefaultTalosVersion, &versionWarnings)
	cfg.KubernetesVersion = resolveVersion("kubernetesVersion", cfg.KubernetesVersion, d, d.KubernetesVersion, LegacyKubernetesVersion, DefaultKubernetesVersion, &versionWarnings)
	resolveStable(cfg, d, &versionWarnings)
	if cfg.Addons.CloudControllerManager.ImageTag == "" {
		// Unset: the release of the cluster's Kubernetes minor.
		cfg.Addons.CloudControllerManager.ImageTag = AddonsFor(cfg.KubernetesVersion).CCMImage
	}
	warnings := append(versionWarnings, validate(cfg, &errs, p.failed)...)
	if err := errs.Err(); err != nil {
		return cfg, warnings, err
	}
	return cfg, warnings, nil
}

type parser struct {
	src  Source
	errs *ErrorList
	// failed holds the keys (and workerPools[i]) whose value could not be
	// read; value checks skip them instead of judging a default.
	failed map[string]bool
}

// schemaDefault is the one place defaults come from, so Pulumi.yaml, the
// configuration reference and the program cannot disagree.
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
		p.errs.Invalid(key, nil, fmt.Sprintf("expected a whole number, got %q", v))
		p.failed[key] = true
		return def
	}
	return n
}

func (p parser) boolean(key string) bool {
	def, _ := schemaDefault(key).(bool)
	v, ok := p.src(key)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		p.errs.Invalid(key, nil, fmt.Sprintf("expected true or false, got %q", v))
		p.failed[key] = true
		return def
	}
	return b
}

func (p parser) strings(key string) []string {
	def, _ := schemaDefault(key).([]string) // nil default: required key
	v, ok := p.src(key)
	if !ok {
		return def
	}
	var out []string
	list, err := readJSON([]byte(v))
	if _, isList := list.([]any); err != nil || !isList {
		p.errs.Invalid(key, v, fmt.Sprintf("must be a list of strings, e.g. `pulumi config set --path '%s[0]' <value>`", key))
		p.failed[key] = true
		return def
	}
	// A list whose elements are not all strings: each wrong element at its
	// own index (adminCidrs[1]: expected a string, got 5).
	if !decodeChecked(key, []byte(v), &out, p.errs) {
		p.failed[key] = true
		return def
	}
	return out
}

func (p parser) object(key string, dst any) {
	v, ok := p.src(key)
	if !ok {
		return
	}
	if !decodeChecked(key, []byte(v), dst, p.errs) {
		p.failed[key] = true
	}
}

func (p parser) pools(key string) []WorkerPool {
	v, ok := p.src(key)
	if !ok {
		return DefaultWorkerPools()
	}
	var raws []json.RawMessage
	if err := json.Unmarshal([]byte(v), &raws); err != nil {
		p.errs.Invalid(key, nil, "expected a list of worker pool objects")
		p.failed[key] = true
		return nil
	}
	pools := make([]WorkerPool, len(raws))
	for i, raw := range raws {
		pools[i] = DefaultWorkerPool()
		// One unreadable pool must not hide the problems of the next.
		path := fmt.Sprintf("%s[%d]", key, i)
		if !decodeChecked(path, raw, &pools[i], p.errs) {
			p.failed[path] = true
		}
	}
	return pools
}

func (p parser) serviceAccountRoles(key string) []ServiceAccountRole {
	v, ok := p.src(key)
	if !ok {
		return []ServiceAccountRole{}
	}
	var raws []json.RawMessage
	if err := json.Unmarshal([]byte(v), &raws); err != nil {
		p.errs.Invalid(key, nil, "expected a list of {namespace, serviceAccount, policyArns, policy} objects")
		p.failed[key] = true
		return []ServiceAccountRole{}
	}
	roles := make([]ServiceAccountRole, len(raws))
	for i, raw := range raws {
		// Each element at its own path: one unreadable role must not hide
		// the problems of the next.
		path := fmt.Sprintf("%s[%d]", key, i)
		if !decodeChecked(path, raw, &roles[i], p.errs) {
			p.failed[path] = true
		}
	}
	return roles
}
