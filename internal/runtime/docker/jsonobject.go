package docker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// This file holds the small JSON reader ParseTaskDef is built on: it walks
// objects key by key in document order, so every field it does not handle
// can be reported with its path, and it decodes values with errors that
// name the path.

// jsonField is one key of a JSON object with its undecoded value.
type jsonField struct {
	key   string
	value json.RawMessage
}

// objectFields returns the fields of the JSON object raw, in order. raw
// must be syntactically valid JSON.
func objectFields(path string, raw json.RawMessage) ([]jsonField, error) {
	if kind := jsonKind(raw); kind != "an object" {
		return nil, fmt.Errorf("%s: want an object, got %s", path, kind)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var fields []jsonField
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		key, _ := tok.(string)
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, fmt.Errorf("%s: %w", join(path, key), err)
		}
		fields = append(fields, jsonField{key: key, value: value})
	}
	return fields, nil
}

// arrayElems returns the elements of the JSON array raw (none for null).
func arrayElems(path string, raw json.RawMessage) ([]json.RawMessage, error) {
	if isNull(raw) {
		return nil, nil
	}
	if kind := jsonKind(raw); kind != "an array" {
		return nil, fmt.Errorf("%s: want an array, got %s", path, kind)
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return elems, nil
}

func decodeString(path string, raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%s: want a string, got %s", path, jsonKind(raw))
	}
	return s, nil
}

func decodeStrings(path string, raw json.RawMessage) ([]string, error) {
	elems, err := arrayElems(path, raw)
	if err != nil || elems == nil {
		return nil, err
	}
	out := make([]string, 0, len(elems))
	for i, e := range elems {
		s, err := decodeString(index(path, i), e)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// decodeInt reads a whole number in [lo, hi]. A string holding one is
// accepted too, as ECS does for task-level cpu and memory.
func decodeInt(path string, raw json.RawMessage, lo, hi int64) (int64, error) {
	if isNull(raw) {
		return 0, nil
	}
	var num json.Number
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&num); err != nil {
		return 0, fmt.Errorf("%s: want a whole number, got %s", path, jsonKind(raw))
	}
	n, err := strconv.ParseInt(num.String(), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: want a whole number, got %s", path, num)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%s: %d is out of range %d-%d", path, n, lo, hi)
	}
	return n, nil
}

func decodeBool(path string, raw json.RawMessage) (bool, error) {
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		return false, fmt.Errorf("%s: want true or false, got %s", path, jsonKind(raw))
	}
	return b, nil
}

// jsonKind names the kind of JSON value raw holds, for error messages.
func jsonKind(raw json.RawMessage) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func isNull(raw json.RawMessage) bool {
	return jsonKind(raw) == "null"
}

// join and index build JSON paths: containerDefinitions[0].image.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string {
	return fmt.Sprintf("%s[%d]", path, i)
}

// syntaxError says where data stops being valid JSON, as line and column
// (both from 1, columns in bytes).
func syntaxError(data []byte, err error) error {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return err
	}
	pos := int(se.Offset) - 1 // the byte the decoder choked on
	pos = max(0, min(pos, len(data)))
	line := 1 + bytes.Count(data[:pos], []byte("\n"))
	col := pos - bytes.LastIndexByte(data[:pos], '\n')
	return fmt.Errorf("line %d, column %d: %w", line, col, err)
}
