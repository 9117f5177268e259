package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// `pulumi config set --path` stores "true", "false" and integers as booleans
// and numbers. Label, taint and tag values are strings to Kubernetes and AWS,
// so these types accept any scalar and keep its text.

// StringMap is a map of strings that also takes booleans and numbers.
type StringMap map[string]string

// UnmarshalJSON implements json.Unmarshaler.
func (m *StringMap) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make(StringMap, len(raw))
	for k, v := range raw {
		s, err := scalarText(v)
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		out[k] = s
	}
	*m = out
	return nil
}

// UnmarshalJSON implements json.Unmarshaler, rejecting unknown fields like
// every other object in the configuration.
func (t *Taint) UnmarshalJSON(b []byte) error {
	var raw struct {
		Key    string          `json:"key"`
		Value  json.RawMessage `json:"value"`
		Effect string          `json:"effect"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return err
	}
	value := ""
	if len(raw.Value) > 0 {
		v, err := scalarText(raw.Value)
		if err != nil {
			return fmt.Errorf("value: %w", err)
		}
		value = v
	}
	*t = Taint{Key: raw.Key, Value: value, Effect: raw.Effect}
	return nil
}

func scalarText(v json.RawMessage) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return "", err
	}
	switch s := x.(type) {
	case string:
		return s, nil
	case bool:
		return strconv.FormatBool(s), nil
	case json.Number:
		return s.String(), nil
	case nil:
		return "", nil
	}
	return "", fmt.Errorf("must be a string, number or boolean")
}
