// Oracle for test/security/regex-semantics.test.ts: Go's regexp, compiled as Prometheus 2, Prometheus 3 and Alertmanager do.
//
// Reads one JSON object per line, {"pattern": string, "values": [string]}, and writes one JSON object per line:
// the error each backend reports for the pattern (empty when accepted) and, per value, whether it matches.
package main

import (
	"bufio"
	"encoding/json"
	"os"
	"regexp"
	"regexp/syntax"
)

type question struct {
	Pattern string   `json:"pattern"`
	Values  []string `json:"values"`
}

type reading struct {
	Error   string `json:"error"`
	Matches []bool `json:"matches"`
}

type answer struct {
	// Prometheus 2.53 model/labels/regexp.go: syntax.Parse(v, syntax.Perl), then ^(?:parsed)$.
	Prom2 reading `json:"prom2"`
	// Prometheus 3 model/labels/regexp.go: syntax.Parse(v, syntax.Perl|syntax.DotNL), then ^(?s:parsed)$.
	Prom3 reading `json:"prom3"`
	// Alertmanager pkg/labels/matcher.go: regexp.Compile("^(?:" + v + ")$"), the pattern never parsed alone.
	Alertmanager reading `json:"alertmanager"`
}

func prometheus(v string, flags syntax.Flags, open string) (*regexp.Regexp, error) {
	parsed, err := syntax.Parse(v, flags)
	if err != nil {
		return nil, err
	}
	return regexp.Compile(open + parsed.String() + ")$")
}

func read(re *regexp.Regexp, err error, values []string) reading {
	if err != nil {
		return reading{Error: err.Error(), Matches: []bool{}}
	}
	out := reading{Matches: make([]bool, len(values))}
	for i, v := range values {
		out.Matches[i] = re.MatchString(v)
	}
	return out
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	enc := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var q question
		if err := json.Unmarshal(in.Bytes(), &q); err != nil {
			panic(err)
		}
		var a answer
		re, err := prometheus(q.Pattern, syntax.Perl, "^(?:")
		a.Prom2 = read(re, err, q.Values)
		re, err = prometheus(q.Pattern, syntax.Perl|syntax.DotNL, "^(?s:")
		a.Prom3 = read(re, err, q.Values)
		re, err = regexp.Compile("^(?:" + q.Pattern + ")$")
		a.Alertmanager = read(re, err, q.Values)
		if err := enc.Encode(a); err != nil {
			panic(err)
		}
	}
	if err := in.Err(); err != nil {
		panic(err)
	}
}
