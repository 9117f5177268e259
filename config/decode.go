package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/talos-aws/talos-aws/internal/textdist"
)

// Objects and lists from the stack configuration are checked against the
// Go types before they are decoded, so every problem is reported with the
// key path the user writes (workerPools[0].minSize) and the JSON kind that
// was expected, never with encoding/json's Go struct and field names. All
// problems of one object are collected, not just the first.

var (
	stringMapType = reflect.TypeOf(StringMap{})
	taintType     = reflect.TypeOf(Taint{})
)

// readJSON parses raw JSON keeping numbers exact.
func readJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after the JSON value")
	}
	return v, nil
}

// describe names a JSON value's kind and shows short values, for messages.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(x)
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		return x.String()
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%v", v)
}

// jsonFields maps a struct's JSON keys to field indexes.
func jsonFields(t reflect.Type) (map[string]int, []string) {
	fields := map[string]int{}
	var names []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		fields[name] = i
		names = append(names, name)
	}
	return fields, names
}

// checkValue reports every way v does not fit t, under path.
func checkValue(path string, v any, t reflect.Type, errs *ErrorList) {
	if v == nil {
		// null keeps the default, as an absent key does.
		return
	}
	switch t {
	case stringMapType:
		m, ok := v.(map[string]any)
		if !ok {
			errs.Invalid(path, nil, "expected an object of key: value pairs, got "+describe(v))
			return
		}
		for _, k := range sortedAnyKeys(m) {
			checkScalar(path+"."+k, m[k], errs)
		}
		return
	case taintType:
		m, ok := v.(map[string]any)
		if !ok {
			errs.Invalid(path, nil, "expected an object {key, value, effect}, got "+describe(v))
			return
		}
		for _, k := range sortedAnyKeys(m) {
			switch k {
			case "key", "effect":
				checkValue(path+"."+k, m[k], reflect.TypeOf(""), errs)
			case "value":
				checkScalar(path+".value", m[k], errs)
			default:
				unknownKey(path, k, []string{"key", "value", "effect"}, errs)
			}
		}
		return
	}
	switch t.Kind() {
	case reflect.String:
		if _, ok := v.(string); !ok {
			errs.Invalid(path, nil, "expected a string, got "+describe(v))
		}
	case reflect.Int:
		n, ok := v.(json.Number)
		if !ok {
			errs.Invalid(path, nil, "expected a number, got "+describe(v))
			return
		}
		if _, err := strconv.ParseInt(n.String(), 10, 32); err != nil {
			errs.Invalid(path, nil, "expected a whole number, got "+n.String())
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			errs.Invalid(path, nil, "expected true or false, got "+describe(v))
		}
	case reflect.Slice:
		list, ok := v.([]any)
		if !ok {
			errs.Invalid(path, nil, "expected a list, got "+describe(v))
			return
		}
		for i, e := range list {
			checkValue(fmt.Sprintf("%s[%d]", path, i), e, t.Elem(), errs)
		}
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			errs.Invalid(path, nil, "expected an object, got "+describe(v))
			return
		}
		fields, names := jsonFields(t)
		for _, k := range sortedAnyKeys(m) {
			i, ok := fields[k]
			if !ok {
				unknownKey(path, k, names, errs)
				continue
			}
			checkValue(path+"."+k, m[k], t.Field(i).Type, errs)
		}
	case reflect.Pointer:
		// An optional setting (nil: decided from the rest of the config).
		if v != nil {
			checkValue(path, v, t.Elem(), errs)
		}
	default:
		errs.Invalid(path, nil, "cannot be read")
	}
}

func checkScalar(path string, v any, errs *ErrorList) {
	switch v.(type) {
	case nil, string, bool, json.Number:
	default:
		errs.Invalid(path, nil, "expected a string, number or boolean, got "+describe(v))
	}
}

// unknownKey reports a key of an object that has no such field, at its
// full path (workerPools[2].instanceTyps), with the nearest valid key or,
// when none is near, every valid key.
func unknownKey(path, k string, valid []string, errs *ErrorList) {
	sorted := append([]string(nil), valid...)
	sort.Strings(sorted)
	errs.Invalid(path+"."+k, nil, unknownKeyDetail(k, sorted))
}

// unknownKeyDetail is the message for an unknown key k: the nearest of
// valid, or all of them in the order given.
func unknownKeyDetail(k string, valid []string) string {
	if near := Nearest(k, valid); near != "" {
		return fmt.Sprintf("unknown key; did you mean %q?", near)
	}
	return "unknown key; valid keys: " + strings.Join(valid, ", ")
}

func sortedAnyKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// decodeChecked checks data against dst's type, reporting every problem
// under path, and decodes it onto dst (keeping dst's values for absent keys,
// so defaults survive a partial object) only when it fits. It reports
// whether dst was decoded.
func decodeChecked(path string, data []byte, dst any, errs *ErrorList) bool {
	v, err := readJSON(data)
	if err != nil {
		errs.Invalid(path, nil, "not valid JSON: "+strings.TrimPrefix(err.Error(), "json: "))
		return false
	}
	before := len(*errs)
	checkValue(path, v, reflect.TypeOf(dst).Elem(), errs)
	if len(*errs) > before {
		return false
	}
	if err := json.Unmarshal(data, dst); err != nil {
		// Unreachable when the checks above are complete; still in user terms.
		errs.Invalid(path, nil, "cannot be read: "+strings.TrimPrefix(err.Error(), "json: "))
		return false
	}
	return true
}

// Nearest returns the candidate closest to s by edit distance, or "" when
// none is close enough to be a plausible typo.
func Nearest(s string, candidates []string) string {
	best, bestD := "", 1<<30
	for _, c := range candidates {
		if d := textdist.Levenshtein(strings.ToLower(s), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	if bestD > max(2, len(s)/3) {
		return ""
	}
	return best
}
