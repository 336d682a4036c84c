package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// A templater turns one object into a Helm template. Edits put a token
// (a plain word YAML never quotes) where a value, a block or optional lines
// go; the object is written as YAML, the `{{` already in it (Grafana legends,
// alert annotations) are escaped so Helm prints them as they are, and then
// each token's line is rewritten into template text at its indentation.
type templater struct {
	subst map[string]func(line tokenLine) string
}

// tokenLine is the line a token was found on.
type tokenLine struct {
	text   string // the whole line
	indent string // its leading spaces
	token  string
}

var tokenRE = regexp.MustCompile(`zzchart[0-9]+zz`)

func newTemplater() *templater {
	return &templater{subst: map[string]func(tokenLine) string{}}
}

func (t *templater) token(render func(tokenLine) string) string {
	tok := fmt.Sprintf("zzchart%dzz", len(t.subst))
	t.subst[tok] = render
	return tok
}

// scalar stands for a whole scalar value (a map value or a list item),
// replaced with the template action expr.
func (t *templater) scalar(expr string) string {
	return t.token(func(l tokenLine) string { return strings.Replace(l.text, l.token, expr, 1) })
}

// block stands for a map's value written as YAML from a values path
// ("key: TOKEN" becomes "key:" and the value's YAML below it).
func (t *templater) block(valuesPath string) string {
	return t.token(func(l tokenLine) string {
		return fmt.Sprintf("%s\n%s{{- toYaml %s | nindent %d }}",
			strings.TrimRight(strings.Replace(l.text, l.token, "", 1), " "), l.indent, valuesPath, len(l.indent)+2)
	})
}

// lines stands for lines that are there only when cond holds: the token is a
// map key (TOKEN: "") or a list item (- TOKEN); body is written at its
// indentation, list items with their "- ". In body, __N__ is the token
// line's indentation and __N2__ two more (for nindent).
func (t *templater) lines(cond string, body ...string) string {
	return t.token(func(l tokenLine) string {
		item := strings.HasPrefix(strings.TrimSpace(l.text), "- ")
		n := strings.NewReplacer("__N2__", strconv.Itoa(len(l.indent)+2), "__N__", strconv.Itoa(len(l.indent)))
		var b strings.Builder
		fmt.Fprintf(&b, "%s{{- %s }}", l.indent, cond)
		for i, line := range body {
			line = n.Replace(line)
			prefix := l.indent
			if item && i == 0 {
				prefix += "- "
			} else if item {
				prefix += "  "
			}
			fmt.Fprintf(&b, "\n%s%s", prefix, line)
		}
		fmt.Fprintf(&b, "\n%s{{- end }}", l.indent)
		return b.String()
	})
}

// choice stands for a map's value that is yes when cond holds and no
// otherwise ("key: TOKEN" becomes "key:" and each value's YAML below it).
func (t *templater) choice(cond string, yes, no any) string {
	return t.token(func(l tokenLine) string {
		var b strings.Builder
		b.WriteString(strings.TrimRight(strings.Replace(l.text, l.token, "", 1), " "))
		fmt.Fprintf(&b, "\n%s{{- if %s }}", l.indent, cond)
		for _, line := range yamlLines(yes) {
			fmt.Fprintf(&b, "\n%s  %s", l.indent, line)
		}
		fmt.Fprintf(&b, "\n%s{{- else }}", l.indent)
		for _, line := range yamlLines(no) {
			fmt.Fprintf(&b, "\n%s  %s", l.indent, line)
		}
		fmt.Fprintf(&b, "\n%s{{- end }}", l.indent)
		return b.String()
	})
}

// render writes the object as template text.
func (t *templater) render(o Object) (string, error) {
	b, err := yaml.Marshal(o)
	if err != nil {
		return "", fmt.Errorf("%s: %w", o, err)
	}
	text := strings.ReplaceAll(string(b), "{{", `{{ "{{" }}`)
	lines := strings.Split(text, "\n")
	used := map[string]bool{}
	for i, line := range lines {
		toks := tokenRE.FindAllString(line, -1)
		if len(toks) > 1 {
			return "", fmt.Errorf("%s: two template tokens on one line: %q", o, line)
		}
		if len(toks) == 0 {
			continue
		}
		render, ok := t.subst[toks[0]]
		if !ok {
			return "", fmt.Errorf("%s: unknown token %s", o, toks[0])
		}
		used[toks[0]] = true
		indent := line[:len(line)-len(strings.TrimLeft(line, " "))]
		lines[i] = render(tokenLine{text: line, indent: indent, token: toks[0]})
	}
	for tok := range t.subst {
		if !used[tok] {
			return "", fmt.Errorf("%s: token %s was not written out (a long line folded?)", o, tok)
		}
	}
	return strings.Join(lines, "\n"), nil
}
