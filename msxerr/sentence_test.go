package msxerr

import (
	"errors"
	"fmt"
	"testing"
)

func TestSentence(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"plain", errors.New("it broke"), "it broke"},
		{"folded", errors.New("line one\n  line two\t end"), "line one line two end"},
		{"hint", New("run msx up", "no containers"), "no containers; run msx up"},
		{"wrapped: the typed error says it", fmt.Errorf("stopping orders: %w", New("run msx doctor", "Docker did not answer")), "Docker did not answer; run msx doctor"},
		{"escaped", errors.New("health check said \x1b[2J"), `health check said \x1b[2J`},
		{"suggestions", errors.New("unknown command \"upp\" for \"msx\"\n\nDid you mean this?\n\tup\n\tups\n"), `unknown command "upp" for "msx"; did you mean "up" or "ups"?`},
		{"no suggestion listed", errors.New("unknown command\nDid you mean this?\n"), "unknown command"},
	} {
		if got := Sentence(tc.err); got != tc.want {
			t.Errorf("%s: Sentence = %q, want %q", tc.name, got, tc.want)
		}
	}
}
