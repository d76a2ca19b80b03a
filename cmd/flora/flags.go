package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/flora-ml/flora/job"
)

// Number flags are checked while the command line is parsed, before any
// work: a value that is not a finite number inside the flag's range is a
// usage error naming the flag (`invalid argument "NaN" for "--guidance"
// flag: must be a finite number in [0, 100], got NaN`). Float flags always
// go through floatFlag, and a float inside another value (the scale of
// --lora FILE:SCALE) through parseFloatIn, so NaN and Inf can never slip in.

// parseFloatIn parses s as a number inside r.
func parseFloatIn(s string, r job.FloatRange) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if err := r.Check(f); err != nil {
		return 0, err
	}
	return f, nil
}

// floatValue is a pflag.Value holding a float checked against a range.
type floatValue struct {
	p *float64
	r job.FloatRange
}

func (v *floatValue) Set(s string) error {
	f, err := parseFloatIn(s, v.r)
	if err != nil {
		return err
	}
	*v.p = f
	return nil
}

func (v *floatValue) Type() string   { return "float" }
func (v *floatValue) String() string { return strconv.FormatFloat(*v.p, 'g', -1, 64) }

// floatFlag defines a float flag whose values must be finite and inside r.
// def may lie outside r as a "not given" marker (the help then omits it).
func floatFlag(fs *pflag.FlagSet, p *float64, name string, def float64, r job.FloatRange, usage string) {
	*p = def
	fs.Var(&floatValue{p: p, r: r}, name, usage)
	if !r.Contains(def) {
		fs.Lookup(name).DefValue = ""
	}
}

// gibValue is a floatValue in GiB that also takes a unit suffix: "16",
// "16GiB", "16G" and "16GB" all mean 16 GiB (cards sold as "24 GB" hold
// 24 GiB).
type gibValue struct{ floatValue }

func (v *gibValue) Set(s string) error {
	t := strings.TrimSpace(s)
	for _, unit := range []string{"gib", "gb", "g"} {
		if len(t) > len(unit) && strings.EqualFold(t[len(t)-len(unit):], unit) {
			t = t[:len(t)-len(unit)]
			break
		}
	}
	return v.floatValue.Set(t)
}

func (v *gibValue) Type() string { return "GiB" }

// gibFlag defines a GiB flag (see gibValue) under each of names, all
// setting p.
func gibFlag(fs *pflag.FlagSet, p *float64, names []string, def float64, r job.FloatRange, usage string) {
	*p = def
	for i, name := range names {
		u := usage
		if i > 0 {
			u = "the same as --" + names[0]
		}
		fs.Var(&gibValue{floatValue{p: p, r: r}}, name, u)
		if !r.Contains(def) || def == 0 {
			fs.Lookup(name).DefValue = ""
		}
	}
}

// intValue is a pflag.Value holding an int checked by a function.
type intValue struct {
	p     *int
	check func(int) error
}

func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not a whole number", s)
	}
	if err := v.check(n); err != nil {
		return err
	}
	*v.p = n
	return nil
}

func (v *intValue) Type() string   { return "int" }
func (v *intValue) String() string { return strconv.Itoa(*v.p) }

// intFlag defines an int flag whose values must pass check (see intIn,
// job.CheckImageSide). def is not checked, so 0 can mean "the default".
func intFlag(fs *pflag.FlagSet, p *int, name string, def int, check func(int) error, usage string) {
	*p = def
	fs.Var(&intValue{p: p, check: check}, name, usage)
}

// intIn returns a check that n is in [lo, hi].
func intIn(lo, hi int) func(int) error {
	return func(n int) error {
		if n < lo || n > hi {
			return fmt.Errorf("must be in [%d, %d], got %d", lo, hi, n)
		}
		return nil
	}
}
