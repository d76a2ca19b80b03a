package jsonfield

import "testing"

// TestSet checks that a present field overrides and an absent one keeps the
// default.
func TestSet(t *testing.T) {
	n, v := 3, 7
	Set(&n, nil)
	if n != 3 {
		t.Errorf("absent field changed the default to %d", n)
	}
	Set(&n, &v)
	if n != 7 {
		t.Errorf("present field gave %d, want 7", n)
	}
}
