package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// DecodeStrict decodes exactly one JSON value into v. Unlike encoding/json
// alone it refuses unknown fields matched case-sensitively ("Ops" is not
// "ops"), and anything after the value.
func DecodeStrict(data []byte, v any) error {
	var generic any
	if err := json.Unmarshal(data, &generic); err != nil {
		return fmt.Errorf("malformed JSON: %w", err)
	}
	if err := checkKeys(generic, reflect.TypeOf(v), ""); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("malformed JSON: %w", err)
	}
	return nil
}

var rawMessage = reflect.TypeOf(json.RawMessage{})

// checkKeys walks a decoded value beside the Go type it will decode into.
func checkKeys(val any, t reflect.Type, where string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch v := val.(type) {
	case map[string]any:
		if t.Kind() != reflect.Struct {
			return nil
		}
		for key, sub := range v {
			f, ok := fieldByJSONName(t, key)
			if !ok {
				return fmt.Errorf("unknown field %q%s", key, where)
			}
			if f.Type == rawMessage {
				continue
			}
			if err := checkKeys(sub, f.Type, fmt.Sprintf(" in %q%s", key, where)); err != nil {
				return err
			}
		}
	case []any:
		if t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
			return nil
		}
		for i, sub := range v {
			if err := checkKeys(sub, t.Elem(), fmt.Sprintf(" at [%d]%s", i, where)); err != nil {
				return err
			}
		}
	}
	return nil
}

func fieldByJSONName(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if name == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}
