package weights

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// readObject reads a JSON object, calling member after reading each key;
// member reads the value. An error names where the object was read.
func readObject(dec *json.Decoder, where string, member func(key string) error) error {
	if err := expectDelim(dec, '{', where); err != nil {
		return err
	}
	return readMembers(dec, where, member)
}

// readMembers reads the members of an object whose '{' has been read, and
// its closing '}', calling member after reading each key.
func readMembers(dec *json.Decoder, where string, member func(key string) error) error {
	for dec.More() {
		key, err := nextKey(dec, where)
		if err != nil {
			return err
		}
		if err := member(key); err != nil {
			return err
		}
	}
	return expectDelim(dec, '}', where)
}

// nextToken reads the next JSON token; an error names where it was read.
func nextToken(dec *json.Decoder, where string) (json.Token, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, jsonErr(err))
	}
	return tok, nil
}

func expectDelim(dec *json.Decoder, d json.Delim, where string) error {
	tok, err := nextToken(dec, where)
	if err != nil {
		return err
	}
	if tok != d {
		what := "an object"
		if d == '}' {
			what = "the end of the object"
		}
		return fmt.Errorf("%s must be %s, got %s", where, what, describeToken(tok))
	}
	return nil
}

func nextKey(dec *json.Decoder, where string) (string, error) {
	return nextStringToken(dec, where, where+": expected a key")
}

func nextString(dec *json.Decoder, where string) (string, error) {
	return nextStringToken(dec, where, where+" must be a string")
}

// nextStringToken reads a string token; any other token is an error saying
// wrong, then what it got.
func nextStringToken(dec *json.Decoder, where, wrong string) (string, error) {
	tok, err := nextToken(dec, where)
	if err != nil {
		return "", err
	}
	s, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("%s, got %s", wrong, describeToken(tok))
	}
	return s, nil
}

// nextIntList reads a JSON array of non-negative integers.
func nextIntList(dec *json.Decoder, where string) ([]int64, error) {
	tok, err := nextToken(dec, where)
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('[') {
		return nil, fmt.Errorf("%s must be a list of non-negative integers, got %s", where, describeToken(tok))
	}
	var out []int64
	for dec.More() {
		tok, err := nextToken(dec, where)
		if err != nil {
			return nil, err
		}
		num, ok := tok.(json.Number)
		if !ok {
			return nil, fmt.Errorf("%s must be a list of non-negative integers, got %s", where, describeToken(tok))
		}
		v, err := strconv.ParseInt(string(num), 10, 64)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("%s: %s is not a non-negative 64-bit integer", where, num)
		}
		out = append(out, v)
	}
	if _, err := nextToken(dec, where); err != nil { // the closing ']'
		return nil, err
	}
	return out, nil
}

// describeToken renders a JSON token for an error message.
func describeToken(tok json.Token) string {
	switch v := tok.(type) {
	case nil:
		return "null"
	case json.Delim:
		switch v {
		case '{':
			return "an object"
		case '[':
			return "a list"
		}
		return fmt.Sprintf("%q", string(v))
	case string:
		if len(v) > 40 {
			v = v[:40] + "…"
		}
		return fmt.Sprintf("string %q", v)
	case json.Number:
		return "number " + string(v)
	case bool:
		return fmt.Sprintf("%v", v)
	}
	return fmt.Sprintf("%v", tok)
}

// jsonErr turns the decoder's io.EOF into a clearer message.
func jsonErr(err error) error {
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("JSON ends early")
	}
	return fmt.Errorf("invalid JSON: %w", err)
}
