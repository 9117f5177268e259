package fielddoc

import "testing"

func TestAllowedText(t *testing.T) {
	for _, c := range []struct {
		f    Field
		want string
	}{
		{Field{Values: []string{"1", "3", "5"}}, "`1`, `3`, `5`"},
		{Field{Allowed: "20-16384"}, "20-16384"},
		{Field{Values: []string{"gp3"}, Allowed: "iops only for gp3"}, "`gp3`; iops only for gp3"},
		{Field{}, ""},
	} {
		if got := c.f.AllowedText(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.f, got, c.want)
		}
	}
}
