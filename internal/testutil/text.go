package testutil

import (
	"strings"
	"testing"
)

// CheckContains reports each of wants that text lacks; what names text in
// the messages ("error", "stderr", "report").
func CheckContains(tb testing.TB, what, text string, wants ...string) {
	tb.Helper()
	for _, want := range wants {
		if !strings.Contains(text, want) {
			tb.Errorf("%s lacks %q:\n%s", what, want, text)
		}
	}
}
