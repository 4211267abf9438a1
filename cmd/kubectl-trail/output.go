package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

// outputFlag is -o json|yaml of the query verbs; empty means the text answer.
type outputFlag struct{ format string }

func (f *outputFlag) add(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.format, "output", "o", "", "output format: json or yaml (default: text for people)")
}

func (f *outputFlag) validate() error {
	switch f.format {
	case "", "json", "yaml":
		return nil
	}
	return fmt.Errorf("unsupported output format %q: use -o json or -o yaml (or nothing for text)", f.format)
}

// structured reports whether a structured format was asked for.
func (f *outputFlag) structured() bool { return f.format != "" }

// print writes v as JSON (indented) or YAML.
func (f *outputFlag) print(w io.Writer, v interface{}) error {
	var b []byte
	var err error
	if f.format == "yaml" {
		b, err = yaml.Marshal(v)
	} else {
		b, err = json.MarshalIndent(v, "", "  ")
		b = append(b, '\n')
	}
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
