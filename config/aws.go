package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// AWS is how the stack's AWS provider authenticates: the keys of Pulumi's
// AWS provider (pulumi-aws v6.83.4 sdk/go/aws/provider.go ProviderArgs)
// that choose credentials. The program creates its AWS provider
// explicitly, and an explicit provider reads no `aws:` stack config of its
// own, so they are read here and handed to that provider, and to the
// control-plane rollout wait, which calls AWS from the runner itself: both
// act as the same identity in the same region.
type AWS struct {
	Profile                string
	AccessKey              string
	SecretKey              string
	Token                  string
	SharedCredentialsFiles []string
	SharedConfigFiles      []string
	AssumeRole             *AssumeRole
}

// AssumeRole is the provider's assumeRole object (the fields this stack
// passes on).
type AssumeRole struct {
	RoleARN     string `json:"roleArn"`
	SessionName string `json:"sessionName,omitempty"`
	ExternalID  string `json:"externalId,omitempty"`
	// Duration is a Go duration ("1h"), as the provider takes it.
	Duration string `json:"duration,omitempty"`
}

// AWSNamespace is the config namespace of the AWS provider.
const AWSNamespace = "aws"

// awsKeys are the aws: keys ParseAWS reads.
var awsKeys = []string{"profile", "accessKey", "secretKey", "token", "sharedCredentialsFiles", "sharedConfigFiles", "assumeRole"}

var roleARN = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$`)

// ParseAWS reads the aws: credential keys from src (which answers keys
// without the namespace) and checks them; errors name "aws:<key>". set are
// the aws: keys set in the stack (without the namespace): any the program
// would not pass on to its provider is a warning, since the provider would
// not see it, and so is an aws:region other than region, the stack's.
func ParseAWS(src Source, set []string, region string) (AWS, ErrorList, Warnings) {
	var a AWS
	var errs ErrorList
	var w Warnings
	str := func(k string) string { v, _ := src(k); return v }
	list := func(k string) []string {
		v, ok := src(k)
		if !ok || v == "" {
			return nil
		}
		var l []string
		if err := json.Unmarshal([]byte(v), &l); err != nil {
			errs.Invalid(AWSNamespace+":"+k, v, "expected a list of file paths")
		}
		// The provider expands $VAR and ~ in these paths (aws-sdk-go-base
		// internal/expand); the rollout wait's SDK does not, so both get
		// the expanded path.
		for i := range l {
			l[i] = expandPath(l[i])
		}
		return l
	}
	a.Profile, a.AccessKey, a.SecretKey, a.Token = str("profile"), str("accessKey"), str("secretKey"), str("token")
	a.SharedCredentialsFiles, a.SharedConfigFiles = list("sharedCredentialsFiles"), list("sharedConfigFiles")
	if (a.AccessKey == "") != (a.SecretKey == "") {
		errs.Required(AWSNamespace+":secretKey", "aws:accessKey and aws:secretKey go together: set both (as secrets) or neither")
	}
	if a.Token != "" && a.AccessKey == "" {
		errs.Forbidden(AWSNamespace+":token", "a session token needs aws:accessKey and aws:secretKey")
	}
	if v, ok := src("assumeRole"); ok && v != "" {
		var r AssumeRole
		dec := json.NewDecoder(strings.NewReader(v))
		dec.DisallowUnknownFields()
		switch err := dec.Decode(&r); {
		case err != nil:
			errs.Invalid(AWSNamespace+":assumeRole", v, fmt.Sprintf("expected an object of roleArn, sessionName, externalId, duration (%v)", err))
		case !roleARN.MatchString(r.RoleARN):
			errs.Invalid(AWSNamespace+":assumeRole.roleArn", r.RoleARN, "expected an IAM role ARN, arn:aws:iam::<account>:role/<name>")
		default:
			if r.Duration != "" {
				if d, err := time.ParseDuration(r.Duration); err != nil || d < 15*time.Minute || d > 12*time.Hour {
					errs.Invalid(AWSNamespace+":assumeRole.duration", r.Duration, "expected a duration from 15m to 12h, e.g. \"1h\"")
				}
			}
			a.AssumeRole = &r
		}
	}
	sort.Strings(set)
	if r, ok := src("region"); ok && r != "" && r != region {
		w.Add(AWSNamespace+":region", "%q is not where the stack deploys: it uses region (%q); set region instead", r, region)
	}
	for _, k := range set {
		if !contains(awsKeys, k) && k != "region" {
			w.Add(AWSNamespace+":"+k, "not passed to the stack's AWS provider, which takes only %s from the aws namespace (and the region from region)", strings.Join(awsKeys, ", "))
		}
	}
	return a, errs, w
}

// Describe says which identity these settings make, for messages: never a
// secret, at most the last four characters of an access key id.
func (a AWS) Describe() string {
	who := "the default AWS credential chain (environment, shared files, SSO, instance role)"
	switch {
	case a.AccessKey != "":
		id := a.AccessKey
		if len(id) > 4 {
			id = "…" + id[len(id)-4:]
		}
		who = "the access key " + id + " of aws:accessKey"
	case a.Profile != "":
		who = "the profile " + a.Profile + " (aws:profile)"
	}
	if len(a.SharedCredentialsFiles) > 0 {
		who += " from " + strings.Join(a.SharedCredentialsFiles, ", ")
	}
	if a.AssumeRole != nil {
		who = "the role " + a.AssumeRole.RoleARN + " (aws:assumeRole), assumed with " + who
	}
	return who
}

// expandPath expands environment variables and a leading ~ as the AWS
// provider does.
func expandPath(p string) string {
	p = os.ExpandEnv(p)
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			p = filepath.Join(home, strings.TrimPrefix(p, "~"))
		}
	}
	return p
}
