package textdist

import "testing"

func TestLevenshtein(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"workerPools", "workerPools", 0}, {"workerpools", "workerPools", 1}, {"kitten", "sitting", 3}, {"", "abc", 3}, {"nvidia-open", "nvidia-opne", 2}} {
		if got := Levenshtein(tc.a, tc.b); got != tc.d {
			t.Errorf("Levenshtein(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.d)
		}
		if got := Levenshtein(tc.b, tc.a); got != tc.d {
			t.Errorf("not symmetric for %q, %q", tc.a, tc.b)
		}
	}
}
